"""`/incident sos`: pick an SOS target, write what you need; Vigil posts it there mentioning the target's usergroup,
linking back to the incident channel, and records it on the timeline.

The pure check runs in the door before the ack (answers under the field) and again here; whether the person may
act on the incident and whether the target still exists are settled after the ack, as domain errors.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.admin.forms import FieldErrors
from bot.admin.service import AdminService
from bot.blocks.admin import MAX_SOS_MESSAGE, sos_request_text
from bot.blocks.home import SosTargetLine, esc
from bot.directory import Directory
from bot.incidents.errors import InvalidInput, NotFound
from bot.incidents.fields import parse_id
from bot.incidents.service import IncidentService
from bot.incidents.text import clean_text

# Form fields (the door maps them to its block_ids).
TARGET, MESSAGE = "target", "message"
LOST_INCIDENT = "This form lost track of its incident; run the sos command again."
NO_TARGETS = "There are no SOS targets yet: an admin adds them in Vigil's App Home (SOS targets tab)."
TARGET_GONE = "That SOS target no longer exists, so nothing was sent; run the sos command again and pick another."


@dataclass(frozen=True)
class SosRequestForm:
    """The submitted request as read from the modal: the incident number from its metadata, untrusted."""

    number: object = None
    origin_channel_id: str | None = None
    target: str | None = None
    message: str = ""


@dataclass(frozen=True)
class SosRequest:
    number: int
    origin_channel_id: str | None
    target_id: int
    message: str


@dataclass(frozen=True)
class SosChoice:
    """What the request modal shows: the incident, and every target one may ask."""

    number: int
    title: str
    targets: list[SosTargetLine]


def check_sos_request(form: SosRequestForm) -> SosRequest:
    errors: dict[str, str] = {}
    number = target_id = 0
    try:
        number = parse_id(form.number)
    except InvalidInput:
        errors[TARGET] = LOST_INCIDENT
    if TARGET not in errors:
        try:
            target_id = parse_id(form.target)
        except InvalidInput:
            errors[TARGET] = "Pick who should help."
    message = clean_text(form.message)
    if not message:
        errors[MESSAGE] = "Say what you need help with."
    elif len(message) > MAX_SOS_MESSAGE:
        errors[MESSAGE] = f"Keep it under {MAX_SOS_MESSAGE} characters."
    if errors:
        raise FieldErrors(errors, {TARGET: "Who should help?", MESSAGE: "What do you need?"})
    return SosRequest(number=number, origin_channel_id=form.origin_channel_id, target_id=target_id, message=message)


class SosService:
    def __init__(self, *, directory: Directory, incidents: IncidentService, admin: AdminService) -> None:
        self.directory = directory
        self.incidents = incidents
        self.admin = admin

    async def choices(self, *, team_id: str, user_id: str, number: int | None, channel_id: str | None) -> SosChoice:
        """The incident the command means (if the person may act on it) and the targets to offer."""
        actor = await self.directory.actor(team_id=team_id, user_id=user_id)
        incident = await self.incidents.locate(team_id=team_id, actor=actor, number=number, channel_id=channel_id)
        targets = await self.admin.sos_targets(team_id=team_id)
        if not targets:
            raise NotFound(NO_TARGETS)
        return SosChoice(number=incident.number, title=incident.title, targets=targets)

    async def send(self, *, team_id: str, user_id: str, form: SosRequestForm) -> None:
        """Re-check the person may act on the incident (the form may be old, or forged), then post and record."""
        request = check_sos_request(form)
        actor = await self.directory.actor(team_id=team_id, user_id=user_id)
        incident = await self.incidents.locate(
            team_id=team_id, actor=actor, number=request.number, channel_id=request.origin_channel_id
        )
        target = await self.admin.sos_target(team_id=team_id, target_id=request.target_id)
        if target is None:
            raise NotFound(TARGET_GONE)
        text = sos_request_text(
            number=incident.number,
            title=incident.title,
            private=incident.private,
            channel_id=incident.channel_id,
            user_id=user_id,
            usergroup_id=target.usergroup_id,
            message=request.message,
        )
        await self.incidents.request_help(
            incident,
            actor_id=user_id,
            target_name=esc(target.name),
            conversation_id=target.conversation_id,
            usergroup_id=target.usergroup_id,
            request_text=text,
            message=request.message,
            source="slack",
        )
