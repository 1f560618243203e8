"""The local stack: embedded PostgreSQL, simulator, Airflow and Superset on loopback."""
