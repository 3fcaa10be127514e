"""POST /casino/rollback: signed provider callback (docs/protocol.md §4)."""

from seamless.casino import ledger
from seamless.casino.handlers import casino_callback
from seamless.contract.models import RollbackRequest

lambda_handler = casino_callback(RollbackRequest, ledger.rollback)
