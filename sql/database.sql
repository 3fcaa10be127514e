-- The shared database's own hardening, re-applied by every `migrate` before each side's
-- grants (docs/security.md). PostgreSQL up to 14 (still common on RDS) lets every role create
-- objects in the public schema: a table or function planted there could shadow a name the
-- ledger resolves through search_path. Only the schema's owner (the migrating admin) creates
-- objects now; the ledger functions also pin their search_path.
REVOKE CREATE ON SCHEMA public FROM public;

-- No role needs temporary tables (a temporary table shadows a table of the same name in the
-- session that creates it).
DO $$
BEGIN
    EXECUTE format('REVOKE TEMPORARY ON DATABASE %I FROM public', current_database());
END $$;
