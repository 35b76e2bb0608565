"""Builders of Slack-shaped objects: API objects (user, conversation, message) and Socket Mode payloads."""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.emulator.state import AppIdentity, Channel, Message, User, Usergroup, ViewRecord

# ---- API objects --------------------------------------------------------------------------------------------------


def _tz_offset(tz: str) -> int:
    try:
        offset = datetime.now(ZoneInfo(tz)).utcoffset()
    except (ZoneInfoNotFoundError, ValueError):
        return 0
    return int(offset.total_seconds()) if offset else 0


def user_object(identity: AppIdentity, user: User) -> dict[str, Any]:
    """The `user` of users.info / an item of users.list `members`."""
    profile: dict[str, Any] = {
        "real_name": user.real_name,
        "real_name_normalized": user.real_name,
        "display_name": user.name,
        "display_name_normalized": user.name,
        "team": identity.team_id,
        "image_48": f"https://avatars.example/{user.id}_48.png",
    }
    if user.email:
        profile["email"] = user.email
    if user.bot_id:
        profile["bot_id"] = user.bot_id
        profile["api_app_id"] = identity.app_id
    return {
        "id": user.id,
        "team_id": identity.team_id,
        "name": user.name,
        "deleted": user.deleted,
        "real_name": user.real_name,
        "tz": user.tz,
        "tz_label": user.tz,
        "tz_offset": _tz_offset(user.tz),
        "profile": profile,
        "is_admin": user.is_admin,
        "is_owner": user.is_owner,
        "is_primary_owner": False,
        "is_restricted": user.is_restricted,
        "is_ultra_restricted": False,
        "is_bot": user.is_bot,
        "is_app_user": False,
        "updated": user.updated,
    }


def usergroup_object(identity: AppIdentity, group: Usergroup, *, include_users: bool) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": group.id,
        "team_id": identity.team_id,
        "is_usergroup": True,
        "is_subteam": True,
        "name": group.name,
        "description": group.description,
        "handle": group.handle,
        "is_external": False,
        "date_create": group.created,
        "date_update": group.created,
        "date_delete": group.disabled_at,
        "auto_type": None,
        "created_by": "",
        "updated_by": "",
        "deleted_by": None,
        "prefs": {"channels": [], "groups": []},
        "user_count": len(group.users),
    }
    if include_users:
        data["users"] = list(group.users)
    return data


def channel_object(
    identity: AppIdentity, channel: Channel, *, include_num_members: bool = False, for_user: str | None = None
) -> dict[str, Any]:
    """A conversation object as conversations.info/list/create return it."""
    viewer = for_user or identity.bot_user_id
    if channel.is_im:
        return {
            "id": channel.id,
            "created": channel.created,
            "is_im": True,
            "is_org_shared": False,
            "user": channel.im_user,
            "is_user_deleted": False,
            "priority": 0,
        }
    data: dict[str, Any] = {
        "id": channel.id,
        "name": channel.name,
        "is_channel": True,
        "is_group": False,
        "is_im": False,
        "is_mpim": False,
        "is_private": channel.is_private,
        "created": channel.created,
        "is_archived": channel.is_archived,
        "is_general": channel.is_general,
        "unlinked": 0,
        "name_normalized": channel.name,
        "is_shared": False,
        "is_org_shared": False,
        "is_ext_shared": False,
        "is_pending_ext_shared": False,
        "pending_shared": [],
        "context_team_id": identity.team_id,
        "creator": channel.creator,
        "is_member": viewer in channel.members,
        "topic": {"value": channel.topic, "creator": channel.topic_set_by, "last_set": channel.topic_set_at},
        "purpose": {"value": channel.purpose, "creator": channel.purpose_set_by, "last_set": channel.purpose_set_at},
        "previous_names": list(channel.previous_names),
    }
    if include_num_members:
        data["num_members"] = len(channel.members)
    return data


def bot_profile(identity: AppIdentity) -> dict[str, Any]:
    return {
        "id": identity.bot_id,
        "app_id": identity.app_id,
        "name": identity.bot_name,
        "icons": {},
        "deleted": False,
        "updated": 0,
        "team_id": identity.team_id,
    }


def message_object(identity: AppIdentity, message: Message, *, include_metadata: bool = True) -> dict[str, Any]:
    """A message as conversations.history and chat.postMessage return it. History and replies leave out `metadata`
    unless asked for it with `include_all_metadata`."""
    data: dict[str, Any] = {"type": "message", "ts": message.ts, "text": message.text}
    if message.subtype:
        data["subtype"] = message.subtype
    if message.user:
        data["user"] = message.user
    if message.bot_id:
        data["bot_id"] = message.bot_id
        data["app_id"] = identity.app_id
        data["bot_profile"] = bot_profile(identity)
    data["team"] = identity.team_id
    if message.blocks is not None:
        data["blocks"] = copy.deepcopy(message.blocks)
    if message.attachments:
        data["attachments"] = copy.deepcopy(message.attachments)
    if message.metadata and include_metadata:
        data["metadata"] = copy.deepcopy(message.metadata)
    if message.thread_ts:
        data["thread_ts"] = message.thread_ts
    if message.edited_ts:
        data["edited"] = {"user": message.user, "ts": message.edited_ts}
    if message.reactions:
        data["reactions"] = [
            {"name": name, "users": list(users), "count": len(users)} for name, users in message.reactions.items() if users
        ]
    data.update(message.extra)
    return data


def view_object(view: ViewRecord) -> dict[str, Any]:
    return copy.deepcopy(view.data)


# ---- Socket Mode payloads -----------------------------------------------------------------------------------------


def user_ref(identity: AppIdentity, user: User | None, user_id: str) -> dict[str, Any]:
    """`user` of interactive payloads."""
    name = user.name if user else user_id.lower()
    return {"id": user_id, "username": name, "name": name, "team_id": identity.team_id}


def team_ref(identity: AppIdentity) -> dict[str, Any]:
    return {"id": identity.team_id, "domain": identity.domain}


def event_callback(identity: AppIdentity, event: dict[str, Any], *, event_id: str, event_time: int) -> dict[str, Any]:
    """The `event_callback` wrapper of an `events_api` envelope."""
    channel = event.get("channel") or event.get("channel_id") or (event.get("item") or {}).get("channel") or ""
    if isinstance(channel, dict):
        channel = channel.get("id", "")
    return {
        "token": "verification-token",
        "team_id": identity.team_id,
        "context_team_id": identity.team_id,
        "context_enterprise_id": None,
        "api_app_id": identity.app_id,
        "event": event,
        "type": "event_callback",
        "event_id": event_id,
        "event_time": event_time,
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": identity.team_id,
                "user_id": identity.bot_user_id,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
        "event_context": f"4-{event.get('type', 'event')}-{identity.team_id}-{channel}",
    }


def slash_command(
    identity: AppIdentity,
    *,
    command: str,
    text: str,
    user: User | None,
    user_id: str,
    channel_id: str,
    channel_name: str,
    response_url: str,
    trigger_id: str,
) -> dict[str, Any]:
    """A slash-command payload: every value a string."""
    return {
        "token": "verification-token",
        "team_id": identity.team_id,
        "team_domain": identity.domain,
        "channel_id": channel_id,
        "channel_name": channel_name,
        "user_id": user_id,
        "user_name": user.name if user else user_id.lower(),
        "command": command,
        "text": text,
        "api_app_id": identity.app_id,
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": trigger_id,
    }


def interactive_base(identity: AppIdentity, kind: str, user: User | None, user_id: str) -> dict[str, Any]:
    return {
        "type": kind,
        "user": user_ref(identity, user, user_id),
        "api_app_id": identity.app_id,
        "token": "verification-token",
        "team": team_ref(identity),
        "enterprise": None,
        "is_enterprise_install": False,
    }


# ---- inner events -------------------------------------------------------------------------------------------------


def message_event(identity: AppIdentity, message: Message, channel: Channel) -> dict[str, Any]:
    event = message_object(identity, message)
    event.pop("reactions", None)
    event.update({"channel": channel.id, "event_ts": message.ts, "channel_type": channel.channel_type})
    return event


def member_event(
    kind: str, identity: AppIdentity, *, user_id: str, channel: Channel, inviter: str | None, event_ts: str
) -> dict[str, Any]:
    """`member_joined_channel` / `member_left_channel`."""
    event: dict[str, Any] = {
        "type": kind,
        "user": user_id,
        "channel": channel.id,
        "channel_type": "G" if channel.is_private else "C",
        "team": identity.team_id,
        "event_ts": event_ts,
    }
    if inviter and kind == "member_joined_channel":
        event["inviter"] = inviter
    return event


def reaction_event(
    kind: str, *, user_id: str, reaction: str, channel_id: str, ts: str, item_user: str | None, event_ts: str
) -> dict[str, Any]:
    """`reaction_added` / `reaction_removed`."""
    event: dict[str, Any] = {
        "type": kind,
        "user": user_id,
        "reaction": reaction,
        "item": {"type": "message", "channel": channel_id, "ts": ts},
        "event_ts": event_ts,
    }
    if item_user:
        event["item_user"] = item_user
    return event
