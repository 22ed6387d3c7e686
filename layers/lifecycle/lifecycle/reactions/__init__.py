"""The decisions of each reaction. Handlers in `functions/` only call `lifecycle.reaction.run` with one of these."""
