-- Casino and provider stay apart in one database (PROTOCOL §9). The two login roles are
-- created by `migrate` (cluster-wide, with passwords from the environment); here each
-- gets its own side's tables and nothing of the other side's.

-- A recreated public schema (reset) grants nothing by default: say it explicitly.
GRANT USAGE ON SCHEMA public TO casino_app, provider_app;

REVOKE ALL ON ALL TABLES IN SCHEMA public FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA public FROM PUBLIC;

GRANT SELECT, INSERT, UPDATE, DELETE ON
    casino_users, casino_wallets, casino_game_providers, casino_games, casino_game_sessions,
    casino_rounds, casino_transactions, casino_bet_claims
TO casino_app;
GRANT SELECT ON casino_error_catalog TO casino_app;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO casino_app;

GRANT SELECT, INSERT, UPDATE, DELETE ON
    provider_games, provider_casinos, provider_casino_users, provider_sessions,
    provider_game_rounds, provider_bets
TO provider_app;
