"""Any HTTP endpoint: a signed JSON POST per event (see docs/integrations/webhook.md)."""
