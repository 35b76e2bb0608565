"""`vigil sandbox`: the real bot against the bundled Slack emulator, driven by a small line grammar.

`grammar` parses lines, `render` turns Block Kit into text, `session.Sandbox` runs the bot and judges each line,
`repl` replays scripts or runs the prompt. See docs/sandbox.md.
"""

from __future__ import annotations
