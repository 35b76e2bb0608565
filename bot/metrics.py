"""Prometheus metrics, one registry per container (nothing global, so tests and replicas stay apart)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST


class Metrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.slack_calls = Counter(
            "vigil_slack_api_calls",
            "Slack Web API calls by method and outcome",
            ["method", "outcome"],
            registry=self.registry,
        )
        self.envelopes = Counter(
            "vigil_socket_envelopes", "Socket Mode envelopes received by type", ["type"], registry=self.registry
        )
        self.handler_seconds = Histogram(
            "vigil_handler_seconds",
            "Time a Slack listener ran, by kind and id",
            ["kind", "id"],
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=self.registry,
        )

        self.inbound_requests = Counter(
            "vigil_inbound_requests",
            "Inbound webhook requests by integration kind and the HTTP status answered",
            ["kind", "status"],
            registry=self.registry,
        )
        self.inbound_unverified = Counter(
            "vigil_inbound_verification_failures",
            "Inbound webhook requests refused for a missing, wrong or stale signature, by kind",
            ["kind"],
            registry=self.registry,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
