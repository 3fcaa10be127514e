-- The ledger is append-only by rule, not by comment (docs/security.md). A ledger function
-- inserts its transactionId row as 'pending' and finishes it in the same transaction (one or
-- two UPDATEs); from then on the row is history: nobody - the app role, an operator, a
-- migration - updates or deletes it. Ledger growth is managed by partitions
-- (docs/retention.md), never by deleting rows.
--
-- A round keeps what the money rules read from it: once it has a credit or is closed it
-- stays so (a rollback after a credit is BET_ALREADY_SETTLED, a debit after the close is
-- ROUND_CLOSED), and a committed round is never deleted (only the request that created it
-- may drop it again, in its own transaction, when that request is refused).
--
-- The WHEN clauses are evaluated by the executor before the trigger function would be called:
-- the ledger's own writes (pending row finished, first credit of a round) never call it.

CREATE FUNCTION casino_refuse_history_change() RETURNS TRIGGER
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    RAISE EXCEPTION '% of %: %', tg_op, tg_table_name, tg_argv[0]
        USING ERRCODE = 'restrict_violation';
END $$;

CREATE TRIGGER casino_transactions_finished_rows_are_final
BEFORE UPDATE ON casino_transactions
FOR EACH ROW WHEN (old.status <> 'pending')
EXECUTE FUNCTION casino_refuse_history_change('a finished ledger row never changes');

CREATE TRIGGER casino_transactions_append_only
BEFORE DELETE ON casino_transactions
FOR EACH ROW
EXECUTE FUNCTION casino_refuse_history_change('the ledger is append-only');

CREATE TRIGGER casino_rounds_stay_settled
BEFORE UPDATE ON casino_rounds
FOR EACH ROW WHEN ((old.has_credit AND NOT new.has_credit) OR (old.closed AND NOT new.closed))
EXECUTE FUNCTION casino_refuse_history_change('a credited or closed round stays so');

CREATE TRIGGER casino_rounds_committed_rows_stay
BEFORE DELETE ON casino_rounds
FOR EACH ROW WHEN (old.created_at < now())
EXECUTE FUNCTION casino_refuse_history_change('only the request that created a round may drop it');
