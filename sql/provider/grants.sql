-- The provider role's grants, re-applied by every `migrate`: what the provider's code runs
-- (seamless/provider/queries.py), nothing of the casino's (docs/protocol.md §9), and no
-- DELETE anywhere. The table before/after is in docs/security.md.

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

-- The retention purge (sql/provider/retention.sql), run by ProviderRetentionFunction as this role.
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA provider_retention FROM public;
GRANT USAGE ON SCHEMA provider_retention TO provider_app;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA provider_retention TO provider_app;
