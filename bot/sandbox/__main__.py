"""`python -m bot.sandbox [--script FILE] [--no-color]`: the same as `vigil sandbox`."""

from __future__ import annotations

from bot.cli.main import sandbox

if __name__ == "__main__":
    sandbox()
