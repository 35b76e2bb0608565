"""`/incident sos` and `/incident link` through the real doors, good and malformed input."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from bot import slack_ids as ids
from bot.admin.forms import SosTargetForm, UsergroupForm
from bot.emulator.state import ViewRecord
from bot.sos import LOST_INCIDENT, TARGET_GONE
from db.identities import EMAIL_MATCH, MANUAL, identities_of, link_identity
from db.incidents import timeline_of
from db.models import Identity, Incident
from tests.app.conftest import ALICE, BOB, CAROL, DAVE, GENERAL, SRE, Vigil
from tests.app.test_home import assert_views_within_limits, declare, dms_to, open_home, text_of

HELP = "C0DBHELP"


@pytest.fixture
async def sos(vigil: Vigil) -> Vigil:
    """Two SOS targets: #db-help mentioning @sre, and #general without a usergroup."""
    vigil.emu.add_channel("db-help", members=[DAVE], channel_id=HELP)
    admin, team = vigil.container.admin, vigil.team_id
    await admin.import_usergroup(team_id=team, user_id=ALICE, form=UsergroupForm(usergroup_id=SRE))
    await admin.save_sos_target(
        team_id=team, user_id=ALICE, form=SosTargetForm(name="Database", conversation_id=HELP, usergroup_id=SRE)
    )
    await admin.save_sos_target(team_id=team, user_id=ALICE, form=SosTargetForm(name="Everyone", conversation_id=GENERAL))
    return vigil


async def reply(vigil: Vigil, text: str, *, user: str, channel: str = GENERAL) -> str:
    """Run a command and return what the user was told (ack text or the ephemeral response)."""
    before = len(vigil.emu.responses_for(user))
    ack = await vigil.command(text, user=user, channel=channel)
    assert ack.acked
    await vigil.settle()
    if ack.text:
        return ack.text
    posts = vigil.emu.responses_for(user)[before:]
    assert len(posts) == 1, [p.text for p in posts]
    assert posts[0].response_type == "ephemeral"
    return posts[0].text


async def sos_modal(vigil: Vigil, text: str, *, user: str, channel: str) -> ViewRecord:
    ack = await vigil.command(text, user=user, channel=channel)
    assert ack.acked and ack.payload is None
    await vigil.settle()
    modal = vigil.emu.state.top_modal(user)
    assert modal is not None and modal.callback_id == ids.VIEW_SOS
    return modal


async def target_id(vigil: Vigil, name: str) -> str:
    [target] = [t for t in await vigil.container.admin.sos_targets(team_id=vigil.team_id) if t.name == name]
    return str(target.id)


async def test_sos_posts_in_the_target_mentioning_the_group_linking_back_and_on_the_timeline(sos: Vigil) -> None:
    vigil = sos
    incident = await declare(vigil, "Replica lag", "P2", user=BOB)
    modal = await sos_modal(vigil, "sos", user=BOB, channel=incident.channel_id or "")
    options = [o["text"]["text"] for o in modal.data["blocks"][1]["element"]["options"]]
    assert options == ["Database", "Everyone"]
    values = vigil.emu.form_values(
        BOB, {"Who should help?": await target_id(vigil, "Database"), "What do you need?": "Replica is <20 min> behind"}
    )
    ack = await vigil.emu.send_view_submission(user_id=BOB, view_id=modal.id, values=values)
    assert ack.payload is None
    await vigil.settle()

    [request] = vigil.emu.state.history(HELP)
    assert request.text.startswith(
        f"<!subteam^{SRE}> :sos: <@{BOB}> needs help with *INC-1 · Replica lag* in <#{incident.channel_id}>"
    )
    assert "> Replica is &lt;20 min&gt; behind" in request.text
    note = vigil.emu.state.history(incident.channel_id or "")[-1]
    # One line in the incident's channel, naming (not pinging) who asked.
    assert note.text == f":sos: @bob: SOS to Database: Replica is &lt;20 min&gt; behind (in <#{HELP}>)"
    async with vigil.container.sessions() as session:
        row = await session.get(Incident, incident.id)
        assert row is not None
        entries = [e for e in await timeline_of(session, row) if e.kind == "sos"]
    [entry] = entries
    assert (entry.actor_id, entry.source) == (BOB, "slack")
    assert "Database" in entry.text and "Replica is <20 min> behind" in entry.text
    assert entry.data["conversation_id"] == HELP and entry.data["ts"] == request.ts
    assert_views_within_limits(vigil.emu)


async def test_sos_by_number_from_another_channel_without_a_usergroup(sos: Vigil) -> None:
    vigil = sos
    await declare(vigil, "Queue stuck", "P3")
    modal = await sos_modal(vigil, "INC-1 sos", user=DAVE, channel=GENERAL)
    values = vigil.emu.form_values(DAVE, {"Who should help?": "Everyone", "What do you need?": "Anyone who knows Kafka?"})
    assert (await vigil.emu.send_view_submission(user_id=DAVE, view_id=modal.id, values=values)).payload is None
    await vigil.settle()
    [request] = [m for m in vigil.emu.state.history(GENERAL) if ":sos:" in m.text]
    assert request.text.startswith(f":sos: <@{DAVE}> needs help with *INC-1 · Queue stuck*")
    assert "subteam" not in request.text


async def test_sos_for_a_private_incident_keeps_the_title_out(sos: Vigil) -> None:
    vigil = sos
    incident = await declare(vigil, "Leaked signing key", "P1", private=True)
    modal = await sos_modal(vigil, "sos", user=ALICE, channel=incident.channel_id or "")
    values = vigil.emu.form_values(ALICE, {"Who should help?": "Everyone", "What do you need?": "Security on call please"})
    assert (await vigil.emu.send_view_submission(user_id=ALICE, view_id=modal.id, values=values)).payload is None
    await vigil.settle()
    [request] = [m for m in vigil.emu.state.history(GENERAL) if ":sos:" in m.text]
    assert "private incident INC-1" in request.text and "Leaked" not in request.text


async def test_sos_refusals_and_malformed_input(sos: Vigil) -> None:
    vigil = sos
    secret = await declare(vigil, "Leaked key", "P1", private=True)
    assert "not an incident channel" in await reply(vigil, "sos", user=BOB, channel=GENERAL)
    assert await reply(vigil, "1 sos", user=BOB) == ":warning: INC-1 not found."
    assert "Usage: `/incident sos`" in await reply(vigil, "sos now please", user=ALICE, channel=secret.channel_id or "")
    assert "not found" in await reply(vigil, "99 sos", user=ALICE)
    assert vigil.emu.calls_to("views.open") == []

    # A forged submission for the private incident by someone outside it: the ack does not wait on the database, so
    # the answer comes privately afterwards, exactly as for a missing incident; nothing is posted.
    values = {
        ids.BLOCK_SOS_TARGET: {
            ids.ACTION_SOS_TARGET: {
                "type": "static_select",
                "selected_option": {"value": await target_id(vigil, "Everyone")},
            }
        },
        ids.BLOCK_SOS_MESSAGE: {ids.ACTION_SOS_MESSAGE: {"type": "plain_text_input", "value": "psst"}},
    }
    ack = await vigil.emu.send_view_submission(
        user_id=BOB,
        callback_id=ids.VIEW_SOS,
        values=values,
        private_metadata=json.dumps({"number": 1, "channel_id": GENERAL}),
    )
    assert ack.acked and ack.payload is None
    await vigil.settle()
    assert dms_to(vigil.emu, BOB) == [":warning: INC-1 not found."]
    assert not [m for m in vigil.emu.state.history(GENERAL) if ":sos:" in m.text]


async def test_sos_modal_answers_on_the_field(sos: Vigil) -> None:
    vigil = sos
    incident = await declare(vigil, "Replica lag", "P2")
    modal = await sos_modal(vigil, "sos", user=ALICE, channel=incident.channel_id or "")
    ack = await vigil.emu.send_view_submission(
        user_id=ALICE, view_id=modal.id, values=vigil.emu.form_values(ALICE, {"What do you need?": "   "})
    )
    assert ack.payload == {
        "response_action": "errors",
        "errors": {ids.BLOCK_SOS_TARGET: "Pick who should help.", ids.BLOCK_SOS_MESSAGE: "Say what you need help with."},
    }
    # A target an admin removes while the form is open: the form closes, and the person is told nothing was sent.
    gone = await target_id(vigil, "Database")
    await vigil.container.admin.save_sos_target(
        team_id=vigil.team_id, user_id=ALICE, form=SosTargetForm(target_id=int(gone), remove=True)
    )
    values = vigil.emu.form_values(ALICE, {"Who should help?": gone, "What do you need?": "help"})
    ack = await vigil.emu.send_view_submission(user_id=ALICE, view_id=modal.id, values=values)
    assert ack.acked and ack.payload is None
    await vigil.settle()
    assert dms_to(vigil.emu, ALICE) == [f":warning: {TARGET_GONE}"]
    assert vigil.emu.state.history(HELP) == []


@pytest.mark.parametrize("number", ["99999999999999999999", "2147483648", "true", "\u00b2", None])
async def test_sos_form_with_a_forged_incident_number_is_answered_on_the_field(sos: Vigil, number: object) -> None:
    vigil = sos
    await declare(vigil, "Replica lag", "P2")
    values = {
        ids.BLOCK_SOS_TARGET: {
            ids.ACTION_SOS_TARGET: {
                "type": "static_select",
                "selected_option": {"value": await target_id(vigil, "Everyone")},
            }
        },
        ids.BLOCK_SOS_MESSAGE: {ids.ACTION_SOS_MESSAGE: {"type": "plain_text_input", "value": "help"}},
    }
    raw = json.loads(number) if number == "true" else number
    ack = await vigil.emu.send_view_submission(
        user_id=ALICE, callback_id=ids.VIEW_SOS, values=values, private_metadata=json.dumps({"number": raw})
    )
    assert ack.payload == {"response_action": "errors", "errors": {ids.BLOCK_SOS_TARGET: LOST_INCIDENT}}
    await vigil.settle()
    assert not [m for m in vigil.emu.state.history(GENERAL) if ":sos:" in m.text]


async def test_sos_without_targets_says_who_adds_them(vigil: Vigil) -> None:
    incident = await declare(vigil, "Replica lag", "P2")
    text = await reply(vigil, "sos", user=ALICE, channel=incident.channel_id or "")
    assert "no SOS targets yet" in text and "App Home" in text


async def test_sos_post_failure_is_reported_and_not_recorded(sos: Vigil) -> None:
    vigil = sos
    vigil.emu.state.channels[HELP].is_archived = True
    incident = await declare(vigil, "Replica lag", "P2")
    modal = await sos_modal(vigil, "sos", user=ALICE, channel=incident.channel_id or "")
    values = vigil.emu.form_values(ALICE, {"Who should help?": "Database", "What do you need?": "help"})
    assert (await vigil.emu.send_view_submission(user_id=ALICE, view_id=modal.id, values=values)).payload is None
    await vigil.settle()
    dm = vigil.emu.state.history(vigil.emu.state.ims[ALICE])
    assert any("could not post your SOS" in m.text and "is_archived" in m.text for m in dm)
    async with vigil.container.sessions() as session:
        row = await session.get(Incident, incident.id)
        assert row is not None
        assert [e for e in await timeline_of(session, row) if e.kind == "sos"] == []


# ---------------------------------------------------------------- link


async def rows(vigil: Vigil, user: str) -> dict[str, tuple[str, str, str | None]]:
    async with vigil.container.sessions() as session:
        return {
            r.kind: (r.external_id, r.source, r.updated_by)
            for r in await identities_of(session, team_id=vigil.team_id, user_id=user)
        }


async def test_link_your_own_accounts_and_list_them(vigil: Vigil) -> None:
    assert "none yet" in await reply(vigil, "link", user=BOB)
    assert await reply(vigil, "link github @bobby", user=BOB) == "Linked your GitHub account: `bobby`."
    assert await reply(vigil, "LINK pagerduty pbob123", user=BOB) == "Linked your PagerDuty account: `PBOB123`."
    assert await reply(vigil, "link email <mailto:Bob@Acme.example|Bob@Acme.example>", user=BOB) == (
        "Linked your Email account: `bob@acme.example`."
    )
    assert await rows(vigil, BOB) == {
        "pagerduty": ("PBOB123", MANUAL, BOB),
        "github": ("bobby", MANUAL, BOB),
        "email": ("bob@acme.example", MANUAL, BOB),
    }
    listing = await reply(vigil, "link", user=BOB)
    assert listing == "Your linked accounts:\n• PagerDuty: `PBOB123`\n• GitHub: `bobby`\n• Email: `bob@acme.example`"
    text = await reply(vigil, "link github robert", user=BOB)
    assert text == "Linked your GitHub account: `robert`. It replaces `bobby`."
    assert "`robert`" in text_of(await open_home(vigil, BOB))


async def test_a_manual_link_wins_over_an_email_match(vigil: Vigil) -> None:
    async with vigil.container.sessions() as session, session.begin():
        await link_identity(
            session,
            team_id=vigil.team_id,
            user_id=BOB,
            kind="pagerduty",
            external_id="PMATCH1",
            source=EMAIL_MATCH,
            by=None,
            at=datetime.now(UTC),
        )
    assert await reply(vigil, "link", user=BOB) == "Your linked accounts:\n• PagerDuty: `PMATCH1` _(matched by email)_"
    text = await reply(vigil, "link pagerduty PMANUAL", user=BOB)
    assert text == "Linked your PagerDuty account: `PMANUAL`. It replaces `PMATCH1` _(matched by email)_."
    # A later sync matching by email leaves the manual link alone.
    async with vigil.container.sessions() as session, session.begin():
        ignored = await link_identity(
            session,
            team_id=vigil.team_id,
            user_id=BOB,
            kind="pagerduty",
            external_id="PMATCH2",
            source=EMAIL_MATCH,
            by=None,
            at=datetime.now(UTC),
        )
    assert ignored is None
    assert (await rows(vigil, BOB))["pagerduty"] == ("PMANUAL", MANUAL, BOB)


async def test_admins_link_others_and_everyone_else_is_refused(vigil: Vigil) -> None:
    text = await reply(vigil, f"link <@{BOB}|bob> jira 5b10ac8d82e05b22cc7d4ef5", user=ALICE)
    assert text == f"Linked <@{BOB}>'s Jira account: `5b10ac8d82e05b22cc7d4ef5`."
    assert await rows(vigil, BOB) == {"jira": ("5b10ac8d82e05b22cc7d4ef5", MANUAL, ALICE)}
    assert await reply(vigil, f"link <@{BOB}>", user=ALICE) == (
        f"<@{BOB}>'s linked accounts:\n• Jira: `5b10ac8d82e05b22cc7d4ef5`"
    )

    refused = await reply(vigil, f"link <@{DAVE}> github dave", user=BOB)
    assert refused.startswith(":warning: Only workspace admins can link or look at someone else's accounts.")
    assert "Only workspace admins" in await reply(vigil, f"link <@{ALICE}>", user=CAROL)
    assert await rows(vigil, DAVE) == {}
    assert "is a bot or deactivated" in await reply(vigil, "link <@U0VIGILBOT> github vigil", user=ALICE)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("link slack bob", "Usage: `/incident link [@user] [pagerduty|github|jira|linear|email] [id]`"),
        ("link github", "Give the GitHub id too"),
        ("link github not/a/login", "doesn't look like a GitHub login"),
        ("link pagerduty 12345", "doesn't look like a PagerDuty user id"),
        ("link email nobody", "Usage: `/incident link"),
        ("link email a@b", "doesn't look like an email address"),
        ("link github a b", "Usage: `/incident link"),
        ("3 link github x", "`link` doesn't take an incident number."),
    ],
)
async def test_malformed_link(vigil: Vigil, text: str, expected: str) -> None:
    assert expected in await reply(vigil, text, user=BOB)
    async with vigil.container.sessions() as session:
        assert (await session.scalars(select(Identity))).all() == []
