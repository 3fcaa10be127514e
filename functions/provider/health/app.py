"""GET /provider/health: open; 200 when the database answers, 503 when it does not (PROTOCOL §7)."""
from wallet_common import provider
from wallet_common.http import api_handler, health_response

lambda_handler = api_handler(lambda request: health_response(provider.health))
