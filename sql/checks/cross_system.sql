-- The cross-check of docs/protocol.md §7a: for every callback the provider recorded with a
-- final answer, the casino stored the same answer for that transactionId; and every bet the
-- provider cancelled (compensated) that the casino accepted was refunded. One text row per
-- mismatch. Parameters: the casino's code for the provider, the codes the casino stores.
WITH provider_side AS (
    SELECT
        b.action_type, b.transaction_id, b.state, b.final_status, b.final_code
      FROM provider_bets AS b
     WHERE b.final_status IS NOT NULL AND b.state IN ('delivered', 'parked', 'resolved', 'cancelled')
),

casino_side AS (
    SELECT
        t.transaction_id, t.kind, t.status, t.amount, t.response_status,
        coalesce(t.error_code, 'OK') AS code
      FROM casino_transactions AS t
     WHERE t.provider_id = (SELECT p.id FROM casino_game_providers AS p
                             WHERE p.code = %(provider_code)s)
)

SELECT ps.action_type || ' ' || ps.transaction_id || ': the provider recorded ' || ps.final_status
       || ' ' || ps.final_code || ', the casino stored '
       || coalesce(cs.response_status || ' ' || cs.code, 'nothing')
  FROM provider_side AS ps
  LEFT JOIN casino_side AS cs ON ps.transaction_id = cs.transaction_id
 WHERE ps.state <> 'cancelled'
   AND (ps.final_code = 'OK' OR ps.final_code = any(%(stored_codes)s))
   AND (cs.transaction_id IS NULL OR cs.response_status <> ps.final_status OR cs.code <> ps.final_code)
UNION ALL
SELECT 'bet ' || b.transaction_id || ' was cancelled by the provider but the casino kept it (no refund)'
  FROM provider_bets AS b
  INNER JOIN casino_side AS cs ON b.transaction_id = cs.transaction_id
 WHERE b.action_type = 'bet' AND b.state = 'cancelled' AND cs.kind = 'debit' AND cs.status = 'accepted'
   AND NOT EXISTS (
       SELECT 1 FROM casino_transactions AS rb
        WHERE rb.kind = 'rollback' AND rb.status = 'accepted' AND rb.amount = cs.amount
          AND rb.bet_transaction_id = b.transaction_id)
