"""Source freshness: when each source/entity last loaded successfully and how recent its data is."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import dict_row

from chiso.quality.config import load_freshness
from chiso.quality.store import plain_uri, sync_freshness


def freshness(warehouse_uri: str, *, expectations_dir: Path | None = None) -> list[dict[str, Any]]:
    """Rows of quality.source_freshness (thresholds and view synced from the configuration first), one per
    configured source/entity.

    `status`: ok | late | failing | never_loaded; `status_vi` explains it in Vietnamese."""
    with psycopg.connect(plain_uri(warehouse_uri), autocommit=True) as conn:
        sync_freshness(conn, load_freshness(expectations_dir))
        with conn.cursor(row_factory=dict_row) as cur:
            cur.execute("SELECT * FROM quality.source_freshness ORDER BY source, entity")
            return [dict(r) for r in cur.fetchall()]
