"""Superset configuration of the chiso stack. Everything secret or machine-specific comes from the
environment (set by `chiso up`, or by docker-compose in a multi-machine deployment)."""

import os

SECRET_KEY = os.environ["SUPERSET_SECRET_KEY"]
SQLALCHEMY_DATABASE_URI = os.environ["SUPERSET_METADATA_URI"]
DATA_DIR = os.environ.get("SUPERSET_HOME", os.path.expanduser("~/.superset"))

# Vietnamese UI for Sở TT&TT readers; the pack (superset/translations/vi) is installed into the venv by make.
BABEL_DEFAULT_LOCALE = "vi"
LANGUAGES = {"vi": {"flag": "vn", "name": "Tiếng Việt"}, "en": {"flag": "us", "name": "English"}}


def FLASK_APP_MUTATOR(app):  # noqa: N802 - the name Superset reads
    """Templates in superset/templates/ first: its tail_js_custom_extra.html (Superset's customisation hook) gives
    the browser's dayjs a Vietnamese locale for the relative times and dates it writes itself. remember_choice.py:
    a viewer's last unit chosen on "Cần làm gì để tăng điểm" is chosen again when they next open it.
    pooled_engines.py: the warehouse's queries share a pooled engine per process instead of a new connection each."""
    from jinja2 import ChoiceLoader, FileSystemLoader

    here = os.path.dirname(os.path.abspath(__file__))
    app.jinja_loader = ChoiceLoader([FileSystemLoader(os.path.join(here, "templates")), app.jinja_loader])
    _module(here, "remember_choice").install(app)
    if WAREHOUSE_POOL_SIZE:
        _module(here, "pooled_engines").install({WAREHOUSE_DATABASE}, WAREHOUSE_POOL_SIZE)


def _module(here, name):
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"chiso_{name}", os.path.join(here, f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# The warehouse (superset/assets/databases/chiso_warehouse.yaml) through a pool per gunicorn process: as many
# connections as a worker has threads (src/chiso/stack/components.py); 0 = Superset's new connection per query.
WAREHOUSE_DATABASE = "Kho dữ liệu chỉ số (chiso)"
WAREHOUSE_POOL_SIZE = int(os.environ.get("CHISO_SUPERSET_POOL_SIZE", "4"))

FEATURE_FLAGS = {
    "DASHBOARD_NATIVE_FILTERS": True,
    "DASHBOARD_CROSS_FILTERS": True,
    "ENABLE_TEMPLATE_PROCESSING": True,
}

# No phoning home from a government data centre.
SCARF_ANALYTICS = False
PREVENT_UNSAFE_DB_CONNECTIONS = False  # the warehouse is on loopback in the local stack
TALISMAN_ENABLED = False
WTF_CSRF_ENABLED = True
WTF_CSRF_EXEMPT_LIST = ["superset.views.core.log", "superset.charts.data.api.data"]

# Caches on disk under DATA_DIR, shared by gunicorn's worker processes (a SimpleCache lives in one process: a result
# cached by one worker was a miss on the other) and kept across a restart. Chart results for 10 minutes:
# a transform rewrites the marts under the same SQL (the cache key), so a longer time would show old figures after it.
_CACHE_DIR = os.path.join(DATA_DIR, "cache")
CACHE_CONFIG = {"CACHE_TYPE": "FileSystemCache", "CACHE_DIR": os.path.join(_CACHE_DIR, "metadata"),
                "CACHE_DEFAULT_TIMEOUT": 300, "CACHE_KEY_PREFIX": "chiso_meta_"}
DATA_CACHE_CONFIG = {"CACHE_TYPE": "FileSystemCache", "CACHE_DIR": os.path.join(_CACHE_DIR, "data"),
                     "CACHE_DEFAULT_TIMEOUT": 600, "CACHE_KEY_PREFIX": "chiso_data_"}
ROW_LIMIT = 50000
SQLLAB_CTAS_NO_LIMIT = True
FAB_ADD_SECURITY_API = True

# Vietnamese number and date conventions in every chart (1.234,5; 22/06/2024).
D3_FORMAT = {"decimal": ",", "thousands": ".", "grouping": [3], "currency": ["", " ₫"]}
D3_TIME_FORMAT = {
    "dateTime": "%H:%M:%S %d/%m/%Y",
    "date": "%d/%m/%Y",
    "time": "%H:%M:%S",
    "periods": ["SA", "CH"],
    "days": ["Chủ nhật", "Thứ hai", "Thứ ba", "Thứ tư", "Thứ năm", "Thứ sáu", "Thứ bảy"],
    "shortDays": ["CN", "T2", "T3", "T4", "T5", "T6", "T7"],
    "months": ["Tháng 1", "Tháng 2", "Tháng 3", "Tháng 4", "Tháng 5", "Tháng 6", "Tháng 7", "Tháng 8", "Tháng 9",
               "Tháng 10", "Tháng 11", "Tháng 12"],
    "shortMonths": ["Th1", "Th2", "Th3", "Th4", "Th5", "Th6", "Th7", "Th8", "Th9", "Th10", "Th11", "Th12"],
}
