"""The `lifecycle` operator CLI (not part of the Lambda layer): see `cli.main`."""
