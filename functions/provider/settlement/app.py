"""SettlementFunction (scheduled): durable delivery of the owed callbacks the round player
could not finish, strictly in each round's order (docs/protocol.md §7a, docs/settlement.md)."""

from seamless.provider.handlers import settlement_handler

lambda_handler = settlement_handler()
