"""The outbound guard in aiohttp: sessions whose every connection, redirect hops included, passes the policy.

Two hooks of `aiohttp.TCPConnector`, both public API (aiohttp 3.14):

* `connect()` runs for every request the session sends, each redirect hop included and whether or not a pooled
  connection is reused, before any DNS lookup: it applies `check_url` (scheme, host, and a literal IP host, which
  aiohttp never hands to its resolver).
* the resolver (`AbstractResolver`) checks every address a host name resolves to before aiohttp connects to any
  of them; the addresses it returns are the ones connected to, so a name cannot change in between.

A refusal raises `Refused` out of the session call unchanged: it is not an `OSError`, so aiohttp does not wrap it.
"""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import ThreadedResolver

from integrations.http.guard import AddressChecker, OutboundPolicy, Refused, check_address, check_url, ssl_context

if TYPE_CHECKING:
    from aiohttp.client_reqrep import ClientRequest
    from aiohttp.connector import Connection
    from aiohttp.tracing import Trace


class GuardedResolver(AbstractResolver):
    """Resolves with the system resolver (as the sync stacks do), then refuses if any address fails the check."""

    def __init__(self, policy: OutboundPolicy, checker: AddressChecker = check_address) -> None:
        self._policy = policy
        self._checker = checker
        self._inner = ThreadedResolver()

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        for result in results:
            # Any refused address refuses the name: skipping it would let a name mix a public and a private answer.
            self._checker(self._policy, result["host"], host=host, port=port)
        return results

    async def close(self) -> None:
        """Nothing to release: the threaded resolver holds no resources (so the connector need not close it)."""
        await self._inner.close()


class GuardedConnector(aiohttp.TCPConnector):
    """A `TCPConnector` that applies the policy to every request it connects, and trusts the policy's CA bundle."""

    def __init__(self, policy: OutboundPolicy, *, checker: AddressChecker = check_address, **kw: Any) -> None:
        for name in ("resolver", "ssl", "ssl_context", "verify_ssl", "fingerprint"):
            if name in kw:
                raise TypeError(f"GuardedConnector sets {name} itself")
        self._guard_policy = policy
        self._guard_checker = checker
        super().__init__(resolver=GuardedResolver(policy, checker), ssl=ssl_context(policy), **kw)

    @property
    def guard(self) -> tuple[OutboundPolicy, AddressChecker]:
        """The policy and address check this connector enforces: a sync client a provider builds beside the shared
        session (the `jira` library's requests session) is guarded the same way."""
        return self._guard_policy, self._guard_checker

    async def connect(
        self,
        req: ClientRequest,
        traces: list[Trace],
        timeout: aiohttp.ClientTimeout,  # noqa: ASYNC109 - aiohttp's signature
    ) -> Connection:
        if req.proxy is not None:
            # Through a proxy the target's address is never seen here, so the address check could not hold.
            raise Refused("refused: outbound proxies are not supported by the outbound guard")
        check_url(self._guard_policy, str(req.url), checker=self._guard_checker)
        return await super().connect(req, traces, timeout)


def make_session(
    policy: OutboundPolicy, *, timeout: float = 10.0, checker: AddressChecker = check_address, **kw: Any
) -> aiohttp.ClientSession:
    """A client session under the outbound guard; call it inside the running loop and close it when done.

    `timeout` is the total per request (a request's own `timeout=` overrides it). Other keywords go to
    `aiohttp.ClientSession`, except `connector`, which is the guard. `checker` exists for tests only.
    """
    if "connector" in kw:
        raise TypeError("make_session makes its own connector (the guard)")
    return aiohttp.ClientSession(
        connector=GuardedConnector(policy, checker=checker),
        timeout=aiohttp.ClientTimeout(total=timeout),
        **kw,
    )
