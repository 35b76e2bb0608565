"""Reading an integration's settings and secrets as admins type them (`--set key=value`, the App Home form).

Pure functions: each problem is one line naming the key, never a secret's value; the service refuses the whole
change when there is any.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from bot.incidents.events import ALL as INCIDENT_EVENTS
from integrations.base import Field, Provider
from integrations.http.guard import OutboundPolicy, Refused, check_url

TEST_EVENT = "test"
EVENTS = (*INCIDENT_EVENTS, TEST_EVENT)
SEVERITIES = ("P1", "P2", "P3", "P4", "P5")
MAX_NAME = 80
MAX_VALUE = 4000
TRUE, FALSE = frozenset({"true", "yes", "1", "on"}), frozenset({"false", "no", "0", "off"})


def check_name(name: str) -> list[str]:
    name = name.strip()
    if not name:
        return ["name: give the integration a name"]
    if len(name) > MAX_NAME:
        return [f"name: at most {MAX_NAME} characters"]
    if any(c in name for c in ",\n\t") or not name.isprintable():
        return ["name: letters, digits, spaces and punctuation other than commas"]
    return []


def parse_value(field: Field, raw: str, *, policy: OutboundPolicy) -> tuple[Any, str | None]:
    """The typed value of one key, or a problem naming the key."""
    raw = raw.strip()
    if len(raw) > MAX_VALUE:
        return None, f"{field.name}: at most {MAX_VALUE} characters"
    if field.type == "json":
        try:
            return json.loads(raw), None
        except ValueError:
            return None, f"{field.name}: not valid JSON"
    if field.type == "list":
        return [part.strip() for part in raw.split(",") if part.strip()], None
    if field.type == "bool":
        if raw.lower() in TRUE:
            return True, None
        if raw.lower() in FALSE:
            return False, None
        return None, f"{field.name}: true or false"
    if field.type == "severity":
        if raw.upper() in SEVERITIES:
            return raw.upper(), None
        return None, f"{field.name}: one of P1 to P5"
    if field.type == "url":
        try:
            check_url(policy, raw)
        except Refused as exc:
            return None, f"{field.name}: {exc}"
        return raw, None
    return raw, None


def _apply(
    provider: Provider,
    fields: tuple[Field, ...],
    raw: Mapping[str, str],
    values: dict[str, Any],
    *,
    what: str,
    policy: OutboundPolicy,
) -> tuple[list[str], set[str]]:
    """Parse `raw` into `values` by the kind's `fields` (settings or secrets); the problems, and the keys refused."""
    known = {f.name: f for f in fields}
    problems: list[str] = []
    refused: set[str] = set()
    for key, text in raw.items():
        field = known.get(key)
        if field is None:
            problems.append(f"{key}: not a {what} of {provider.kind} ({what}s: {', '.join(known) or 'none'})")
            continue
        value, problem = parse_value(field, text, policy=policy) if text.strip() else (None, f"{key}: empty")
        if problem:
            problems.append(problem)
            refused.add(key)
        else:
            values[key] = value
    return problems, refused


def parse_settings(
    provider: Provider, raw: Mapping[str, str], *, current: Mapping[str, Any] | None, policy: OutboundPolicy
) -> tuple[dict[str, Any], list[str]]:
    """The settings after applying `raw` over `current` (None: a new integration, defaults filled in)."""
    values: dict[str, Any] = dict(current) if current is not None else {}
    problems, refused = _apply(provider, provider.settings, raw, values, what="setting", policy=policy)
    for field in provider.settings:
        if key_missing(values, field.name) and field.default is not None:
            values[field.name] = field.default
        if field.required and key_missing(values, field.name) and field.name not in refused:
            problems.append(f"{field.name}: required for {provider.kind}")
    return values, problems


def parse_secrets(
    provider: Provider, raw: Mapping[str, str], *, current: Mapping[str, str] | None, policy: OutboundPolicy
) -> tuple[dict[str, str], list[str]]:
    """The vendor secrets after applying `raw` over `current`; `generated` ones are left for the service to make."""
    values: dict[str, Any] = dict(current) if current is not None else {}
    problems, refused = _apply(provider, provider.secrets, raw, values, what="secret", policy=policy)
    for field in provider.secrets:
        if field.required and not field.generated and not values.get(field.name) and field.name not in refused:
            problems.append(f"{field.name}: required for {provider.kind}")
    return {key: str(value) for key, value in values.items()}, problems


def parse_events(raw: Sequence[str] | None) -> tuple[list[str], list[str]]:
    """Events to send; empty means all. Unknown names are problems."""
    if raw is None:
        return [], []
    events = [e.strip() for e in raw if e.strip()]
    unknown = [e for e in events if e not in EVENTS]
    if unknown:
        return [], [f"events: unknown {', '.join(unknown)} (events: {', '.join(EVENTS)})"]
    return list(dict.fromkeys(events)), []


def key_missing(values: Mapping[str, Any], key: str) -> bool:
    return values.get(key) in (None, "", [])
