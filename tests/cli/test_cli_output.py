"""CLI output fits an 80-column terminal and a pipe: every table renders at 80 columns with no identifier cut or
broken (a table when it fits, else records), hints and commands are never wrapped, `--since` takes seconds to weeks."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from lifecycle.store.audit import AuditRecord
from rich.console import Console, RenderableType
from rich.table import Table

from cli import render
from cli.connect import CliError
from cli.state import ExecutionView, GroupStatus, StageView, VariantView, since
from cli.teardown import Doomed

CLI = Path(__file__).resolve().parents[2] / "cli"
NOW = datetime(2026, 11, 27, 13, 19, 32, tzinfo=UTC)
# The longest identifiers SageMaker and Step Functions allow, and the ones the product makes.
ENDPOINT = "churn-prod-" + "e" * 52  # 63 characters
CONFIG = "churn-v12-prod-0123456789abcdef0123456789abcdef0123456789abcde"
EXECUTION = "churn-deploy-v12-prod-20261127T131932644-" + "x" * 39  # 80 characters
PACKAGE = "arn:aws:sagemaker:us-east-1:123456789012:model-package/churn/12"
EVENT_ID = "5b7a2a5e-1c39-4a0e-9d43-7d1f2f0e0a01"
IDENTIFIERS = ["333333333333", "444444444444", ENDPOINT, EXECUTION, PACKAGE, EVENT_ID, CONFIG, "ap-southeast-2"]


def stage(name: str, account: str, region: str, endpoint: str) -> StageView:
    return StageView(
        name=name,
        account=account,
        region=region,
        endpoint=endpoint,
        endpoint_status="InService",
        config=CONFIG,
        variants=[
            VariantView(name="AllTraffic", version=11, package_arn=PACKAGE, weight=0.9),
            VariantView(name="Canary", version=12, package_arn=PACKAGE, weight=0.1),
        ],
        monitor="CompletedWithViolations",
        monitor_at=NOW,
        cooldown_until=NOW + timedelta(hours=24),
        cooldown_action="retrain",
    )


def execution() -> ExecutionView:
    return ExecutionView(
        name=EXECUTION,
        arn=f"arn:aws:states:us-east-1:123456789012:execution:sagemaker-lifecycle-deploy-model:{EXECUTION}",
        kind="deploy",
        group="churn",
        version=12,
        stages=["prod"],
        status="RUNNING",
        state="Wait For Approval",
        started=NOW,
        pending_approvals=["prod"],
    )


def status() -> GroupStatus:
    return GroupStatus(
        group="churn",
        stack="sagemaker-lifecycle",
        stages=[
            stage("staging", "333333333333", "ap-southeast-2", "churn-staging"),
            stage("prod", "444444444444", "us-east-1", ENDPOINT),
        ],
        deployments=[execution()],
    )


def history() -> list[AuditRecord]:
    return [
        AuditRecord(
            group="churn",
            action="register-model-package",
            outcome="done",
            reason="validation:auc 0.91 >= 0.8",
            event_id=EVENT_ID,
            reaction="training-state",
            account="123456789012",
            region="us-east-1",
            resource=PACKAGE,
            version=12,
            at=NOW,
        )
    ]


def doomed() -> list[Doomed]:
    return [
        Doomed(kind=kind, name=name, account="444444444444", region="ap-southeast-2", stages=["prod"])
        for kind, name in (
            ("monitoring-schedule", f"{ENDPOINT}-dq"),
            ("endpoint", ENDPOINT),
            ("endpoint-config", CONFIG),
        )
    ]


# Every view of the CLI that holds a table, as the commands render it.
VIEWS: dict[str, Callable[[Console], list[RenderableType]]] = {
    "status": lambda console: render.status_view(console, status()),
    "history": lambda console: [render.fitted(console, render.history_grid("churn", history(), NOW))],
    "executions": lambda console: [render.fitted(console, render.executions_grid([execution()], title="in flight"))],
    "teardown": lambda console: [render.fitted(console, render.teardown_grid("churn", doomed()))],
}


def rendered(view: str, width: int) -> str:
    console = Console(file=io.StringIO(), width=width, force_terminal=False, color_system=None)
    render.show(console, VIEWS[view](console))
    return console.file.getvalue()  # type: ignore[attr-defined]


@pytest.mark.parametrize("view", list(VIEWS))
def test_every_table_at_80_columns_keeps_every_identifier_whole(view: str) -> None:
    text = rendered(view, 80)

    assert "…" not in text
    shown = [identifier for identifier in IDENTIFIERS if identifier in text]
    for identifier in shown:  # on one line: copyable, never folded or cut
        assert any(identifier in line for line in text.splitlines()), identifier
    assert shown, text


def test_at_80_columns_the_status_holds_everything_the_wide_table_shows() -> None:
    text = rendered("status", 80)

    for identifier in ["333333333333", "ap-southeast-2", ENDPOINT, "churn-staging", EXECUTION, "Wait For Approval"]:
        assert identifier in text
    assert "AllTraffic: v11 90%" in text and "Canary: v12 10%" in text
    assert f"\n  lifecycle approve {EXECUTION}\n  lifecycle reject {EXECUTION} --reason '<why>'\n" in text


def test_a_wide_terminal_gets_tables_and_a_narrow_one_gets_records() -> None:
    wide, narrow = rendered("history", 250), rendered("history", 80)

    assert "┃ time (UTC)" in wide
    assert "┃" not in narrow
    assert f"  event     {EVENT_ID}\n" in narrow
    assert f"  reason    validation:auc 0.91 >= 0.8 [{PACKAGE}]\n" in narrow


def test_every_table_of_the_cli_is_built_by_fitted() -> None:
    # A table built anywhere else would not switch to records when it cannot fit.
    built = {path.name: len(re.findall(r"\bTable\(", path.read_text())) for path in CLI.glob("*.py")}

    assert {name: count for name, count in built.items() if count} == {"render.py": 1}
    source = (CLI / "render.py").read_text()
    fitted = source[source.index("def fitted(") : source.index("\ndef ", source.index("def fitted("))]
    assert "Table(" in fitted


def test_a_command_in_a_hint_is_never_wrapped() -> None:
    console = Console(file=io.StringIO(), width=80, force_terminal=False, color_system=None)

    render.line(console, f"waiting for approval of prod: lifecycle approve {EXECUTION}")

    assert console.file.getvalue() == f"waiting for approval of prod: lifecycle approve {EXECUTION}\n"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("text", "before"),
    [
        ("15s", timedelta(seconds=15)),
        ("90m", timedelta(minutes=90)),
        ("12h", timedelta(hours=12)),
        ("7d", timedelta(days=7)),
        ("2w", timedelta(weeks=2)),
    ],
)
def test_since_takes_seconds_to_weeks(text: str, before: timedelta) -> None:
    assert since(text, NOW) == NOW - before


def test_since_takes_an_iso_date_in_utc_unless_it_says() -> None:
    assert since("2026-11-01", NOW) == datetime(2026, 11, 1, tzinfo=UTC)
    assert since("2026-11-01T10:00:00+01:00", NOW) == datetime(2026, 11, 1, 9, tzinfo=UTC)


@pytest.mark.parametrize("text", ["15", "15y", "-5m", "1.5h"])
def test_since_refuses_what_is_neither(text: str) -> None:
    with pytest.raises(CliError, match="expected a duration like 15s, 90m, 12h, 7d, 2w or an ISO date"):
        since(text, NOW)


def test_a_console_wide_enough_gets_the_table() -> None:
    grid = render.history_grid("churn", history(), NOW)

    assert isinstance(render.fitted(Console(width=250), grid), Table)
    assert not isinstance(render.fitted(Console(width=80), grid), Table)
