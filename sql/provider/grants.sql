-- The provider role's grants, re-applied by every `migrate`: its own tables, nothing of the
-- casino's (docs/protocol.md §9).

GRANT USAGE ON SCHEMA public TO provider_app;

GRANT SELECT, INSERT, UPDATE, DELETE ON
    provider_games, provider_casinos, provider_casino_users, provider_sessions,
    provider_game_rounds, provider_bets
TO provider_app;
