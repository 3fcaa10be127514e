"""MigrateFunction: applies sql/ and creates the two database roles. Runs as a CloudFormation
custom resource on every deploy (and by `sam remote invoke MigrateFunction`). Idempotent."""

from seamless.runtime.cfn import custom_resource
from seamless.runtime.migrations import migrate
from seamless.runtime.settings import common

lambda_handler = custom_resource(lambda: {"applied": migrate(common().admin_dsn(), quiet=True)})
