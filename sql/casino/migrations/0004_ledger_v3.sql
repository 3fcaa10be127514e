-- Ledger v3 (issue 14, continued): fewer rows and index entries per callback
-- (bench/experiments.md measures each step beside pgbench's TPC-B).
--
-- 1. The ledger's index on wallet_id goes. No reader looks ledger rows up by wallet: the
--    callbacks, the support lookup (seamless/casino/queries.py), the cross-check and the
--    violations check look them up by (provider_id, transaction_id), (provider_id, round_id) or
--    (provider_id, bet_transaction_id), and reconcile sums the whole ledger by wallet in one
--    scan. The foreign key to casino_wallets stays. Without the index, deleting a wallet or
--    changing its id would scan the ledger for referencing rows; neither happens: wallets are
--    never deleted (casino_app has no DELETE on them, no job deletes one) and their id is an
--    identity that nothing updates (casino_app may update only the balances and updated_at).
DROP INDEX casino_transactions_wallet;

-- 2. Bet claims are folded into the ledger. A debit's own ledger row, unique on
--    (provider_id, transaction_id), already says the bet id is taken; a tombstone is the
--    rollback's own ledger row (tombstone = true, bet_transaction_id = the bet), which v2 wrote
--    beside its claim in the same transaction. What the claims table added was the gate between
--    a debit and a rollback racing on one bet id from different wallets; that is now the bet id's
--    transaction-level lock (ledger.lock_bet_id, sql/casino/functions/00_helpers.sql), taken by
--    both before either looks for the other. A late debit's BET_ROLLED_BACK is its own ledger row,
--    as before, so its replay, a conflicting reuse of its id and §4's precedence are unchanged.
--
--    Carried over: every claim is already represented in the ledger - a 'bet' claim by its
--    debit's row, a 'tombstone' claim by its rollback's row - because v2 wrote both in one
--    transaction (and dropped the claim again when the row was not written). This is checked
--    before the table goes; a claim without its ledger row stops the migration rather than lose
--    a tombstone. Tombstones that the retention purge had already deleted (after 120 days) come
--    back: their rollback rows were never purged, and a late debit with such an id is refused
--    again, as §4 says without a time limit.
DO $$
DECLARE
    v_missing BIGINT;
BEGIN
    SELECT count(*) INTO v_missing
      FROM casino_bet_claims AS c
     WHERE NOT EXISTS (
           SELECT 1 FROM casino_transactions AS t
            WHERE t.provider_id = c.provider_id
              AND ((c.claimed_by = 'bet' AND t.transaction_id = c.transaction_id AND t.kind = 'debit')
                   OR (c.claimed_by = 'tombstone' AND t.bet_transaction_id = c.transaction_id
                       AND t.kind = 'rollback' AND t.tombstone)));
    IF v_missing > 0 THEN
        RAISE EXCEPTION '% bet claim(s) without their ledger row: not migrating (see 0004_ledger_v3.sql)', v_missing;
    END IF;
END $$;

DROP TABLE casino_bet_claims;

-- A debit past the currency check and a credit naming a bet look for its tombstone: a partial
-- index of the tombstones only (a handful of rows), which no debit or credit row enters.
CREATE INDEX casino_transactions_tombstone ON casino_transactions (provider_id, bet_transaction_id)
    WHERE tombstone;
