"""Each vendor's own webhook, signed its own way, over real HTTP into the sidecar: valid, forged, unsigned, stale
(where the scheme has a clock), duplicate, malformed and unknown-reference requests."""

from __future__ import annotations

import json
import time
import urllib.parse
from typing import Any

from db.models import IntegrationLink
from tests.inbound.conftest import Hooked, Hooks, hex_sig, teams_signature, vigil_signature


async def link(hooks: Hooks, hooked: Hooked, incident: Any, external_id: str) -> None:
    async with hooks.vigil.container.sessions() as session, session.begin():
        session.add(
            IntegrationLink(
                team_id=hooks.vigil.team_id, incident_id=incident.id, integration_id=hooked.id, external_id=external_id
            )
        )


# ---------------------------------------------------------------- Jira


def jira_body(key: str, status: str = "Done", category: str = "done", *, labels: list[str] | None = None) -> dict[str, Any]:
    return {
        "webhookEvent": "jira:issue_updated",
        "user": {"accountId": "5b10ac8d82e05b22cc7d4ef5", "emailAddress": "bob@acme.example", "displayName": "Bob"},
        "issue": {
            "key": key,
            "fields": {"status": {"name": status, "statusCategory": {"key": category}}, "labels": labels or []},
        },
        "changelog": {"items": [{"field": "status", "fromString": "In Progress", "toString": status}]},
    }


async def post_jira(
    hooks: Hooks, hooked: Hooked, body: dict[str, Any], delivery: str = "j-1", secret: str | None = None
) -> Any:
    raw = json.dumps(body).encode()
    sig = "sha256=" + hex_sig(secret or hooked.secrets["signing_secret"], raw)
    return await hooks.post(hooked, raw, {"X-Hub-Signature": sig, "X-Atlassian-Webhook-Identifier": delivery})


async def test_jira_done_resolves_the_linked_incident_as_its_reporter_did(hooks: Hooks) -> None:
    incident = await hooks.declare()
    jira = await hooks.add("jira")
    await link(hooks, jira, incident, "OPS-7")
    await hooks.vigil.container.directory.user(team_id=hooks.vigil.team_id, user_id="U0BOB")  # as the user sync would
    assert (await post_jira(hooks, jira, jira_body("OPS-7")))[0] == 202
    assert (await post_jira(hooks, jira, jira_body("OPS-7")))[0] == 200  # the same delivery id again
    await hooks.processed()
    [row] = await hooks.vigil.incidents()
    assert row.status == "resolved" and row.resolution == "Done in Jira (OPS-7)"
    timeline = await hooks.vigil.container.queries.timeline(row)
    resolved = next(e for e in timeline if e.kind == "status")
    assert resolved.actor_id == "U0BOB", "the Jira user is found by email"
    assert resolved.source == f"integration:{jira.id}"


async def test_jira_status_map_label_ref_and_refusals(hooks: Hooks) -> None:
    incident = await hooks.declare()
    jira = await hooks.add("jira", inbound_status_map='{"Fixing": "mitigating"}')
    ok = await post_jira(hooks, jira, jira_body("OPS-9", "Fixing", "indeterminate", labels=[incident.external_key]), "j-2")
    assert ok[0] == 202, ok
    forged = await post_jira(hooks, jira, jira_body("OPS-9", "Done", labels=[incident.external_key]), "j-3", secret="wrong")
    assert forged[0] == 401
    unsigned = await hooks.post(jira, jira_body("OPS-9"), {"X-Atlassian-Webhook-Identifier": "j-4"})
    assert unsigned[0] == 401
    raw = b'{"webhookEvent": 7}'
    malformed = await hooks.post(jira, raw, {"X-Hub-Signature": "sha256=" + hex_sig(jira.secrets["signing_secret"], raw)})
    assert malformed[0] == 400
    unknown = await post_jira(hooks, jira, jira_body("OPS-404", "Fixing", "indeterminate"), "j-5")
    assert unknown[0] == 202 and "no incident" in unknown[1]["outcome"]
    await hooks.processed()
    [row] = await hooks.vigil.incidents()
    assert row.status == "mitigating"


# ---------------------------------------------------------------- Linear


def linear_body(issue_id: str, *, state: str = "completed", at_ms: int | None = None) -> dict[str, Any]:
    return {
        "action": "update",
        "type": "Issue",
        "data": {"id": issue_id, "identifier": "ENG-42", "state": {"type": state, "name": "Done"}},
        "updatedFrom": {"stateId": "old-state"},
        "actor": {"id": "lin-user-1", "name": "Dave", "email": "dave@acme.example"},
        "webhookTimestamp": at_ms if at_ms is not None else int(time.time() * 1000),
    }


async def post_linear(
    hooks: Hooks, hooked: Hooked, body: dict[str, Any], delivery: str = "l-1", secret: str | None = None
) -> Any:
    raw = json.dumps(body).encode()
    sig = hex_sig(secret or hooked.secrets["signing_secret"], raw)
    return await hooks.post(hooked, raw, {"Linear-Signature": sig, "Linear-Delivery": delivery})


async def test_linear_completed_resolves_and_stale_or_forged_is_401(hooks: Hooks) -> None:
    incident = await hooks.declare()
    linear = await hooks.add("linear")
    await link(hooks, linear, incident, "issue-uuid-1")
    stale = await post_linear(hooks, linear, linear_body("issue-uuid-1", at_ms=int(time.time() * 1000) - 120_000), "l-0")
    assert stale[0] == 401
    assert (await post_linear(hooks, linear, linear_body("issue-uuid-1"), "l-x", secret="nope"))[0] == 401
    started = await post_linear(hooks, linear, linear_body("issue-uuid-1", state="started"), "l-1")
    assert started[0] == 202 and started[1]["outcome"] == "nothing to do"
    assert (await post_linear(hooks, linear, linear_body("issue-uuid-1"), "l-2"))[0] == 202
    await hooks.processed()
    [row] = await hooks.vigil.incidents()
    assert row.status == "resolved" and row.resolution == "Completed in Linear (ENG-42)"


# ---------------------------------------------------------------- GitHub


def pr_body(title: str, *, merged: bool = True, repo: str = "acme/shop", branch: str = "fix") -> dict[str, Any]:
    return {
        "action": "closed",
        "pull_request": {
            "title": title,
            "body": "",
            "merged": merged,
            "html_url": "https://github.com/acme/shop/pull/9",
            "head": {"ref": branch},
        },
        "repository": {"full_name": repo},
        "sender": {"login": "bob"},
    }


async def post_github(
    hooks: Hooks, hooked: Hooked, body: dict[str, Any], delivery: str, *, form: bool = False, event: str = "pull_request"
) -> Any:
    raw = json.dumps(body).encode()
    content_type = "application/json"
    if form:
        raw = urllib.parse.urlencode({"payload": raw.decode()}).encode()
        content_type = "application/x-www-form-urlencoded"
    headers = {
        "X-Hub-Signature-256": "sha256=" + hex_sig(hooked.secrets["signing_secret"], raw),
        "X-GitHub-Delivery": delivery,
        "X-GitHub-Event": event,
        "Content-Type": content_type,
    }
    return await hooks.post(hooked, raw, headers)


async def test_github_merged_pr_goes_on_the_timeline_json_and_form_and_resolves_when_asked(hooks: Hooks) -> None:
    first, second = await hooks.declare("One"), await hooks.declare("Two")
    plain = await hooks.add("github", "gh", repos="acme/shop")
    assert (await post_github(hooks, plain, {"zen": "hi"}, "g-0", event="ping"))[0] == 202
    assert (await post_github(hooks, plain, pr_body(f"Fix INC-{first.number} retries"), "g-1"))[0] == 202
    assert (await post_github(hooks, plain, pr_body("Nothing", branch=f"inc-{second.number}-fix"), "g-2", form=True))[
        0
    ] == 202
    assert (await post_github(hooks, plain, pr_body(f"INC-{first.number}", repo="evil/fork"), "g-3"))[1][
        "outcome"
    ] == "nothing to do"
    assert (await post_github(hooks, plain, pr_body(f"INC-{first.number}", merged=False), "g-4"))[1][
        "outcome"
    ] == "nothing to do"
    await hooks.processed()
    for incident in (first, second):
        notes = [e.text for e in await hooks.vigil.container.queries.timeline(incident) if e.kind == "note"]
        assert len(notes) == 1 and notes[0].startswith("PR merged:")
    assert {i.status for i in await hooks.vigil.incidents()} == {"open"}
    resolving = await hooks.add("github", "gh-resolve", resolve_on_merge="true")
    await post_github(hooks, resolving, pr_body(f"INC-{first.number}"), "g-5")
    await hooks.processed()
    statuses = {i.number: i.status for i in await hooks.vigil.incidents()}
    assert statuses == {first.number: "resolved", second.number: "open"}


# ---------------------------------------------------------------- Teams


async def post_teams(hooks: Hooks, hooked: Hooked, text: str, message_id: str, token: str | None = None) -> Any:
    body = {"type": "message", "id": message_id, "text": f"<at>Vigil</at> {text}", "from": {"name": "Erin Teams"}}
    raw = json.dumps(body).encode()
    return await hooks.post(hooked, raw, {"Authorization": teams_signature(token or hooked.secrets["security_token"], raw)})


async def test_teams_message_is_relayed_into_the_channel_with_a_reply_card(hooks: Hooks) -> None:
    incident = await hooks.declare()
    teams = await hooks.add("teams")
    status, card = await post_teams(
        hooks, teams, f"INC-{incident.number} <b>rolled</b> back &lt;!channel&gt; &amp; <@U0BOB>", "m-1"
    )
    assert status == 200 and card["attachments"][0]["contentType"] == "application/vnd.microsoft.card.adaptive"
    usage = await post_teams(hooks, teams, "what is going on?", "m-2")
    assert usage[0] == 200 and "Name the incident" in json.dumps(usage[1])
    forged = await post_teams(hooks, teams, f"INC-{incident.number} hi", "m-3", token="Zm9yZ2Vk")
    assert forged[0] == 401
    await hooks.processed()
    [row] = await hooks.vigil.incidents()
    posted = [m.text for m in hooks.vigil.emu.state.history(row.channel_id or "")]
    relayed = [t for t in posted if "rolled back" in t]
    assert relayed == [":speech_balloon: Erin Teams via Teams: INC-1 rolled back &lt;!channel&gt; &amp;"], posted


# ---------------------------------------------------------------- ServiceNow


async def test_servicenow_state_6_resolves_by_correlation_id(hooks: Hooks) -> None:
    incident = await hooks.declare()
    snow = await hooks.add("servicenow")
    body = json.dumps(
        {"sys_id": "abc123", "correlation_id": incident.external_key, "state": "6", "close_notes": "patched"}
    ).encode()
    status, _ = await hooks.post(snow, body, {"X-Vigil-Signature": vigil_signature(snow.secrets["inbound_secret"], body)})
    assert status == 202
    in_progress = json.dumps({"sys_id": "abc123", "state": "2"}).encode()
    assert (
        await hooks.post(
            snow, in_progress, {"X-Vigil-Signature": vigil_signature(snow.secrets["inbound_secret"], in_progress)}
        )
    )[0] == 202
    await hooks.processed()
    [row] = await hooks.vigil.incidents()
    assert row.status == "resolved" and row.resolution == "patched"
