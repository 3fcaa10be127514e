-- Ledger-wide rules of docs/protocol.md §9 that are not per wallet; one text row per violation.
SELECT format('bet %s was refunded %s times', bet_transaction_id, count(*))
  FROM casino_transactions
 WHERE kind = 'rollback' AND status = 'accepted' AND amount > 0
 GROUP BY provider_id, bet_transaction_id
HAVING count(*) > 1
UNION ALL
SELECT format('rollback %s refunded %s but its bet %s took %s', rb.transaction_id, rb.amount,
              bet.transaction_id, bet.amount)
  FROM casino_transactions AS rb
  INNER JOIN casino_transactions AS bet
    ON rb.provider_id = bet.provider_id AND rb.bet_transaction_id = bet.transaction_id
 WHERE rb.kind = 'rollback' AND rb.status = 'accepted' AND rb.amount > 0
   AND (bet.kind <> 'debit' OR bet.status <> 'accepted' OR bet.amount <> rb.amount
        OR bet.redeemable_delta <> -rb.redeemable_delta)
UNION ALL
-- the bet id's lock (sql/casino/functions/00_helpers.sql) lets a debit and a tombstone of its id
-- never both stand: one of them was first, and the other saw it
SELECT format('bet %s was accepted although a rollback left a tombstone for it (%s)', bet.transaction_id,
              ts.transaction_id)
  FROM casino_transactions AS ts
  INNER JOIN casino_transactions AS bet
    ON ts.provider_id = bet.provider_id AND ts.bet_transaction_id = bet.transaction_id
 WHERE ts.tombstone AND bet.kind = 'debit' AND bet.status = 'accepted'
UNION ALL
SELECT format('wallet %s has a negative or inconsistent balance', id)
  FROM casino_wallets
 WHERE playable_balance < 0 OR redeemable_balance < 0 OR redeemable_balance > playable_balance
