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

-- The owner roles (NOLOGIN; only the migrating admin acts as them) own each side's tables:
-- PostgreSQL lets a table change hands to a role that may create in its schema (a superuser
-- admin skips that check, a managed service's admin does not). USAGE too: the owners' own
-- foreign-key checks run as them, and a public schema made anew (`reset`) grants no one usage.
GRANT USAGE, CREATE ON SCHEMA public TO casino_owner, provider_owner;

-- Nor does any role create schemas (CREATE on the database; PUBLIC never had it by default,
-- said here so a database created otherwise loses it).
DO $$
BEGIN
    EXECUTE format('REVOKE CREATE ON DATABASE %I FROM public', current_database());
END $$;

-- Functions no application role needs, that let one role hurt the other or the database
-- (docs/security.md, tests/integration/test_grants.py), lose their default EXECUTE for PUBLIC
-- (per database; only a superuser may change a built-in function's privileges, so a migrating
-- admin that is not one leaves them as they were and `migrate` says so):
-- - advisory locks: the ledger's bet-id lock (ledger.lock_bet_id) is a transaction-level
--   advisory lock; any role able to take advisory locks could take it on a bet id's key (a
--   64-bit hash anyone can compute) and hold it, and the casino would answer that bet 503.
--   Only the ledger's owner, which runs the ledger's SECURITY DEFINER functions, may.
-- - large objects: creating one stores data outside every table and grant of the project.
DO $$
DECLARE
    v_fn REGPROCEDURE;
BEGIN
    FOR v_fn IN
        SELECT p.oid::REGPROCEDURE FROM pg_catalog.pg_proc p
         WHERE p.pronamespace = 'pg_catalog'::REGNAMESPACE
           AND (p.proname LIKE 'pg\_%advisory%' OR p.proname IN ('lo_creat', 'lo_create', 'lo_from_bytea', 'lo_import'))
    LOOP
        BEGIN
            EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM public', v_fn);
        EXCEPTION WHEN insufficient_privilege THEN
            RAISE NOTICE 'cannot revoke EXECUTE on % (not a superuser): migrate warns', v_fn;
        END;
    END LOOP;
    FOR v_fn IN
        SELECT p.oid::REGPROCEDURE FROM pg_catalog.pg_proc p
         WHERE p.pronamespace = 'pg_catalog'::REGNAMESPACE AND p.proname = 'pg_advisory_xact_lock'
    LOOP
        BEGIN
            EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO casino_owner', v_fn);
        EXCEPTION WHEN insufficient_privilege THEN
            NULL;  -- then PUBLIC keeps EXECUTE on it too (migrate warns)
        END;
    END LOOP;
END $$;
