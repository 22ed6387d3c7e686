"""Bad input to the CLI is a usage error: exit code 2 and one clear line, never a traceback, and nothing reaches AWS
(no sandbox here: the arguments are refused before the CLI connects anywhere)."""

from __future__ import annotations

import pytest

from cli.main import EXIT_USAGE, main


def usage_error(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    with pytest.raises(SystemExit) as exited:
        main(list(argv))
    err = capsys.readouterr().err
    assert exited.value.code == EXIT_USAGE, err
    assert "Traceback" not in err
    return err


@pytest.mark.parametrize("since", ["99999999999d", "9999999w", "1" * 5000 + "d", "yesterday"])
def test_history_since_that_cannot_be_a_date(capsys: pytest.CaptureFixture[str], since: str) -> None:
    err = usage_error(capsys, "history", "churn", "--since", since)

    assert "argument --since" in err


@pytest.mark.parametrize("verb", ["deploy", "rollback"])
def test_a_reason_longer_than_the_audit_keeps(capsys: pytest.CaptureFixture[str], verb: str) -> None:
    err = usage_error(capsys, verb, "churn", "--version", "1", "--stage", "prod", "--reason", "x" * 1001)

    assert "argument --reason: String should have at most 1000 characters" in err


@pytest.mark.parametrize("verb", ["approve", "reject"])
def test_an_answer_reason_longer_than_the_audit_keeps(capsys: pytest.CaptureFixture[str], verb: str) -> None:
    err = usage_error(capsys, verb, "churn", "--reason", "x" * 1001)

    assert "argument --reason" in err


def test_more_stages_than_a_deployment_can_name(capsys: pytest.CaptureFixture[str]) -> None:
    stages = [arg for n in range(11) for arg in ("--stage", f"s{n}")]

    err = usage_error(capsys, "deploy", "churn", "--version", "1", *stages)

    assert "argument --stage: List should have at most 10 items" in err


def test_a_stage_name_no_policy_could_hold(capsys: pytest.CaptureFixture[str]) -> None:
    err = usage_error(capsys, "deploy", "churn", "--version", "1", "--stage", "Prod Stage")

    assert "argument --stage: String should match pattern" in err


@pytest.mark.parametrize("interval", ["nan", "inf", "-1", "0", "soon"])
def test_a_poll_interval_that_is_not_a_positive_number(capsys: pytest.CaptureFixture[str], interval: str) -> None:
    err = usage_error(capsys, "status", "churn", "--watch", "--interval", interval)

    assert "argument --interval" in err


def test_allowed_accounts_must_be_account_ids(capsys: pytest.CaptureFixture[str]) -> None:
    err = usage_error(capsys, "policy", "validate", "p.yaml", "--allowed-accounts", "123,dev")

    assert "argument --allowed-accounts: expected comma-separated 12-digit account ids" in err
