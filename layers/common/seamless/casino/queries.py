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
       p.id AS provider_id, p.api_base_url, p.secret_ref, p.disabled AS provider_disabled
  FROM casino_users u
  LEFT JOIN casino_wallets w ON w.user_id = u.id AND w.currency = %(currency)s
  LEFT JOIN casino_games g ON g.id = %(game_id)s
  LEFT JOIN casino_game_providers p ON p.id = g.provider_id
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
