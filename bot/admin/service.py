"""The back-office rules and their persistence: tags, SOS targets, components, usergroups, workspace settings.

Every method an admin uses checks, when it is called, that the caller is an admin (NotAllowed otherwise, before
anything is read or written): hiding the buttons from others is a courtesy, and a payload can be forged by anyone
who can reach the app. Checks that need Slack run outside any transaction; checks against the database run inside
the write's transaction, so two admins saving at once get an answer, not a crash or a silent overwrite.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.admin.forms import (
    COMPONENT_LABELS,
    CONVERSATION,
    NAME,
    SOS_LABELS,
    USERGROUP,
    USERGROUPS,
    ComponentForm,
    FieldErrors,
    SettingsForm,
    SosTargetForm,
    TagsForm,
    UsergroupForm,
    check_component,
    check_settings,
    check_sos_target,
    check_tags,
    check_usergroup_id,
)
from bot.admin.ports import ComponentPaging, LookupFailed, SlackLookup
from bot.blocks.admin import NO_SERVICE
from bot.blocks.home import TAG_LABELS, ComponentLine, ServiceOption, SettingsLine, SosTargetLine, UsergroupLine
from bot.blocks.mrkdwn import esc
from bot.clock import Clock
from bot.directory import Directory
from bot.home.queries import component_line, settings_line, sos_target_line, tag_values, usergroup_line
from bot.incidents.access import Actor
from bot.incidents.errors import InvalidInput, NotFound
from bot.permissions import require_admin
from db.components import (
    components_using_usergroup,
    delete_component,
    find_component_by_name,
    get_component,
    list_components,
    save_component,
)
from db.incidents import get_by_channel
from db.sos import (
    delete_sos_target,
    find_sos_target_by_name,
    get_sos_target,
    list_sos_targets,
    save_sos_target,
    usergroup_in_sos_targets,
)
from db.tags import (
    CONVERSATION_TAGS,
    USERGROUP_TAGS,
    clear_conversation_tag,
    clear_usergroup_tag,
    set_conversation_tag,
    set_usergroup_tag,
    tagged_usergroup,
)
from db.usergroups import delete_usergroup, get_usergroup, known_usergroup_ids, list_usergroups, upsert_usergroup
from db.workspaces import lock_workspace, save_workspace_settings, workspace_settings

T = TypeVar("T")

DOING_TAGS = "change tags"
DOING_SOS = "manage SOS targets"
DOING_COMPONENTS = "manage components"
DOING_USERGROUPS = "manage usergroups"
DOING_SETTINGS = "change workspace settings"

MOVED_MEANWHILE = "Another admin changed this tag while the form was open. Close the form and open Edit tags again."
UNKNOWN_USERGROUP = "Vigil doesn't know that usergroup; import it under Usergroups first."
SAME_MOMENT = "Another admin saved the same thing at the same moment; nothing was saved. Reopen App Home and try again."
SOS_GONE = "That SOS target no longer exists; reopen App Home to see the current ones. Nothing was saved."
COMPONENT_GONE = "That component no longer exists; reopen App Home to see the current ones. Nothing was saved."
USERGROUP_GONE = "That usergroup is not imported (any more); reopen App Home to see the current ones."


@dataclass(frozen=True)
class TagsView:
    """What the tags form shows: where each tag is now, and the usergroups one may pick."""

    conversation_tags: Mapping[str, str | None]
    usergroup_tags: Mapping[str, str | None]
    usergroups: list[UsergroupLine]


@dataclass(frozen=True)
class SosTargetView:
    target: SosTargetLine | None  # None: a new one
    usergroups: list[UsergroupLine]


@dataclass(frozen=True)
class ComponentView:
    component: ComponentLine | None  # None: a new one
    usergroups: list[UsergroupLine]
    services: list[ServiceOption] | None = None  # None: PagerDuty is not connected


def _wanted(shown: Mapping[str, str | None] | None, tag: str, chosen: str | None, current: str | None) -> tuple[bool, bool]:
    """(change it, conflict): an untouched field changes nothing; a touched one conflicts if the tag moved meanwhile."""
    if shown is None:  # no record of what the form showed: take the submission as it is
        return chosen != current, False
    before = shown.get(tag)
    if chosen == before:
        return False, False
    return chosen != current, current != before


def plan_tags(
    form: TagsForm, *, conversations: Mapping[str, str | None], usergroups: Mapping[str, str | None]
) -> tuple[dict[str, str | None], dict[str, str | None], dict[str, str]]:
    """The conversation and usergroup tags to change (None clears one), and the tags moved meanwhile."""
    conversation_changes: dict[str, str | None] = {}
    usergroup_changes: dict[str, str | None] = {}
    moved: dict[str, str] = {}
    for chosen_map, current_map, changes in (
        (form.conversations, conversations, conversation_changes),
        (form.usergroups, usergroups, usergroup_changes),
    ):
        for tag, chosen in chosen_map.items():
            if tag not in current_map:
                continue  # not a tag Vigil knows
            change, conflict = _wanted(form.shown, tag, chosen, current_map[tag])
            if conflict:
                moved[tag] = MOVED_MEANWHILE
            elif change:
                changes[tag] = chosen
    return conversation_changes, usergroup_changes, moved


def _in_order(problems: Mapping[str, str], order: tuple[str, ...]) -> dict[str, str]:
    return {name: problems[name] for name in order if name in problems} | dict(problems)


class AdminService:
    def __init__(
        self, *, sessions: async_sessionmaker[AsyncSession], directory: Directory, slack: SlackLookup, clock: Clock
    ) -> None:
        self.sessions = sessions
        self.directory = directory
        self.slack = slack
        self.clock = clock
        # Set by the container once PagerDuty's service exists: a component's service and routing key are its.
        self.pagerduty: ComponentPaging | None = None

    # ---------------------------------------------------------------- plumbing

    async def _admin(self, *, team_id: str, user_id: str, doing: str) -> Actor:
        return await require_admin(self.directory, team_id=team_id, user_id=user_id, doing=doing)

    async def _transaction(self, team_id: str, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        """Run `work` in one transaction, one back-office write per workspace at a time (its checks then see what
        another admin just saved). Should a concurrent writer still win a unique key, run it once more, then give up
        with a clear answer."""
        for attempt in (1, 2):
            try:
                async with self.sessions() as session, session.begin():
                    await lock_workspace(session, team_id=team_id)
                    return await work(session)
            except IntegrityError:
                if attempt == 2:
                    raise InvalidInput(SAME_MOMENT) from None
        raise AssertionError("unreachable")

    async def _usergroups(self, team_id: str) -> list[UsergroupLine]:
        async with self.sessions() as session:
            return [usergroup_line(g) for g in await list_usergroups(session, team_id=team_id)]

    async def _conversation_problem(self, *, team_id: str, conversation_id: str) -> str | None:
        """Why Vigil could not use a conversation for a tag or an SOS target, or None when it can."""
        try:
            channel = await self.slack.channel(conversation_id=conversation_id)
        except LookupFailed as exc:
            if exc.code == "channel_not_found":
                return "Vigil can't see that channel. If it is private, invite @Vigil to it first."
            return f"Slack could not check that channel ({exc.code}); try again."
        if channel.is_direct:
            return "Pick a channel, not a direct message."
        if channel.is_archived:
            return "That channel is archived; pick another."
        if channel.is_private and not channel.is_member:
            return "Vigil is not in that private channel; invite @Vigil to it first."
        async with self.sessions() as session:
            incident = await get_by_channel(session, team_id=team_id, channel_id=conversation_id)
        if incident is not None:
            return f"That is INC-{incident.number}'s channel; pick a standing channel."
        return None

    # ---------------------------------------------------------------- reads anyone may make

    async def sos_targets(self, *, team_id: str) -> list[SosTargetLine]:
        """Every SOS target (what `/incident sos` offers); not admin-only."""
        async with self.sessions() as session:
            return [sos_target_line(t) for t in await list_sos_targets(session, team_id=team_id)]

    async def sos_target(self, *, team_id: str, target_id: int) -> SosTargetLine | None:
        async with self.sessions() as session:
            row = await get_sos_target(session, team_id=team_id, target_id=target_id)
        return sos_target_line(row) if row is not None else None

    async def component_choices(self, *, team_id: str) -> list[tuple[int, str]]:
        """(id, name) of every component, for the declare modal; not admin-only."""
        async with self.sessions() as session:
            return [(c.id, c.name) for c in await list_components(session, team_id=team_id)]

    # ---------------------------------------------------------------- tags

    async def tags_form(self, *, team_id: str, user_id: str) -> TagsView:
        await self._admin(team_id=team_id, user_id=user_id, doing=DOING_TAGS)
        async with self.sessions() as session:
            conversations, usergroups = await tag_values(session, team_id=team_id)
        return TagsView(conversations, usergroups, await self._usergroups(team_id))

    async def save_tags(self, *, team_id: str, user_id: str, form: TagsForm) -> str:
        """Move, set or clear tags; a tag another admin moved while the form was open is not overwritten."""
        actor = await self._admin(team_id=team_id, user_id=user_id, doing=DOING_TAGS)
        form = check_tags(form)
        order = (*CONVERSATION_TAGS, *USERGROUP_TAGS)
        async with self.sessions() as session:
            current, current_groups = await tag_values(session, team_id=team_id)
        conversation_changes, _, problems = plan_tags(form, conversations=current, usergroups=current_groups)
        checked = {tag: cid for tag, cid in conversation_changes.items() if cid}
        found = await asyncio.gather(
            *(self._conversation_problem(team_id=team_id, conversation_id=cid) for cid in checked.values())
        )
        problems |= {tag: problem for tag, problem in zip(checked, found, strict=True) if problem}
        if problems:
            raise FieldErrors(_in_order(problems, order), TAG_LABELS)

        async def write(session: AsyncSession) -> int:
            now, now_groups = await tag_values(session, team_id=team_id)
            conversations, usergroups, found = plan_tags(form, conversations=now, usergroups=now_groups)
            # A change the checks above did not see (the tags moved in between) is someone else's move.
            found |= {tag: MOVED_MEANWHILE for tag, cid in conversations.items() if cid and checked.get(tag) != cid}
            wanted = [gid for gid in usergroups.values() if gid]
            known = await known_usergroup_ids(session, team_id=team_id, ids=wanted)
            found |= {tag: UNKNOWN_USERGROUP for tag, gid in usergroups.items() if gid and gid not in known}
            if found:
                raise FieldErrors(_in_order(found, order), TAG_LABELS)
            for tag, cid in conversations.items():
                if cid:
                    await set_conversation_tag(session, team_id=team_id, tag=tag, conversation_id=cid, by=actor.user_id)
                else:
                    await clear_conversation_tag(session, team_id=team_id, tag=tag)
            for tag, gid in usergroups.items():
                if gid:
                    await set_usergroup_tag(session, team_id=team_id, tag=tag, usergroup_id=gid, by=actor.user_id)
                else:
                    await clear_usergroup_tag(session, team_id=team_id, tag=tag)
            return len(conversations) + len(usergroups)

        changed = await self._transaction(team_id, write)
        return f"Tags saved ({changed} changed)." if changed else "Tags unchanged."

    # ---------------------------------------------------------------- SOS targets

    async def sos_target_form(self, *, team_id: str, user_id: str, target_id: int | None = None) -> SosTargetView:
        await self._admin(team_id=team_id, user_id=user_id, doing=DOING_SOS)
        target = None
        if target_id is not None:
            target = await self.sos_target(team_id=team_id, target_id=target_id)
            if target is None:
                raise NotFound("That SOS target no longer exists; reopen App Home to see the current ones.")
        return SosTargetView(target, await self._usergroups(team_id))

    async def save_sos_target(self, *, team_id: str, user_id: str, form: SosTargetForm) -> str:
        """Add, edit or (Remove ticked) delete an SOS target."""
        actor = await self._admin(team_id=team_id, user_id=user_id, doing=DOING_SOS)
        form = check_sos_target(form)
        target_id = form.target_id
        if form.remove and target_id is not None:

            async def remove(session: AsyncSession) -> str:
                row = await get_sos_target(session, team_id=team_id, target_id=target_id)
                if row is None:
                    raise NotFound(SOS_GONE)
                await delete_sos_target(session, team_id=team_id, target_id=target_id)
                return row.name

            return f"Removed SOS target {esc(await self._transaction(team_id, remove))}."

        existing = await self.sos_target(team_id=team_id, target_id=target_id) if target_id is not None else None
        if target_id is not None and existing is None:
            raise NotFound(SOS_GONE)
        conversation_id = form.conversation_id or ""
        problems: dict[str, str] = {}
        if existing is None or conversation_id != existing.conversation_id:
            problem = await self._conversation_problem(team_id=team_id, conversation_id=conversation_id)
            if problem:
                problems[CONVERSATION] = problem

        async def write(session: AsyncSession) -> None:
            found = dict(problems)
            clash = await find_sos_target_by_name(session, team_id=team_id, name=form.name, except_id=target_id)
            if clash is not None:
                found[NAME] = f"There is already an SOS target called {clash.name}."
            if form.usergroup_id and not await known_usergroup_ids(session, team_id=team_id, ids=[form.usergroup_id]):
                found[USERGROUP] = UNKNOWN_USERGROUP
            if found:
                raise FieldErrors(_in_order(found, (NAME, CONVERSATION, USERGROUP)), SOS_LABELS)
            saved = await save_sos_target(
                session,
                team_id=team_id,
                target_id=target_id,
                name=form.name,
                conversation_id=conversation_id,
                usergroup_id=form.usergroup_id,
                by=actor.user_id,
            )
            if saved is None:
                raise NotFound(SOS_GONE)

        await self._transaction(team_id, write)
        return f"Saved SOS target {esc(form.name)}."

    # ---------------------------------------------------------------- components

    async def component_form(self, *, team_id: str, user_id: str, component_id: int | None = None) -> ComponentView:
        await self._admin(team_id=team_id, user_id=user_id, doing=DOING_COMPONENTS)
        component = None
        if component_id is not None:
            async with self.sessions() as session:
                row = await get_component(session, team_id=team_id, component_id=component_id)
            if row is None:
                raise NotFound("That component no longer exists; reopen App Home to see the current ones.")
            component = component_line(row)
        return ComponentView(component, await self._usergroups(team_id), await self._pagerduty_services(team_id))

    async def _pagerduty_services(self, team_id: str) -> list[ServiceOption] | None:
        if self.pagerduty is None or not await self.pagerduty.connected(team_id):
            return None
        return [ServiceOption(pd_id=s.pd_id, name=s.name) for s in await self.pagerduty.services(team_id)]

    async def save_component(self, *, team_id: str, user_id: str, form: ComponentForm) -> str:
        """Add, edit or (Remove ticked) delete a component; its incidents keep their history either way."""
        await self._admin(team_id=team_id, user_id=user_id, doing=DOING_COMPONENTS)
        form = check_component(form)
        component_id = form.component_id
        if form.remove and component_id is not None:

            async def remove(session: AsyncSession) -> str:
                row = await get_component(session, team_id=team_id, component_id=component_id)
                if row is None:
                    raise NotFound(COMPONENT_GONE)
                name = row.name
                await delete_component(session, team_id=team_id, component_id=component_id)
                return name

            return f"Removed component {esc(await self._transaction(team_id, remove))}; its incidents keep their history."

        async def write(session: AsyncSession) -> tuple[int, str | None]:
            existing = None
            if component_id is not None:
                existing = await get_component(session, team_id=team_id, component_id=component_id)
                if existing is None:
                    raise NotFound(COMPONENT_GONE)
            # Not in the form (no usergroups imported when it opened): keep what the component had.
            if form.usergroup_ids is not None:
                usergroup_ids = list(form.usergroup_ids)
            else:
                usergroup_ids = list(existing.usergroup_ids or []) if existing is not None else []
            problems: dict[str, str] = {}
            clash = await find_component_by_name(session, team_id=team_id, name=form.name, except_id=component_id)
            if clash is not None:
                problems[NAME] = f"There is already a component called {clash.name}."
            if form.usergroup_ids:
                known = await known_usergroup_ids(session, team_id=team_id, ids=list(form.usergroup_ids))
                unknown = [g for g in form.usergroup_ids if g not in known]
                if unknown:
                    problems[USERGROUPS] = (
                        f"Vigil doesn't know {', '.join(unknown[:3])}; import usergroups under Usergroups first."
                    )
            if problems:
                raise FieldErrors(problems, COMPONENT_LABELS)
            saved = await save_component(
                session, team_id=team_id, component_id=component_id, name=form.name, usergroup_ids=usergroup_ids
            )
            if saved is None:
                raise NotFound(COMPONENT_GONE)
            return saved.id, existing.pagerduty_service_id if existing is not None else None

        saved_id, service_was = await self._transaction(team_id, write)
        paged = ""
        if self.pagerduty is not None and (form.pagerduty_service is not None or form.routing_key is not None):
            wanted = form.pagerduty_service if form.pagerduty_service is not None else service_was
            paged = await self.pagerduty.set_component_target(
                team_id=team_id,
                actor_id=user_id,
                component_id=saved_id,
                service_id=None if wanted in (None, NO_SERVICE) else wanted,
                routing_key=form.routing_key or None,
                keep_routing_key=form.routing_key is None,
            )
        return f"Saved component {esc(form.name)}." + (f" {paged}" if paged else "")

    # ---------------------------------------------------------------- usergroups

    async def usergroup_import_form(self, *, team_id: str, user_id: str) -> None:
        """Nothing to show but the empty form; the admin check is the point."""
        await self._admin(team_id=team_id, user_id=user_id, doing=DOING_USERGROUPS)

    async def import_usergroup(self, *, team_id: str, user_id: str, form: UsergroupForm) -> str:
        """Import a usergroup by id alone: handle, name and members come from Slack."""
        await self._admin(team_id=team_id, user_id=user_id, doing=DOING_USERGROUPS)
        usergroup_id = check_usergroup_id(form)
        try:
            group = await self.slack.usergroup(usergroup_id=usergroup_id)
        except LookupFailed as exc:
            raise InvalidInput(f"Slack would not list usergroups ({exc.code}); check Vigil's scopes.") from None
        if group is None:
            raise NotFound(f"Slack has no usergroup {usergroup_id}.")
        if group.disabled:
            raise InvalidInput(f"@{group.handle} is disabled in Slack.")

        async def write(session: AsyncSession) -> None:
            await upsert_usergroup(
                session,
                team_id=team_id,
                usergroup_id=group.id,
                handle=group.handle,
                name=group.name,
                user_ids=list(group.user_ids),
                disabled=False,
                at=self.clock.now(),
            )

        await self._transaction(team_id, write)
        return f"Imported @{esc(group.handle)} ({len(group.user_ids)} members)."

    async def refresh_usergroup(self, *, team_id: str, user_id: str, usergroup_id: str) -> str:
        """Fetch handle, name and members again; a group Slack no longer has (or disabled) is marked disabled."""
        await self._admin(team_id=team_id, user_id=user_id, doing=DOING_USERGROUPS)
        async with self.sessions() as session:
            row = await get_usergroup(session, team_id=team_id, usergroup_id=usergroup_id)
        if row is None:
            raise NotFound(USERGROUP_GONE)
        try:
            group = await self.slack.usergroup(usergroup_id=usergroup_id)
        except LookupFailed as exc:
            raise InvalidInput(f"Slack would not list usergroups ({exc.code}); check Vigil's scopes.") from None

        async def write(session: AsyncSession) -> None:
            stored = await get_usergroup(session, team_id=team_id, usergroup_id=usergroup_id)
            if stored is None:
                raise NotFound(USERGROUP_GONE)  # removed by another admin meanwhile
            await upsert_usergroup(
                session,
                team_id=team_id,
                usergroup_id=usergroup_id,
                handle=group.handle if group else stored.handle,
                name=group.name if group else stored.name,
                user_ids=list(group.user_ids) if group else [],
                disabled=group is None or group.disabled,
                at=self.clock.now(),
            )

        await self._transaction(team_id, write)
        if group is not None and not group.disabled:
            return f"Refreshed @{esc(group.handle)} ({len(group.user_ids)} members)."
        return f"@{esc(row.handle)} is gone or disabled in Slack; marked disabled."

    async def remove_usergroup(self, *, team_id: str, user_id: str, usergroup_id: str) -> str:
        """Forget a usergroup (it stays in Slack); refused while a component, SOS target or tag uses it."""
        await self._admin(team_id=team_id, user_id=user_id, doing=DOING_USERGROUPS)

        async def remove(session: AsyncSession) -> str:
            row = await get_usergroup(session, team_id=team_id, usergroup_id=usergroup_id)
            if row is None:
                raise NotFound(USERGROUP_GONE)
            uses = [
                f"component {name}"
                for name in await components_using_usergroup(session, team_id=team_id, usergroup_id=usergroup_id)
            ]
            uses += [
                f"SOS target {name}"
                for name in await usergroup_in_sos_targets(session, team_id=team_id, usergroup_id=usergroup_id)
            ]
            uses += [
                f"“{TAG_LABELS[tag]}” in Tags"
                for tag in USERGROUP_TAGS
                if await tagged_usergroup(session, team_id=team_id, tag=tag) == usergroup_id
            ]
            if uses:
                raise InvalidInput(f"@{row.handle} is still used by {', '.join(uses)}; change those first, then remove it.")
            handle = row.handle
            await delete_usergroup(session, team_id=team_id, usergroup_id=usergroup_id)
            return handle

        return f"Removed @{esc(await self._transaction(team_id, remove))} from Vigil (it stays in Slack)."

    # ---------------------------------------------------------------- workspace settings

    async def settings_form(self, *, team_id: str, user_id: str) -> SettingsLine:
        await self._admin(team_id=team_id, user_id=user_id, doing=DOING_SETTINGS)
        async with self.sessions() as session:
            return settings_line(await workspace_settings(session, team_id=team_id))

    async def save_settings(self, *, team_id: str, user_id: str, form: SettingsForm) -> str:
        await self._admin(team_id=team_id, user_id=user_id, doing=DOING_SETTINGS)
        settings = check_settings(form)

        async def write(session: AsyncSession) -> bool:
            return await save_workspace_settings(session, team_id=team_id, settings=settings)

        if not await self._transaction(team_id, write):
            raise NotFound("This workspace is not recorded yet; restart `vigil run` and try again.")
        return "Settings saved."
