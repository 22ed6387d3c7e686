"""The reliability runner at its small size (one lifecycle round under duplicates, disorder and faults; 500 hostile
events to every event handler), as part of `make test`. `make reliability` runs the full size."""

from __future__ import annotations

import pytest

from tests.reliability.runner import SIZES, Figures, run


@pytest.fixture(scope="module")
def figures() -> Figures:
    return run(SIZES["small"], rng_seed=7, echo=lambda line: None)


def test_the_run_was_under_stress(figures: Figures) -> None:
    assert figures.duplicates_delivered > 0
    assert figures.faults_injected > 0
    assert figures.events_tried > figures.duplicates_delivered


def test_exactly_one_action_per_real_state_change(figures: Figures) -> None:
    assert figures.actions_expected > 0
    assert figures.taken == figures.expected, figures.failed_executions
    assert figures.actions_taken == figures.actions_expected, figures.failed_executions


def test_nothing_is_left_half_done(figures: Figures) -> None:
    assert figures.orphan_list == []
    assert figures.orphans == 0


def test_every_failure_is_typed_and_every_failed_deployment_reported(figures: Figures) -> None:
    assert figures.unhandled == []
    assert figures.unhandled_errors == 0
    assert figures.unreported_failures == []


def test_hostile_events_change_nothing_and_each_gets_one_clear_log_line(figures: Figures) -> None:
    assert sum(figures.hostile_categories.values()) >= 500
    assert len(figures.hostile_categories) == 7
    assert figures.bad_inputs_tried == 5 * sum(figures.hostile_categories.values())
    assert figures.hostile_writes == 0
    assert figures.hostile_problems == []


def test_the_table_has_one_line_per_figure(figures: Figures) -> None:
    lines = figures.table().splitlines()
    assert [line[:22].strip() for line in lines] == [
        "events tried",
        "duplicates delivered",
        "faults injected",
        "actions taken",
        "actions expected",
        "orphans",
        "dead-lettered",
        "bad inputs tried",
        "authority refusals",
        "stale events",
        "races",
        "unhandled errors",
    ]


def test_authority_stale_events_and_a_race_change_nothing_they_should_not(figures: Figures) -> None:
    # a dev user's own approval and an ARN of another region are refused; an older approval and a stale rejection are
    # left alone; of two approvals at once only the newer deploys (the expected actions above count exactly that)
    assert (figures.authority_refusals, figures.stale_events, figures.races) == (2, 2, 1)
    assert figures.adversity_problems == []
