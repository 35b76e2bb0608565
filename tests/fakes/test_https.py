from __future__ import annotations

import asyncio
import re

import aiohttp
import pytest
from aiohttp import web

from tests.fakes.https import Answer, RecordingServer, as_answer


async def test_script_order_routes_defaults(https_server, http_server, ca_bundle) -> None:
    import ssl

    ctx = ssl.create_default_context(cafile=str(ca_bundle))
    server = await https_server()
    server.default = (404, {"error": "nope"})
    issue = server.route("/rest/api/2/issue", "POST")
    issue.respond(201, json={"key": "OPS-1"})
    server.route(re.compile(r"/rest/api/2/issue/[A-Z]+-\d+")).default = 200
    server.respond(202, body=b"queued")
    async with aiohttp.ClientSession() as s:

        async def call(method, path, **kw):
            async with s.request(method, server.url + path, ssl=ctx, **kw) as r:
                return r.status, await r.read()

        assert await call("POST", "/rest/api/2/issue", json={"a": 1}) == (201, b'{"key": "OPS-1"}')
        # route queue empty, no route default -> server queue
        assert await call("POST", "/rest/api/2/issue") == (202, b"queued")
        assert await call("GET", "/rest/api/2/issue") == (404, b'{"error": "nope"}')
        assert (await call("GET", "/rest/api/2/issue/OPS-12?x=1&x=2"))[0] == 200

        async def h(request: web.Request) -> web.Response:
            return web.json_response({"echo": (await request.json())})

        server.handler = h
        assert await call("PUT", "/anything", json={"b": 2}) == (200, b'{"echo": {"b": 2}}')
    assert [r.method for r in issue.requests] == ["POST", "POST"]
    assert issue.requests[0].json() == {"a": 1}
    assert server.requests[3].query.getall("x") == ["1", "2"]
    assert server.requests[0].headers["CONTENT-TYPE"] == "application/json"
    assert len(server.requests) == 5
    with pytest.raises(AssertionError, match="expected 6 requests"):
        await server.wait_for(6, timeout=0.05)
    assert as_answer(404) == Answer(404) and as_answer((200, b"x")) == Answer(200, body=b"x")


async def test_plain_and_delay(http_server) -> None:
    server = await http_server()
    gate = asyncio.Event()
    server.respond(200, json={"late": True}, delay=gate)
    async with aiohttp.ClientSession() as s:
        task = asyncio.ensure_future(s.get(server.url_for("/slow")))
        await server.wait_for(1)
        assert not task.done()
        gate.set()
        resp = await task
        assert await resp.json() == {"late": True}
        resp.release()
    assert server.url.startswith("http://127.0.0.1:")


async def test_context_manager_and_ipv6() -> None:
    async with RecordingServer(host="::1") as server:
        async with aiohttp.ClientSession() as s, s.get(server.url_for("/v6")) as r:
            assert r.status == 200
        assert server.url.startswith("http://[::1]:")
        assert server.connections == 1
