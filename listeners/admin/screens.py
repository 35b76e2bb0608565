"""The one skeleton every back-office modal runs on; each screen (tags, SOS targets, …) is data for it.

A button press: read the item id the button carries, ack, ask the admin service for the form (it checks the presser
is an admin), open the modal. A submission: read the modal into a form, run the service's pure check and answer
under the fields if the text alone is wrong, ack, then save through the service (admin check, database and Slack
checks, the write) and republish the presser's Home with what happened. Refusals after the ack are domain errors,
which the registry's error handler sends the presser.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from slack_bolt.context.ack.async_ack import AsyncAck

from bot.admin.forms import FieldErrors
from bot.admin.service import AdminService
from bot.home.publisher import HomePublisher
from bot.incidents.errors import InvalidInput
from bot.incidents.fields import parse_id
from bot.slack_payloads import action_value, metadata, team_of, user_of

F = TypeVar("F")

# Opens a screen's modal: (admin, *, team_id, user_id, item_id) -> the modal view.
Open = Callable[..., Awaitable[dict[str, Any]]]
# Saves a screen's form through the service: (admin, *, team_id, user_id, form) -> the notice for the Home tab.
Save = Callable[..., Awaitable[str]]


@dataclass(frozen=True)
class Opener:
    """A button that opens a screen; `item` names what its value carries ("a component"), None when nothing."""

    action_id: str
    item: str | None = None


@dataclass(frozen=True)
class Screen(Generic[F]):
    name: str
    callback_id: str
    openers: tuple[Opener, ...]
    tab: str  # the Home tab republished after a save
    blocks: Mapping[str, str]  # form field -> block_id of the input showing it
    open: Open
    read: Callable[[dict[str, Any]], F]  # pure: the submitted view -> the form
    check: Callable[[F], object]  # pure, from the service layer: raises FieldErrors
    save: Save

    def errors_on_fields(self, errors: Mapping[str, str]) -> dict[str, str]:
        """The check's errors keyed by block_id (Slack shows `errors` only under input blocks)."""
        first = next(iter(self.blocks.values()))
        keyed: dict[str, str] = {}
        for name, message in errors.items():
            block_id = self.blocks.get(name, first)
            keyed[block_id] = f"{keyed[block_id]} {message}" if block_id in keyed else message
        return keyed


def item_of(view: dict[str, Any]) -> int | None:
    """The id of the item a modal edits, from its metadata (None: it adds one). The check bounds it."""
    value = metadata(view).get("id")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def button_item(opener: Opener, action: dict[str, Any]) -> int | None:
    if opener.item is None:
        return None
    try:
        return parse_id(action_value(action))
    except InvalidInput:
        raise InvalidInput(f"That button does not name {opener.item}; reopen App Home.") from None


def open_listener(screen: Screen[Any], opener: Opener) -> Callable[..., Awaitable[None]]:
    async def open_screen(
        ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], admin: AdminService, client: Any
    ) -> None:
        item_id = button_item(opener, action)
        await ack()
        view = await screen.open(admin, team_id=team_of(body), user_id=user_of(body), item_id=item_id)
        await client.views_open(trigger_id=body["trigger_id"], view=view)

    open_screen.__name__ = f"open_{screen.name}"
    return open_screen


def submit_listener(screen: Screen[Any]) -> Callable[..., Awaitable[None]]:
    async def submit_screen(
        ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], admin: AdminService, home: HomePublisher
    ) -> None:
        form = screen.read(view)
        try:
            screen.check(form)
        except FieldErrors as exc:
            await ack(response_action="errors", errors=screen.errors_on_fields(exc.errors))
            return
        await ack()
        team_id, user_id = team_of(body), user_of(body)
        notice = await screen.save(admin, team_id=team_id, user_id=user_id, form=form)
        await home.publish(team_id=team_id, user_id=user_id, tab=screen.tab, notice=notice)

    submit_screen.__name__ = f"submit_{screen.name}"
    return submit_screen


def register_screen(registry: Any, screen: Screen[Any]) -> None:
    for opener in screen.openers:
        registry.action(opener.action_id)(open_listener(screen, opener))
    registry.view(screen.callback_id)(submit_listener(screen))
