-- The funding rule (docs/protocol.md §4, §4b) over the whole ledger; one text row per violation.
-- Beside reconcile.sql (each wallet's redeemable balance equals its ledger's redeemable
-- movements), this checks that each movement's redeemable part is the one the rule gives:
-- a debit takes at most its amount from redeemable money; a win naming its bet is redeemable in
-- exactly the bet's proportion, floor(win x bet's redeemable part / bet amount).
SELECT format('%s %s moved %s redeemable of %s', kind, transaction_id, redeemable_delta, amount)
  FROM casino_transactions
 WHERE status = 'accepted' AND kind IN ('debit', 'credit', 'rollback')
   AND abs(redeemable_delta) > amount
UNION ALL
SELECT format('win %s paid %s redeemable of %s; its bet %s (%s of %s redeemable) gives %s',
              win.transaction_id, win.redeemable_delta, win.amount, bet.transaction_id,
              -bet.redeemable_delta, bet.amount,
              floor(win.amount::NUMERIC * -bet.redeemable_delta / bet.amount))
  FROM casino_transactions AS win
  INNER JOIN casino_transactions AS bet
    ON win.provider_id = bet.provider_id AND win.bet_transaction_id = bet.transaction_id
 WHERE win.kind = 'credit' AND win.status = 'accepted'
   AND bet.kind = 'debit' AND bet.status = 'accepted'
   AND win.redeemable_delta <> floor(win.amount::NUMERIC * -bet.redeemable_delta / bet.amount)
