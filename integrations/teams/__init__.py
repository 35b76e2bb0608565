"""Microsoft Teams: Adaptive Cards posted to a Workflows ("Post to a channel when a webhook request is received") URL."""
