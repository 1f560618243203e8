"""Superset configuration of the chiso stack. Everything secret or machine-specific comes from the
environment (set by `chiso up`, or by docker-compose in a multi-machine deployment)."""

import os

SECRET_KEY = os.environ["SUPERSET_SECRET_KEY"]
SQLALCHEMY_DATABASE_URI = os.environ["SUPERSET_METADATA_URI"]
DATA_DIR = os.environ.get("SUPERSET_HOME", "/tmp/superset")

# Vietnamese UI for Sở TT&TT readers.
BABEL_DEFAULT_LOCALE = "vi"
LANGUAGES = {"vi": {"flag": "vn", "name": "Tiếng Việt"}, "en": {"flag": "us", "name": "English"}}

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

CACHE_CONFIG = {"CACHE_TYPE": "SimpleCache", "CACHE_DEFAULT_TIMEOUT": 300}
DATA_CACHE_CONFIG = {"CACHE_TYPE": "SimpleCache", "CACHE_DEFAULT_TIMEOUT": 600}
ROW_LIMIT = 50000
SQLLAB_CTAS_NO_LIMIT = True
FAB_ADD_SECURITY_API = True
