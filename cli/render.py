"""How the CLI shows things: rich tables for people, `--json` for scripts, a spinner while it waits.

Everything fits 80 columns and a pipe (rich renders 80 columns when stdout is not a terminal): a table whose
columns cannot fit without cutting an identifier is shown as records (one block per row, `column  value` lines),
and prose, hints and commands are printed without wrapping (the terminal wraps them; a copied command stays whole).
Every table goes through `fitted`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from lifecycle.store.audit import AuditRecord
from pydantic import BaseModel
from rich.console import Console, RenderableType
from rich.live import Live
from rich.measure import Measurement
from rich.spinner import Spinner
from rich.table import Table
from rich.text import Text

from cli.policies import Checked
from cli.state import ExecutionView, GroupStatus, StageView
from cli.teardown import Doomed

Cell = str | Text
_UNBOUNDED = 100_000


def emit_json(console: Console, value: Any) -> None:
    """One JSON document on stdout (models dumped in JSON mode)."""
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    elif isinstance(value, list):
        value = [item.model_dump(mode="json") if isinstance(item, BaseModel) else item for item in value]
    console.print_json(json.dumps(value, default=str))


def line(console: Console, text: str, style: str = "") -> None:
    """One line of prose, a hint or a command: never wrapped nor cut by rich, never read as markup."""
    console.print(Text(text, style=style), soft_wrap=True)


def document(console: Console, text: str) -> None:
    """A document (JSON, YAML, Markdown) exactly as it is: no wrapping, markup, highlighting or emoji codes."""
    console.print(Text(text, end=""), soft_wrap=True, end="")


def show(console: Console, parts: Sequence[RenderableType]) -> None:
    """Print a view: tables as tables, every other part (records, notes) unwrapped."""
    for part in parts:
        console.print(part, soft_wrap=not isinstance(part, Table))


# --- tables that fit -------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Grid:
    """What a table shows: a title, the column names, and rows of cells (a cell may hold several lines)."""

    title: str
    columns: tuple[str, ...]
    rows: list[tuple[Cell, ...]]


def _flat(cell: Cell) -> Text:
    text = cell if isinstance(cell, Text) else Text(cell)
    return Text(" ").join(text.split("\n"))


def records(grid: Grid) -> Text:
    """The grid as one block per row: the first cell as its heading, then `column  value` lines."""
    width = max(len(column) for column in grid.columns[1:]) if len(grid.columns) > 1 else 0
    lines = [Text(grid.title, style="italic")]
    for row in grid.rows:
        lines.append(Text.assemble(_flat(row[0]), style="bold"))
        lines += [
            Text.assemble(f"  {column:<{width}}  ", _flat(cell))
            for column, cell in zip(grid.columns[1:], row[1:], strict=True)
        ]
    return Text("\n").join(lines)


def fitted(console: Console, grid: Grid) -> RenderableType:
    """A table when every column fits the console without cutting a word (an identifier), else `records`."""
    table = Table(title=grid.title, title_justify="left")
    for column in grid.columns:
        table.add_column(column)
    for row in grid.rows:
        table.add_row(*row)
    unbounded = console.options.update_width(_UNBOUNDED)  # a measurement is capped at the width it is given
    if Measurement.get(console, unbounded, table).minimum <= console.width:
        return table
    return records(grid)


def _when(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") if value else ""


def elapsed(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


# --- policy ---------------------------------------------------------------------------------------------------------
def checked(console: Console, errors: Console, items: list[Checked]) -> None:
    for item in items:
        if item.policy is not None:
            stages = ", ".join(stage.name for stage in item.policy.deployment.stages) if item.policy.deployment else ""
            console.print(
                Text.assemble(("ok", "green"), f"    {item.path}: group {item.policy.group}")
                + Text(f", stages {stages}" if stages else ""),
                soft_wrap=True,
            )
        for note in item.deprecations:
            line(errors, f"deprecated: {note}", style="yellow")
        for error in item.errors:
            line(errors, error, style="red")


# --- status ----------------------------------------------------------------------------------------------------------
def _variants(stage: StageView) -> str:
    total = sum(variant.weight for variant in stage.variants) or 1.0
    return "\n".join(
        f"{variant.name}: v{variant.version if variant.version is not None else '?'} {variant.weight / total:.0%}"
        for variant in stage.variants
    )


def stages_grid(status: GroupStatus) -> Grid:
    rows: list[tuple[Cell, ...]] = []
    for stage in status.stages:
        serving = f"v{stage.serving_version}" if stage.serving_version is not None else "-"
        monitor = (stage.monitor or "-") + (f"\n{_when(stage.monitor_at)}" if stage.monitor_at else "")
        cooldown = f"until {_when(stage.cooldown_until)}\n({stage.cooldown_action})" if stage.cooldown_until else "-"
        rows.append(
            (
                stage.name,
                f"{stage.account}\n{stage.region}",
                stage.endpoint,
                Text(stage.error, style="red") if stage.error else (stage.endpoint_status or "-"),
                serving,
                _variants(stage) or "-",
                monitor,
                cooldown,
            )
        )
    columns = ("stage", "account/region", "endpoint", "status", "serving", "variants", "last monitor", "cool-down")
    return Grid(f"{status.group} · stack {status.stack}", columns, rows)


def executions_grid(executions: list[ExecutionView], *, title: str) -> Grid:
    rows: list[tuple[Cell, ...]] = [
        (
            view.name,
            view.kind,
            f"v{view.version}" if view.version is not None else "-",
            ", ".join(view.stages) or "all",
            view.status,
            view.state or "-",
            _when(view.started),
            ", ".join(view.pending_approvals) or "-",
        )
        for view in executions
    ]
    columns = ("execution", "kind", "version", "stages", "status", "state", "started", "waiting for approval")
    return Grid(title, columns, rows)


def status_view(console: Console, status: GroupStatus) -> list[RenderableType]:
    parts: list[RenderableType] = [fitted(console, stages_grid(status))]
    if status.deployments:
        parts.append(fitted(console, executions_grid(status.deployments, title="deployments in flight")))
    else:
        parts.append(Text("no deployment in flight"))
    for view in status.deployments:
        for stage in view.pending_approvals:
            parts.append(Text(f"approval pending: {view.name} stage {stage}", "yellow"))
            parts.append(Text(f"  lifecycle approve {view.name}"))
            parts.append(Text(f"  lifecycle reject {view.name} --reason '<why>'"))
    if status.note:
        parts.append(Text(status.note, style="dim"))
    return parts


def watch(console: Console, read: Callable[[], GroupStatus], *, interval: float, timeout: float | None) -> GroupStatus:
    """Re-read the status every `interval` seconds while a deployment is in flight (or until `timeout`), printing it
    again whenever it changes; the spinner below says what runs and for how long."""
    start = time.monotonic()
    status = read()
    spinner = Spinner("dots")
    shown: dict[str, Any] | None = None
    with Live(spinner, console=console, refresh_per_second=8) as live:
        while True:
            waited = time.monotonic() - start
            current = status.model_dump(mode="json")
            if current != shown:
                show(live.console, status_view(live.console, status))
                shown = current
            states = ", ".join(f"{view.name}: {view.state or view.status}" for view in status.deployments)
            spinner.update(text=f" {elapsed(waited)} elapsed · " + (states or "idle"))
            if not status.deployments or (timeout is not None and waited >= timeout):
                return status
            time.sleep(interval)
            status = read()


# --- history ---------------------------------------------------------------------------------------------------------
def history_grid(group: str, records: list[AuditRecord], start: datetime) -> Grid:
    rows: list[tuple[Cell, ...]] = [
        (
            _when(entry.at),
            entry.event_id,
            entry.account,
            entry.reaction,
            entry.action,
            entry.outcome,
            f"v{entry.version}" if entry.version is not None else "-",
            entry.reason + (f" [{entry.resource}]" if entry.resource else ""),
        )
        for entry in records
    ]
    columns = ("time (UTC)", "event", "account", "reaction", "action", "outcome", "version", "reason")
    return Grid(f"{group}: audit trail since {_when(start)} UTC", columns, rows)


# --- teardown --------------------------------------------------------------------------------------------------------
def teardown_grid(where: str, doomed: list[Doomed]) -> Grid:
    rows: list[tuple[Cell, ...]] = [
        (item.name, item.kind, f"{item.account}\n{item.region}", ", ".join(item.stages)) for item in doomed
    ]
    return Grid(f"to remove for {where}, in this order", ("resource", "kind", "account/region", "stages"), rows)


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
                line(console, f"  {elapsed(waited):>7}  {state}")
            shown = len(view.states)
            status.update(f"{view.name}: {view.status} · {view.state or 'starting'} · {elapsed(waited)} elapsed")
            if view.status != "RUNNING" or view.pending_approvals or (timeout is not None and waited >= timeout):
                return view
            time.sleep(interval)
