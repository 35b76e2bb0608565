"""Who may see and act on an incident.

Any full member acts on public incidents; guests only inside incident channels they are in; private incidents are
visible to their members and admins only — to anyone else they answer "not found", so their existence stays private.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.incidents.errors import NotAllowed, NotFound


@dataclass(frozen=True)
class Actor:
    user_id: str
    is_admin: bool = False
    is_owner: bool = False
    is_guest: bool = False


def can_see(actor: Actor, *, private: bool, is_member: bool) -> bool:
    return not private or is_member or actor.is_admin


def check_can_act(actor: Actor, *, number: int, private: bool, is_member: bool, in_incident_channel: bool) -> None:
    """Raise NotFound for a private incident the actor may not see, NotAllowed for a guest acting from outside."""
    if not can_see(actor, private=private, is_member=is_member):
        raise NotFound(f"INC-{number} not found.")
    if actor.is_guest and not (in_incident_channel and is_member):
        raise NotAllowed(f"Guests can act on INC-{number} only from inside its channel.")
