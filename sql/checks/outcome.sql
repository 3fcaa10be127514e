-- The outcome cross-check of docs/protocol.md §6 and §7a: for every round the provider recorded,
-- the casino's movements are the ones that round, as finally settled, implies for its own player.
-- Run by reconcile as the database owner (an operator tool: it reads both sides' tables). One row
-- per difference: the round, its player, the signed amount in minor units and what is wrong.
-- Parameters: provider_code (the casino's code for the provider), casino_code (the provider's
-- code for the casino), timeout_seconds (ROUND_TIMEOUT_SECONDS).
--
-- Terms: a round's player is the casino player of the provider session that holds the round; a
-- bet "stands" at the casino when its debit was accepted and no accepted rollback refunded it;
-- owed money is a win, close, payout or free-round credit of more than 0, or a rollback of a bet
-- that stands; an action is "answered" when the provider recorded the casino's final answer for it.
WITH rounds AS (
    SELECT
        r.id AS pk, r.round_id, r.status, r.updated_at, r.lease_until,
        cu.casino_player_id AS player
      FROM provider_game_rounds AS r
     INNER JOIN provider_sessions AS s ON r.provider_session_id = s.id
     INNER JOIN provider_casino_users AS cu ON s.casino_user_id = cu.id
     INNER JOIN provider_casinos AS c ON cu.casino_id = c.id
     WHERE c.code = %(casino_code)s
),

actions AS (
    SELECT
        b.id, b.game_round_id AS pk, b.action_type AS type, b.transaction_id, b.amount, b.state,
        b.rescue, b.final_status, b.final_code, b.next_attempt_at,
        b.payload ->> 'betTransactionId' AS bet_id,
        -- a betWin's win leg (one debitCredit, §4b); 0 for every other action
        coalesce((b.payload ->> 'winAmount')::BIGINT, 0) AS win_amount,
        coalesce(b.payload ->> 'roundClosed', 'false') = 'true' AS closes,
        jsonb_array_length(b.attempts) AS attempts,
        -- an attempt was started (the engine marks it before the first one, where it records
        -- that: read through to_jsonb, so this check runs on schemas with or without the mark)
        (to_jsonb(b) ->> 'send_started_at') IS NOT NULL AS started,
        -- what an answered rollback gave back, as the provider recorded the casino's answer
        CASE WHEN b.action_type = 'rollback' AND b.final_code = 'OK' THEN coalesce((
            SELECT (regexp_match(e.a ->> 'body', '"rolledBackAmount"\s*:\s*(\d+)'))[1]::BIGINT
              FROM jsonb_array_elements(b.attempts) WITH ORDINALITY AS e (a, n)
             WHERE e.a ->> 'httpStatus' = b.final_status::TEXT
             ORDER BY e.n DESC LIMIT 1), 0) ELSE 0 END AS refunded
      FROM provider_bets AS b
     WHERE b.game_round_id IN (SELECT rounds.pk FROM rounds)
),

provider AS (
    SELECT p.id FROM casino_game_providers AS p
     WHERE p.code = %(provider_code)s
),

casino AS (
    SELECT
        t.id, t.transaction_id, t.kind, t.status, t.user_id::TEXT AS player, t.round_id,
        t.bet_transaction_id, t.amount, t.playable_delta, t.round_closed, t.error_code
      FROM casino_transactions AS t
     WHERE t.provider_id = (SELECT provider.id FROM provider)
),

-- the casino's rows of each round: the transactionIds the provider recorded for it, and every
-- debit or credit the casino filed under its roundId
round_rows AS (
    SELECT a.pk, c.*
      FROM actions AS a
     INNER JOIN casino AS c ON a.transaction_id = c.transaction_id
    UNION
    SELECT r.pk, c.*
      FROM rounds AS r
     INNER JOIN casino AS c ON r.round_id = c.round_id
),

-- bets the casino accepted and no accepted rollback refunded
standing AS (
    SELECT d.transaction_id, d.amount, d.player
      FROM casino AS d
     WHERE d.kind = 'debit' AND d.status = 'accepted'
       AND NOT EXISTS (SELECT 1 FROM casino AS rb
                        WHERE rb.kind = 'rollback' AND rb.status = 'accepted' AND rb.amount > 0
                          AND rb.bet_transaction_id = d.transaction_id)
),

-- what each action owes the player (0: nothing owed); a betWin owes its win once its stake may
-- have been taken (§10.7: never compensated), and nothing after a stored refusal (it moved nothing)
owed AS (
    SELECT
        a.*,
        CASE WHEN a.type IN ('win', 'close', 'payout', 'freeRound') THEN a.amount
             WHEN a.type = 'betWin' AND a.final_status <> 200 THEN 0
             WHEN a.type = 'betWin' THEN a.win_amount
             WHEN a.type = 'rollback' THEN coalesce((SELECT s.amount FROM standing AS s
                                                      WHERE s.transaction_id = a.bet_id), 0)
             ELSE 0 END AS owed_amount
      FROM actions AS a
),

-- bets the provider compensated (a rescue rollback names them) without an OK answer: were they
-- ever sent (an attempt started or recorded, or the casino holds them)?
undecided AS (
    SELECT
        t.pk, t.id, t.transaction_id,
        (t.started OR t.attempts > 0 OR EXISTS (SELECT 1 FROM casino AS c
                                    WHERE c.transaction_id = t.transaction_id)) AS sent
      FROM actions AS t
     WHERE t.type = 'bet' AND t.final_code IS DISTINCT FROM 'OK'
       AND EXISTS (SELECT 1 FROM actions AS q
                    WHERE q.pk = t.pk AND q.rescue AND q.bet_id = t.transaction_id)
),

differences AS (
    -- 1. only the round's player's wallet moved (§6: a round belongs to its player)
    SELECT
        r.round_id, r.player, rr.playable_delta AS amount,
        concat(rr.kind, ' ', rr.transaction_id, ' (', rr.status, ') was filed by the casino under player ', rr.player,
               '''s session (moved ', rr.playable_delta, ')') AS what
      FROM rounds AS r
     INNER JOIN round_rows AS rr ON r.pk = rr.pk
     WHERE rr.player IS DISTINCT FROM r.player

    UNION ALL
    -- the casino's round (its first accepted callback's session) belongs to another player
    SELECT
        r.round_id, r.player, 0::BIGINT AS amount,
        concat('the casino holds this round for player ', gs.user_id, ' (session ', gs.id,
               '), the provider for player ', r.player) AS what
      FROM rounds AS r
     INNER JOIN casino_rounds AS cr ON r.round_id = cr.round_id
     INNER JOIN casino_game_sessions AS gs ON cr.session_id = gs.id
     WHERE cr.provider_id = (SELECT provider.id FROM provider) AND gs.user_id::TEXT <> r.player

    UNION ALL
    -- a transactionId of this round that the casino holds for another round (derived ids
    -- collide when they are truncated instead of hashed)
    SELECT
        r.round_id, r.player, o.owed_amount AS amount,
        concat(o.type, ' ', o.transaction_id, ': the casino holds this transactionId for another round (',
               c.round_id, ', ', c.status, ' ', coalesce(c.error_code, 'OK'), ')') AS what
      FROM rounds AS r
     INNER JOIN owed AS o ON r.pk = o.pk
     INNER JOIN casino AS c ON o.transaction_id = c.transaction_id
     WHERE c.kind IN ('debit', 'credit') AND c.round_id IS DISTINCT FROM r.round_id

    UNION ALL
    -- 2. every owed credit or refund was accepted, or is listed as parked (§7a)
    SELECT
        r.round_id, r.player, o.owed_amount AS amount,
        concat(CASE WHEN o.rescue THEN 'rescue rollback' ELSE o.type END, ' ', o.transaction_id, ' (', o.owed_amount,
               ' owed) is marked ', o.state, ' with ', coalesce(o.final_status::TEXT, 'no answer'), ' ',
               coalesce(o.final_code, ''), ', but the casino ',
               coalesce('answered ' || c.status || ' ' || coalesce(c.error_code, 'OK'), 'never accepted it'),
               ' and it is not parked') AS what
      FROM rounds AS r
     INNER JOIN owed AS o ON r.pk = o.pk
      LEFT JOIN casino AS c ON o.transaction_id = c.transaction_id
     WHERE o.owed_amount > 0 AND o.state = 'delivered'
       AND (c.transaction_id IS NULL OR c.status <> 'accepted')

    UNION ALL
    -- owed money cancelled in a round that was not cancelled
    SELECT
        r.round_id, r.player, o.owed_amount AS amount,
        concat(o.type, ' ', o.transaction_id, ' (', o.owed_amount, ' owed) was cancelled, but the round is ', r.status) AS what
      FROM rounds AS r
     INNER JOIN owed AS o ON r.pk = o.pk
     WHERE o.owed_amount > 0 AND o.state = 'cancelled' AND NOT o.rescue AND r.status = 'completed'

    UNION ALL
    -- 3. a cancelled round refunded every bet that stood, and paid nothing
    SELECT
        r.round_id, r.player, -s.amount AS amount,
        concat('the round is cancelled, but its bet ', s.transaction_id, ' (', s.amount,
               ') still stands at the casino (never refunded)') AS what
      FROM rounds AS r
     INNER JOIN round_rows AS rr ON r.pk = rr.pk
     INNER JOIN standing AS s ON rr.transaction_id = s.transaction_id
     WHERE r.status = 'cancelled'
    UNION ALL
    SELECT
        r.round_id, r.player, rr.playable_delta AS amount,
        concat('the round is cancelled, but the casino accepted its credit ', rr.transaction_id, ' (', rr.amount, ')') AS what
      FROM rounds AS r
     INNER JOIN round_rows AS rr ON r.pk = rr.pk
     WHERE r.status = 'cancelled' AND rr.kind = 'credit' AND rr.status = 'accepted' AND rr.amount > 0

    UNION ALL
    -- a round cancelled on account of bets that were never sent: played in turn, it would have
    -- paid what its cancelled actions name (§7a: only a bet that may have reached the casino is
    -- compensated; a transient fault earlier in the round delays the rest, never voids it)
    SELECT
        r.round_id, r.player,
        (SELECT coalesce(sum(CASE WHEN x.type = 'bet' THEN -x.amount ELSE x.amount END), 0)
           FROM actions AS x
          WHERE x.pk = r.pk AND x.state = 'cancelled' AND NOT x.rescue
            AND x.type IN ('bet', 'win', 'close', 'payout', 'freeRound')) AS amount,
        concat('the round was cancelled on account of bet(s) ', t.bets,
               ', never sent (no attempt recorded, the casino never saw them): its cancelled actions forfeit this') AS what
      FROM rounds AS r
     INNER JOIN (
         SELECT u.pk, string_agg(u.transaction_id, ', ' ORDER BY u.id) AS bets, bool_or(u.sent) AS sent
           FROM undecided AS u
          GROUP BY u.pk
     ) AS t ON r.pk = t.pk
     WHERE r.status = 'cancelled' AND NOT t.sent
       AND EXISTS (SELECT 1 FROM actions AS x
                    WHERE x.pk = r.pk AND x.state = 'cancelled' AND NOT x.rescue
                      AND x.type IN ('win', 'close', 'payout', 'freeRound') AND x.amount > 0)

    UNION ALL
    -- 4. a finished round's net movement at the casino equals what its actions, as answered, imply
    SELECT
        r.round_id, r.player, m.moved - i.implied AS amount,
        concat('the round is ', r.status, ': its actions as answered imply ', i.implied, ', the casino moved ', m.moved) AS what
      FROM rounds AS r
     CROSS JOIN LATERAL (
         SELECT coalesce(sum(CASE
                    WHEN a.type = 'bet' THEN -a.amount
                    WHEN a.type IN ('win', 'close', 'payout', 'freeRound') THEN a.amount
                    WHEN a.type = 'betWin' THEN a.win_amount - a.amount
                    -- the rescue of an undecided debit nets to zero with it (refund or tombstone)
                    WHEN a.rescue AND NOT EXISTS (SELECT 1 FROM actions AS bet
                                                   WHERE bet.pk = a.pk
                                                     AND bet.transaction_id = a.bet_id
                                                     AND bet.final_code = 'OK') THEN 0
                    ELSE a.refunded END), 0) AS implied
           FROM actions AS a
          WHERE a.pk = r.pk AND a.final_code = 'OK' AND a.state IN ('delivered', 'parked', 'resolved')
     ) AS i
     CROSS JOIN LATERAL (
         SELECT coalesce(sum(rr.playable_delta), 0) AS moved FROM round_rows AS rr
          WHERE rr.pk = r.pk
     ) AS m
     WHERE r.status IN ('completed', 'cancelled') AND i.implied <> m.moved

    UNION ALL
    -- a finished round has nothing left to deliver
    SELECT
        r.round_id, r.player, o.owed_amount AS amount,
        concat('the round is ', r.status, ', but its ', o.type, ' ', o.transaction_id, ' is still ', o.state) AS what
      FROM rounds AS r
     INNER JOIN owed AS o ON r.pk = o.pk
     WHERE r.status IN ('completed', 'cancelled') AND o.state IN ('pending', 'queued')

    UNION ALL
    -- the casino closed the round while owed money of it, earlier in its order, was undecided:
    -- that money can no longer be paid
    SELECT
        r.round_id, r.player, o.owed_amount AS amount,
        concat(o.type, ' ', o.transaction_id, ' (', o.owed_amount, ' owed, ', o.state, ') was undelivered when ',
               cl.type, ' ', cl.transaction_id, ' closed the round at the casino') AS what
      FROM rounds AS r
     INNER JOIN owed AS o ON r.pk = o.pk
     INNER JOIN actions AS cl ON r.pk = cl.pk AND o.id < cl.id AND cl.closes
     INNER JOIN casino AS cc ON cl.transaction_id = cc.transaction_id AND cc.status = 'accepted'
     WHERE o.owed_amount > 0 AND o.state NOT IN ('cancelled', 'resolved')
       AND NOT EXISTS (SELECT 1 FROM casino AS c
                        WHERE c.transaction_id = o.transaction_id)

    UNION ALL
    -- an undecided bet is compensated, never parked (§7a)
    SELECT
        r.round_id, r.player, -a.amount AS amount,
        concat('bet ', a.transaction_id, ' (', a.amount, ') is parked: an undecided bet is compensated, never parked') AS what
      FROM rounds AS r
     INNER JOIN actions AS a ON r.pk = a.pk
     WHERE a.type = 'bet' AND a.state = 'parked'

    UNION ALL
    -- 5. no round is open past ROUND_TIMEOUT_SECONDS without being listed (something of it parked)
    SELECT
        r.round_id, r.player,
        (SELECT coalesce(sum(o.owed_amount), 0) FROM owed AS o
          WHERE o.pk = r.pk AND o.state IN ('pending', 'queued')) AS amount,
        concat('the round is ', r.status, ', idle since ', to_char(w.since AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'),
               ' UTC (longer than ROUND_TIMEOUT_SECONDS, ', %(timeout_seconds)s, ' s), and nothing of it is parked') AS what
      FROM rounds AS r
     CROSS JOIN LATERAL (
         SELECT CASE WHEN r.status = 'pending_settlement'
                     THEN coalesce((SELECT a.next_attempt_at FROM actions AS a
                                     WHERE a.pk = r.pk AND a.state IN ('pending', 'queued')
                                     ORDER BY a.id LIMIT 1), r.updated_at)
                     ELSE r.updated_at END AS since
     ) AS w
     WHERE r.status IN ('open', 'pending_settlement')
       AND (r.lease_until IS NULL OR r.lease_until < now())
       AND w.since < now() - make_interval(secs => %(timeout_seconds)s)
       AND NOT EXISTS (SELECT 1 FROM actions AS a
                        WHERE a.pk = r.pk AND a.state = 'parked')
)

SELECT d.round_id, d.player, d.amount::BIGINT AS amount, d.what
  FROM differences AS d
 ORDER BY d.round_id, d.what
