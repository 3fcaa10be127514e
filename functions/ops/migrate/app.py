"""MigrateFunction: applies sql/ and creates the two database roles. Runs as a CloudFormation
custom resource on every deploy (and by `sam remote invoke MigrateFunction`). Idempotent."""
from wallet_common.cfn import custom_resource
from wallet_common.migrations import migrate
from wallet_common.settings import get_settings

lambda_handler = custom_resource(lambda: {"applied": migrate(get_settings().admin_dsn(), quiet=True)})
