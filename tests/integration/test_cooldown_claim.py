"""The cool-down of a model's stage: one corrective action per window, the winner's retry gets its window back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from lifecycle.config import get_settings
from lifecycle.store import cooldown
from support.cloud import TABLE, Cloud

T0 = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
SIGNAL_AT = T0 - timedelta(minutes=5)


def _claim(
    holder: str, now: datetime, *, hours: float = 6, stage: str = "prod", monitor: str = "data_quality"
) -> cooldown.Window:
    return cooldown.claim(
        get_settings(),
        group="churn",
        stage=stage,
        monitor=monitor,
        hours=hours,
        holder=holder,
        started=SIGNAL_AT,
        action="retrain",
        now=now,
    )


def test_a_second_signal_in_the_window_is_refused_with_the_holder_s_window(cloud: Cloud) -> None:
    # Given a violation that opened a six-hour window
    first = _claim("violation-a", T0)
    # When another violation arrives an hour later
    other = _claim("violation-b", T0 + timedelta(hours=1))
    # Then the first holds the window from its signal's time for six hours, and the second is refused with it
    assert (first.granted, first.holder, first.started, first.until) == (
        True,
        "violation-a",
        SIGNAL_AT,
        T0 + timedelta(hours=6),
    )
    assert (other.granted, other.holder, other.started, other.until) == (
        False,
        "violation-a",
        SIGNAL_AT,
        T0 + timedelta(hours=6),
    )
    assert "cooling down until 16:00 UTC on 2026-11-27" in other.describe()


def test_the_holder_s_own_retry_gets_its_window_back_while_it_is_open(cloud: Cloud) -> None:
    # Given a violation whose corrective action failed after it won the window
    _claim("violation-a", T0)
    # When the platform retries it inside the window
    retry = _claim("violation-a", T0 + timedelta(minutes=2))
    # Then the retry is granted, not locked out for hours
    assert retry.granted
    assert retry.holder == "violation-a"


def test_the_window_ends_at_its_until_and_not_a_second_before(cloud: Cloud) -> None:
    _claim("violation-a", T0)
    until = T0 + timedelta(hours=6)

    assert not _claim("violation-b", until - timedelta(seconds=1)).granted
    assert _claim("violation-b", until).granted


def test_each_stage_has_its_own_window(cloud: Cloud) -> None:
    _claim("violation-a", T0, stage="prod")

    assert _claim("violation-b", T0, stage="staging").granted


def test_the_item_says_who_holds_what_until_when_and_is_kept_a_week_after_its_window(cloud: Cloud) -> None:
    _claim("violation-a", T0, hours=2)

    [item] = cloud.client("dynamodb").scan(TableName=TABLE)["Items"]
    until = T0 + timedelta(hours=2)
    assert int(item["until"]["N"]) == int(until.timestamp())
    assert int(item["expiration"]["N"]) == int((until + timedelta(days=7)).timestamp())
    assert (item["holder"]["S"], item["action"]["S"]) == ("violation-a", "retrain")
    assert datetime.fromisoformat(item["started"]["S"]) == SIGNAL_AT


def test_the_open_window_is_reported_until_it_ends(cloud: Cloud) -> None:
    settings = get_settings()
    assert cooldown.current(settings, "churn", "prod", now=T0) is None

    _claim("violation-a", T0, hours=1)
    until = T0 + timedelta(hours=1)

    assert cooldown.current(settings, "churn", "prod", now=until - timedelta(seconds=1)) == (until, "retrain")
    assert cooldown.current(settings, "churn", "prod", now=until) is None
    assert cooldown.current(settings, "churn", "staging", now=T0) is None
