"""GitHub: merged pull requests naming an incident land on its timeline (inbound only)."""
