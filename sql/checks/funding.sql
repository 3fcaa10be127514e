-- The funding rule (docs/protocol.md §4, §4b) over the whole ledger; one text row per violation.
-- Beside reconcile.sql (each wallet's redeemable balance equals its ledger's redeemable
-- movements), this checks that each movement's redeemable part is the one the rule gives:
-- a debit takes at most its amount from redeemable money; a win naming its bet is redeemable in
-- exactly the bet's proportion, floor(win x bet's redeemable part / bet amount); a payout (a
-- jackpot, promotion or tournament) is all redeemable, or all bonus when its promotionId is
-- registered bonus-funded; a free round all bonus, or all redeemable when its grant funds cash.
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
   AND bet.kind = 'debit' AND bet.status = 'accepted' AND win.reason IS NULL
   AND win.redeemable_delta <> floor(win.amount::NUMERIC * -bet.redeemable_delta / bet.amount)
UNION ALL
SELECT format('%s %s paid %s redeemable of %s; its funding gives %s',
              t.reason, t.transaction_id, t.redeemable_delta, t.amount, f.redeemable)
  FROM casino_transactions AS t
  LEFT JOIN casino_promotions AS p ON t.promotion_id = p.promotion_id
  LEFT JOIN casino_free_round_grants AS g ON t.grant_id = g.grant_id
  CROSS JOIN LATERAL (
      SELECT CASE WHEN t.reason = 'freeRound' THEN CASE WHEN g.fund = 'cash' THEN t.amount ELSE 0 END
                  WHEN p.funding = 'bonus' THEN 0
                  ELSE t.amount END AS redeemable) AS f
 WHERE t.kind = 'credit' AND t.status = 'accepted' AND t.reason IS NOT NULL
   AND t.redeemable_delta <> f.redeemable
