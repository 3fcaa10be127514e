-- The casino role's grants, re-applied by every `migrate`: its own tables and the ledger
-- functions, nothing of the provider's (docs/protocol.md §9). The login roles themselves are
-- created by `migrate` (cluster-wide, with passwords from the environment).

-- A recreated public schema (reset) grants nothing by default: say it explicitly.
GRANT USAGE ON SCHEMA public TO casino_app;
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM public;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA public FROM public;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA ledger FROM public;

GRANT SELECT, INSERT, UPDATE, DELETE ON
    casino_users, casino_wallets, casino_game_providers, casino_games, casino_game_sessions,
    casino_rounds, casino_transactions, casino_bet_claims
TO casino_app;
GRANT SELECT ON casino_error_catalog TO casino_app;
GRANT USAGE ON SCHEMA ledger TO casino_app;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA ledger TO casino_app;
-- Ledger v2 writes each ledger row once, with casinoTransactionId (its id) in the stored body:
-- the id is drawn from the identity's sequence first.
GRANT USAGE ON SEQUENCE casino_transactions_id_seq TO casino_app;
