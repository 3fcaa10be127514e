"""Every SQL statement the casino sends, in one place, always parameterised (casino role;
never touches provider_* tables).

The casino's money rules are PL/pgSQL functions (sql/casino/functions/); each callback is
one call: one round trip, one transaction.
"""

GET_BALANCE = "SELECT status, body, replayed FROM ledger.get_balance(%s)"
DEBIT = "SELECT status, body, replayed FROM ledger.debit(%s, %s, %s, %s, %s, %s)"
CREDIT = "SELECT status, body, replayed FROM ledger.credit(%s, %s, %s, %s, %s, %s, %s, %s)"
ROLLBACK = "SELECT status, body, replayed FROM ledger.rollback(%s, %s, %s, %s, %s)"

# ------------------------------------------------------------------ casino: sessions
# (casino role; never touches provider_* tables)

LAUNCH_LOOKUP = """
SELECT u.status AS user_status,
       w.id AS wallet_id,
       g.id AS game_id, g.provider_game_id, g.active AS game_active,
       p.id AS provider_id, p.api_base_url, p.secret_ref, p.disabled AS provider_disabled,
       c.exponent AS currency_decimals, l.game_id IS NOT NULL AS currency_supported
  FROM casino_users u
  LEFT JOIN casino_wallets w ON w.user_id = u.id AND w.currency = %(currency)s
  LEFT JOIN casino_games g ON g.id = %(game_id)s
  LEFT JOIN casino_game_providers p ON p.id = g.provider_id
  LEFT JOIN casino_currencies c ON c.code = w.currency
  LEFT JOIN casino_game_limits l ON l.game_id = g.id AND l.currency = w.currency
 WHERE u.id = %(user_id)s
"""

CREATE_SESSION = """
INSERT INTO casino_game_sessions (id, token_hash, user_id, wallet_id, game_id, provider_id, currency,
                                  status, expires_at)
VALUES (%(id)s, %(token_hash)s, %(user_id)s, %(wallet_id)s, %(game_id)s, %(provider_id)s, %(currency)s,
        'pending', now() + make_interval(secs => %(ttl)s))
RETURNING expires_at
"""

ACTIVATE_SESSION = """
UPDATE casino_game_sessions s
   SET status = 'active', provider_session_id = %(provider_session_id)s, launch_url = %(launch_url)s
  FROM casino_wallets w
 WHERE s.id = %(id)s AND s.status = 'pending' AND w.id = s.wallet_id
RETURNING w.playable_balance
"""

FAIL_SESSION = "UPDATE casino_game_sessions SET status = 'failed' WHERE id = %s AND status = 'pending'"

SESSION_BALANCE = """
SELECT w.playable_balance FROM casino_game_sessions s JOIN casino_wallets w ON w.id = s.wallet_id WHERE s.id = %s
"""

# ------------------------------------------------------------------ casino: transaction lookup
# (GET /casino/transactions, docs/protocol.md §6). Every provider's rows, through the
# provider table so the (provider_id, ...) indexes serve the lookup. Opening deposits and
# in-flight rows are not transactions of the protocol. A rollback that named no roundId is
# shown in its bet's round (and found by it). Never selects a session token or its hash.

_TRANSACTION_COLUMNS = """
       t.id, t.transaction_id, t.kind, t.status, t.user_id::text AS user_id,
       COALESCE(t.round_id, b.round_id) AS round_id, t.amount, w.currency::text AS currency,
       t.bet_transaction_id, t.balance_after, t.error_code, t.created_at, p.api_base_url,
       abs(t.redeemable_delta) AS redeemable_amount
"""

TRANSACTIONS_BY_ID = f"""
SELECT {_TRANSACTION_COLUMNS}
  FROM casino_game_providers p
  JOIN casino_transactions t ON t.provider_id = p.id AND t.transaction_id = %(transaction_id)s
  LEFT JOIN casino_wallets w ON w.id = t.wallet_id
  LEFT JOIN casino_transactions b
         ON t.round_id IS NULL AND b.provider_id = t.provider_id AND b.transaction_id = t.bet_transaction_id
 WHERE t.kind <> 'deposit' AND t.status <> 'pending'
 ORDER BY t.created_at, t.id
"""

TRANSACTIONS_BY_ROUND = f"""
WITH in_round AS (
    SELECT t.id
      FROM casino_game_providers p
      JOIN casino_transactions t ON t.provider_id = p.id AND t.round_id = %(round_id)s
    UNION
    SELECT r.id
      FROM casino_game_providers p
      JOIN casino_transactions bet ON bet.provider_id = p.id AND bet.round_id = %(round_id)s AND bet.kind = 'debit'
      JOIN casino_transactions r
        ON r.provider_id = p.id AND r.bet_transaction_id = bet.transaction_id AND r.round_id IS NULL
       AND r.kind = 'rollback'
)
SELECT {_TRANSACTION_COLUMNS}
  FROM in_round
  JOIN casino_transactions t ON t.id = in_round.id
  JOIN casino_game_providers p ON p.id = t.provider_id
  LEFT JOIN casino_wallets w ON w.id = t.wallet_id
  LEFT JOIN casino_transactions b
         ON t.round_id IS NULL AND b.provider_id = t.provider_id AND b.transaction_id = t.bet_transaction_id
 WHERE t.kind <> 'deposit' AND t.status <> 'pending'
 ORDER BY t.created_at, t.id
"""

# ------------------------------------------------------------------ casino: one-call rounds
# (POST /casino/debitCredit, docs/protocol.md §4b; sql/casino/functions/25_debit_credit.sql)

DEBIT_CREDIT = "SELECT status, body, replayed FROM ledger.debit_credit(%s, %s, %s, %s, %s, %s, %s, %s, %s)"
