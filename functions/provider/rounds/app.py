"""GET /provider/rounds/{roundId}: the provider's record of a round for a casino's support agent,
JSON or (Accept: text/html) a page (docs/protocol.md §7); behind the API key when deployed."""

from seamless.provider.handlers import rounds_handler

lambda_handler = rounds_handler()
