"""Webhooks: partners subscribe to the change log and are told of each change as it commits.

The write path calls `outbox.on_changes` (registered by `main.create_app` and the CLI) inside the transaction
of every change, which writes one delivery row per matching subscription; `delivery.Worker` sends them,
signed as the Standard Webhooks specification says, and retries on its schedule."""
