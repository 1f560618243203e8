"""Create the warehouse's roles, databases, schemas and grants on a separate PostgreSQL server
(docker-compose's `warehouse-init`, as the superuser): the same SQL the local stack runs on its embedded server.
The tables are the migrations' (`chiso migrate`, docker-compose's `warehouse-migrate`, as chiso_loader)."""

from __future__ import annotations

import os
from pathlib import Path

from chiso.settings import Settings
from chiso.stack import credentials, postgres


def main() -> None:
    s = Settings(host=os.environ["CHISO_PG_HOST"], pg_port=int(os.environ.get("CHISO_PG_PORT", "5432")))
    # Credentials come from CHISO_SECRET_* (credentials.load lets the environment override each one).
    creds = credentials.load(Path(os.environ.get("CHISO_HOME", "/data")))
    postgres.provision(s, creds)
    print("warehouse roles, databases and grants are in place")


if __name__ == "__main__":
    main()
