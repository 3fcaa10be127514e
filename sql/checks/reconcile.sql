-- docs/protocol.md §9 for every wallet: the balance equals the sum of its ledger movements
-- (opening deposit + accepted credits + refunds - accepted debits), for the playable and
-- the redeemable part, and 0 <= redeemable <= playable. One row per wallet; ok is false
-- on any mismatch.
SELECT
       w.id AS wallet_id,
       u.username,
       w.currency,
       w.playable_balance AS balance,
       coalesce(l.playable, 0) AS ledger_balance,
       w.redeemable_balance AS redeemable,
       coalesce(l.redeemable, 0) AS ledger_redeemable,
       coalesce(l.movements, 0) AS movements,
       (w.playable_balance = coalesce(l.playable, 0)
        AND w.redeemable_balance = coalesce(l.redeemable, 0)
        AND w.playable_balance >= 0
        AND w.redeemable_balance BETWEEN 0 AND w.playable_balance
        AND coalesce(l.bad_rows, 0) = 0) AS ok
  FROM casino_wallets AS w
  INNER JOIN casino_users AS u ON w.user_id = u.id
  LEFT JOIN (
      SELECT
             wallet_id,
             sum(playable_delta) AS playable,
             sum(redeemable_delta) AS redeemable,
             count(*) FILTER (WHERE status = 'accepted') AS movements,
             -- a movement must match its kind: debits take, credits/refunds/deposits give
             count(*) FILTER (WHERE status = 'pending'
                 OR (status = 'accepted' AND kind = 'debit' AND playable_delta <> -amount)
                 OR (status = 'accepted' AND kind IN ('credit', 'rollback', 'deposit')
                     AND playable_delta <> amount)) AS bad_rows
        FROM casino_transactions
       GROUP BY wallet_id
  ) AS l ON w.id = l.wallet_id
 ORDER BY w.id
