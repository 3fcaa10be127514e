-- The casino's ownership and grants, re-applied by every `migrate` (docs/security.md).
--
-- casino_owner (NOLOGIN, created by `migrate`) owns every casino_* table, the ledger's schema
-- and functions and the casino's retention purge. casino_app, the role the casino's code logs in
-- as, may run the SECURITY DEFINER functions of those schemas (the ledger's callbacks, launch's
-- session writes, the purge) and read what the casino's queries read (seamless/casino/queries.py);
-- it writes no table itself, holds no lock of its own on them and touches nothing of the
-- provider's (docs/protocol.md §9). tests/integration/test_grants.py runs every refused
-- statement as the role. The login roles themselves are created by `migrate` (cluster-wide,
-- with SCRAM verifiers of the passwords in their secrets).

-- Ownership: every casino table, including one a later migration adds (its sequences follow).
DO $$
DECLARE
    v_table REGCLASS;
BEGIN
    FOR v_table IN
        SELECT c.oid::REGCLASS FROM pg_catalog.pg_class c
         WHERE c.relnamespace = 'public'::REGNAMESPACE AND c.relkind IN ('r', 'p') AND c.relname LIKE 'casino\_%'
    LOOP
        EXECUTE format('ALTER TABLE %s OWNER TO casino_owner', v_table);
    END LOOP;
END $$;
ALTER SCHEMA ledger OWNER TO casino_owner;
ALTER SCHEMA casino_retention OWNER TO casino_owner;
DO $$
DECLARE
    v_fn REGPROCEDURE;
BEGIN
    FOR v_fn IN
        SELECT p.oid::REGPROCEDURE FROM pg_catalog.pg_proc p
         WHERE p.pronamespace IN ('ledger'::REGNAMESPACE, 'casino_retention'::REGNAMESPACE)
    LOOP
        EXECUTE format('ALTER FUNCTION %s OWNER TO casino_owner', v_fn);
    END LOOP;
END $$;

-- A recreated public schema (reset) grants nothing by default: say it explicitly.
GRANT USAGE ON SCHEMA public TO casino_app;
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM public;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA public FROM public;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA ledger FROM public;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA casino_retention FROM public;
-- Start from nothing, so a database migrated with broader grants loses them (this also
-- revokes the column privileges).
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM casino_app;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM casino_app;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA ledger FROM casino_app;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA casino_retention FROM casino_app;

-- Read only, what the casino's own queries read: a session's balance (simulateRound) and the
-- support lookup (GET /casino/transactions: the ledger, its wallets, the providers' base URLs).
-- Sessions hold their token only as a SHA-256 hash. Players, games, rounds and the error
-- catalogue are read by the ledger's functions only.
GRANT SELECT ON casino_game_sessions, casino_wallets, casino_transactions, casino_game_providers TO casino_app;
-- Free-round grants (migration 0009): listed and looked up before a cancel
-- (seamless/casino/free_rounds.py); written only by the ledger's grant functions.
GRANT SELECT ON casino_free_round_grants TO casino_app;
-- The currencies (migration 0008) and the bet limits per game and currency are read by the
-- ledger's functions only (ledger.open_session, ledger.session_by_token).

-- Every write goes through a SECURITY DEFINER function of the ledger or of the purge: exactly
-- those are executable (the helpers they call run as the owner inside them and are not).
GRANT USAGE ON SCHEMA ledger, casino_retention TO casino_app;
DO $$
DECLARE
    v_fn REGPROCEDURE;
BEGIN
    FOR v_fn IN
        SELECT p.oid::REGPROCEDURE FROM pg_catalog.pg_proc p
         WHERE p.pronamespace IN ('ledger'::REGNAMESPACE, 'casino_retention'::REGNAMESPACE) AND p.prosecdef
    LOOP
        EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO casino_app', v_fn);
    END LOOP;
END $$;
