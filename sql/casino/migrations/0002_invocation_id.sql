-- The handler invocation that wrote a transactionId's row (a random id per invocation, sent
-- with every money callback). db.run_idempotent re-runs a callback whose commit
-- acknowledgement was lost; that re-run finds the row its own first attempt committed and
-- must answer as the first answer, without Idempotent-Replayed (docs/protocol.md §5): only a
-- row written by another invocation is a replay. NULL on rows written before this column.
ALTER TABLE casino_transactions ADD COLUMN invocation_id UUID;
