"""`vigil check`: configuration, database, both Slack tokens and each active integration, each as one line.

Never posts anything and never shows a secret: Slack is asked `auth.test` (bot token) and `apps.connections.open`
(app-level token), whose websocket URL is thrown away unused; each integration gets its kind's harmless probe
(a HEAD request for Teams and webhooks), never a delivery.
"""

from __future__ import annotations

from dataclasses import dataclass

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.settings import Settings, parse_key_ring
from db.engine import make_engine, make_session_factory
from db.migrate import current_revision, head_revision
from db.workspaces import record_workspace


@dataclass(frozen=True)
class CheckResult:
    name: str
    status: str  # ok | warning | failed | skipped
    detail: str = ""

    @property
    def failed(self) -> bool:
        return self.status == "failed"

    @property
    def line(self) -> str:
        return f"{self.status}: {self.detail}" if self.detail else self.status


def check_config(settings: Settings) -> list[CheckResult]:
    results = [CheckResult("config", "ok")]
    if settings.public_url.startswith("https://"):
        results.append(CheckResult("public_url", "ok", settings.public_url))
    else:
        results.append(
            CheckResult(
                "public_url", "warning", f"VIGIL_PUBLIC_URL {settings.public_url} is not HTTPS; vendors will refuse it"
            )
        )
    if settings.encryption_keys is None or not settings.encryption_keys.get_secret_value().strip():
        results.append(CheckResult("encryption_keys", "warning", "VIGIL_ENCRYPTION_KEYS not set; run `vigil keys generate`"))
    else:
        ring = parse_key_ring(settings.encryption_keys.get_secret_value())
        results.append(CheckResult("encryption_keys", "ok", f"{len(ring)} key(s), primary {ring[0][0]}"))
    return results


async def run_checks(settings: Settings) -> list[CheckResult]:
    results = check_config(settings)
    engine = make_engine(settings.db_url)
    try:
        migrated = False
        try:
            revision = await current_revision(engine)
        except Exception as exc:
            results.append(
                CheckResult("database", "failed", f"unreachable ({type(exc).__name__}); check VIGIL_DATABASE_URL")
            )
        else:
            backend = settings.db_url.get_backend_name()
            if revision == head_revision():
                migrated = True
                results.append(CheckResult("database", "ok", f"{backend}, revision {revision}"))
            else:
                results.append(
                    CheckResult("database", "failed", f"{backend} at revision {revision or 'empty'}; run `vigil migrate`")
                )
        results.append(await _check_slack(settings, engine if migrated else None))
        results.append(await _check_socket_mode(settings))
        if migrated:
            results += await _check_integrations(settings, engine)
    finally:
        await engine.dispose()
    return results


async def _check_slack(settings: Settings, engine: AsyncEngine | None) -> CheckResult:
    """`auth.test` with the bot token; on a migrated database the workspace is recorded, as `vigil run` does."""
    if settings.slack_bot_token is None:
        return CheckResult("slack", "failed", "SLACK_BOT_TOKEN not set")
    client = AsyncWebClient(token=settings.slack_bot_token.get_secret_value(), base_url=settings.slack_api_url, timeout=10)
    try:
        resp = await client.auth_test()
    except SlackApiError as exc:
        error = exc.response.get("error", exc.response.status_code)
        return CheckResult("slack", "failed", f"auth.test answered {error}; check SLACK_BOT_TOKEN")
    except Exception as exc:
        return CheckResult("slack", "failed", f"auth.test unreachable at {settings.slack_api_url} ({type(exc).__name__})")
    team_id, team = str(resp["team_id"]), str(resp.get("team", ""))
    if engine is not None:
        async with make_session_factory(engine)() as session, session.begin():
            await record_workspace(
                session, team_id=team_id, name=team, url=str(resp.get("url", "")), bot_user_id=str(resp.get("user_id", ""))
            )
    return CheckResult("slack", "ok", f"team {team_id} ({team}), bot {resp.get('user_id')}")


async def _check_socket_mode(settings: Settings) -> CheckResult:
    """`apps.connections.open` with the app-level token: it only hands out a websocket URL, which is not used."""
    if settings.slack_app_token is None:
        return CheckResult("socket_mode", "failed", "SLACK_APP_TOKEN not set")
    client = AsyncWebClient(base_url=settings.slack_api_url, timeout=10)
    try:
        resp = await client.apps_connections_open(app_token=settings.slack_app_token.get_secret_value())
    except SlackApiError as exc:
        error = exc.response.get("error", exc.response.status_code)
        return CheckResult(
            "socket_mode",
            "failed",
            f"apps.connections.open answered {error}; check SLACK_APP_TOKEN (an app-level token with connections:write)",
        )
    except Exception as exc:
        return CheckResult(
            "socket_mode", "failed", f"apps.connections.open unreachable at {settings.slack_api_url} ({type(exc).__name__})"
        )
    if not str(resp.get("url", "")).startswith(("wss://", "ws://")):
        return CheckResult("socket_mode", "failed", "apps.connections.open returned no websocket URL")
    return CheckResult("socket_mode", "ok", "SLACK_APP_TOKEN can open Socket Mode connections")


async def _check_integrations(settings: Settings, engine: AsyncEngine) -> list[CheckResult]:
    """One `integration <name>` line per active integration of the recorded workspace (none when no workspace is
    recorded): its settings, whether its secrets open under VIGIL_ENCRYPTION_KEYS, and its kind's probe."""
    from bot.container import build_container

    container = build_container(settings, engine=engine)
    try:
        service = container.integrations
        team_id = await service.workspace()
        if team_id is None:
            return []
        lines = await service.check(team_id=team_id)
        return [CheckResult(line.name, "ok" if line.ok else "failed", line.line) for line in lines]
    except Exception as exc:  # the database went away mid-check: one line, like the database check
        return [CheckResult("integrations", "failed", f"could not be checked ({type(exc).__name__})")]
    finally:
        await container.aclose()  # disposes the shared engine too, which run_checks does again (harmless)
