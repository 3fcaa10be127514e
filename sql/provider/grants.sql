-- The provider role's grants, re-applied by every `migrate`: what the provider's code runs
-- (seamless/provider/queries.py), nothing of the casino's (docs/protocol.md §9), and no
-- DELETE anywhere. The table before/after is in docs/security.md.
--
-- provider_owner (NOLOGIN, created by `migrate`) owns every provider_* table, including one a
-- later migration adds: provider_app is no owner, so it cannot ALTER, DROP, TRUNCATE, disable a
-- trigger or grant anything on them. Its row writes stay plain grants below: the outbox
-- (provider_bets) is written by the round player as it plays; what stops a forged row being
-- sent is the settlement integrity tag, not the grant (docs/security.md).
DO $$
DECLARE
    v_table REGCLASS;
BEGIN
    FOR v_table IN
        SELECT c.oid::REGCLASS FROM pg_catalog.pg_class c
         WHERE c.relnamespace = 'public'::REGNAMESPACE AND c.relkind IN ('r', 'p') AND c.relname LIKE 'provider\_%'
    LOOP
        EXECUTE format('ALTER TABLE %s OWNER TO provider_owner', v_table);
    END LOOP;
END $$;

GRANT USAGE ON SCHEMA public TO provider_app;
-- Start from nothing, so a database migrated with broader grants loses them.
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM provider_app;

-- Its catalogue of games and casinos is read only (a casino's callback_base_url decides where
-- signed callbacks and the casino's session tokens go).
GRANT SELECT ON provider_games, provider_casinos TO provider_app;

-- Its customer per casino player (upserted at launch).
GRANT SELECT, INSERT (casino_id, casino_player_id), UPDATE (casino_player_id) ON provider_casino_users TO provider_app;

-- Sessions are created at launch; the casino's token is only ever replaced by its hash, by the
-- retention purge (sql/provider/retention.sql).
GRANT SELECT, INSERT, UPDATE (casino_session_token) ON provider_sessions TO provider_app;

-- Rounds and their callbacks: recorded and completed.
GRANT SELECT, INSERT, UPDATE ON provider_game_rounds, provider_bets TO provider_app;

-- Free-round grants (migration 0007): recorded by POST /provider/freeRounds, cancelled by its
-- cancel, their rounds counted by the round player; never deleted by the application.
GRANT SELECT, INSERT, UPDATE (status, cancelled_at, rounds_started) ON provider_free_round_grants TO provider_app;
GRANT SELECT, INSERT ON provider_free_round_plays TO provider_app;

-- The retention purge (sql/provider/retention.sql), run by ProviderRetentionFunction as this role.
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA provider_retention FROM public;
GRANT USAGE ON SCHEMA provider_retention TO provider_app;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA provider_retention TO provider_app;
