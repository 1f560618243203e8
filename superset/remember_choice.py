"""A viewer's last choice of some native filters, chosen again when they next open the dashboard.

Superset 6.1 keeps a dashboard's filter values only in the page's URL: every change is saved as a filter state
(`/api/v1/dashboard/<id>/filter_state`, in the metadata database for 90 days, owner = the user) whose key the page
writes into its address (`?native_filters_key=`). A dashboard opened from the list has no key and gets the filters'
defaults. So, for the dashboards and filters in REMEMBERED:

* after each successful save of a filter state by a logged-in user, the values of those filters (when the unit is
  chosen) are kept for that user and dashboard (`last_choice`, in the same filter-state store);
* when that user opens the dashboard without filter values in the address (no `native_filters_key`,
  `permalink_key` or `native_filters`), the page is redirected to the same address with a new filter state holding
  only those values: the other filters (the period) take their defaults as usual.

Installed by superset_config.FLASK_APP_MUTATOR (`install(app)`). Runs inside Superset; imports Superset lazily.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any
from urllib.parse import urlencode

logger = logging.getLogger(__name__)

# dashboard slug -> its native filters remembered together; the last one must have a value to be remembered
REMEMBERED: dict[str, tuple[str, ...]] = {
    "can-lam-gi-de-tang-diem": (
        "NATIVE_FILTER-improve-basis",
        "NATIVE_FILTER-improve-group",
        "NATIVE_FILTER-improve-unit",
    ),
}
STATE_API = re.compile(r"/api/v1/dashboard/(\d+)/filter_state(?:/[^/]+)?")
PAGE = re.compile(r"/superset/dashboard/([^/]+)/?")
URL_STATE_ARGS = ("native_filters_key", "permalink_key", "native_filters")


def choice_key(user_id: int, slug: str) -> str:
    return f"chiso_last_choice;{user_id};{slug}"


def pick(slug: str, data_mask: dict[str, Any]) -> dict[str, Any] | None:
    """The remembered filters' part of a dashboard's data mask, or None when the last of them has no value."""
    ids = REMEMBERED.get(slug, ())
    if not ids or not ((data_mask.get(ids[-1]) or {}).get("filterState") or {}).get("value"):
        return None
    return {fid: data_mask[fid] for fid in ids if fid in data_mask}


def _user_id() -> int | None:
    """The logged-in user: Superset's g.user (API calls), else Flask-Login's (a page, before Superset's hooks)."""
    from flask import g
    from flask_login import current_user

    user = getattr(g, "user", None) or current_user
    return user.id if user is not None and getattr(user, "is_authenticated", False) else None


def _slug(id_or_slug: str) -> tuple[int, str] | None:
    from superset.models.dashboard import Dashboard

    from superset import db

    column = Dashboard.id if id_or_slug.isdigit() else Dashboard.slug
    row = db.session.query(Dashboard.id, Dashboard.slug).filter(column == id_or_slug).one_or_none()
    return (row.id, row.slug) if row and row.slug in REMEMBERED else None


def _remember(path: str, body: dict | None) -> None:
    from superset.extensions import cache_manager

    m = STATE_API.fullmatch(path)
    user_id = _user_id() if m else None
    dash = _slug(m.group(1)) if user_id is not None else None
    if dash is None:
        return
    choice = pick(dash[1], json.loads((body or {}).get("value") or "{}"))
    if choice is not None:
        cache_manager.filter_state_cache.set(choice_key(user_id, dash[1]),
                                             {"dashboard_id": dash[0], "data_mask": choice})


def _restore(path: str, args: dict[str, list[str]]) -> str | None:
    """The address to send the user to, or None to serve the page as asked."""
    from superset.extensions import cache_manager
    from superset.key_value.utils import random_key
    from superset.temporary_cache.utils import cache_key

    m = PAGE.fullmatch(path)
    if not m or any(a in args for a in URL_STATE_ARGS) or not (m.group(1).isdigit() or m.group(1) in REMEMBERED):
        return None
    user_id = _user_id()
    dash = _slug(m.group(1)) if user_id is not None else None
    saved = cache_manager.filter_state_cache.get(choice_key(user_id, dash[1])) if dash else None
    if not saved or saved.get("dashboard_id") != dash[0]:  # nothing kept, or a dashboard imported anew
        return None
    key = random_key()
    cache_manager.filter_state_cache.set(cache_key(dash[0], key),
                                         {"owner": user_id, "value": json.dumps(saved["data_mask"])})
    return f"{path}?{urlencode({**args, 'native_filters_key': [key]}, doseq=True)}"


# The hooks never fail a request: without them the dashboard opens on its defaults, as Superset alone does.

def remember(response):  # after_request
    from flask import request

    if request.method in ("POST", "PUT") and response.status_code in (200, 201) and "/filter_state" in request.path:
        try:
            _remember(request.path, request.get_json(silent=True))
        except Exception:  # noqa: BLE001
            logger.warning("last filter choice not kept", exc_info=True)
    return response


def restore():  # before_request
    from flask import redirect, request

    if request.method != "GET" or not request.path.startswith("/superset/dashboard/"):
        return None
    try:
        target = _restore(request.path, request.args.to_dict(flat=False))
    except Exception:  # noqa: BLE001
        logger.warning("last filter choice not restored", exc_info=True)
        return None
    return redirect(target, code=302) if target else None


def install(app) -> None:
    app.before_request(restore)
    app.after_request(remember)
