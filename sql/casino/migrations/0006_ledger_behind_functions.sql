-- The ledger behind its functions (issue 20, docs/security.md). The tables' owner becomes
-- casino_owner, a role that never logs in (sql/casino/grants.sql, re-applied by every migrate,
-- also gives it every casino table added later); casino_app reaches wallets, the ledger, rounds
-- and sessions only through the ledger's SECURITY DEFINER functions. What the database itself
-- now refuses, whoever writes:

-- 1. No balance above 2^53 - 1, the largest integer every JSON client reads exactly
--    (docs/protocol.md §3 BALANCE_LIMIT_EXCEEDED: a credit or refund that would pass it is
--    refused by the ledger functions before it reaches this constraint).
ALTER TABLE casino_wallets
    ADD CONSTRAINT playable_balance_within_limit CHECK (playable_balance <= 9007199254740991);

-- 2. A session's wallet is its player's: a session naming another player's wallet (the forged
--    session that debited a blocked player's wallet through an active player's session) cannot
--    exist. The wallet's currency is the session's: ledger.open_session takes the wallet by
--    (player, currency) and the session's currency from it.
ALTER TABLE casino_wallets ADD CONSTRAINT casino_wallets_id_user UNIQUE (id, user_id);
ALTER TABLE casino_game_sessions
    ADD CONSTRAINT casino_game_sessions_wallet_of_user
    FOREIGN KEY (wallet_id, user_id) REFERENCES casino_wallets (id, user_id);

-- 3. The ledger's own settings, read by its functions (owner-only writes).
--    session_ttl_max_seconds: the longest a session may live. launchGame asks for its
--    SESSION_TTL_SECONDS; the database computes the expiry and refuses a longer one.
CREATE TABLE casino_ledger_settings (
    name   TEXT PRIMARY KEY,
    value  BIGINT NOT NULL
);
INSERT INTO casino_ledger_settings (name, value) VALUES ('session_ttl_max_seconds', 86400);
