"""The core schema. Every row carries the `team_id` of its workspace.

Slack ids (users, usergroups, conversations) are Slack's own strings and form composite keys with `team_id`, so an
Enterprise Grid mode later is a change of wiring, not of schema.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from db.types import UTCDateTime, utcnow

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON()}


TeamId = String(32)
SlackId = String(32)


class Workspace(Base):
    __tablename__ = "workspace"

    team_id: Mapped[str] = mapped_column(TeamId, primary_key=True)
    name: Mapped[str] = mapped_column(String(255), default="")
    url: Mapped[str] = mapped_column(String(255), default="")
    bot_user_id: Mapped[str] = mapped_column(SlackId, default="")
    # The last incident number handed out; bumped with UPDATE … RETURNING so numbers stay unique under concurrency.
    last_incident_number: Mapped[int] = mapped_column(Integer, default=0)
    archive_grace_days: Mapped[int | None] = mapped_column(Integer, default=7)  # None = never archive
    # Reminder interval in minutes per severity; a missing severity means no reminders.
    reminder_minutes: Mapped[dict[str, Any]] = mapped_column(default=lambda: {"P1": 30, "P2": 60, "P3": 240})
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class User(Base):
    __tablename__ = "slack_user"

    team_id: Mapped[str] = mapped_column(TeamId, ForeignKey("workspace.team_id", ondelete="CASCADE"), primary_key=True)
    id: Mapped[str] = mapped_column(SlackId, primary_key=True)
    name: Mapped[str] = mapped_column(String(255), default="")
    real_name: Mapped[str] = mapped_column(String(255), default="")
    email: Mapped[str | None] = mapped_column(String(320))
    tz: Mapped[str] = mapped_column(String(64), default="UTC")
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    is_owner: Mapped[bool] = mapped_column(Boolean, default=False)
    is_restricted: Mapped[bool] = mapped_column(Boolean, default=False)
    is_bot: Mapped[bool] = mapped_column(Boolean, default=False)
    deactivated: Mapped[bool] = mapped_column(Boolean, default=False)
    fetched_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("ix_slack_user_email", "team_id", "email"),)


class Usergroup(Base):
    __tablename__ = "usergroup"

    team_id: Mapped[str] = mapped_column(TeamId, ForeignKey("workspace.team_id", ondelete="CASCADE"), primary_key=True)
    id: Mapped[str] = mapped_column(SlackId, primary_key=True)
    handle: Mapped[str] = mapped_column(String(255), default="")
    name: Mapped[str] = mapped_column(String(255), default="")
    # Member user ids as last synced from Slack; small enough per group to keep as a JSON list.
    user_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    fetched_at: Mapped[datetime] = mapped_column(default=utcnow)


class Conversation(Base):
    __tablename__ = "conversation"

    team_id: Mapped[str] = mapped_column(TeamId, ForeignKey("workspace.team_id", ondelete="CASCADE"), primary_key=True)
    id: Mapped[str] = mapped_column(SlackId, primary_key=True)
    name: Mapped[str] = mapped_column(String(255), default="")
    is_private: Mapped[bool] = mapped_column(Boolean, default=False)
    is_archived: Mapped[bool] = mapped_column(Boolean, default=False)
    fetched_at: Mapped[datetime] = mapped_column(default=utcnow)


class ConversationTag(Base):
    """`tech_incidents`, `dev_firefighter`, `it_deploy`: one conversation per tag per workspace."""

    __tablename__ = "conversation_tag"

    team_id: Mapped[str] = mapped_column(TeamId, ForeignKey("workspace.team_id", ondelete="CASCADE"), primary_key=True)
    tag: Mapped[str] = mapped_column(String(64), primary_key=True)
    conversation_id: Mapped[str] = mapped_column(SlackId)
    set_by: Mapped[str | None] = mapped_column(SlackId)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class UsergroupTag(Base):
    """`invited_for_all_public_p1`: one usergroup per tag per workspace."""

    __tablename__ = "usergroup_tag"

    team_id: Mapped[str] = mapped_column(TeamId, ForeignKey("workspace.team_id", ondelete="CASCADE"), primary_key=True)
    tag: Mapped[str] = mapped_column(String(64), primary_key=True)
    usergroup_id: Mapped[str] = mapped_column(SlackId)
    set_by: Mapped[str | None] = mapped_column(SlackId)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Component(Base):
    __tablename__ = "component"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    team_id: Mapped[str] = mapped_column(TeamId, ForeignKey("workspace.team_id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    usergroup_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    # The PagerDuty service that answers for this component (paged through the REST API, its on-call invited), and
    # optionally the component's own Events v2 routing key, sealed like integration secrets (bound to "component:<id>").
    pagerduty_service_id: Mapped[str | None] = mapped_column(String(32))
    pagerduty_routing_key: Mapped[str | None] = mapped_column(Text)
    pagerduty_key_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("team_id", "name"),)


class Incident(Base):
    __tablename__ = "incident"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    team_id: Mapped[str] = mapped_column(TeamId, ForeignKey("workspace.team_id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text, default="")
    severity: Mapped[str] = mapped_column(String(2))
    status: Mapped[str] = mapped_column(String(16), default="open")
    private: Mapped[bool] = mapped_column(Boolean, default=False)
    component_id: Mapped[int | None] = mapped_column(ForeignKey("component.id", ondelete="SET NULL"))
    reporter_id: Mapped[str] = mapped_column(SlackId)
    commander_id: Mapped[str | None] = mapped_column(SlackId)
    channel_id: Mapped[str | None] = mapped_column(SlackId)
    channel_name: Mapped[str | None] = mapped_column(String(80))
    opening_message_ts: Mapped[str | None] = mapped_column(String(32))
    announcement_channel_id: Mapped[str | None] = mapped_column(SlackId)
    announcement_ts: Mapped[str | None] = mapped_column(String(32))
    dedup_key: Mapped[str | None] = mapped_column(String(255))
    # The declare form this incident came from (Slack's view id): the same form submitted twice opens one incident.
    request_key: Mapped[str | None] = mapped_column(String(64))
    closure_reason: Mapped[str | None] = mapped_column(String(32))
    resolution: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    last_update_at: Mapped[datetime] = mapped_column(default=utcnow)  # drives reminders
    acknowledged_at: Mapped[datetime | None] = mapped_column()
    acknowledged_by: Mapped[str | None] = mapped_column(SlackId)
    resolved_at: Mapped[datetime | None] = mapped_column()
    closed_at: Mapped[datetime | None] = mapped_column()
    archived_at: Mapped[datetime | None] = mapped_column()

    component: Mapped[Component | None] = relationship(lazy="raise")
    timeline: Mapped[list[TimelineEvent]] = relationship(
        back_populates="incident", lazy="raise", order_by="TimelineEvent.id", cascade="all, delete-orphan"
    )

    __table_args__ = (
        UniqueConstraint("team_id", "number"),
        UniqueConstraint("team_id", "request_key"),
        Index("ix_incident_channel", "team_id", "channel_id"),
        Index("ix_incident_dedup", "team_id", "dedup_key"),
        Index("ix_incident_status", "team_id", "status"),
    )

    @property
    def ref(self) -> str:
        return f"INC-{self.number}"

    @property
    def external_key(self) -> str:
        return f"vigil-{self.team_id}-{self.number}"


class IncidentMember(Base):
    """Channel membership of incident channels, tracked from member_joined/left events (private visibility)."""

    __tablename__ = "incident_member"

    team_id: Mapped[str] = mapped_column(TeamId, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[str] = mapped_column(SlackId, primary_key=True)
    joined_at: Mapped[datetime] = mapped_column(default=utcnow)


class TimelineEvent(Base):
    __tablename__ = "timeline_event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    team_id: Mapped[str] = mapped_column(TeamId)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    kind: Mapped[str] = mapped_column(String(32))  # opened, status, severity, commander, title, ack, note, pin, …
    actor_id: Mapped[str | None] = mapped_column(SlackId)
    source: Mapped[str] = mapped_column(String(64))  # slack, webhook:<kind>, scheduler, cli
    text: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # A message pinned twice lands once: (incident, message ts) is unique for pins.
    message_ts: Mapped[str | None] = mapped_column(String(32))

    incident: Mapped[Incident] = relationship(back_populates="timeline", lazy="raise")

    __table_args__ = (
        Index("ix_timeline_incident", "incident_id", "at"),
        UniqueConstraint("incident_id", "kind", "message_ts"),
    )


class ProcessedEvent(Base):
    """Slack `event_id`s already handled, kept for a TTL so a re-sent envelope (or a second replica) skips them."""

    __tablename__ = "processed_event"

    team_id: Mapped[str] = mapped_column(TeamId, primary_key=True)
    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(index=True)
    # A claim is taken before handling and finished after it: an unfinished claim older than a grace period may be
    # taken again on Slack's retry (the handler died in between); a finished one never is.
    claimed_at: Mapped[datetime | None] = mapped_column()
    done_at: Mapped[datetime | None] = mapped_column()


class SosTarget(Base):
    """Where `/incident sos` asks for help: a conversation, optionally mentioning a usergroup."""

    __tablename__ = "sos_target"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    team_id: Mapped[str] = mapped_column(TeamId, ForeignKey("workspace.team_id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(80))
    conversation_id: Mapped[str] = mapped_column(SlackId)
    usergroup_id: Mapped[str | None] = mapped_column(SlackId)
    updated_by: Mapped[str | None] = mapped_column(SlackId)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    __table_args__ = (UniqueConstraint("team_id", "name"),)


class Identity(Base):
    """A Slack user's account in another tool. `source` is `manual` (`/incident link`) or `email-match` (found by
    email during a sync); a manual link is never overwritten by a match."""

    __tablename__ = "identity"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    team_id: Mapped[str] = mapped_column(TeamId, ForeignKey("workspace.team_id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(SlackId)
    kind: Mapped[str] = mapped_column(String(16))  # pagerduty, github, jira, linear, email
    external_id: Mapped[str] = mapped_column(String(255))
    source: Mapped[str] = mapped_column(String(16))  # manual, email-match
    updated_by: Mapped[str | None] = mapped_column(SlackId)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    __table_args__ = (
        UniqueConstraint("team_id", "user_id", "kind"),
        CheckConstraint("kind IN ('pagerduty', 'github', 'jira', 'linear', 'email')", name="kind"),
        CheckConstraint("source IN ('manual', 'email-match')", name="source"),
        # Inbound webhooks name the tool's user; this finds the Slack user behind it.
        Index("ix_identity_external", "team_id", "kind", "external_id"),
    )


INTEGRATION_KINDS = ("pagerduty", "opsgenie", "jira", "linear", "servicenow", "github", "teams", "webhook")
DELIVERY_STATUSES = ("pending", "retrying", "success", "failed", "cancelled")


class Integration(Base):
    """A connection to another tool. `secrets` is one sealed blob (AES-256-GCM under `key_id`, bound to the row's id):
    plaintext never reaches the database. The id is random (128 bits) because it appears in inbound webhook URLs."""

    __tablename__ = "integration"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    team_id: Mapped[str] = mapped_column(TeamId, ForeignKey("workspace.team_id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(80))
    config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    secrets: Mapped[str] = mapped_column(Text, default="")
    key_id: Mapped[str | None] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    events: Mapped[list[str]] = mapped_column(JSON, default=list)
    min_severity: Mapped[str | None] = mapped_column(String(2))
    component_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    include_private: Mapped[bool] = mapped_column(Boolean, default=False)
    # While set and in the future, the previous inbound secret (kept in the sealed blob) still verifies and signs.
    previous_secret_until: Mapped[datetime | None] = mapped_column()
    created_by: Mapped[str | None] = mapped_column(SlackId)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    __table_args__ = (
        UniqueConstraint("team_id", "name"),
        CheckConstraint(f"kind IN ({', '.join(repr(k) for k in INTEGRATION_KINDS)})", name="kind"),
        Index("ix_integration_active", "team_id", "active"),
        Index("ix_integration_key_id", "key_id"),
    )


class IntegrationLink(Base):
    """What an incident is in another tool (a Jira key, a Linear id, a ServiceNow sys_id): one row per pair."""

    __tablename__ = "integration_link"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    team_id: Mapped[str] = mapped_column(TeamId)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id", ondelete="CASCADE"))
    integration_id: Mapped[str] = mapped_column(ForeignKey("integration.id", ondelete="CASCADE"))
    external_id: Mapped[str | None] = mapped_column(String(255))
    external_url: Mapped[str | None] = mapped_column(String(1024))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    __table_args__ = (
        UniqueConstraint("incident_id", "integration_id"),
        Index("ix_integration_link_external", "integration_id", "external_id"),
    )


class Delivery(Base):
    """One event for one integration: the outbox row, written in the incident's own transaction, and its log.

    `id` orders deliveries; `delivery_id` (a UUID) is what the receiver sees and stays the same on every re-send.
    A worker claims a row by setting `claim_token` and `claimed_until`; a claim that outlives its lease (the worker
    died) is taken again. `payload` is frozen at the first attempt, so every re-send carries the same body.
    """

    __tablename__ = "delivery"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    delivery_id: Mapped[str] = mapped_column(String(36), unique=True)
    team_id: Mapped[str] = mapped_column(TeamId)
    integration_id: Mapped[str] = mapped_column(ForeignKey("integration.id", ondelete="CASCADE"))
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incident.id", ondelete="CASCADE"))
    event: Mapped[str] = mapped_column(String(32))
    occurred_at: Mapped[datetime] = mapped_column()
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)  # what changed (fields, previous status, actor, source)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column()
    last_attempt_at: Mapped[datetime | None] = mapped_column()
    claimed_until: Mapped[datetime | None] = mapped_column()
    claim_token: Mapped[str | None] = mapped_column(String(32))
    http_status: Mapped[int | None] = mapped_column(Integer)
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    external_id: Mapped[str | None] = mapped_column(String(255))
    error: Mapped[str | None] = mapped_column(Text)
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    history: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)  # one entry per attempt
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        CheckConstraint(f"status IN ({', '.join(repr(s) for s in DELIVERY_STATUSES)})", name="status"),
        Index("ix_delivery_due", "status", "next_attempt_at"),
        Index("ix_delivery_pair", "integration_id", "incident_id", "id"),
        Index("ix_delivery_team", "team_id", "id"),
    )


STEP_STATUSES = ("pending", "done", "failed")


class SurfaceStep(Base):
    """One Slack step of an incident change (create the channel, post and pin the opening message, edit the topic,
    …), written in the change's own transaction and run right after it; whatever a crash interrupts, a worker finds
    here and runs again. Steps are idempotent against Slack, so running one twice never makes a second channel or
    message. `after_id` orders dependent steps (create → post → pin); a claim is a lease, as for deliveries."""

    __tablename__ = "surface_step"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    team_id: Mapped[str] = mapped_column(TeamId)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    args: Mapped[dict[str, Any]] = mapped_column(default=dict)
    after_id: Mapped[int | None] = mapped_column(ForeignKey("surface_step.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column()
    claimed_until: Mapped[datetime | None] = mapped_column()
    claim_token: Mapped[str | None] = mapped_column(String(32))
    result: Mapped[dict[str, Any]] = mapped_column(default=dict)
    error: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    done_at: Mapped[datetime | None] = mapped_column()

    __table_args__ = (
        CheckConstraint(f"status IN ({', '.join(repr(s) for s in STEP_STATUSES)})", name="status"),
        Index("ix_surface_step_due", "status", "next_attempt_at"),
        Index("ix_surface_step_incident", "incident_id", "status", "kind"),
    )


__all__ = [
    "Base",
    "Component",
    "Conversation",
    "ConversationTag",
    "Delivery",
    "Identity",
    "Incident",
    "IncidentMember",
    "Integration",
    "IntegrationLink",
    "ProcessedEvent",
    "SosTarget",
    "SurfaceStep",
    "TimelineEvent",
    "User",
    "Usergroup",
    "UsergroupTag",
    "Workspace",
]


# ---------------------------------------------------------------- PagerDuty: the directory `sync_pagerduty` keeps


class PagerDutyService(Base):
    """A PagerDuty service as the last sync saw it (what `page <service>` and the component picker offer)."""

    __tablename__ = "pagerduty_service"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    team_id: Mapped[str] = mapped_column(TeamId)
    integration_id: Mapped[str] = mapped_column(ForeignKey("integration.id", ondelete="CASCADE"))
    pd_id: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(255))
    escalation_policy_id: Mapped[str | None] = mapped_column(String(32))
    html_url: Mapped[str | None] = mapped_column(String(1024))
    synced_at: Mapped[datetime] = mapped_column()

    __table_args__ = (UniqueConstraint("integration_id", "pd_id"), Index("ix_pagerduty_service_team", "team_id"))


class PagerDutyUser(Base):
    __tablename__ = "pagerduty_user"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    team_id: Mapped[str] = mapped_column(TeamId)
    integration_id: Mapped[str] = mapped_column(ForeignKey("integration.id", ondelete="CASCADE"))
    pd_id: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(320))
    time_zone: Mapped[str | None] = mapped_column(String(64))
    html_url: Mapped[str | None] = mapped_column(String(1024))
    synced_at: Mapped[datetime] = mapped_column()

    __table_args__ = (UniqueConstraint("integration_id", "pd_id"), Index("ix_pagerduty_user_email", "team_id", "email"))


class PagerDutyPolicy(Base):
    """An escalation policy."""

    __tablename__ = "pagerduty_policy"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    team_id: Mapped[str] = mapped_column(TeamId)
    integration_id: Mapped[str] = mapped_column(ForeignKey("integration.id", ondelete="CASCADE"))
    pd_id: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(255))
    html_url: Mapped[str | None] = mapped_column(String(1024))
    synced_at: Mapped[datetime] = mapped_column()

    __table_args__ = (UniqueConstraint("integration_id", "pd_id"),)


class PagerDutySchedule(Base):
    """A schedule, classic (layers) or v3 (shift-based): PagerDuty lists them at two different endpoints."""

    __tablename__ = "pagerduty_schedule"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    team_id: Mapped[str] = mapped_column(TeamId)
    integration_id: Mapped[str] = mapped_column(ForeignKey("integration.id", ondelete="CASCADE"))
    pd_id: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(255))
    version: Mapped[str] = mapped_column(String(8))  # classic, v3
    time_zone: Mapped[str | None] = mapped_column(String(64))
    html_url: Mapped[str | None] = mapped_column(String(1024))
    synced_at: Mapped[datetime] = mapped_column()

    __table_args__ = (
        UniqueConstraint("integration_id", "pd_id"),
        CheckConstraint("version IN ('classic', 'v3')", name="version"),
    )


class PagerDutyOnCall(Base):
    """One on-call period (PagerDuty `/oncalls`), now or within the sync's look-ahead; replaced by every sync.
    `starts_at`/`ends_at` None means permanent (a user named directly in a policy)."""

    __tablename__ = "pagerduty_oncall"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    team_id: Mapped[str] = mapped_column(TeamId)
    integration_id: Mapped[str] = mapped_column(ForeignKey("integration.id", ondelete="CASCADE"))
    escalation_policy_id: Mapped[str] = mapped_column(String(32))
    level: Mapped[int] = mapped_column(Integer)
    user_id: Mapped[str] = mapped_column(String(32))  # the PagerDuty user id
    schedule_id: Mapped[str | None] = mapped_column(String(32))
    starts_at: Mapped[datetime | None] = mapped_column()
    ends_at: Mapped[datetime | None] = mapped_column()

    __table_args__ = (
        Index("ix_pagerduty_oncall_policy", "integration_id", "escalation_policy_id", "level"),
        Index("ix_pagerduty_oncall_user", "team_id", "user_id"),
    )


class PagerDutySync(Base):
    """The last `sync_pagerduty` run of an integration, written by the sync itself: `/incident oncall` shows its age."""

    __tablename__ = "pagerduty_sync"

    integration_id: Mapped[str] = mapped_column(ForeignKey("integration.id", ondelete="CASCADE"), primary_key=True)
    team_id: Mapped[str] = mapped_column(TeamId)
    started_at: Mapped[datetime] = mapped_column()
    synced_at: Mapped[datetime | None] = mapped_column()  # the end of the last run that succeeded
    ok: Mapped[bool] = mapped_column(Boolean, default=False)
    counts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    error: Mapped[str | None] = mapped_column(Text)


PAGE_STATUSES = ("triggered", "acknowledged", "resolved")


class IncidentPage(Base):
    """One page per (incident, PagerDuty integration, target): how it was paged — Events v2 with the integration's or
    a component's routing key, or the REST API on a service — so its acknowledge and resolve go the same way.
    `incident_id` is None for `page <service>` used outside any incident."""

    __tablename__ = "incident_page"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    team_id: Mapped[str] = mapped_column(TeamId)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incident.id", ondelete="CASCADE"))
    integration_id: Mapped[str] = mapped_column(ForeignKey("integration.id", ondelete="CASCADE"))
    target: Mapped[str] = mapped_column(String(64))  # "routing:integration", "routing:component:<id>", "service:<pd id>"
    method: Mapped[str] = mapped_column(String(8))  # events, rest
    service_id: Mapped[str | None] = mapped_column(String(32))
    dedup_key: Mapped[str] = mapped_column(String(255))
    pd_incident_id: Mapped[str | None] = mapped_column(String(32))
    pd_incident_url: Mapped[str | None] = mapped_column(String(1024))
    status: Mapped[str] = mapped_column(String(16), default="triggered")
    paged_by: Mapped[str | None] = mapped_column(SlackId)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    __table_args__ = (
        UniqueConstraint("integration_id", "incident_id", "target"),
        CheckConstraint("method IN ('events', 'rest')", name="method"),
        CheckConstraint(f"status IN ({', '.join(repr(s) for s in PAGE_STATUSES)})", name="status"),
        Index("ix_incident_page_dedup", "integration_id", "dedup_key"),
    )


# ---------------------------------------------------------------- inbound webhooks


INBOUND_STATUSES = ("pending", "done", "ignored", "failed", "refused")


class InboundDelivery(Base):
    """One request to `POST /hooks/{kind}/{integration_id}` of a known integration: its log line, and — when it was
    verified — the inbox row it is processed from, written before the vendor gets its answer, so a crash after the
    answer loses nothing. `dedup_id` (the vendor's delivery id, else a hash of the body) makes a re-sent delivery
    land once. A refused request (bad signature) keeps no body and no dedup id, only what happened."""

    __tablename__ = "inbound_delivery"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    team_id: Mapped[str] = mapped_column(TeamId)
    integration_id: Mapped[str] = mapped_column(ForeignKey("integration.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    dedup_id: Mapped[str | None] = mapped_column(String(255))
    received_at: Mapped[datetime] = mapped_column()
    verified: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    http_status: Mapped[int] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(500), default="")
    # What to do, as parsed from the verified body (never the raw body: it may carry people's data Vigil has no use
    # for); processed once, retried on failure.
    instructions: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incident.id", ondelete="SET NULL"))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column()
    claimed_until: Mapped[datetime | None] = mapped_column()
    claim_token: Mapped[str | None] = mapped_column(String(32))
    finished_at: Mapped[datetime | None] = mapped_column()

    __table_args__ = (
        UniqueConstraint("integration_id", "dedup_id"),
        CheckConstraint(f"status IN ({', '.join(repr(s) for s in INBOUND_STATUSES)})", name="status"),
        Index("ix_inbound_delivery_due", "status", "next_attempt_at"),
        Index("ix_inbound_delivery_log", "integration_id", "id"),
    )


# ---- scheduled jobs


JOB_OUTCOMES = ("running", "ok", "failed", "abandoned")
JOB_TRIGGERS = ("schedule", "cli", "admin")


class JobSchedule(Base):
    """An admin's schedule for one job: every `interval_minutes`, or off (None). No row: the job's default.
    `options` holds a job's own settings (how long `purge_logs` keeps logs)."""

    __tablename__ = "job_schedule"

    team_id: Mapped[str] = mapped_column(TeamId, ForeignKey("workspace.team_id", ondelete="CASCADE"), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    interval_minutes: Mapped[int | None] = mapped_column(Integer)
    options: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_by: Mapped[str | None] = mapped_column(SlackId)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class JobRun(Base):
    """One run of a job, scheduled or asked for (`vigil jobs run`): written when its lease is taken, finished with its
    outcome, counts and sanitised error. A run left `running` by a runner that died becomes `abandoned`."""

    __tablename__ = "job_run"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    team_id: Mapped[str] = mapped_column(TeamId)
    name: Mapped[str] = mapped_column(String(64))
    trigger: Mapped[str] = mapped_column(String(16))
    holder: Mapped[str] = mapped_column(String(128))
    started_at: Mapped[datetime] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column()
    outcome: Mapped[str] = mapped_column(String(16), default="running")
    counts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        CheckConstraint(f"outcome IN ({', '.join(repr(s) for s in JOB_OUTCOMES)})", name="outcome"),
        CheckConstraint(f"trigger IN ({', '.join(repr(s) for s in JOB_TRIGGERS)})", name="trigger"),
        Index("ix_job_run_last", "team_id", "name", "id"),
        Index("ix_job_run_started", "started_at"),
    )


class JobLease(Base):
    """Who runs a job now: taken before every run (scheduled or not) with a conditional upsert, renewed while the run
    lasts, deleted after it. A lease past `expires_at` belongs to a runner that died and may be taken over."""

    __tablename__ = "job_lease"

    team_id: Mapped[str] = mapped_column(TeamId, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    run_id: Mapped[int | None] = mapped_column(Integer)
    acquired_at: Mapped[datetime] = mapped_column()
    expires_at: Mapped[datetime] = mapped_column()


class IncidentReminder(Base):
    """The reminders of one incident: when the last was posted (and where, while its Snooze buttons are live), and
    until when someone snoozed them."""

    __tablename__ = "incident_reminder"

    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id", ondelete="CASCADE"), primary_key=True)
    team_id: Mapped[str] = mapped_column(TeamId)
    reminded_at: Mapped[datetime | None] = mapped_column()
    count: Mapped[int] = mapped_column(Integer, default=0)
    channel_id: Mapped[str | None] = mapped_column(SlackId)
    message_ts: Mapped[str | None] = mapped_column(String(32))
    snoozed_until: Mapped[datetime | None] = mapped_column()
    snoozed_by: Mapped[str | None] = mapped_column(SlackId)


class ConversationMember(Base):
    """Members of the tagged conversations, as `sync_slack_conversations` last read them (incident channels keep
    theirs in `incident_member`)."""

    __tablename__ = "conversation_member"

    team_id: Mapped[str] = mapped_column(TeamId, primary_key=True)
    conversation_id: Mapped[str] = mapped_column(SlackId, primary_key=True)
    user_id: Mapped[str] = mapped_column(SlackId, primary_key=True)
