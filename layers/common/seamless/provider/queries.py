"""Every SQL statement the reference provider sends, always parameterised (provider role;
never touches casino_* tables)."""

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
INSERT INTO provider_game_rounds (round_id, provider_session_id) VALUES (%s, %s)
ON CONFLICT (round_id) DO UPDATE
   SET runs = provider_game_rounds.runs + 1, provider_session_id = EXCLUDED.provider_session_id,
       updated_at = now()
RETURNING id
"""

PROVIDER_RECORD_BET = """
INSERT INTO provider_bets (game_round_id, action_index, action_type, endpoint, transaction_id, amount,
                           attempts, final_status, final_code, casino_balance)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (game_round_id, transaction_id) DO UPDATE
   SET attempts = provider_bets.attempts || EXCLUDED.attempts, final_status = EXCLUDED.final_status,
       final_code = EXCLUDED.final_code, casino_balance = EXCLUDED.casino_balance, updated_at = now()
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

# ------------------------------------------------------------------ round history
# (GET /provider/rounds/{roundId}, docs/protocol.md §7; seamless/provider/history.py). Reads
# only; the casino's session token is never selected.

PROVIDER_ROUND_HISTORY = """
SELECT r.id, r.round_id, r.status, r.starting_balance, r.final_balance, r.runs, r.created_at, r.updated_at,
       s.currency::text AS currency, cu.casino_player_id, c.code AS casino_code, c.callback_base_url,
       g.code AS game_code
  FROM provider_game_rounds r
  JOIN provider_sessions s ON s.id = r.provider_session_id
  JOIN provider_casino_users cu ON cu.id = s.casino_user_id
  JOIN provider_casinos c ON c.id = cu.casino_id
  JOIN provider_games g ON g.id = s.game_id
 WHERE r.round_id = %s
"""

PROVIDER_ROUND_ACTIONS = """
SELECT id, action_index, action_type, endpoint, transaction_id, amount, attempts, final_status, final_code,
       casino_balance, state, rescue, note, created_at, updated_at
  FROM provider_bets
 WHERE game_round_id = %s
 ORDER BY id
"""
