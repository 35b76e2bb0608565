"""Hypothesis strategies for what people, or a forged payload, can send Vigil through Slack: `/incident` text mixing
the grammar's own words with hostile tokens, `state.values` and `private_metadata` of modal submissions, and what a
pressed button carries.

Hostile tokens carry ids no fixture owns (`U0FUZZ…`, `S0FUZZ`, `evil.example`), so a test can tell a broadcast, a
link or a mention that came from fuzz text apart from the ones Vigil writes itself. Incidents and the integration
the tests keep alive are named by stand-ins (private-use characters), replaced by their real numbers or id when sent.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

from bot.incidents.states import ClosureReason, Severity, Status
from commands.grammar import ALIASES, SUBCOMMANDS, LinkKind

FUZZ_USERS = ("U0FUZZ1", "W0FUZZ2")
FUZZ_SUBTEAM = "S0FUZZ"
EVIL_HOST = "evil.example"
PEOPLE = ("U0ALICE", "U0BOB", "U0CAROL", "U0DAVE", "U0VIGILBOT", *FUZZ_USERS)
CONVERSATIONS = ("C0GENERAL", "C0INCIDENTS", "C0NOPE", "D0DIRECT")

# Stand-ins: a public active incident, Dave's private one, a resolved one, a number no incident has; the integration.
PUBLIC, PRIVATE, RESOLVED, MISSING = (f"\ue000{name}\ue000" for name in ("public", "private", "resolved", "missing"))
STAND_INS = (PUBLIC, PRIVATE, RESOLVED, MISSING)
INTEGRATION = "\ue000integration\ue000"

# ---------------------------------------------------------------- tokens

# The grammar's own words: what a person types, right or nearly right.
WORDS = (
    *SUBCOMMANDS,
    *ALIASES,
    *(s.value for s in Severity),
    "p0",
    "P6",
    "p12",
    *(s.value for s in Status),
    *(r.value for r in ClosureReason),
    "false-positive",
    *(k.value for k in LinkKind),
    "PXPGF42",
    "octocat",
    "a@b.example",
)
# Numbers where an incident number, an id or a count goes: small ones, and far out of range both ways.
NUMBERS = st.one_of(
    st.integers(min_value=0, max_value=6),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.sampled_from([2**31 - 1, 2**31, 2**63, -1, 10**29 + 7, 999_999_999, 1_000_000_000]),
)
refs = st.one_of(
    NUMBERS.map(str),
    NUMBERS.map(lambda n: f"INC-{n}"),
    NUMBERS.map(lambda n: f"inc-{n}"),
    NUMBERS.map(lambda n: f"#{n}"),
    st.sampled_from(["INC-", "INC--1", "INC-1.5", "1e3", "²", "٣", "0x1F", "+3", "00000000000000000001"]),
)
# The live incidents, mostly; one time in ten any reference at all.
LIVE_REFS = (*STAND_INS, *(f"INC-{s}" for s in STAND_INS), *(f"inc-0{s}" for s in STAND_INS))
live_refs = st.integers(min_value=0, max_value=9).flatmap(lambda k: refs if k == 0 else st.sampled_from(LIVE_REFS))
# What Slack writes into slash-command text for a mention or a channel, and near misses.
mentions = st.sampled_from(
    [
        "<@U0ALICE>",
        "<@U0BOB|bob>",
        "<@U0CAROL>",
        "<@U0DAVE|dave>",
        "<@U0VIGILBOT>",
        *(f"<@{u}>" for u in FUZZ_USERS),
        f"<@{FUZZ_USERS[0]}|fuzz>",
        "<#C0GENERAL|general>",
        "<#C0INCIDENTS>",
        "<#C0NOPE|nope>",
        "<@u0lower>",
        "<@>",
        "@bob",
        "<@U0BOB|<!channel>>",
    ]
)
quoted = st.text(max_size=20).map(lambda s: f'"{s}"') | st.sampled_from(['""', '"', "'", "“smart”", "`code`", "```"])
HOSTILE = (
    "<!channel>",
    "<!here>",
    "<!everyone>",
    "<!here|here>",
    f"<!subteam^{FUZZ_SUBTEAM}>",
    f"<!subteam^{FUZZ_SUBTEAM}|@sre>",
    f"<http://{EVIL_HOST}|status page>",
    f"<https://{EVIL_HOST}>",
    f"<mailto:x@{EVIL_HOST}|x>",
    "<!date^0^{date}|never>",
    "&lt;!channel&gt;",
    "&lt;@U0FUZZ1&gt;",
    "&amp;",
    "&",
    "&lt",
    "&#60;",
    "<",
    ">",
    "<<>>",
    "*bold*",
    "_it_",
    "~s~",
    ">quote",
    "\u202eevil\u202c",  # right-to-left override
    "\u200b",  # zero-width space
    "\u200d",
    "\ufeff",
    "\u2028",
    "🔥",
    "👩‍🚒",
    "e\u0301\u0301\u0301",
    "\x00",
    "\x1b[31m",
    "\r\n",
    "\t",
    "\x7f",
)
tokens = st.one_of(
    st.sampled_from(WORDS), refs, mentions, quoted, st.sampled_from(HOSTILE), st.text(min_size=1, max_size=15)
)
separators = st.sampled_from([" ", " ", " ", "  ", "\t", "\n", "\u00a0", "\u3000"])


def huge(units: tuple[str, ...], length: int) -> st.SearchStrategy[str]:
    """One unit repeated past `length` characters."""
    return st.sampled_from(units).map(lambda unit: unit * (length // len(unit) + 1))


@st.composite
def words(draw: st.DrawFn, min_size: int = 0, max_size: int = 8) -> str:
    """Tokens joined by any whitespace Slack may pass on."""
    parts = draw(st.lists(tokens, min_size=min_size, max_size=max_size))
    return "".join(part + draw(separators) for part in parts)


def free_text(min_size: int = 0) -> st.SearchStrategy[str]:
    """Words a person writes after a subcommand or in a field (a note, a resolution, a title), hostile among them."""
    return words(min_size=min_size).map(str.strip)


# ---------------------------------------------------------------- slash-command text


@st.composite
def well_formed(draw: st.DrawFn) -> str:
    """A command the parser accepts, its free text hostile: what reaches the handlers and the database."""
    ref = draw(st.none() | live_refs)
    on = f"{ref} " if ref is not None else ""
    template = draw(
        st.sampled_from(["note", "resolve", "close", "reopen", "severity", "lead", "bare", "open", "link", "page", "help"])
    )
    if template == "note":
        return f"{on}note {draw(free_text(min_size=1))}"
    if template == "resolve":
        return f"{on}resolve {draw(free_text())}"
    if template == "close":
        return f"{on}close {draw(st.sampled_from(['', *(r.value for r in ClosureReason)]))} {draw(free_text())}"
    if template == "reopen":
        return f"{on}reopen the fix did not hold {draw(free_text())}"
    if template == "severity":
        return f"{on}severity {draw(st.sampled_from([s.value for s in Severity]))}"
    if template == "lead":
        return f"{on}lead {draw(mentions)}"
    if template == "bare":
        bare = ["ack", "status", "investigating", "mitigating", "postmortem", "timeline", "update", "sos"]
        return f"{on}{draw(st.sampled_from(bare))}"
    if template == "open":
        return f"open {draw(st.sampled_from(['', 'P1 ', 'p4 ']))}{draw(free_text())}"
    if template == "link":
        who = draw(st.sampled_from(["", "<@U0BOB> ", "<@U0ALICE|alice> ", "<@U0FUZZ1> "]))
        kind = draw(st.sampled_from([k.value for k in LinkKind]))
        ids = st.sampled_from(["PXPGF42", "octocat", "a@b.example", "a&b@c.example", "x<y@z.example"])
        return f"link {who}{kind} {draw(ids | tokens)}"
    if template == "page":
        return f"{on}page {draw(free_text())}"
    return f"help {draw(st.sampled_from(SUBCOMMANDS) | tokens)}"


@st.composite
def command_texts(draw: st.DrawFn) -> str:
    """`/incident` text: mostly commands the parser accepts with hostile arguments; else `[ref] subcommand words…`,
    any words, any text, or more than 4,000 characters."""
    shape = draw(st.sampled_from(["valid", "valid", "valid", "grammar", "words", "text", "huge"]))
    if shape == "valid":
        return draw(well_formed())
    if shape == "text":
        return draw(st.text(max_size=200))
    if shape == "huge":
        head = draw(st.sampled_from(["note ", "resolve ", "open P1 ", "1 note ", "close duplicate ", "", "link email "]))
        return head + draw(huge((*HOSTILE, "x", "é", "note ", "<@U0BOB> "), 4001))
    if shape == "words":
        return draw(words())
    on = f"{draw(refs)} " if draw(st.booleans()) else ""
    return f"{on}{draw(st.sampled_from(SUBCOMMANDS))} {draw(words(max_size=6))}"


# ---------------------------------------------------------------- modal submissions

json_values = st.recursive(
    st.one_of(
        st.none(), st.booleans(), NUMBERS, st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=30), tokens
    ),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3),
    max_leaves=6,
)
# Typed text: one time in ten thousands of characters.
texts = st.integers(min_value=0, max_value=9).flatmap(
    lambda k: huge((*HOSTILE, "x", "P1", "é"), 5000) if k == 0 else st.one_of(st.text(max_size=60), tokens, free_text())
)
option_values = st.one_of(texts, NUMBERS.map(str), st.sampled_from(["P1", "P3", "private", "remove", "PSVC01"]))


def option(value: Any) -> dict[str, Any]:
    return {"text": {"type": "plain_text", "text": str(value)[:75]}, "value": value}


# One input element's state: as Slack would send it for each element type, and in shapes Slack never sends.
element_states = st.one_of(
    st.builds(lambda v: {"type": "plain_text_input", "value": v}, st.none() | texts),
    st.builds(lambda v: {"type": "static_select", "selected_option": option(v)}, option_values),
    st.builds(lambda v: {"type": "static_select", "selected_option": v}, json_values),
    st.builds(lambda vs: {"type": "checkboxes", "selected_options": [option(v) for v in vs]}, st.lists(option_values)),
    st.builds(lambda v: {"type": "multi_static_select", "selected_options": v}, json_values),
    st.builds(lambda u: {"type": "users_select", "selected_user": u}, st.none() | mentions | st.sampled_from(PEOPLE)),
    st.builds(lambda u: {"type": "users_select", "selected_user": u}, json_values),
    st.builds(
        lambda c: {"type": "conversations_select", "selected_conversation": c},
        st.none() | st.sampled_from([*CONVERSATIONS, "G0PRIV", ""]) | texts,
    ),
    json_values,
)

# What someone would type in a field, by what its block_id names; anything else is free text.
TYPED_BY_NAME: tuple[tuple[tuple[str, ...], st.SearchStrategy[str]], ...] = (
    (
        ("url",),
        st.sampled_from(
            ["https://hooks.example/in", f"https://{EVIL_HOST}/h?a=1&b=<2>", "https://x.atlassian.net", "http://127.0.0.1/x"]
        ),
    ),
    (("days", "minutes", "reminder", "job_"), st.integers(min_value=1, max_value=90).map(str) | st.just("off")),
    (("usergroup_id",), st.sampled_from(["S0SRE", "S0DBA", FUZZ_SUBTEAM, "@sre"])),
    (("email", "reporter"), st.sampled_from(["a@b.example", "x&y@evil.example", "<@U0BOB>"])),
)
typed = st.one_of(
    st.none(),
    free_text(),
    NUMBERS.map(str),
    st.sampled_from(["S0SRE", "•••• ", "off", "never"]),
    *(strategy for _, strategy in TYPED_BY_NAME),
)


def typed_for(block_id: str) -> st.SearchStrategy[str]:
    return next((s for names, s in TYPED_BY_NAME if any(n in block_id for n in names)), free_text(min_size=1))


def options_of(element: dict[str, Any]) -> list[dict[str, Any]]:
    options = list(element.get("options") or [])
    for group in element.get("option_groups") or []:
        options += group.get("options") or []
    return options


@st.composite
def plausible(draw: st.DrawFn, block_id: str, element: dict[str, Any], *, strict: bool) -> dict[str, Any]:
    """What Slack would send for this element: what a person would type in it, one of its own options, a person, a
    conversation. Unless `strict`, sometimes nothing, anything typed, or an option the element does not have."""
    kind = str(element.get("type") or "")
    state: dict[str, Any] = {"type": kind}
    options = options_of(element)
    if not strict or not options:
        options.append(option(draw(option_values)))
    nothing = st.nothing() if strict else st.none()
    if kind == "plain_text_input":
        state["value"] = draw(typed_for(block_id) if strict else typed_for(block_id) | typed)
    elif kind in ("static_select", "radio_buttons", "external_select"):
        state["selected_option"] = draw(nothing | st.sampled_from(options))
    elif kind in ("multi_static_select", "checkboxes"):
        state["selected_options"] = draw(st.lists(st.sampled_from(options), max_size=4, unique_by=str))
    elif kind == "users_select":
        state["selected_user"] = draw(nothing | st.sampled_from(PEOPLE))
    elif kind == "conversations_select":
        state["selected_conversation"] = draw(nothing | st.sampled_from(CONVERSATIONS))
    else:
        state.update(draw(element_states))
    return state


@st.composite
def state_values(draw: st.DrawFn, inputs: dict[str, dict[str, Any]]) -> Any:
    """`state.values` for a form whose inputs are `inputs` (block_id → element). Half the time every input answered
    as a person would (hostile words in the text), so that the submission gets past the field checks; else each one
    answered anyhow, left out or put under another action_id, with extra blocks; now and then not even an object."""
    mode = draw(st.sampled_from(["strict"] * 10 + ["mixed"] * 9 + ["junk"]))
    if mode == "junk":
        return draw(json_values)
    values: dict[str, Any] = {}
    for block_id, element in inputs.items():
        action_id = str(element.get("action_id"))
        how = (
            "plausible" if mode == "strict" else draw(st.sampled_from(["plausible"] * 4 + ["any", "gone", "moved", "junk"]))
        )
        if how == "plausible":
            values[block_id] = {action_id: draw(plausible(block_id, element, strict=mode == "strict"))}
        elif how == "any":
            values[block_id] = {action_id: draw(element_states)}
        elif how == "moved":
            values[block_id] = {draw(st.text(max_size=12)): draw(element_states)}
        elif how == "junk":
            values[block_id] = draw(json_values)
    if mode == "strict":
        return values
    extra = st.dictionaries(
        st.text(max_size=20), st.dictionaries(st.text(max_size=12), element_states, max_size=2), max_size=2
    )
    return {**draw(extra), **values}


@st.composite
def private_metadata(draw: st.DrawFn, real: str) -> str | None:
    """The view's own metadata (None), or a forged one: other and absurd incident numbers and ids, wrong types, keys
    gone, not JSON at all."""
    how = draw(st.sampled_from(["real", "real", "real", "forged", "mangled", "raw"]))
    if how == "real":
        return None
    if how == "raw":
        return draw(st.one_of(st.text(max_size=40), st.sampled_from(["", "null", "[]", "1", '"x"', "{", "{}"])))
    meta = json.loads(real) if real.startswith("{") else {}
    keys = [*meta, "number", "incident_id", "id", "channel_id", "kind", "shown"]
    for key in draw(st.lists(st.sampled_from(keys), min_size=1, max_size=3, unique=True)):
        meta[key] = draw(st.one_of(NUMBERS, NUMBERS.map(str), json_values, refs))
    if how == "mangled":
        meta = {k: v for k, v in meta.items() if draw(st.booleans())}
    return json.dumps(meta)


# ---------------------------------------------------------------- block actions

action_values = st.one_of(
    st.none(),
    NUMBERS.map(str),
    refs,
    texts,
    st.sampled_from([*STAND_INS, INTEGRATION, f"{INTEGRATION}:1", f"{INTEGRATION}:99999999999", f" {INTEGRATION}"]),
    st.sampled_from(
        [
            '{"tab": "nope", "page": -1}',
            '{"page": 100000000000000000000}',
            "remove:",
            "refresh:S0FUZZ",
            "pagerduty",
            "P" + "A" * 40,
            "x:1",
            "x:99999999999",
        ]
    ),
)
# What Slack puts in the action besides `value`: a picked option or person, or a value that is not a string.
selected_overrides = st.one_of(
    st.none(),
    option_values.map(lambda v: {"selected_option": option(v)}),
    json_values.map(lambda v: {"selected_option": v}),
    st.builds(lambda u: {"selected_user": u}, st.none() | mentions | st.sampled_from(PEOPLE)),
    json_values.map(lambda v: {"value": v}),
)
# What each button carries when Vigil draws it (the first match of the action_id wins).
NATURAL: tuple[tuple[tuple[str, ...], st.SearchStrategy[str]], ...] = (
    (("incident_", "reminder_snooze"), st.sampled_from(STAND_INS)),
    (("admin_retry_inbound",), st.sampled_from([f"{INTEGRATION}:1", f"{INTEGRATION}:2"])),
    (("admin_connect_integration",), st.sampled_from(["webhook", "jira", "github", "teams"])),
    (("_integration", "admin_inbound_log"), st.just(INTEGRATION)),
    (("admin_usergroup_menu",), st.sampled_from(["refresh:S0SRE", "remove:S0SRE"])),
    (("admin_edit_component", "admin_edit_sos", "admin_retry_delivery"), st.sampled_from(["1", "2"])),
    (("home_tab_",), st.sampled_from(["overview", "tags", "sos", "components", "usergroups", "settings", "integrations"])),
    (("home_page_",), st.sampled_from(['{"tab": "overview", "page": 1}', '{"tab": "integrations", "page": 0}'])),
    (("oncall_page",), st.sampled_from(["PSVC01", "PABCDEF"])),
)


def button_values(action_id: str) -> st.SearchStrategy[str | None]:
    """Half the time what Vigil would have put on the button, else anything at all."""
    natural = next((strategy for names, strategy in NATURAL if any(n in action_id for n in names)), st.none())
    return st.one_of(natural, action_values)
