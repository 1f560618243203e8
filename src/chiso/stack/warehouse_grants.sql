-- Least privilege inside the warehouse database. Idempotent; run by the bootstrap superuser.
-- chiso_loader writes raw/quality/exports; chiso_transformer reads them and owns what dbt builds;
-- chiso_reader reads marts only.
REVOKE ALL ON DATABASE chiso FROM PUBLIC;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT CONNECT ON DATABASE chiso TO chiso_loader, chiso_transformer, chiso_reader;
GRANT CREATE ON DATABASE chiso TO chiso_transformer;
-- Loaders stage each batch in a TEMP table before merging versions.
GRANT TEMPORARY ON DATABASE chiso TO chiso_loader, chiso_transformer;

CREATE SCHEMA IF NOT EXISTS raw AUTHORIZATION chiso_loader;
CREATE SCHEMA IF NOT EXISTS quality AUTHORIZATION chiso_loader;
CREATE SCHEMA IF NOT EXISTS exports AUTHORIZATION chiso_loader;
CREATE SCHEMA IF NOT EXISTS marts AUTHORIZATION chiso_transformer;

GRANT USAGE ON SCHEMA raw, quality, exports TO chiso_transformer;
GRANT SELECT ON ALL TABLES IN SCHEMA raw, quality, exports TO chiso_transformer;
ALTER DEFAULT PRIVILEGES FOR ROLE chiso_loader IN SCHEMA raw, quality, exports
    GRANT SELECT ON TABLES TO chiso_transformer;

-- The loader reads marts to build exports and checks; the reader (Superset) reads marts only.
GRANT USAGE ON SCHEMA marts TO chiso_reader, chiso_loader;
GRANT SELECT ON ALL TABLES IN SCHEMA marts TO chiso_reader, chiso_loader;
ALTER DEFAULT PRIVILEGES FOR ROLE chiso_transformer IN SCHEMA marts
    GRANT SELECT ON TABLES TO chiso_reader, chiso_loader;

-- The migrations' version table (chiso.warehouse.schema): its own schema, owned by the schema's owner.
CREATE SCHEMA IF NOT EXISTS chiso_meta AUTHORIZATION chiso_loader;
