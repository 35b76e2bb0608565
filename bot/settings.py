"""Settings are read once, from the environment or a `.env` file, and passed down.

A bad value never produces a traceback: `load_settings` raises `ConfigError` holding one line per problem, each
naming the variable and never echoing the value (it may be a secret).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

ASYNC_DRIVERS = ("sqlite+aiosqlite", "postgresql+asyncpg")

# Where a newcomer without tokens goes next: a real workspace, or the emulator that needs none.
TOKEN_HINT = "see docs/setup-slack.md to connect a workspace, or try `vigil sandbox` (no Slack needed)"
MISSING_TOKEN = {
    "SLACK_BOT_TOKEN": f"required: the bot token (xoxb-...) Slack shows when the app is installed; {TOKEN_HINT}",
    "SLACK_APP_TOKEN": f"required: an app-level token (xapp-...) with connections:write; {TOKEN_HINT}",
}


class ConfigError(Exception):
    """Bad configuration: `problems` holds one line per variable."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = list(problems)


class LogFormat(StrEnum):
    text = "text"
    json = "json"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=True, populate_by_name=True
    )

    slack_bot_token: SecretStr | None = Field(default=None, alias="SLACK_BOT_TOKEN")
    slack_app_token: SecretStr | None = Field(default=None, alias="SLACK_APP_TOKEN")
    slack_api_url: str = Field(default="https://slack.com/api/", alias="SLACK_API_URL")
    database_url: str = Field(default="sqlite+aiosqlite:///vigil.db", alias="VIGIL_DATABASE_URL")
    http_host: str = Field(default="127.0.0.1", alias="VIGIL_HTTP_HOST")
    http_port: int = Field(default=8080, ge=0, le=65535, alias="VIGIL_HTTP_PORT")
    public_url: str = Field(default="http://localhost:8080", alias="VIGIL_PUBLIC_URL")
    encryption_keys: SecretStr | None = Field(default=None, alias="VIGIL_ENCRYPTION_KEYS")
    admins: str = Field(default="", alias="VIGIL_ADMINS")
    ca_bundle: Path | None = Field(default=None, alias="VIGIL_CA_BUNDLE")
    outbound_enabled: bool = Field(default=True, alias="VIGIL_OUTBOUND_ENABLED")
    outbound_allow_private: bool = Field(default=False, alias="VIGIL_OUTBOUND_ALLOW_PRIVATE")
    log_format: LogFormat = Field(default=LogFormat.text, alias="VIGIL_LOG_FORMAT")
    command: str = Field(default="/incident", alias="VIGIL_COMMAND")

    @field_validator("slack_bot_token")
    @classmethod
    def _bot_token(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None and not v.get_secret_value().startswith("xoxb-"):
            raise ValueError("must be a bot token starting with xoxb- (not a user or app-level token)")
        return v

    @field_validator("slack_app_token")
    @classmethod
    def _app_token(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None and not v.get_secret_value().startswith("xapp-"):
            raise ValueError("must be an app-level token starting with xapp- (not the bot token)")
        return v

    @field_validator("slack_api_url")
    @classmethod
    def _api_url(cls, v: str) -> str:
        if not v.startswith(("https://", "http://")):
            raise ValueError("must be an http(s) URL such as https://slack.com/api/")
        return v if v.endswith("/") else v + "/"

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, v: str) -> str:
        try:
            url = make_url(v)
        except ArgumentError:
            raise ValueError("is not a SQLAlchemy URL (e.g. sqlite+aiosqlite:///vigil.db)") from None
        if url.drivername not in ASYNC_DRIVERS:
            raise ValueError(f"driver {url.drivername!r} is not supported; use one of {', '.join(ASYNC_DRIVERS)}")
        return v

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, v: str) -> str:
        if not v.startswith(("https://", "http://")):
            raise ValueError("must be an http(s) URL")
        return v.rstrip("/")

    @field_validator("encryption_keys")
    @classmethod
    def _keys(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None and v.get_secret_value().strip():
            parse_key_ring(v.get_secret_value())
        return v

    @field_validator("admins")
    @classmethod
    def _admins(cls, v: str) -> str:
        for uid in admin_ids(v):
            if not uid[:1].isalpha() or not uid.isalnum() or uid.upper() != uid:
                raise ValueError("must be comma-separated Slack user ids such as U012AB3CD")
        return v

    @field_validator("ca_bundle")
    @classmethod
    def _ca_bundle(cls, v: Path | None) -> Path | None:
        if v is not None and not v.is_file():
            raise ValueError("is not a readable file")
        return v

    @field_validator("command")
    @classmethod
    def _command(cls, v: str) -> str:
        name = v[1:] if v.startswith("/") else ""
        if not name or len(name) > 32 or not all(c.islower() or c.isdigit() or c in "-_" for c in name):
            raise ValueError("must look like /incident (lower case, at most 32 characters)")
        return v

    # Derived views, computed from the fields rather than stored twice.
    @property
    def db_url(self) -> URL:
        return make_url(self.database_url)

    @property
    def is_sqlite(self) -> bool:
        return self.db_url.get_backend_name() == "sqlite"

    @property
    def admin_ids(self) -> frozenset[str]:
        return frozenset(admin_ids(self.admins))

    def require_slack(self) -> None:
        """`vigil run` and `vigil check` need both tokens; other verbs do not (`load_settings(require_slack=True)`)."""
        tokens = {"SLACK_BOT_TOKEN": self.slack_bot_token, "SLACK_APP_TOKEN": self.slack_app_token}
        problems = [f"{var}: {MISSING_TOKEN[var]}" for var, value in tokens.items() if value is None]
        if problems:
            raise ConfigError(problems)


class SlackSettings(Settings):
    """Settings for the verbs that talk to Slack: both tokens are required, reported with every other problem."""

    slack_bot_token: SecretStr = Field(alias="SLACK_BOT_TOKEN")
    slack_app_token: SecretStr = Field(alias="SLACK_APP_TOKEN")


def admin_ids(raw: str) -> list[str]:
    return [part.strip() for part in raw.split(",") if part.strip()]


def parse_key_ring(raw: str) -> list[tuple[str, bytes]]:
    """`kid:<base64 of 32 bytes>[,kid:…]`, first is primary. Errors never include key material."""
    ring: list[tuple[str, bytes]] = []
    for n, part in enumerate((p.strip() for p in raw.split(",") if p.strip()), start=1):
        kid, sep, b64 = part.partition(":")
        if not sep or not kid or not kid.replace("-", "").replace("_", "").isalnum():
            raise ValueError(f"key {n} must look like kid:<base64 of 32 bytes>")
        try:
            key = base64.b64decode(b64, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError(f"key {kid!r} is not standard base64") from None
        if len(key) != 32:
            raise ValueError(f"key {kid!r} must decode to 32 bytes, not {len(key)}")
        if any(k == kid for k, _ in ring):
            raise ValueError(f"key id {kid!r} appears twice")
        ring.append((kid, key))
    return ring


def _field_env_names() -> Mapping[str, str]:
    return {name: (f.alias or name.upper()) for name, f in Settings.model_fields.items()}


def format_validation_error(exc: ValidationError) -> list[str]:
    """One line per problem naming the variable; pydantic's own text would echo the (maybe secret) input."""
    names = _field_env_names()
    lines = []
    for err in exc.errors(include_input=False, include_url=False):
        loc = str(err["loc"][0]) if err["loc"] else "?"
        var = names.get(loc, loc)
        if err["type"] == "missing" and var in MISSING_TOKEN:
            msg = MISSING_TOKEN[var]
        else:
            msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        lines.append(f"{var}: {msg}")
    return lines


def load_settings(env_file: str | None = ".env", *, require_slack: bool = False, **overrides: Any) -> Settings:
    """Read settings once; raise ConfigError with one line per problem (missing tokens too, with `require_slack`)."""
    cls = SlackSettings if require_slack else Settings
    try:
        return cls(_env_file=env_file, **overrides)  # type: ignore[call-arg]
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc)) from None
