"""POST /casino/launchGame: operator call; opens a session through the provider (docs/protocol.md §6)."""

from seamless.casino.handlers import operator_endpoint
from seamless.casino.launch import launch_game
from seamless.contract.models import LaunchGameRequest

lambda_handler = operator_endpoint(LaunchGameRequest, launch_game)
