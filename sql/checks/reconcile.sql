-- PROTOCOL §9 for every wallet: the balance equals the sum of its ledger movements
-- (opening deposit + accepted credits + refunds - accepted debits), for the playable and
-- the redeemable part, and 0 <= redeemable <= playable. One row per wallet; ok is false
-- on any mismatch.
SELECT w.id AS wallet_id,
       u.username,
       w.currency,
       w.playable_balance AS balance,
       COALESCE(l.playable, 0) AS ledger_balance,
       w.redeemable_balance AS redeemable,
       COALESCE(l.redeemable, 0) AS ledger_redeemable,
       COALESCE(l.movements, 0) AS movements,
       (w.playable_balance = COALESCE(l.playable, 0)
        AND w.redeemable_balance = COALESCE(l.redeemable, 0)
        AND w.playable_balance >= 0
        AND w.redeemable_balance BETWEEN 0 AND w.playable_balance
        AND COALESCE(l.bad_rows, 0) = 0) AS ok
  FROM casino_wallets w
  JOIN casino_users u ON u.id = w.user_id
  LEFT JOIN (
      SELECT wallet_id,
             SUM(playable_delta) AS playable,
             SUM(redeemable_delta) AS redeemable,
             COUNT(*) FILTER (WHERE status = 'accepted') AS movements,
             -- a movement must match its kind: debits take, credits/refunds/deposits give
             COUNT(*) FILTER (WHERE status = 'pending'
                 OR (status = 'accepted' AND kind = 'debit' AND playable_delta <> -amount)
                 OR (status = 'accepted' AND kind IN ('credit', 'rollback', 'deposit')
                     AND playable_delta <> amount)) AS bad_rows
        FROM casino_transactions
       GROUP BY wallet_id
  ) l ON l.wallet_id = w.id
 ORDER BY w.id
