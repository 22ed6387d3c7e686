"""Rollback targeting on plain data: where a stage goes back to (issue 19)."""

from __future__ import annotations

from lifecycle.deploy.rollback import rollback_candidates
from lifecycle.store.deployments import StageEvent


def deployed(version: int, day: int) -> StageEvent:
    return StageEvent(kind="deployed", version=version, at=f"2026-11-{day:02d}T10:00:00+00:00", execution=f"e{day}")


def gate_rejected(version: int, day: int) -> StageEvent:
    return StageEvent(
        kind="gate-rejected", version=version, at=f"2026-11-{day:02d}T10:00:00+00:00", execution=f"g{day}"
    )


def test_the_last_version_that_completed_there_comes_first() -> None:
    history = [deployed(1, 1), deployed(2, 2), deployed(3, 3)]
    assert rollback_candidates(history, leaving=3) == [2, 1]


def test_the_order_is_by_completion_not_by_version_number() -> None:
    # v3 went out, then a rollback put v1 back, then v4: leaving v4 goes back to v1, the last one that served
    history = [deployed(1, 1), deployed(3, 2), deployed(1, 3), deployed(4, 4)]
    assert rollback_candidates(history, leaving=4) == [1, 3]


def test_a_version_rejected_at_the_stage_gate_is_never_a_candidate() -> None:
    # v2 served once, later went out again and was rejected at the gate: it stays out for good
    history = [deployed(1, 1), deployed(2, 2), deployed(1, 3), gate_rejected(2, 4), deployed(3, 5)]
    assert rollback_candidates(history, leaving=3) == [1]


def test_a_version_that_never_finished_there_is_not_a_candidate() -> None:
    history = [gate_rejected(2, 1), deployed(3, 2)]
    assert rollback_candidates(history, leaving=3) == []


def test_an_unsorted_history_gives_the_same_answer() -> None:
    history = [deployed(2, 2), deployed(1, 1), deployed(3, 3)]
    assert rollback_candidates(history, leaving=3) == [2, 1]
