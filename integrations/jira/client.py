"""The `jira` library behind a small synchronous surface, run by the provider under `asyncio.to_thread`.

Why a wrapper rather than the library as it is: it retries 429 and 503 itself, sleeping up to a minute per try (the
outbox retries, so `max_retries=0` here); its constructor fetches serverInfo before any caller could put the
outbound guard on its session (so the client is built with `get_server_info=False`, guarded, then asked); and
`str(JIRAError)` prints the request headers, Authorization included. Every failure leaves this module as a
`DeliveryFailed` that names the host and path and the vendor's own error text, never a header or a query string.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import requests
from jira import JIRA, JIRAError

from integrations.base import FINAL_STATUSES, DeliveryFailed, retry_after_seconds
from integrations.http.guard import AddressChecker, OutboundPolicy, Refused, check_address, describe_url
from integrations.http.sync import guard_session

T = TypeVar("T")
SNIPPET = 200  # characters of Jira's own error text kept in a message
DONE = "done"  # the status category of finished work


def jql_string(value: str) -> str:
    """A JQL string literal: double quotes, with backslashes and quotes escaped."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def status_of(issue: Mapping[str, Any]) -> tuple[str, str]:
    """(status name, status category key) of an issue as the REST API returns it; empty strings when absent."""
    status = (issue.get("fields") or {}).get("status") or {}
    return str(status.get("name") or ""), str((status.get("statusCategory") or {}).get("key") or "")


class JiraClient:
    """One Jira site as one account sees it. Thread-safe for the calls below: requests' connection pool is, and no
    call keeps state between requests (the library's field cache is filled once and only read after)."""

    def __init__(
        self,
        *,
        url: str,
        token: str,
        email: str | None,
        policy: OutboundPolicy,
        checker: AddressChecker = check_address,
        timeout: float = 10.0,
    ) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.cloud = False
        self.deployment = ""
        self._where = describe_url(self.url)
        auth: dict[str, Any] = {"basic_auth": (email, token)} if email else {"token_auth": token}
        self._jira = JIRA(
            server=self.url,
            options={"rest_api_version": "2", "headers": {"User-Agent": "Vigil"}},
            get_server_info=False,  # no request before the guard is on
            max_retries=0,
            timeout=timeout,
            **auth,
        )
        guard_session(self._jira._session, policy, checker=checker)

    @classmethod
    def connect(
        cls,
        *,
        url: str,
        token: str,
        email: str | None,
        policy: OutboundPolicy,
        checker: AddressChecker = check_address,
        timeout: float = 10.0,
    ) -> JiraClient:
        """A guarded client that has read serverInfo (Cloud or Data Center decides the search and user paths)."""
        client = cls(url=url, token=token, email=email, policy=policy, checker=checker, timeout=timeout)
        try:
            client._server_info()
        except BaseException:
            client.close()
            raise
        return client

    def _server_info(self) -> None:
        info = self._call(self._jira.server_info)
        numbers = info.get("versionNumbers") if isinstance(info, dict) else None
        if not isinstance(numbers, list):
            raise DeliveryFailed(f"{self._where} does not look like Jira: its serverInfo has no version", retryable=False)
        # What the library's constructor sets from the same answer when it fetches it itself.
        self._jira._version = tuple(numbers)
        self._jira.deploymentType = info.get("deploymentType")
        self.deployment = str(info.get("deploymentType") or "Server")
        self.cloud = self.deployment == "Cloud"

    def close(self) -> None:
        self._jira.close()

    # ---------------------------------------------------------------- reads

    def myself(self) -> dict[str, Any]:
        return dict(self._call(self._jira.myself))

    def project(self, key: str) -> dict[str, Any]:
        return dict(self._call(self._jira.project, key).raw)

    def find_issue(self, *, project: str, label: str) -> dict[str, Any] | None:
        """The oldest issue of `project` carrying `label` (`/search/jql` on Cloud, `/search` on Data Center)."""
        jql = f"project = {jql_string(project)} AND labels = {jql_string(label)} ORDER BY created ASC"
        found = self._call(lambda: self._jira.search_issues(jql, maxResults=1, fields=["status"], json_result=True))
        issues = found.get("issues") or []
        return dict(issues[0]) if issues else None

    def issue(self, key: str) -> dict[str, Any]:
        """The issue with its status only."""
        return dict(self._call(self._jira.issue, key, fields="status").raw)

    def transitions(self, key: str) -> list[dict[str, Any]]:
        return [dict(t) for t in self._call(self._jira.transitions, key)]

    def find_user(self, email: str) -> str | None:
        """The account (Cloud account id, Data Center user name) with this email, when exactly one answers to it."""
        if self.cloud:
            users = self._call(self._jira.search_users, query=email, maxResults=2)
        else:
            users = self._call(self._jira.search_users, user=email, maxResults=2)
        raws = [dict(u.raw) for u in users]
        exact = [r for r in raws if str(r.get("emailAddress") or "").casefold() == email.casefold()]
        chosen = exact[0] if len(exact) == 1 else raws[0] if len(raws) == 1 else None
        if chosen is None:
            return None
        account = chosen.get("accountId") if self.cloud else chosen.get("name") or chosen.get("key")
        return str(account) if account else None

    # ---------------------------------------------------------------- writes

    def create_issue(self, fields: Mapping[str, Any]) -> tuple[dict[str, Any], bool]:
        """One POST (dicts for project and issue type, no prefetch). Returns the issue (id, key, self) and whether
        the reporter had to be left out: without the Modify Reporter permission, or with the field off the create
        screen, Jira refuses the whole issue for it, and an issue without the wanted reporter beats none."""
        try:
            return dict(self._jira.create_issue(fields=dict(fields), prefetch=False).raw), False
        except JIRAError as exc:
            if not ("reporter" in fields and exc.status_code == 400 and "reporter" in _error_fields(exc)):
                raise self._failure(exc) from None
        except Exception as exc:
            raise self._translated(exc) from None
        without = {name: value for name, value in fields.items() if name != "reporter"}
        return dict(self._call(self._jira.create_issue, fields=without, prefetch=False).raw), True

    def update_issue(self, key: str, fields: Mapping[str, Any]) -> None:
        issue = self._call(self._jira.issue, key, fields="summary")
        self._call(issue.update, fields=dict(fields))

    def transition(self, key: str, transition_id: str) -> None:
        """POST the transition by id (a numeric id makes the library skip its own lookup)."""
        self._call(self._jira.transition_issue, key, str(transition_id))

    # ---------------------------------------------------------------- errors

    def _call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            raise self._translated(exc) from None

    def _translated(self, exc: Exception) -> DeliveryFailed:
        where = self._where
        if isinstance(exc, DeliveryFailed):
            return exc
        if isinstance(exc, JIRAError):
            return self._failure(exc)
        if isinstance(exc, Refused):
            return DeliveryFailed(str(exc), retryable=False)
        if isinstance(exc, requests.exceptions.SSLError):
            return DeliveryFailed(f"TLS failed with {where} (SSLError); see VIGIL_CA_BUNDLE")
        if isinstance(exc, requests.exceptions.Timeout):
            return DeliveryFailed(f"no answer from {where} within {self.timeout:g} s")
        if isinstance(exc, ValueError):  # requests' JSONDecodeError too
            return DeliveryFailed(f"{where} answered something that is not JSON")
        if isinstance(exc, requests.RequestException):
            return DeliveryFailed(f"could not reach {where} ({type(exc).__name__})")
        if isinstance(exc, KeyError):
            return DeliveryFailed(f"{where} answered in a shape Vigil does not know (a key is missing)")
        raise exc

    def _failure(self, exc: JIRAError) -> DeliveryFailed:
        """JIRAError as a delivery failure: its status, URL (host and path only) and Jira's error text."""
        where = describe_url(exc.url) if exc.url else self._where
        text = " ".join(str(exc.text or "").split())[:SNIPPET]
        status = exc.status_code
        if status is None:
            return DeliveryFailed(f"{where}: {text or 'no answer'}")
        message = f"{where} answered {status}" + (f": {text}" if text else "")
        if status in FINAL_STATUSES:
            return DeliveryFailed(message, http_status=status, retryable=False)
        headers = exc.response.headers if exc.response is not None else {}
        retry_after = retry_after_seconds(headers.get("Retry-After")) if status in (429, 503) else None
        return DeliveryFailed(message, http_status=status, retry_after=retry_after)


def _error_fields(exc: JIRAError) -> set[str]:
    """The field names of a 400 answer's `errors` object."""
    try:
        errors = exc.response.json().get("errors") if exc.response is not None else None
    except ValueError:
        return set()
    return set(errors) if isinstance(errors, dict) else set()
