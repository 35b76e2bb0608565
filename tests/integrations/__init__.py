"""Tests of the integrations package: the outbound guard, providers against fake servers."""
