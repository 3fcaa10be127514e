-- Ledger v2 (issue 14): the write path of debit, credit and rollback writes each row once.
--
-- Foreign keys the session row already implies are dropped: a ledger row, round or bet claim
-- is written by a ledger function from the session it looked up, so its provider, player and
-- session are that session's. Each of them made every insert take FOR KEY SHARE on the one
-- provider row (a MultiXact per concurrent callback), on the player and on the session, and ran
-- one more query per row (bench/experiments.md). Sessions are also shorter-lived than the
-- ledger (kept 120 days, docs/protocol.md §5), which a key to them would forbid purging.
-- The keys to casino_wallets stay: every callback holds its wallet's row lock first, so their
-- KEY SHARE costs no MultiXact, and they tie each money row to the wallet it moved.
ALTER TABLE casino_transactions DROP CONSTRAINT IF EXISTS casino_transactions_provider_id_fkey;
ALTER TABLE casino_transactions DROP CONSTRAINT IF EXISTS casino_transactions_user_id_fkey;
ALTER TABLE casino_transactions DROP CONSTRAINT IF EXISTS casino_transactions_session_id_fkey;
ALTER TABLE casino_rounds DROP CONSTRAINT IF EXISTS casino_rounds_provider_id_fkey;
ALTER TABLE casino_rounds DROP CONSTRAINT IF EXISTS casino_rounds_session_id_fkey;
ALTER TABLE casino_bet_claims DROP CONSTRAINT IF EXISTS casino_bet_claims_provider_id_fkey;

-- A round is inserted by its first debit or credit and updated once by its closing credit; room
-- on its page keeps that update HOT (no index entry). The wallet row is updated by every
-- callback: the same for it. Ledger rows are written once and never updated: full pages.
ALTER TABLE casino_rounds SET (fillfactor = 80);
ALTER TABLE casino_wallets SET (fillfactor = 50);
