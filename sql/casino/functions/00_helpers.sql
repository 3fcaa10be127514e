-- Recreated by every `migrate`: the schema `ledger` is dropped and created again before
-- these files run (sql/casino/functions/, in name order), so a changed signature needs no
-- DROP FUNCTION of its own.
-- The casino ledger's helpers, used by the one function per provider callback in the
-- files beside this one.
--
-- Why the rules live in PL/pgSQL: each callback is then exactly one statement, one database
-- round trip and one transaction. The ledger row, the round, the wallet update and the stored
-- response commit together or not at all, and a concurrent duplicate waits on the unique index
-- instead of racing in Python.
-- seamless/casino/ledger.py is the typed Python face of these functions.
--
-- The write path (ledger v3, issue 14), the same in debit, credit and rollback:
--   1. the session; the stored answer for the transactionId, if any (a replay takes no lock);
--   2. the wallet row, FOR NO KEY UPDATE: every callback of a wallet is serialised here, first,
--      so the rows the callback then reads (its round, its bet) cannot change under it - every
--      writer of a round or a refund is a callback of the round owner's session, whose wallet
--      this is - and no foreign-key KEY SHARE on the wallet creates a MultiXact;
--   3. the bet id's lock (ledger.lock_bet_id): a debit past the currency check locks its own
--      transactionId, a rollback the bet it names, before either looks for the other. This
--      serialises a debit and a rollback racing on one bet id from different wallets: whichever
--      commits first is seen by the other - the debit's ledger row by the rollback (no
--      tombstone), the rollback's tombstone row by the debit (BET_ROLLED_BACK). A tombstone is
--      the rollback's own ledger row (tombstone = true), found through its small partial index;
--      there is no claim row of its own (ledger v2's casino_bet_claims, dropped by migration
--      0004);
--   4. the checks, in §4's order, reading the round and the bet without locking them; a new round
--      is inserted where the decision needs it;
--   5. the ledger row, written ONCE with its final outcome and response (ledger.record):
--      INSERT ... ON CONFLICT DO NOTHING on the unique (provider_id, transaction_id) index, the
--      idempotency gate. A concurrent request with the same transactionId that got there first
--      makes this one wait for its commit; then its stored answer is sent instead, and the round
--      this request inserted is deleted again (nothing else was written yet);
--   6. the round's credit flags and the wallet update.
--
-- Lock order, the same in every function (so no deadlock is possible): wallet row -> bet id
-- (a transaction-level advisory lock) -> round row -> own transactionId row. A callback takes at
-- most one lock of each kind, and none waits for an earlier kind while holding a later one.
--
-- The entry points (ledger.debit, credit, rollback, get_balance, and launch's open_session,
-- activate_session, fail_session) are SECURITY DEFINER functions owned by casino_owner, a role
-- that never logs in; they are all casino_app may call, and they pin their search_path
-- (sql/casino/grants.sql grants EXECUTE on exactly the SECURITY DEFINER functions of this
-- schema). They refuse NULL where the contract has no null and amounts outside its ranges, so
-- a caller holding the role's password has no call the HTTP API refuses. The helpers they call
-- on every callback are neither (a SET clause or SECURITY DEFINER keeps the planner from
-- inlining a SQL function, and a SET clause costs every call a GUC save and restore); they run
-- as the owner inside the entry point, name every table by its schema, the SQL ones are inlined
-- into their caller's plan, and nobody but the migrating admin can create an object that would
-- shadow a name (sql/database.sql). casino_app cannot call them.
--
-- Every callback function returns (status, body, replayed): the HTTP status, the exact
-- response body text, and whether it is a replay of a stored response - one that another
-- invocation of the handler wrote (p_invocation, a random id per handler invocation).

CREATE SCHEMA ledger;

-- The normalised fields of docs/protocol.md §5, not the raw body: key order, whitespace and
-- unknown fields do not change the hash; the player is resolved from the token. STABLE, not
-- IMMUTABLE (jsonb_build_array is only stable), so that the planner inlines it.
CREATE FUNCTION ledger.request_hash(
    p_endpoint TEXT, p_user UUID, p_currency TEXT, p_round TEXT, p_amount BIGINT,
    p_bet TEXT, p_closed BOOLEAN)
RETURNS BYTEA LANGUAGE sql STABLE AS $$
    SELECT pg_catalog.sha256(pg_catalog.convert_to(
        pg_catalog.jsonb_build_array(p_endpoint, p_user, p_currency, p_round, p_amount, p_bet, p_closed)::text,
        'UTF8'))
$$;

CREATE FUNCTION ledger.error_body(p_code TEXT, p_extra JSONB DEFAULT '{}'::JSONB,
    OUT status INT, OUT body TEXT)
LANGUAGE plpgsql STABLE AS $$
BEGIN
    SELECT c.http_status,
           (pg_catalog.jsonb_build_object('error',
                pg_catalog.jsonb_build_object('code', c.code, 'message', c.message)) || p_extra)::text
      INTO status, body
      FROM public.casino_error_catalog c WHERE c.code = p_code;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'error code % is not in casino_error_catalog (run migrate)', p_code;
    END IF;
END $$;

-- The session behind a token, whatever its expiry; only active (launched) sessions count.
-- Plain SQL without a SET clause: inlined into the callback's own (cached) plan, not planned
-- again on every call as a SQL function that cannot be inlined is.
-- game_disabled: the session's game was deactivated or its provider disabled after the launch
-- (a debit's GAME_DISABLED; credits and rollbacks still settle).
CREATE FUNCTION ledger.session_by_token(p_token_hash BYTEA)
RETURNS TABLE (session_id UUID, user_id UUID, wallet_id BIGINT, provider_id BIGINT,
               currency TEXT, expired BOOLEAN, blocked BOOLEAN, min_bet BIGINT, max_bet BIGINT,
               game_disabled BOOLEAN)
LANGUAGE sql STABLE AS $$
    SELECT gs.id, gs.user_id, gs.wallet_id, gs.provider_id, gs.currency::text,
           gs.expires_at <= pg_catalog.now(), u.status = 'blocked',
           -- bet limits per game and currency; none for the session's currency: no amount fits
           COALESCE(l.min_bet, 1), COALESCE(l.max_bet, 0),
           NOT g.active OR p.disabled
      FROM public.casino_game_sessions gs
      JOIN public.casino_users u ON u.id = gs.user_id
      JOIN public.casino_games g ON g.id = gs.game_id
      JOIN public.casino_game_providers p ON p.id = gs.provider_id
      LEFT JOIN public.casino_game_limits l ON l.game_id = gs.game_id AND l.currency = gs.currency
     WHERE gs.token_hash = p_token_hash AND gs.status = 'active'
$$;

-- The largest balance (2^53 - 1, docs/protocol.md §3 BALANCE_LIMIT_EXCEEDED; the wallets'
-- CHECK playable_balance_within_limit). Inlined.
CREATE FUNCTION ledger.balance_limit() RETURNS BIGINT LANGUAGE sql IMMUTABLE AS $$
    SELECT 9007199254740991::BIGINT
$$;


-- The providers holding a transactionId. An unknown token names no provider (and the
-- callback signature is not per provider), so every provider is probed: one lookup per
-- provider in the unique index (provider_id, transaction_id) - there are a handful of them -
-- never a scan of the ledger. Plain SQL, not STRICT: the planner inlines it into its caller,
-- which lets EXPLAIN show (and a test check) the plan the caller runs.
CREATE FUNCTION ledger.stored_transaction(p_transaction_id TEXT)
RETURNS TABLE (provider_id BIGINT)
LANGUAGE sql STABLE AS $$
    SELECT t.provider_id
      FROM public.casino_transactions t
     WHERE t.provider_id = ANY(ARRAY(SELECT p.id FROM public.casino_game_providers p))
       AND t.transaction_id = p_transaction_id
$$;

-- Unknown token: the request cannot be the same as any stored one (its player cannot be
-- resolved), so a known transactionId is a conflict; otherwise SESSION_NOT_FOUND.
CREATE FUNCTION ledger.unknown_session(p_transaction_id TEXT, OUT status INT, OUT body TEXT)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    IF p_transaction_id IS NOT NULL
       AND EXISTS (SELECT 1 FROM ledger.stored_transaction(p_transaction_id)) THEN
        SELECT e.status, e.body INTO status, body FROM ledger.error_body('TRANSACTION_ID_CONFLICT') e;
    ELSE
        SELECT e.status, e.body INTO status, body FROM ledger.error_body('SESSION_NOT_FOUND') e;
    END IF;
END $$;

-- The answer stored for a transactionId: its response for the same request (same hash), a
-- conflict for another; no row when nothing is stored (a caller's SELECT ... INTO then reads
-- status NULL). replayed is true only when another invocation wrote the row: the same
-- invocation finding its own row (db.run_idempotent re-ran it after a lost commit
-- acknowledgement) is sending its first answer. A caller that names no invocation (NULL) gets
-- every stored answer as a replay. Plain SQL: inlined into the caller's plan (the conflict's
-- body, built by ledger.error_body, only when the hash differs).
CREATE FUNCTION ledger.stored_answer(
    p_provider BIGINT, p_transaction_id TEXT, p_hash BYTEA, p_invocation UUID)
RETURNS TABLE (status INT, body TEXT, replayed BOOLEAN)
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN t.request_hash = p_hash THEN t.response_status
                ELSE (ledger.error_body('TRANSACTION_ID_CONFLICT')).status END,
           CASE WHEN t.request_hash = p_hash THEN t.response_body
                ELSE (ledger.error_body('TRANSACTION_ID_CONFLICT')).body END,
           CASE WHEN t.request_hash = p_hash
                THEN p_invocation IS NULL OR t.invocation_id IS DISTINCT FROM p_invocation
                ELSE false END
      FROM public.casino_transactions t
     WHERE t.provider_id = p_provider AND t.transaction_id = p_transaction_id
$$;

-- Step 3 of the write path: the lock a debit takes on its own transactionId and a rollback on
-- the bet it names, held until the transaction ends (a transaction-level advisory lock: no row,
-- no WAL). Two different ids may share a key (a 64-bit hash): they are then serialised for
-- nothing, never wrongly let through. The caller looks for the other side in its next statement,
-- whose snapshot is taken after the lock was granted.
CREATE FUNCTION ledger.lock_bet_id(p_provider BIGINT, p_transaction_id TEXT)
RETURNS VOID LANGUAGE sql AS $$
    SELECT pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtextextended(p_transaction_id, p_provider))
$$;

-- The tombstones rollbacks left for a bet id: their ledger rows (tombstone = true), through the
-- partial index casino_transactions_tombstone. A set-returning SQL function, so that the planner
-- inlines it into the caller's EXISTS (a scalar one holding a sub-select is not inlined).
CREATE FUNCTION ledger.tombstones(p_provider BIGINT, p_bet TEXT)
RETURNS TABLE (transaction_id TEXT)
LANGUAGE sql STABLE AS $$
    SELECT t.transaction_id FROM public.casino_transactions t
     WHERE t.provider_id = p_provider AND t.bet_transaction_id = p_bet AND t.tombstone
$$;

-- Writes the transactionId's ledger row once, with its final outcome: accepted (p_code NULL: the
-- deltas, the balances after and the 200 body, p_extra adding endpoint-specific fields) or a
-- stored business rejection (p_code, p_extra adding e.g. the 402's balance; nothing moves).
-- The unique index is the idempotency gate: when another request holds the transactionId,
-- this waits for it to commit and returns written = false with that request's stored answer
-- (or a conflict); the caller then undoes what it inserted before and writes nothing more.
CREATE FUNCTION ledger.record(
    p_provider BIGINT, p_transaction_id TEXT, p_kind TEXT, p_hash BYTEA, p_session UUID,
    p_user UUID, p_wallet BIGINT, p_round TEXT, p_bet TEXT, p_amount BIGINT, p_closed BOOLEAN,
    p_tombstone BOOLEAN, p_invocation UUID, p_code TEXT, p_extra JSONB,
    p_playable_delta BIGINT, p_redeemable_delta BIGINT, p_balance BIGINT, p_redeemable BIGINT,
    p_currency TEXT, p_reason TEXT DEFAULT NULL, p_promotion TEXT DEFAULT NULL, p_grant TEXT DEFAULT NULL,
    OUT written BOOLEAN, OUT status INT, OUT body TEXT, OUT replayed BOOLEAN)
LANGUAGE plpgsql AS $$
#variable_conflict use_variable
DECLARE
    v_id BIGINT := pg_catalog.nextval('public.casino_transactions_id_seq'::REGCLASS);
BEGIN
    replayed := false;
    IF p_code IS NULL THEN
        status := 200;
        body := (pg_catalog.jsonb_build_object(
            'transactionId', p_transaction_id,
            'casinoTransactionId', v_id::text,
            'balance', p_balance,
            'redeemableBalance', p_redeemable,
            'currency', p_currency) || p_extra)::text;
        INSERT INTO public.casino_transactions (id, provider_id, transaction_id, kind, status, request_hash,
                                         session_id, user_id, wallet_id, round_id, bet_transaction_id,
                                         round_closed, tombstone, amount, playable_delta, redeemable_delta,
                                         balance_after, redeemable_after, response_status, response_body,
                                         invocation_id, reason, promotion_id, grant_id)
        OVERRIDING SYSTEM VALUE
        VALUES (v_id, p_provider, p_transaction_id, p_kind, 'accepted', p_hash,
                p_session, p_user, p_wallet, p_round, p_bet,
                p_closed, p_tombstone, p_amount, p_playable_delta, p_redeemable_delta,
                p_balance, p_redeemable, status, body, p_invocation, p_reason, p_promotion, p_grant)
        ON CONFLICT (provider_id, transaction_id) DO NOTHING;
    ELSE
        SELECT e.status, e.body INTO status, body FROM ledger.error_body(p_code, p_extra) e;
        INSERT INTO public.casino_transactions (id, provider_id, transaction_id, kind, status, request_hash,
                                         session_id, user_id, wallet_id, round_id, bet_transaction_id,
                                         round_closed, amount, error_code, response_status, response_body,
                                         invocation_id, reason, promotion_id, grant_id)
        OVERRIDING SYSTEM VALUE
        VALUES (v_id, p_provider, p_transaction_id, p_kind, 'rejected', p_hash,
                p_session, p_user, p_wallet, p_round, p_bet,
                p_closed, p_amount, p_code, status, body, p_invocation, p_reason, p_promotion, p_grant)
        ON CONFLICT (provider_id, transaction_id) DO NOTHING;
    END IF;
    written := FOUND;
    IF NOT written THEN
        SELECT * INTO status, body, replayed
          FROM ledger.stored_answer(p_provider, p_transaction_id, p_hash, p_invocation);
    END IF;
END $$;

-- The funding rule (docs/protocol.md §4b): a win naming its bet is split in the proportion that
-- bet was funded; its redeemable part is floor(win x bet's redeemable part / bet amount), the rest
-- is bonus. In numeric: win and stake may each reach 10^12, so their product does not fit a BIGINT.
CREATE FUNCTION ledger.win_redeemable(p_win BIGINT, p_bet_amount BIGINT, p_bet_redeemable BIGINT)
RETURNS BIGINT LANGUAGE sql IMMUTABLE AS $$
    SELECT pg_catalog.floor(p_win::NUMERIC * p_bet_redeemable / p_bet_amount)::BIGINT
$$;
