"""The warehouse database itself: how every role connects (connections) and who owns its schema (schema,
migrations: ordered Alembic revisions applied once at start, never from the load paths)."""
