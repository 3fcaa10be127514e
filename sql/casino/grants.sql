-- The casino role's grants, re-applied by every `migrate`: what the casino's code and its
-- ledger functions run (seamless/casino/queries.py, sql/casino/functions/), per table and
-- per column, and nothing of the provider's (docs/protocol.md §9). The table before/after is
-- in docs/security.md; tests/integration/test_grants.py runs every refused statement as the
-- role. The login roles themselves are created by `migrate` (cluster-wide, with SCRAM
-- verifiers of the passwords in their secrets).

-- A recreated public schema (reset) grants nothing by default: say it explicitly.
GRANT USAGE ON SCHEMA public TO casino_app;
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM public;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA public FROM public;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA ledger FROM public;
-- Start from nothing, so a database migrated with broader grants loses them (this also
-- revokes the column privileges).
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM casino_app;

-- Read only: players, games, providers (their api_base_url decides where live session tokens
-- are sent), the error catalogue.
GRANT SELECT ON casino_users, casino_games, casino_game_providers, casino_error_catalog TO casino_app;
-- Read only: the currencies served and the bet limits per game and currency (migration 0008).
GRANT SELECT ON casino_currencies, casino_game_limits TO casino_app;

-- Wallets: only their balances move; never created, deleted or moved to another player.
GRANT SELECT, UPDATE (playable_balance, redeemable_balance, updated_at) ON casino_wallets TO casino_app;

-- Sessions: launchGame creates one (its expiry computed by the database) and activates or
-- fails it; nobody extends, re-points or deletes one.
GRANT SELECT,
      INSERT (id, token_hash, user_id, wallet_id, game_id, provider_id, currency, status, expires_at),
      UPDATE (status, provider_session_id, launch_url)
   ON casino_game_sessions TO casino_app;

-- Ledger: a callback writes its row once, with its final outcome (ledger.record): INSERT of
-- those columns only, no UPDATE, no DELETE; a trigger refuses any change to a finished row
-- even to the admin (sql/casino/migrations/0002_security_ledger_guards.sql).
GRANT SELECT,
      INSERT (id, provider_id, transaction_id, kind, status, request_hash, session_id, user_id, wallet_id,
              round_id, bet_transaction_id, amount, round_closed, tombstone, playable_delta,
              redeemable_delta, balance_after, redeemable_after, error_code, response_status,
              response_body, invocation_id)
   ON casino_transactions TO casino_app;

-- Rounds: created by a callback, credited and closed; DELETE only for the refused request
-- that created one (ledger.drop_round_if_created; a trigger refuses deleting a committed round).
GRANT SELECT, INSERT (provider_id, round_id, session_id, wallet_id, has_credit, closed), UPDATE (has_credit, closed), DELETE
   ON casino_rounds TO casino_app;

-- Bet claims and tombstones are ledger rows since ledger v3 (migration 0004): no table of
-- their own, nothing the role may delete.

GRANT USAGE ON SCHEMA ledger TO casino_app;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA ledger TO casino_app;

-- The retention purge (sql/casino/retention.sql), run by CasinoRetentionFunction as this role.
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA casino_retention FROM public;
GRANT USAGE ON SCHEMA casino_retention TO casino_app;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA casino_retention TO casino_app;

-- Ledger v2 writes each ledger row once, with casinoTransactionId (its id) in the stored body:
-- the id is drawn from the identity's sequence first.
GRANT USAGE ON SEQUENCE casino_transactions_id_seq TO casino_app;
