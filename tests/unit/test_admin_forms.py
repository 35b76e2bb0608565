"""The back-office's pure checks (what a door runs before its ack): bounded numbers, tidy names, forged ids, and the
tag plan that refuses to overwrite a tag someone else moved."""

from __future__ import annotations

import pytest

from bot.admin.forms import (
    ARCHIVE_DAYS,
    CONVERSATION,
    LOST_TRACK,
    NAME,
    ComponentForm,
    FieldErrors,
    SettingsForm,
    SosTargetForm,
    TagsForm,
    UsergroupForm,
    check_component,
    check_settings,
    check_sos_target,
    check_usergroup_id,
)
from bot.admin.service import MOVED_MEANWHILE, plan_tags
from bot.identities import normalise_id
from bot.incidents.errors import InvalidInput
from bot.sos import LOST_INCIDENT, MESSAGE, TARGET, SosRequestForm, check_sos_request

FINE_REMINDERS = {"P1": "30", "P2": "60", "P3": "240"}


@pytest.mark.parametrize("typed", ["²", "2147483648", "99999999999999999999", "-3", "+3", "3.0", "0x10", "٣", "1 0"])
def test_settings_numbers_must_be_small_ascii_whole_numbers(typed: str) -> None:
    with pytest.raises(FieldErrors) as caught:
        check_settings(SettingsForm(archive_days=typed, reminders={**FINE_REMINDERS, "P1": typed, "P4": typed}))
    assert set(caught.value.errors) == {ARCHIVE_DAYS, "P1", "P4"}
    assert "*P1 reminder (minutes)*" in caught.value.message  # named as the admin saw it, for an answer by DM


def test_settings_read_never_empty_optionals_and_bounds() -> None:
    settings = check_settings(SettingsForm(archive_days=" Never ", reminders={**FINE_REMINDERS, "P4": " ", "P5": "5"}))
    assert settings.archive_grace_days is None
    assert dict(settings.reminder_minutes) == {"P1": 30, "P2": 60, "P3": 240, "P5": 5}
    assert check_settings(SettingsForm(archive_days="365", reminders=FINE_REMINDERS)).archive_grace_days == 365
    with pytest.raises(FieldErrors) as caught:
        check_settings(SettingsForm(archive_days="", reminders={}))
    assert set(caught.value.errors) == {ARCHIVE_DAYS, "P1", "P2", "P3"}
    with pytest.raises(FieldErrors) as caught:
        check_settings(SettingsForm(archive_days="366", reminders={**FINE_REMINDERS, "P2": "10081"}))
    assert set(caught.value.errors) == {ARCHIVE_DAYS, "P2"}


def test_names_are_tidied_and_required() -> None:
    form = check_sos_target(SosTargetForm(name="  Database \x00  help ", conversation_id="C0OPS"))
    assert form.name == "Database help"
    with pytest.raises(FieldErrors) as caught:
        check_sos_target(SosTargetForm(name=" ", conversation_id=None))
    assert set(caught.value.errors) == {NAME, CONVERSATION}
    with pytest.raises(FieldErrors):
        check_component(ComponentForm(name="x" * 121))
    assert check_component(ComponentForm(name="Search", usergroup_ids=("S0A", "S0A"))).usergroup_ids == ("S0A",)


@pytest.mark.parametrize("item", [0, -1, 2**31, 10**20])
def test_a_forged_item_id_is_answered_not_sent_to_the_database(item: int) -> None:
    for check, form in [
        (check_sos_target, SosTargetForm(target_id=item, remove=True)),
        (check_component, ComponentForm(component_id=item, remove=True)),
    ]:
        with pytest.raises(FieldErrors) as caught:
            check(form)  # type: ignore[operator]
        assert caught.value.errors[NAME] == LOST_TRACK


def test_remove_needs_nothing_else() -> None:
    assert check_sos_target(SosTargetForm(target_id=4, remove=True)).remove
    assert check_component(ComponentForm(component_id=4, remove=True)).remove


def test_usergroup_ids_are_upper_cased_and_handles_refused() -> None:
    assert check_usergroup_id(UsergroupForm(" s0dba ")) == "S0DBA"
    for raw in ("@sre", "", "S", "S" + "A" * 40, "S0-DBA"):
        with pytest.raises(FieldErrors):
            check_usergroup_id(UsergroupForm(raw))


CURRENT = {"tech_incidents": "C0A", "dev_firefighter": None, "it_deploy": None}


def test_tag_plan_changes_only_touched_fields_and_refuses_moved_ones() -> None:
    shown = dict(CURRENT)
    form = TagsForm(conversations={"tech_incidents": "C0A", "dev_firefighter": "C0B", "it_deploy": None}, shown=shown)
    assert plan_tags(form, conversations=CURRENT, usergroups={}) == ({"dev_firefighter": "C0B"}, {}, {})
    moved = {**CURRENT, "tech_incidents": "C0Z"}
    # Untouched: the other admin's move stands.
    assert plan_tags(form, conversations=moved, usergroups={}) == ({"dev_firefighter": "C0B"}, {}, {})
    # Touched: refused on that field.
    form = TagsForm(conversations={"tech_incidents": "C0B"}, shown=shown)
    assert plan_tags(form, conversations=moved, usergroups={}) == ({}, {}, {"tech_incidents": MOVED_MEANWHILE})
    # Without a record of what was shown, the submission is taken as it is; unknown tags are ignored.
    form = TagsForm(conversations={"tech_incidents": "C0B", "made_up": "C0C"})
    assert plan_tags(form, conversations=moved, usergroups={}) == ({"tech_incidents": "C0B"}, {}, {})


@pytest.mark.parametrize("number", [None, "", "x", True, 1.5, 0, 2**31, "99999999999999999999", "²"])
def test_an_sos_form_that_lost_its_incident_is_answered_on_the_target(number: object) -> None:
    with pytest.raises(FieldErrors) as caught:
        check_sos_request(SosRequestForm(number=number, target="3", message="help"))
    assert caught.value.errors == {TARGET: LOST_INCIDENT}


def test_an_sos_request_needs_a_target_and_a_message() -> None:
    with pytest.raises(FieldErrors) as caught:
        check_sos_request(SosRequestForm(number=1, target=None, message=" \x00 "))
    assert set(caught.value.errors) == {TARGET, MESSAGE}
    request = check_sos_request(SosRequestForm(number=1, target="7", message=" help "))
    assert (request.number, request.target_id, request.message) == (1, 7, "help")


def test_link_ids_are_normalised_or_refused() -> None:
    assert normalise_id("pagerduty", " pbob123 ") == "PBOB123"
    assert normalise_id("github", "@octocat") == "octocat"
    assert normalise_id("email", "Bob@Acme.Example") == "bob@acme.example"
    for kind, raw in [("github", "not/a/login"), ("pagerduty", "12345"), ("email", "a@b"), ("slack", "x")]:
        with pytest.raises(InvalidInput):
            normalise_id(kind, raw)
