"""Create the warehouse's roles, databases, schemas and grants on a separate PostgreSQL server
(docker-compose's `warehouse-init`): the same SQL the local stack runs on its embedded server."""

from __future__ import annotations

import os
from pathlib import Path

from chiso.settings import Settings
from chiso.stack import credentials, postgres


def main() -> None:
    s = Settings(host=os.environ["CHISO_PG_HOST"], pg_port=int(os.environ.get("CHISO_PG_PORT", "5432")))
    # Credentials come from CHISO_SECRET_* (credentials.load lets the environment override each one).
    creds = credentials.load(Path(os.environ.get("CHISO_HOME", "/data")))
    postgres.bootstrap(s, creds)
    print("warehouse roles, databases and grants are in place")


if __name__ == "__main__":
    main()
