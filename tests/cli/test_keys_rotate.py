"""`vigil keys rotate`: rows sealed under an old key move to the primary one, a second run moves nothing, and the
moved secrets still open (and still sign) once the old key is gone."""

from __future__ import annotations

import asyncio
import json
import os
import pty
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from db.models import Integration
from integrations.signing import verify_header
from tests.cli.conftest import VIGIL, clean_env
from tests.cli.test_integrations_cli import MASK, Vigil, add_webhook, database, errors, key_entry, make_env, record_team


async def sealed_with(db_url: str) -> dict[str, str]:
    """Integration name → the kid its secrets are sealed under (from the token itself and the key_id column)."""
    async with database(db_url) as session:
        rows = (await session.scalars(select(Integration))).all()
        assert all(row.secrets.split(":")[1] == row.key_id for row in rows)
        return {row.name: str(row.key_id) for row in rows}


async def test_rotate_moves_old_rows_once_and_they_still_open(
    db_url: str, ca_bundle: Path, https_server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    await record_team(db_url)
    k1, k2 = key_entry("k1"), key_entry("k2")
    vigil = Vigil(make_env(db_url, ca_bundle, k1))
    server = await https_server()
    a = await add_webhook(vigil, "a", server.url + "/a")
    await add_webhook(vigil, "b", "https://hooks.example.com/b")
    new_ring: dict[str, str | None] = {"VIGIL_ENCRYPTION_KEYS": f"{k2},{k1}"}
    await add_webhook(vigil, "c", "https://hooks.example.com/c", env=new_ring)  # sealed under k2 from the start
    assert await sealed_with(db_url) == {"a": "k1", "b": "k1", "c": "k2"}

    # without k1 the old rows do not open: what rotating is for
    only_new: dict[str, str | None] = {"VIGIL_ENCRYPTION_KEYS": k2}
    before = json.loads((await vigil("integrations", "list", "--json", env=only_new)).stdout)
    assert {i["name"]: i["secrets"] for i in before}["a"] == {}

    moved = await vigil.ok("keys", "rotate", env=new_ring)
    assert moved == {"moved": "2", "total": "3", "primary_key": "k2"}
    assert vigil.transcript[-1].stderr == ""  # no progress bar without a terminal
    assert await sealed_with(db_url) == {"a": "k2", "b": "k2", "c": "k2"}
    again = await vigil("keys", "rotate", "--json", env=new_ring)
    assert again.exit_code == 0 and json.loads(again.stdout) == {"moved": 0, "total": 3, "primary_key": "k2"}

    after = json.loads((await vigil("integrations", "list", "--json", env=only_new)).stdout)
    assert [(i["name"], i["secrets"]) for i in after] == [(name, {"inbound_secret": MASK}) for name in "abc"]
    tested = await vigil.ok("integrations", "test", "a", env=only_new)
    assert tested["status"] == "success"
    [request] = server.requests
    assert verify_header(request.headers["X-Vigil-Signature"], request.body, [a["inbound_secret"]], now=int(time.time()))

    lost = await vigil("keys", "rotate", env={"VIGIL_ENCRYPTION_KEYS": key_entry("k3")})
    assert lost.exit_code == 2
    [line] = errors(lost)
    assert line.startswith("error: VIGIL_ENCRYPTION_KEYS: secret was encrypted with key 'k2', which is not in")
    assert await sealed_with(db_url) == {"a": "k2", "b": "k2", "c": "k2"}  # nothing half-done
    vigil.assert_never_shown(a["inbound_secret"], except_in=[vigil.transcript[0]])


def test_rotate_without_a_key_ring_exits_2(sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = Vigil({"VIGIL_DATABASE_URL": sqlite_url}).sync("keys", "rotate")
    assert result.exit_code == 2
    assert errors(result) == [
        "error: VIGIL_ENCRYPTION_KEYS: no encryption key: run `vigil keys generate` and put its output in "
        "VIGIL_ENCRYPTION_KEYS"
    ]


async def test_rotate_shows_a_progress_bar_on_a_terminal(
    sqlite_url: str, ca_bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    await record_team(sqlite_url)
    k1, k2 = key_entry("k1"), key_entry("k2")
    vigil = Vigil(make_env(sqlite_url, ca_bundle, k1))
    for name in ("a", "b"):
        await add_webhook(vigil, name, f"https://hooks.example.com/{name}")

    def rotate() -> tuple[subprocess.CompletedProcess[str], str]:
        master, slave = pty.openpty()
        env = clean_env({**vigil.env, "VIGIL_ENCRYPTION_KEYS": f"{k2},{k1}"})
        try:
            argv = [*VIGIL, "keys", "rotate"]
            done = subprocess.run(argv, stderr=slave, stdout=subprocess.PIPE, text=True, env=env, cwd=tmp_path, timeout=60)
        finally:
            os.close(slave)
        chunks = []
        try:
            while chunk := os.read(master, 4096):
                chunks.append(chunk)
        except OSError:  # EIO: the terminal's other end is closed and everything was read
            pass
        os.close(master)
        return done, b"".join(chunks).decode()

    done, terminal = await asyncio.to_thread(rotate)
    assert done.returncode == 0, terminal
    assert done.stdout.splitlines() == ["moved: 2", "total: 2", "primary_key: k2"]
    assert "re-encrypting secrets" in terminal and "2/2" in terminal
