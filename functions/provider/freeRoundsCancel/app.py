"""POST /provider/freeRounds/{grantId}/cancel: signed casino -> provider call; no new free round
of the grant starts (docs/protocol.md §7)."""

from seamless.contract.models import EmptyBody, GrantPath
from seamless.provider import free_rounds
from seamless.provider.handlers import signed_path_action

lambda_handler = signed_path_action(GrantPath, EmptyBody, free_rounds.cancel)
