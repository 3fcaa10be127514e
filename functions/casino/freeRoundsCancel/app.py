"""POST /casino/freeRounds/{grantId}/cancel: operator call; cancels a grant at the provider, then
marks it cancelled (docs/protocol.md §4b); behind the operator API key when deployed."""

from seamless.casino.free_rounds import cancel
from seamless.casino.handlers import operator_path_action
from seamless.contract.models import GrantPath

lambda_handler = operator_path_action(GrantPath, cancel)
