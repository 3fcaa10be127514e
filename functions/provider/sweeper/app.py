"""RoundSweeperFunction (scheduled): completes or cancels every round left open longer than
ROUND_TIMEOUT_SECONDS (docs/protocol.md §7a, docs/settlement.md)."""

from seamless.provider.handlers import sweeper_handler

lambda_handler = sweeper_handler()
