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
INSERT INTO provider_sessions (id, casino_user_id, game_id, currency, casino_session_token, currency_decimals)
VALUES (%s, %s, %s, %s, %s, %s)
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

# ------------------------------------------------------------------ rounds and the outbox
# (docs/protocol.md §7a; sql/provider/migrations/0002_outbox.sql)

ROUND_COLUMNS = """r.id, r.round_id, r.provider_session_id, r.status, r.runs, r.starting_balance,
       r.lease_owner, r.lease_until, r.settle_by, r.created_at, r.updated_at"""

#: a new round, or the same player's re-send of one that is open with no worker on it (it goes
#: on from its records), or of one that ended with nothing recorded (played now). The round
#: keeps its own session: a re-send never re-points it (docs/protocol.md §6, a round belongs
#: to its player), and another player's session never takes it. A finished round with
#: records, or one being played or settled, is not taken (its report is read instead).
CLAIM_ROUND = f"""
INSERT INTO provider_game_rounds AS r (round_id, provider_session_id, status, lease_owner, lease_until, settle_by)
VALUES (%(round_id)s, %(session)s, 'open', %(owner)s, now() + make_interval(secs => %(lease)s),
        now() + make_interval(secs => %(horizon)s))
ON CONFLICT (round_id) DO UPDATE
   SET runs = r.runs + 1,
       status = CASE WHEN r.status IN ('completed', 'cancelled') THEN 'open' ELSE r.status END,
       settle_by = CASE WHEN r.status IN ('completed', 'cancelled') THEN EXCLUDED.settle_by ELSE r.settle_by END,
       lease_owner = EXCLUDED.lease_owner, lease_until = EXCLUDED.lease_until, updated_at = now()
 WHERE (SELECT s.casino_user_id FROM provider_sessions s WHERE s.id = r.provider_session_id)
     = (SELECT s.casino_user_id FROM provider_sessions s WHERE s.id = EXCLUDED.provider_session_id)
   AND ((r.status IN ('completed', 'cancelled')
         AND NOT EXISTS (SELECT 1 FROM provider_bets b WHERE b.game_round_id = r.id))
        OR (r.status = 'open' AND (r.lease_until IS NULL OR r.lease_until < now()))
        OR r.lease_owner = EXCLUDED.lease_owner)  -- our own claim again (a retry after a lost commit acknowledgement)
RETURNING {ROUND_COLUMNS}, (xmax = 0) AS created
"""

#: the casino player a round belongs to, and whether a session is that player's
ROUND_PLAYER = """
SELECT cu.casino_player_id, (s.casino_user_id = (SELECT o.casino_user_id FROM provider_sessions o WHERE o.id = %(session)s))
       AS same_player
  FROM provider_game_rounds r
  JOIN provider_sessions s ON s.id = r.provider_session_id
  JOIN provider_casino_users cu ON cu.id = s.casino_user_id
 WHERE r.round_id = %(round_id)s
"""

ROUND_BY_ROUND_ID = f"SELECT {ROUND_COLUMNS} FROM provider_game_rounds r WHERE r.round_id = %s"
ROUND_BY_ID = f"SELECT {ROUND_COLUMNS} FROM provider_game_rounds r WHERE r.id = %s"

#: takes the lease of a round for one worker (settlement drainer, sweeper) - or nothing
LEASE_ROUND = f"""
UPDATE provider_game_rounds r
   SET lease_owner = %(owner)s, lease_until = now() + make_interval(secs => %(lease)s), updated_at = now()
 WHERE r.id = %(id)s AND r.status = ANY(%(statuses)s) AND (r.lease_until IS NULL OR r.lease_until < now())
RETURNING {ROUND_COLUMNS}
"""

#: just before an action's attempt: the worker still holds the round's lease (renewed here),
#: the action is still undelivered, and it is marked as started (a bet marked so may have
#: reached the casino). No row: the lease is lost or another worker delivered it - stop.
BEGIN_SEND = """
WITH held AS (
    UPDATE provider_game_rounds
       SET lease_until = greatest(lease_until, now() + make_interval(secs => %(lease)s)), updated_at = now()
     WHERE id = %(round)s AND lease_owner = %(owner)s AND lease_until > now()
    RETURNING id)
UPDATE provider_bets b SET send_started_at = coalesce(b.send_started_at, now()), updated_at = now()
  FROM held
 WHERE b.id = %(id)s AND b.game_round_id = held.id AND b.state IN ('pending', 'queued')
RETURNING b.id
"""

SET_SETTLE_BY = """
UPDATE provider_game_rounds SET settle_by = now() + make_interval(secs => %(horizon)s), updated_at = now()
 WHERE id = %(id)s AND lease_owner = %(owner)s
RETURNING settle_by
"""

RELEASE_ROUND = """
UPDATE provider_game_rounds
   SET status = %(status)s::text, lease_owner = NULL, lease_until = NULL, updated_at = now(),
       finished_at = CASE WHEN %(status)s::text IN ('completed', 'cancelled') THEN now() ELSE finished_at END
 WHERE id = %(id)s AND lease_owner = %(owner)s
"""

SET_ROUND_STATUS = """
UPDATE provider_game_rounds SET status = %(status)s::text, updated_at = now(),
       finished_at = CASE WHEN %(status)s::text IN ('completed', 'cancelled') THEN now() ELSE finished_at END
 WHERE id = %(id)s
"""

#: rounds in durable settlement whose first undelivered action is due - or with nothing left
#: to deliver (a worker stopped after its last delivery, before it ended the round) and
#: nothing parked waiting for an operator
DUE_ROUNDS = """
SELECT r.id
  FROM provider_game_rounds r
 WHERE r.status = 'pending_settlement' AND (r.lease_until IS NULL OR r.lease_until < now())
   AND coalesce(
        (SELECT b.next_attempt_at <= now() FROM provider_bets b
          WHERE b.game_round_id = r.id AND b.state IN ('pending', 'queued') ORDER BY b.id LIMIT 1),
        NOT EXISTS (SELECT 1 FROM provider_bets p
                     WHERE p.game_round_id = r.id
                       AND (p.state IN ('pending', 'queued')
                            OR (p.state = 'parked' AND (p.final_status IS NULL OR p.transaction_id LIKE '%%:sweep-close')))))
 ORDER BY r.updated_at
 LIMIT %s
"""

#: rounds left open by a player that is gone (no lease, no activity for the timeout)
STALE_ROUNDS = """
SELECT r.id FROM provider_game_rounds r
 WHERE r.status = 'open' AND (r.lease_until IS NULL OR r.lease_until < now())
   AND r.updated_at < now() - make_interval(secs => %s)
 ORDER BY r.updated_at
 LIMIT %s
"""

SESSION_OF_ROUND = """
SELECT s.id, s.casino_session_token, s.currency::text AS currency, c.callback_base_url, c.secret_ref,
       cu.casino_player_id
  FROM provider_game_rounds r
  JOIN provider_sessions s ON s.id = r.provider_session_id
  JOIN provider_casino_users cu ON cu.id = s.casino_user_id
  JOIN provider_casinos c ON c.id = cu.casino_id
 WHERE r.id = %s
"""

ACTION_COLUMNS = """id, action_index, action_type, endpoint, transaction_id, amount, payload, state, rescue,
       needs_standing_bet, attempts, final_status, final_code, casino_balance, next_attempt_at, note,
       integrity_tag, integrity_key, send_started_at"""

ROUND_ACTIONS = f"SELECT {ACTION_COLUMNS} FROM provider_bets WHERE game_round_id = %s ORDER BY id"

#: records a planned action before it is sent (a re-run finds it there and keeps it)
RECORD_ACTION = """
INSERT INTO provider_bets (game_round_id, action_index, action_type, endpoint, transaction_id, amount, payload,
                           state, rescue, needs_standing_bet, integrity_tag, integrity_key, next_attempt_at)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, now())
ON CONFLICT (game_round_id, transaction_id) DO NOTHING
"""

#: the attempts of one send and what they decided. Every attempt is kept, whoever made it;
#: once only per send (a retry after a lost commit acknowledgement finds its send's attempts
#: there); and a row never moves back: a final answer or a cancellation already recorded (by
#: another worker) stays, only the attempts are added
RECORD_ATTEMPTS = """
UPDATE provider_bets
   SET attempts = attempts || %(attempts)s,
       state = CASE WHEN state IN ('pending', 'queued') THEN %(state)s::text ELSE state END,
       final_status = CASE WHEN state IN ('pending', 'queued') THEN %(final_status)s::int ELSE final_status END,
       final_code = CASE WHEN state IN ('pending', 'queued') THEN %(final_code)s::text ELSE final_code END,
       casino_balance = CASE WHEN state IN ('pending', 'queued') THEN coalesce(%(balance)s::bigint, casino_balance)
                             ELSE casino_balance END,
       next_attempt_at = CASE WHEN state IN ('pending', 'queued') THEN %(next_attempt_at)s::timestamptz
                              ELSE next_attempt_at END,
       note = CASE WHEN state IN ('pending', 'queued') THEN coalesce(%(note)s::text, note) ELSE note END,
       updated_at = now(),
       delivered_at = CASE WHEN state IN ('pending', 'queued') AND %(state)s::text IN ('delivered', 'parked')
                            AND %(final_status)s::int IS NOT NULL
                           THEN coalesce(delivered_at, now()) ELSE delivered_at END
 WHERE id = %(id)s AND NOT attempts @> %(send)s
RETURNING state, final_status, final_code, casino_balance, note
"""

#: the row as it stands (after a RECORD_ATTEMPTS that found its send already recorded)
ACTION_STATE = "SELECT state, final_status, final_code, casino_balance, note FROM provider_bets WHERE id = %s"

#: an undelivered row moves on (queued, cancelled, parked); a row another worker already
#: finished is left as it is
SET_ACTION_STATE = """
UPDATE provider_bets SET state = %(state)s::text, note = coalesce(%(note)s::text, note), updated_at = now(),
       next_attempt_at = coalesce(%(next_attempt_at)s::timestamptz, next_attempt_at)
 WHERE id = ANY(%(ids)s) AND (state IN ('pending', 'queued') OR state = %(state)s::text)
RETURNING id
"""

#: a row's tag made again with the current key (it verified under the previous one)
RETAG_ACTION = """
UPDATE provider_bets SET integrity_tag = %(tag)s, integrity_key = %(key)s
 WHERE id = %(id)s AND integrity_key = %(old_key)s
"""

#: undelivered rows tagged with a key (the previous one, after a rotation), with their round
TAGGED_WITH = """
SELECT b.id, b.action_index, b.action_type, b.endpoint, b.transaction_id, b.amount, b.payload, b.rescue,
       b.needs_standing_bet, b.integrity_tag, r.round_id, r.provider_session_id
  FROM provider_bets b JOIN provider_game_rounds r ON r.id = b.game_round_id
 WHERE b.integrity_key = %s AND b.state IN ('pending', 'queued', 'parked')
 ORDER BY b.id
 LIMIT %s
"""

PROVIDER_FINISH_ROUND = """
UPDATE provider_game_rounds
   SET starting_balance = coalesce(starting_balance, %s), final_balance = %s, expected_final_balance = %s,
       consistent = %s, updated_at = now()
 WHERE id = %s
"""

# ------------------------------------------------------------------ operator

#: every parked item with its round, player, amount, why it parked and what of its round must
#: be final before it can go (earlier rows without their final answer)
PARKED = """
SELECT b.id, r.id AS round_pk, r.round_id, cu.casino_player_id AS player, s.currency::text AS currency,
       b.action_type, b.rescue, b.transaction_id, b.amount, b.final_status, b.final_code, b.note,
       jsonb_array_length(b.attempts) AS attempts, b.updated_at,
       (SELECT string_agg('#' || e.id || ' ' || e.action_type || ' ' || e.state, ', ' ORDER BY e.id)
          FROM provider_bets e
         WHERE e.game_round_id = b.game_round_id AND e.id < b.id
           AND (e.state IN ('pending', 'queued') OR (e.state = 'parked' AND e.final_status IS NULL))) AS waits_for
  FROM provider_bets b
  JOIN provider_game_rounds r ON r.id = b.game_round_id
  JOIN provider_sessions s ON s.id = r.provider_session_id
  JOIN provider_casino_users cu ON cu.id = s.casino_user_id
 WHERE b.state = 'parked'
 ORDER BY b.updated_at, b.id
"""

PARKED_ONE = """
SELECT b.id, b.game_round_id, b.final_status, b.final_code, b.note, r.lease_until > now() AS busy
  FROM provider_bets b JOIN provider_game_rounds r ON r.id = b.game_round_id
 WHERE b.id = %s AND b.state = 'parked'
"""

PARKED_COUNT = "SELECT count(*), min(updated_at) FROM provider_bets WHERE state = 'parked'"

PENDING_SUMMARY = """
SELECT count(*) FILTER (WHERE state IN ('pending', 'queued')), min(created_at) FILTER (WHERE state IN ('pending', 'queued'))
  FROM provider_bets b
 WHERE EXISTS (SELECT 1 FROM provider_game_rounds r WHERE r.id = b.game_round_id AND r.status = 'pending_settlement')
"""

#: an operator's retry: every parked item of the round without a final answer goes back to
#: durable settlement, in the round's order (so none can overtake an earlier one), with a
#: fresh horizon; only while no worker holds the round
RETRY_PARKED = """
WITH target AS (
    SELECT r.id FROM provider_bets b JOIN provider_game_rounds r ON r.id = b.game_round_id
     WHERE b.id = %(id)s AND b.state = 'parked' AND b.final_status IS NULL
       AND (r.lease_until IS NULL OR r.lease_until < now())
       FOR UPDATE OF r),
moved AS (
    UPDATE provider_bets b SET state = 'queued', next_attempt_at = now(), updated_at = now(),
           note = 'retried by an operator'
      FROM target WHERE b.game_round_id = target.id AND b.state = 'parked' AND b.final_status IS NULL
    RETURNING b.id)
UPDATE provider_game_rounds r
   SET status = 'pending_settlement', settle_by = now() + make_interval(secs => %(horizon)s), updated_at = now()
  FROM target WHERE r.id = target.id
RETURNING r.id, (SELECT count(*) FROM moved)
"""

RESOLVE_PARKED = """
UPDATE provider_bets SET state = 'resolved', note = %(note)s, updated_at = now()
 WHERE id = %(id)s AND state = 'parked'
RETURNING game_round_id
"""

HEALTH = "SELECT 1"

# ------------------------------------------------------------------ round history
# (GET /provider/rounds/{roundId}, docs/protocol.md §7; seamless/provider/history.py). Reads
# only; the casino's session token is never selected.

PROVIDER_ROUND_HISTORY = """
SELECT r.id, r.round_id, r.status, r.starting_balance, r.final_balance, r.runs, r.created_at, r.updated_at,
       s.currency::text AS currency, s.currency_decimals, cu.casino_player_id, c.code AS casino_code, c.callback_base_url,
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

#: whether the casino whose calls this deployment verifies may still sign the seed way
#: (docs/protocol.md §2, §10.4); read before the body is parsed, only for a seed-shaped header
SEED_SIGNATURES_ACCEPTED = """
SELECT accepts_seed_signatures FROM provider_casinos WHERE code = %(code)s AND NOT disabled
"""

# ------------------------------------------------------------------ free-round grants (§7)

#: a new grant, or the stored request of a known one (the caller compares it)
INSERT_GRANT = """
WITH ins AS (
    INSERT INTO provider_free_round_grants (casino_id, grant_id, casino_user_id, game_id, currency, currency_decimals,
                                            rounds, bet_amount, expires_at, request)
    VALUES (%(casino)s, %(grant_id)s, %(customer)s, %(game)s, %(currency)s, %(decimals)s, %(rounds)s, %(bet)s,
            %(expires)s, %(request)s::jsonb)
    ON CONFLICT (casino_id, grant_id) DO NOTHING
    RETURNING request
)
SELECT request FROM ins
UNION ALL
SELECT request FROM provider_free_round_grants WHERE casino_id = %(casino)s AND grant_id = %(grant_id)s
LIMIT 1
"""
CANCEL_GRANT = """
UPDATE provider_free_round_grants
   SET status = 'cancelled', cancelled_at = COALESCE(cancelled_at, now())
 WHERE casino_id = %(casino)s AND grant_id = %(grant_id)s
RETURNING rounds_started
"""
#: the grant of a session's casino, player, game and currency, locked for the gate
GRANT_FOR_SESSION = """
SELECT g.id, g.status, g.rounds, g.rounds_started, g.expires_at <= now() AS expired
  FROM provider_sessions s
  JOIN provider_casino_users cu ON cu.id = s.casino_user_id
  JOIN provider_free_round_grants g
    ON g.casino_id = cu.casino_id AND g.grant_id = %(grant_id)s AND g.casino_user_id = s.casino_user_id
   AND g.game_id = s.game_id AND g.currency = s.currency::text
 WHERE s.id = %(session)s
   FOR NO KEY UPDATE OF g
"""
GRANT_PLAYED = "SELECT 1 FROM provider_free_round_plays WHERE grant_pk = %s AND round_id = %s"
GRANT_PLAY = "INSERT INTO provider_free_round_plays (grant_pk, round_id) VALUES (%s, %s)"
GRANT_COUNT_PLAY = "UPDATE provider_free_round_grants SET rounds_started = rounds_started + 1 WHERE id = %s"
