"""Outbound HTTP for integrations: one guard policy (`guard`), enforced in every HTTP stack Vigil uses (`aio`, `sync`)."""
