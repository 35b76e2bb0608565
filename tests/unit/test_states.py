from __future__ import annotations

import itertools

import pytest

from bot.incidents.errors import InvalidInput, InvalidTransition, VigilError
from bot.incidents.states import (
    ALLOWED,
    ClosureReason,
    Severity,
    Status,
    allowed_next,
    can_reopen,
    check_move,
    check_reopen_reason,
    is_noop,
    postmortem_due,
)

OPN, INV, MIT, RES, PMT, CLS = (
    Status.OPEN,
    Status.INVESTIGATING,
    Status.MITIGATING,
    Status.RESOLVED,
    Status.POSTMORTEM,
    Status.CLOSED,
)

# The move table written out for every (from, to) pair, independently of the implementation:
#   ok      plain move
#   reason  close before resolved: needs a closure reason
#   p3+     allowed for P3-P5 only (P1/P2 pass through postmortem)
#   reopen  only with reopen
#   same    already there (refused by check_move; is_noop)
#   no      never
MOVES: dict[tuple[Status, Status], str] = {
    (OPN, OPN): "same", (OPN, INV): "ok", (OPN, MIT): "ok", (OPN, RES): "ok", (OPN, PMT): "no", (OPN, CLS): "reason",
    (INV, OPN): "no", (INV, INV): "same", (INV, MIT): "ok", (INV, RES): "ok", (INV, PMT): "no", (INV, CLS): "reason",
    (MIT, OPN): "no", (MIT, INV): "ok", (MIT, MIT): "same", (MIT, RES): "ok", (MIT, PMT): "no", (MIT, CLS): "reason",
    (RES, OPN): "no", (RES, INV): "reopen", (RES, MIT): "reopen", (RES, RES): "same", (RES, PMT): "ok", (RES, CLS): "p3+",
    (PMT, OPN): "no", (PMT, INV): "reopen", (PMT, MIT): "reopen", (PMT, RES): "no", (PMT, PMT): "same", (PMT, CLS): "ok",
    (CLS, OPN): "no", (CLS, INV): "no", (CLS, MIT): "no", (CLS, RES): "no", (CLS, PMT): "no", (CLS, CLS): "same",
}  # fmt: skip

REASONS: list[ClosureReason | None] = [None, *ClosureReason]


def expected(kind: str, *, severity: Severity, reason: ClosureReason | None, reopen: bool) -> bool:
    if kind == "ok":
        return not reopen
    if kind == "reason":
        return not reopen and reason is not None
    if kind == "p3+":
        return not reopen and severity in (Severity.P3, Severity.P4, Severity.P5)
    if kind == "reopen":
        return reopen
    assert kind in ("same", "no")
    return False


def test_move_table_covers_every_pair() -> None:
    assert set(MOVES) == set(itertools.product(Status, Status))


@pytest.mark.parametrize(("current", "target"), list(MOVES))
@pytest.mark.parametrize("severity", list(Severity))
def test_every_move(current: Status, target: Status, severity: Severity) -> None:
    kind = MOVES[(current, target)]
    for reason, reopen in itertools.product(REASONS, (False, True)):
        allowed = expected(kind, severity=severity, reason=reason, reopen=reopen)
        if allowed:
            check_move(current=current, target=target, severity=severity, closure_reason=reason, reopen=reopen)
        else:
            with pytest.raises(InvalidTransition) as refused:
                check_move(current=current, target=target, severity=severity, closure_reason=reason, reopen=reopen)
            assert refused.value.allowed == allowed_next(current, severity)
            assert refused.value.message
    assert is_noop(current, target) == (kind == "same")


def test_allowed_table_is_the_spec() -> None:
    assert dict(ALLOWED) == {
        OPN: {INV, MIT, RES, CLS},
        INV: {MIT, RES, CLS},
        MIT: {INV, RES, CLS},
        RES: {PMT, CLS, INV, MIT},
        PMT: {CLS, INV, MIT},
        CLS: set(),
    }


@pytest.mark.parametrize(
    ("current", "severity", "allowed"),
    [
        (OPN, Severity.P1, (INV, MIT, RES, CLS)),
        (INV, Severity.P3, (MIT, RES, CLS)),
        (MIT, Severity.P5, (INV, RES, CLS)),
        (RES, Severity.P1, (PMT,)),
        (RES, Severity.P2, (PMT,)),
        (RES, Severity.P3, (PMT, CLS)),
        (RES, Severity.P5, (PMT, CLS)),
        (PMT, Severity.P1, (CLS,)),
        (PMT, Severity.P4, (CLS,)),
        (CLS, Severity.P1, ()),
    ],
)
def test_allowed_next(current: Status, severity: Severity, allowed: tuple[Status, ...]) -> None:
    assert allowed_next(current, severity) == allowed


def test_refusal_names_allowed_next_in_order() -> None:
    with pytest.raises(InvalidTransition) as refused:
        check_move(current=INV, target=PMT, severity=Severity.P2)
    assert refused.value.message == (
        "An incident can't move from investigating to postmortem. "
        "Allowed next: mitigating, resolved, closed (with a closure reason)."
    )
    assert isinstance(refused.value, VigilError)


def test_investigating_on_resolved_points_to_reopen() -> None:
    with pytest.raises(InvalidTransition) as refused:
        check_move(current=RES, target=INV, severity=Severity.P3)
    assert "`reopen <reason>`" in refused.value.message
    assert refused.value.message.endswith("Allowed next: postmortem, closed, `reopen <reason>`.")


def test_close_before_resolved_names_the_reasons() -> None:
    with pytest.raises(InvalidTransition) as refused:
        check_move(current=MIT, target=CLS, severity=Severity.P4)
    for reason in ClosureReason:
        assert reason.value in refused.value.message


def test_p1_resolved_must_go_through_postmortem_even_with_a_reason() -> None:
    with pytest.raises(InvalidTransition) as refused:
        check_move(current=RES, target=CLS, severity=Severity.P1, closure_reason=ClosureReason.DUPLICATE)
    assert "P1 incidents go through postmortem" in refused.value.message
    assert refused.value.allowed == (PMT,)


def test_closed_is_final() -> None:
    with pytest.raises(InvalidTransition) as refused:
        check_move(current=CLS, target=INV, severity=Severity.P3, reopen=True)
    assert refused.value.message == "This incident is closed. Closed incidents are final."
    assert refused.value.allowed == ()


def test_reopen_from_active_is_refused() -> None:
    with pytest.raises(InvalidTransition, match="Only a resolved or postmortem incident can be reopened"):
        check_move(current=INV, target=MIT, severity=Severity.P3, reopen=True)


@pytest.mark.parametrize(
    ("text", "severity"),
    [("P1", Severity.P1), ("p2", Severity.P2), (" P3 ", Severity.P3), ("4", Severity.P4), ("5", Severity.P5)],
)
def test_severity_parse(text: str, severity: Severity) -> None:
    assert Severity.parse(text) == severity


@pytest.mark.parametrize("text", ["", "P0", "P6", "0", "6", "sev2", "high", "PP1", "P 1", "p1x", "\uff11"])
def test_severity_parse_refuses(text: str) -> None:
    with pytest.raises(InvalidInput, match="P1, P2, P3, P4, P5") as refused:
        Severity.parse(text, field="severity")
    assert refused.value.field == "severity"


def test_severity_order() -> None:
    assert [s.rank for s in Severity] == [1, 2, 3, 4, 5]
    assert Severity.P1.at_least(Severity.P3)
    assert Severity.P3.at_least(Severity.P3)
    assert not Severity.P4.at_least(Severity.P3)


def test_postmortem_due() -> None:
    assert [postmortem_due(s) for s in Severity] == [True, True, False, False, False]


@pytest.mark.parametrize(
    ("word", "reason"),
    [
        ("duplicate", ClosureReason.DUPLICATE),
        ("False_Positive", ClosureReason.FALSE_POSITIVE),
        ("false-positive", ClosureReason.FALSE_POSITIVE),
        ("SUPERSEDED", ClosureReason.SUPERSEDED),
        ("external", ClosureReason.EXTERNAL),
        ("cancelled", ClosureReason.CANCELLED),
        ("canceled", None),
        ("", None),
        ("dup", None),
    ],
)
def test_closure_reason_lookup(word: str, reason: ClosureReason | None) -> None:
    assert ClosureReason.lookup(word) == reason


def test_closure_reason_parse_refuses() -> None:
    with pytest.raises(InvalidInput, match="`duplicate`"):
        ClosureReason.parse("oops")
    assert ClosureReason.parse("Duplicate") == ClosureReason.DUPLICATE


def test_can_reopen() -> None:
    assert [can_reopen(s) for s in Status] == [False, False, False, True, True, False]


@pytest.mark.parametrize(
    ("text", "ok"),
    [("0123456789", True), ("  too short  ", False), ("regressed again", True), ("", False), (" " * 20, False)],
)
def test_check_reopen_reason(text: str, ok: bool) -> None:
    if ok:
        assert check_reopen_reason(text) == text.strip()
    else:
        with pytest.raises(InvalidInput, match="at least 10 characters"):
            check_reopen_reason(text, field="reason")
