"""How the CLI shows things: rich tables for people, `--json` for scripts, a spinner while it waits."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from lifecycle.store.audit import AuditRecord
from pydantic import BaseModel
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.spinner import Spinner
from rich.table import Table
from rich.text import Text

from cli.policies import Checked
from cli.state import ExecutionView, GroupStatus, StageView


def emit_json(console: Console, value: Any) -> None:
    """One JSON document on stdout (models dumped in JSON mode)."""
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    elif isinstance(value, list):
        value = [item.model_dump(mode="json") if isinstance(item, BaseModel) else item for item in value]
    console.print_json(json.dumps(value, default=str))


def _when(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") if value else ""


def elapsed(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


# --- policy ----------------------------------------------------------------------------------------------------------
def checked(console: Console, errors: Console, items: list[Checked]) -> None:
    for item in items:
        if item.policy is not None:
            stages = ", ".join(stage.name for stage in item.policy.deployment.stages) if item.policy.deployment else ""
            console.print(
                f"[green]ok[/]    {item.path}: group {item.policy.group}" + (f", stages {stages}" if stages else "")
            )
        for line in item.errors:
            errors.print(Text(line), style="red")


# --- status ----------------------------------------------------------------------------------------------------------
def _variants(stage: StageView) -> str:
    total = sum(variant.weight for variant in stage.variants) or 1.0
    return "\n".join(
        f"{variant.name}: v{variant.version if variant.version is not None else '?'} {variant.weight / total:.0%}"
        for variant in stage.variants
    )


def stages_table(status: GroupStatus) -> Table:
    table = Table(title=f"{status.group} · stack {status.stack}", title_justify="left", expand=False)
    for column in ("stage", "account/region", "endpoint", "status", "serving", "variants", "last monitor", "cool-down"):
        table.add_column(column)
    for stage in status.stages:
        serving = f"v{stage.serving_version}" if stage.serving_version is not None else "-"
        monitor = (stage.monitor or "-") + (f"\n{_when(stage.monitor_at)}" if stage.monitor_at else "")
        cooldown = f"until {_when(stage.cooldown_until)}\n({stage.cooldown_action})" if stage.cooldown_until else "-"
        table.add_row(
            stage.name,
            f"{stage.account}\n{stage.region}",
            stage.endpoint,
            Text(stage.error, style="red") if stage.error else (stage.endpoint_status or "-"),
            serving,
            _variants(stage) or "-",
            monitor,
            cooldown,
        )
    return table


def executions_table(executions: list[ExecutionView], *, title: str) -> Table:
    table = Table(title=title, title_justify="left")
    for column in ("execution", "kind", "version", "stages", "status", "state", "started", "waiting for approval"):
        table.add_column(column)
    for view in executions:
        table.add_row(
            view.name,
            view.kind,
            f"v{view.version}" if view.version is not None else "-",
            ", ".join(view.stages) or "all",
            view.status,
            view.state or "-",
            _when(view.started),
            ", ".join(view.pending_approvals) or "-",
        )
    return table


def status_view(status: GroupStatus) -> RenderableType:
    parts: list[RenderableType] = [stages_table(status)]
    if status.deployments:
        parts.append(executions_table(status.deployments, title="deployments in flight"))
    else:
        parts.append(Text("no deployment in flight"))
    for view in status.deployments:
        for stage in view.pending_approvals:
            parts.append(
                Text(f"approval pending: {view.name} stage {stage} -> lifecycle approve|reject {view.name}", "yellow")
            )
    if status.note:
        parts.append(Text(status.note, style="dim"))
    return Group(*parts)


def watch(console: Console, read: Callable[[], GroupStatus], *, interval: float, timeout: float | None) -> GroupStatus:
    """Re-read the status every `interval` seconds while a deployment is in flight (or until `timeout`)."""
    start = time.monotonic()
    status = read()
    spinner = Spinner("dots")
    with Live(console=console, refresh_per_second=8, transient=False) as live:
        while True:
            waited = time.monotonic() - start
            states = ", ".join(f"{view.name}: {view.state or view.status}" for view in status.deployments)
            spinner.update(text=f" {elapsed(waited)} elapsed · " + (states or "idle"))
            live.update(Group(status_view(status), spinner))
            if not status.deployments or (timeout is not None and waited >= timeout):
                return status
            time.sleep(interval)
            status = read()


# --- history ---------------------------------------------------------------------------------------------------------
def history_table(group: str, records: list[AuditRecord], start: datetime) -> Table:
    table = Table(title=f"{group}: audit trail since {_when(start)} UTC", title_justify="left")
    for column in ("time (UTC)", "event", "account", "reaction", "action", "outcome", "version"):
        table.add_column(column, no_wrap=True)
    table.add_column("reason", overflow="fold")
    for entry in records:
        table.add_row(
            _when(entry.at),
            entry.event_id,
            entry.account,
            entry.reaction,
            entry.action,
            entry.outcome,
            f"v{entry.version}" if entry.version is not None else "-",
            entry.reason + (f" [{entry.resource}]" if entry.resource else ""),
        )
    return table


# --- waiting for an execution ----------------------------------------------------------------------------------------
def follow(
    console: Console, read: Callable[[], ExecutionView], *, interval: float, timeout: float | None
) -> ExecutionView:
    """Poll an execution until it ends, waits for an approval, or `timeout`: a spinner with its state and time."""
    start = time.monotonic()
    shown = 0
    with console.status("starting", spinner="dots") as status:
        while True:
            view = read()
            waited = time.monotonic() - start
            for state in view.states[shown:]:
                console.print(f"  {elapsed(waited):>7}  {state}")
            shown = len(view.states)
            status.update(f"{view.name}: {view.status} · {view.state or 'starting'} · {elapsed(waited)} elapsed")
            if view.status != "RUNNING" or view.pending_approvals or (timeout is not None and waited >= timeout):
                return view
            time.sleep(interval)
