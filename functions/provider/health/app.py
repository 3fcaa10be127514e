"""GET /provider/health: open; 200 when the database answers, 503 when it does not (docs/protocol.md §7)."""

from seamless.provider.handlers import health_handler

lambda_handler = health_handler()
