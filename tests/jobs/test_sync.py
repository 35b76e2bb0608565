"""The Slack directory syncs against the emulator: 20,000 users over cursor pages through 429s, deleted and departed
users deactivated, imported usergroups refreshed, and the members of incident and tagged channels repaired."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from bot.emulator import payloads
from bot.emulator.records import RecordedCall
from bot.incidents.states import Severity
from db.members import conversation_members, members_of, remove_member
from db.models import IncidentMember, User, Usergroup
from db.tags import TECH_INCIDENTS, set_conversation_tag
from db.usergroups import get_usergroup, upsert_usergroup
from tests.jobs.conftest import ALICE, BOB, CAROL, SRE, TEAM, World

SEEDED = 4  # alice, bob, carol and the bot


async def count_users(world: World, **where: object) -> int:
    async with world.container.sessions() as session:
        stmt = select(func.count()).select_from(User).where(User.team_id == TEAM)
        for column, value in where.items():
            stmt = stmt.where(getattr(User, column) == value)
        return int(await session.scalar(stmt) or 0)


async def test_20000_users_sync_over_pages_through_429s(world: World) -> None:
    emu = world.emu
    emu.seed_users(20_000, deleted_every=100, admin_every=1000)
    emu.fail_next("users.list", retry_after=0, times=2)  # before the first page

    def more_429s(call: RecordedCall) -> None:
        # Half-way through, Slack asks twice to wait a second: the sync waits (through the job's sleep) and goes on.
        if call.method == "users.list" and call.ok and len([c for c in emu.calls_to("users.list") if c.ok]) == 50:
            emu.fail_next("users.list", retry_after=1, times=2)

    emu.on_call(more_429s)
    progress: list[dict[str, int]] = []
    run = await world.run("sync_slack_users", progress=progress.append)

    assert run.outcome == "ok", run.error
    total = 20_000 + SEEDED
    assert run.counts["users"] == total
    assert run.counts["pages"] == -(-total // 200)
    assert run.counts["rate_limited"] == 4 and world.sleeps.waits == [0.0, 0.0, 1.0, 1.0]
    assert run.counts["deactivated"] == 200 and run.counts["admins"] == 20 + 1
    assert [p["users"] for p in progress][:2] == [200, 400] and progress[-1]["users"] == total
    # Every page was asked with a limit and the cursor of the page before (a 429 repeats the same cursor).
    ok_calls = [c for c in emu.calls_to("users.list") if c.ok]
    assert all(c.args.get("limit") == "200" for c in emu.calls_to("users.list"))
    assert "cursor" not in ok_calls[0].args and all(c.args.get("cursor") for c in ok_calls[1:])

    assert await count_users(world) == total
    assert await count_users(world, deactivated=True) == 200
    async with world.container.sessions() as session:
        admin = await session.get(User, (TEAM, "U10001000"))
        deleted = await session.get(User, (TEAM, "U10000100"))
        alice = await session.get(User, (TEAM, ALICE))
        carol = await session.get(User, (TEAM, CAROL))
    assert admin is not None and admin.is_admin and admin.email == "person1000@acme.example"
    assert deleted is not None and deleted.deactivated
    assert alice is not None and alice.tz == "Europe/Paris" and alice.is_admin and alice.real_name == "Alice Admin"
    assert carol is not None and carol.is_restricted and not carol.deactivated


async def test_a_user_no_longer_listed_is_deactivated_after_a_complete_listing(world: World) -> None:
    assert (await world.run("sync_slack_users")).outcome == "ok"
    del world.emu.state.users[BOB]
    world.clock.advance(hours=4)
    run = await world.run("sync_slack_users")
    assert run.outcome == "ok" and run.counts["gone"] == 1
    async with world.container.sessions() as session:
        bob = await session.get(User, (TEAM, BOB), populate_existing=True)
    assert bob is not None and bob.deactivated


async def test_a_sync_cut_short_deactivates_nobody_and_records_why(world: World) -> None:
    assert (await world.run("sync_slack_users")).outcome == "ok"
    world.emu.seed_users(500)
    del world.emu.state.users[BOB]
    world.clock.advance(hours=4)
    # The second page fails for good: the listing is incomplete, so nobody may be taken for gone.
    world.emu.on_call(
        lambda call: (
            world.emu.fail_next("users.list", error="internal_error", status=500)
            if call.method == "users.list" and call.ok and "cursor" not in call.args
            else None
        )
    )
    run = await world.run("sync_slack_users")
    assert run.outcome == "failed" and run.error == "Slack answered internal_error"
    assert run.counts["users"] == 200 and "gone" not in run.counts
    async with world.container.sessions() as session:
        bob = await session.get(User, (TEAM, BOB), populate_existing=True)
    assert bob is not None and not bob.deactivated


async def test_endless_429s_fail_the_run_with_a_clean_error(world: World) -> None:
    world.emu.fail_next("users.list", retry_after=0, times=51)
    run = await world.run("sync_slack_users")
    assert run.outcome == "failed" and run.error == "Slack answered ratelimited"
    assert run.counts["rate_limited"] == 50


async def test_usergroup_sync_refreshes_imported_groups_only(world: World) -> None:
    emu = world.emu
    emu.add_usergroup("S0DB", "dba", users=[BOB])
    emu.add_usergroup("S0OLD", "old", users=[ALICE])
    emu.add_usergroup("S0NEW", "new", users=[CAROL])  # not imported: the sync leaves it alone
    now = world.clock.now()
    async with world.container.sessions() as session, session.begin():
        for group_id in (SRE, "S0DB", "S0OLD", "S0GONE"):
            await upsert_usergroup(
                session, team_id=TEAM, usergroup_id=group_id, handle="x", name="x", user_ids=[], disabled=False, at=now
            )
    emu.state.usergroups[SRE].users = [ALICE, BOB, CAROL]
    emu.disable_usergroup("S0OLD")

    run = await world.run("sync_slack_usergroups")

    assert run.outcome == "ok", run.error
    assert run.counts["usergroups"] == 3 and run.counts["disabled"] == 2  # S0OLD disabled, S0GONE no longer listed
    [listing] = emu.calls_to("usergroups.list")
    assert listing.args["include_users"] in ("1", "true") and emu.calls_to("usergroups.users.list") == []
    async with world.container.sessions() as session:
        sre = await get_usergroup(session, team_id=TEAM, usergroup_id=SRE)
        old = await get_usergroup(session, team_id=TEAM, usergroup_id="S0OLD")
        gone = await get_usergroup(session, team_id=TEAM, usergroup_id="S0GONE")
        imported = set((await session.scalars(select(Usergroup.id).where(Usergroup.team_id == TEAM))).all())
    assert sre is not None and sre.user_ids == [ALICE, BOB, CAROL] and sre.handle == "sre" and not sre.disabled
    assert old is not None and old.disabled and gone is not None and gone.disabled
    assert imported == {SRE, "S0DB", "S0OLD", "S0GONE"}


async def test_usergroup_members_are_asked_for_when_the_listing_has_none(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with world.container.sessions() as session, session.begin():
        await upsert_usergroup(
            session, team_id=TEAM, usergroup_id=SRE, handle="sre", name="", user_ids=[], disabled=False, at=world.clock.now()
        )
    # A listing whose groups come without `users`: the members are asked for, group by group.
    real = payloads.usergroup_object
    monkeypatch.setattr(
        payloads, "usergroup_object", lambda identity, group, *, include_users: real(identity, group, include_users=False)
    )
    run = await world.run("sync_slack_usergroups")
    assert run.outcome == "ok" and run.counts["member_lookups"] == 1
    [lookup] = world.emu.calls_to("usergroups.users.list")
    assert lookup.args["usergroup"] == SRE
    async with world.container.sessions() as session:
        sre = await get_usergroup(session, team_id=TEAM, usergroup_id=SRE)
    assert sre is not None and sre.user_ids == [ALICE, BOB]


async def test_conversation_sync_repairs_incident_membership_and_reads_tagged_channels_only(world: World) -> None:
    emu, container = world.emu, world.container
    emu.add_channel("random", members=[ALICE, BOB], channel_id="C0RANDOM")
    emu.add_channel("incidents", members=[ALICE, CAROL], channel_id="C0INCIDENTS")
    async with container.sessions() as session, session.begin():
        await set_conversation_tag(session, team_id=TEAM, tag=TECH_INCIDENTS, conversation_id="C0INCIDENTS", by=None)
    declared = await container.incidents.declare(
        team_id=TEAM, reporter_id=ALICE, title="Ledger drift", severity=Severity.P2, private=True
    )
    incident = declared.incident
    assert incident.channel_id
    channel = emu.state.channels[incident.channel_id]
    # Bob joined and Carol left while Vigil missed both events; Dave was never there but is stored.
    channel.members.append(BOB)
    async with container.sessions() as session, session.begin():
        await remove_member(session, team_id=TEAM, incident_id=incident.id, user_id=BOB)
        session.add(IncidentMember(team_id=TEAM, incident_id=incident.id, user_id="U0DAVE", joined_at=world.clock.now()))
    emu.calls.clear()

    run = await world.run("sync_slack_conversations")

    assert run.outcome == "ok", run.error
    assert run.counts["channels"] == 2
    assert run.counts["joins_repaired"] >= 1 and run.counts["leaves_repaired"] == 1
    asked = {c.args["channel"] for c in emu.calls_to("conversations.members")}
    assert asked == {incident.channel_id, "C0INCIDENTS"}  # never #random or #general
    async with container.sessions() as session:
        stored = await members_of(session, team_id=TEAM, incident_id=incident.id)
        tagged = await conversation_members(session, team_id=TEAM, conversation_id="C0INCIDENTS")
    assert stored == set(channel.members) and BOB in stored and "U0DAVE" not in stored
    assert tagged == set(emu.state.channels["C0INCIDENTS"].members)
    # Bob, a member now, sees the private incident; the repair made it so without his join event.
    bob = await container.directory.actor(team_id=TEAM, user_id=BOB)
    container.incidents._members.clear()
    assert await container.incidents.is_member(incident, bob.user_id)


async def test_conversation_sync_skips_a_channel_it_cannot_read(world: World) -> None:
    emu, container = world.emu, world.container
    emu.add_channel("secret", members=[ALICE], channel_id="G0SECRET", is_private=True, bot_member=False)
    async with container.sessions() as session, session.begin():
        await set_conversation_tag(session, team_id=TEAM, tag=TECH_INCIDENTS, conversation_id="G0SECRET", by=None)
    run = await world.run("sync_slack_conversations")
    assert run.outcome == "ok" and run.counts["unreadable"] == 1 and run.counts["channels"] == 0
