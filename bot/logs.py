"""Logging as text or JSON (VIGIL_LOG_FORMAT), with Slack tokens, bearer secrets and response URLs masked on the way
out, and Slack's payload loggers held at INFO whatever level Vigil runs at."""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime

# Every Slack token family (bot, user, app-level, refresh/rotating `xoxe.xoxp-`, legacy workspace/app ones), bearer
# secrets, and response URLs: whoever holds one can post as the app for half an hour.
SECRET_PATTERNS = re.compile(
    r"(?:xox[a-z](?:\.xox[a-z])?|xapp)-[A-Za-z0-9-]+"
    r"|Bearer\s+[A-Za-z0-9._~+/=-]+"
    r"|https?://hooks\.slack(?:-gov)?\.com/[^\s'\"<>]+"
)
# The value next to a `response_url` key, whatever its host (a proxy, the emulator, a repr'd dict or JSON).
RESPONSE_URL_VALUE = re.compile(r"""(response_url['"]?\s*[:=]\s*['"]?)[^\s'",}\]]+""")

# Loggers that write whole Socket Mode frames, request bodies or SQL parameters (response_url, user text) at DEBUG.
# `vigil.bolt` is the Bolt app's logger, which its Socket Mode client shares; it sits under Vigil's own namespace, so
# a debug level for `vigil` must not reach it.
PAYLOAD_LOGGERS = {
    "slack_sdk": logging.WARNING,
    "slack_bolt": logging.INFO,
    "vigil.bolt": logging.INFO,
    "aiosqlite": logging.INFO,
    "sqlalchemy": logging.WARNING,
}
BOLT_LOGGER = "vigil.bolt"


def redact(text: str) -> str:
    return RESPONSE_URL_VALUE.sub(r"\1[redacted]", SECRET_PATTERNS.sub("[redacted]", text))


class RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry)


def quiet_payload_loggers() -> None:
    """Hold the payload loggers at their floor (never lower), so no level Vigil is run at logs frames or bodies."""
    for name, floor in PAYLOAD_LOGGERS.items():
        logger = logging.getLogger(name)
        if logger.level < floor:
            logger.setLevel(floor)


def setup_logging(fmt: str, level: int = logging.INFO) -> None:
    handler = logging.StreamHandler(sys.stderr)
    formatter: logging.Formatter = (
        JsonFormatter() if fmt == "json" else RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    quiet_payload_loggers()
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
