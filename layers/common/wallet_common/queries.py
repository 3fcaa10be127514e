"""Every SQL statement the Lambda code sends, in one place, always parameterised.

The casino's money rules are PL/pgSQL functions (sql/migrations/0002_ledger.sql); each
callback is one call: one round trip, one transaction.
"""

GET_BALANCE = "SELECT status, body, replayed FROM casino_get_balance(%s)"
DEBIT = "SELECT status, body, replayed FROM casino_debit(%s, %s, %s, %s, %s)"
CREDIT = "SELECT status, body, replayed FROM casino_credit(%s, %s, %s, %s, %s, %s, %s)"
ROLLBACK = "SELECT status, body, replayed FROM casino_rollback(%s, %s, %s, %s)"

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

# ------------------------------------------------------------------ provider side
# (provider role; never touches casino_* tables)

PROVIDER_CASINO = """
SELECT id, callback_base_url, secret_ref FROM provider_casinos WHERE code = %s AND NOT disabled
"""

PROVIDER_GAME = "SELECT id FROM provider_games WHERE code = %s AND active"

PROVIDER_CUSTOMER = """
INSERT INTO provider_casino_users (casino_id, casino_player_id) VALUES (%s, %s)
ON CONFLICT (casino_id, casino_player_id) DO UPDATE SET casino_player_id = EXCLUDED.casino_player_id
RETURNING id
"""

PROVIDER_CREATE_SESSION = """
INSERT INTO provider_sessions (id, casino_user_id, game_id, currency, casino_session_token)
VALUES (%s, %s, %s, %s, %s)
"""

PROVIDER_SESSION = """
SELECT s.id, s.currency::text AS currency, s.casino_session_token, cu.casino_player_id,
       c.callback_base_url, c.secret_ref, c.disabled AS casino_disabled, g.code AS game_code
  FROM provider_sessions s
  JOIN provider_casino_users cu ON cu.id = s.casino_user_id
  JOIN provider_casinos c ON c.id = cu.casino_id
  JOIN provider_games g ON g.id = s.game_id
 WHERE s.id = %s
"""

PROVIDER_CREATE_ROUND = """
INSERT INTO provider_game_rounds (round_id, provider_session_id) VALUES (%s, %s) RETURNING id
"""

PROVIDER_RECORD_BET = """
INSERT INTO provider_bets (game_round_id, action_index, action_type, endpoint, transaction_id, amount,
                           attempts, final_status, final_code, casino_balance)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
"""

PROVIDER_RECORD_QUEUED_ATTEMPT = """
UPDATE provider_bets
   SET attempts = attempts || %s, final_status = %s, final_code = %s
 WHERE id = (SELECT id FROM provider_bets WHERE game_round_id = %s AND transaction_id = %s ORDER BY id LIMIT 1)
"""

PROVIDER_SETTLED = """
SELECT DISTINCT transaction_id FROM provider_bets WHERE transaction_id = ANY(%s) AND final_status = 200
"""

PROVIDER_FINISH_ROUND = """
UPDATE provider_game_rounds
   SET starting_balance = %s, final_balance = %s, expected_final_balance = %s, consistent = %s,
       finished_at = now()
 WHERE id = %s
"""

HEALTH = "SELECT 1"
