"""The Slack Web API client: every call goes to SLACK_API_URL, retries 429 and connection errors, and is counted."""

from __future__ import annotations

from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncConnectionErrorRetryHandler, AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot.metrics import Metrics


class InstrumentedWebClient(AsyncWebClient):
    """AsyncWebClient that records each call's method and outcome (`ok`, the Slack error code, or the exception)."""

    def __init__(self, *args: Any, metrics: Metrics, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._metrics = metrics

    async def api_call(self, api_method: str, **kwargs: Any) -> AsyncSlackResponse:
        outcome = "ok"
        try:
            return await super().api_call(api_method, **kwargs)
        except SlackApiError as exc:
            outcome = str(exc.response.get("error") or f"http_{exc.response.status_code}")
            raise
        except Exception as exc:
            outcome = type(exc).__name__
            raise
        finally:
            self._metrics.slack_calls.labels(method=api_method, outcome=outcome).inc()


def make_slack_client(*, token: str, base_url: str, metrics: Metrics, timeout: int = 15) -> InstrumentedWebClient:
    """429s wait for Retry-After (slack_sdk does not retry them by default); connection errors retry twice.

    Server errors (500) are not retried here: a non-idempotent call such as `conversations.create` may have
    succeeded, so the domain decides what a failed step means.
    """
    return InstrumentedWebClient(
        token=token,
        base_url=base_url,
        timeout=timeout,
        metrics=metrics,
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(max_retry_count=2),
            AsyncRateLimitErrorRetryHandler(max_retry_count=5),
        ],
    )
