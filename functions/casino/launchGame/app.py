"""POST /casino/launchGame: operator call; opens a session through the provider (PROTOCOL §6)."""
from wallet_common.casino import launch_game
from wallet_common.http import json_endpoint
from wallet_common.models import LaunchGameRequest

lambda_handler = json_endpoint(LaunchGameRequest, launch_game)
