"""`lifecycle`: operate the SageMaker lifecycle automation from a terminal.

Policies, status, history, approvals and manual deployments of model package groups, against the automation
stack in AWS (the default boto3 session, or --profile/--region) or the local sandbox (--sandbox).
"""

from __future__ import annotations

import argparse
import math
import re
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from botocore.exceptions import BotoCoreError
from lifecycle.config import Settings
from lifecycle.deploy.inputs import DeployInput, Reason, StageName
from lifecycle.errors import LifecycleError
from lifecycle.policy import GroupName
from pydantic import TypeAdapter, ValidationError
from rich.console import Console
from rich.prompt import Confirm

from cli import dlq, doctor, policies, reference, render, runs, stack, state, teardown
from cli.connect import DEFAULT_STACK, OPERATOR_ROLE, SANDBOX_URL_VARIABLE, CliError, Target, connected, discover

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2  # argparse's own exit code for bad usage: bad input never reaches AWS, and never shows a traceback
EXIT_INTERRUPTED = 130
_STAGES = DeployInput.model_fields["stages"]
_DEPLOY_STAGES: TypeAdapter[list[str]] = TypeAdapter(Annotated[_STAGES.annotation, _STAGES])


# --- argument types: the layer's own models bound what a person may type ---------------------------------------------
def _validated(adapter: TypeAdapter[Any]) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        try:
            return adapter.validate_python(text)
        except ValidationError as exc:
            raise argparse.ArgumentTypeError(str(exc.errors(include_url=False)[0]["msg"])) from exc

    return parse


def _since(text: str) -> datetime:
    try:
        return state.since(text, datetime.now(UTC))
    except CliError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from exc
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a positive number of seconds")
    return value


def _account_ids(text: str) -> frozenset[str]:
    ids = [part.strip() for part in text.split(",") if part.strip()]
    bad = [part for part in ids if not re.fullmatch(r"\d{12}", part)]
    if bad or not ids:
        raise argparse.ArgumentTypeError(f"expected comma-separated 12-digit account ids, got {text!r}")
    return frozenset(ids)


def _account_id(text: str) -> str:
    if not re.fullmatch(r"\d{12}", text):
        raise argparse.ArgumentTypeError(f"expected a 12-digit account id, got {text!r}")
    return text


def _common() -> argparse.ArgumentParser:
    """The options every command that talks to AWS takes."""
    common = argparse.ArgumentParser(add_help=False)
    where = common.add_argument_group("where")
    where.add_argument("--stack", default=DEFAULT_STACK, help=f"automation stack name (default: {DEFAULT_STACK})")
    where.add_argument("--profile", help="AWS profile (default: the default boto3 session)")
    where.add_argument("--region", help="AWS region of the stack (default: the session's region)")
    where.add_argument(
        "--sandbox",
        action="store_true",
        help="act on the local sandbox (`python -m sandbox serve`) with dummy credentials; its URL from "
        f"--endpoint-url, ${SANDBOX_URL_VARIABLE} or $AWS_ENDPOINT_URL",
    )
    where.add_argument("--endpoint-url", help="send every AWS call to this endpoint (a sandbox or another emulator)")
    where.add_argument(
        "--role-name",
        help=f"read-only role to assume in workload accounts (default: {OPERATOR_ROLE}, the workload stack's "
        "OperatorRoleName); never the automation's execution role",
    )
    where.add_argument("--external-id", help="ExternalId that role requires, if its trust asks for one")
    return common


def _json_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")


def _wait_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--interval", type=_seconds, default=5.0, help="seconds between polls (default: 5)")
    parser.add_argument("--timeout", type=_seconds, default=None, help="stop waiting after this many seconds")


def parser() -> argparse.ArgumentParser:
    common = _common()
    top = argparse.ArgumentParser(
        prog="lifecycle", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    policy = commands.add_parser("policy", help="validate or publish policy files")
    policy_commands = policy.add_subparsers(dest="policy_command", required=True, metavar="ACTION")
    validate = policy_commands.add_parser(
        "validate",
        parents=[common],
        help="check policy files (YAML or JSON) against the policy model, SSM's size limit and the stack's allow-list",
        description="Offline with --allowed-accounts (or without it: accounts are then not checked); with --stack, "
        "--sandbox or --profile the allow-list and partition come from the deployed stack.",
    )
    validate.add_argument("files", nargs="+", type=Path, metavar="FILE")
    validate.add_argument(
        "--allowed-accounts",
        type=_account_ids,
        help="the accounts the stack trusts (its AllowedAccountIds and its own account), comma-separated; offline",
    )
    validate.add_argument("--partition", default="aws", help="the stack's partition, offline (default: aws)")
    validate.set_defaults(stack=None)
    _json_flag(validate)
    publish = policy_commands.add_parser(
        "publish", parents=[common], help="validate, show the diff against SSM, and write /<stack>/policies/<group>"
    )
    publish.add_argument("files", nargs="+", type=Path, metavar="FILE")
    publish.add_argument("--yes", "-y", action="store_true", help="overwrite without asking")
    schema = policy_commands.add_parser(
        "schema", help="print the JSON Schema of a policy document (docs/policy.schema.json), for editors and checks"
    )
    schema.add_argument("--markdown", action="store_true", help="print the table of every field instead (README)")
    init = policy_commands.add_parser("init", help="write a commented starter policy for a group; it validates")
    init.add_argument("group", metavar="GROUP", type=_validated(TypeAdapter(GroupName)), help="model package group")
    init.add_argument("--output", "-o", help="where to write it (default: policies/GROUP.yaml; - for stdout)")

    status = commands.add_parser(
        "status",
        parents=[common],
        help="per stage: the version serving, variants and weights, last monitor run, cool-down; deployments in flight",
    )
    status.add_argument("group", metavar="GROUP", help="model package group")
    status.add_argument("--watch", action="store_true", help="refresh while a deployment of the group is in flight")
    _wait_flags(status)
    _json_flag(status)

    history = commands.add_parser("history", parents=[common], help="the audit trail of a group as a timeline")
    history.add_argument("group", metavar="GROUP", help="model package group")
    history.add_argument(
        "--since", type=_since, default="7d", help="15s, 90m, 12h, 7d, 2w or an ISO date (default: 7d)"
    )
    _json_flag(history)

    for verb, what in (("approve", "approve"), ("reject", "reject")):
        gate = commands.add_parser(verb, parents=[common], help=f"{what} the deployment waiting at its approval gate")
        gate.add_argument("target", metavar="EXECUTION_OR_GROUP", help="execution name or ARN, or a group")
        gate.add_argument("--stage", help="the stage whose gate to answer (when several wait)")
        gate.add_argument(
            "--reason",
            type=_validated(TypeAdapter(Reason)),
            required=verb == "reject",
            default="",
            help="why (recorded with the answer and told to people)" + ("; required" if verb == "reject" else ""),
        )
        gate.add_argument("--by", help="who answers (default: your IAM identity)")
        _json_flag(gate)

    _shadow_commands(commands, common)

    for verb, what in (
        ("deploy", "deploy an approved version to stages"),
        ("rollback", "put a stage back on a version"),
    ):
        run = commands.add_parser(verb, parents=[common], help=f"{what} (starts the DeployModel state machine)")
        run.add_argument("group", metavar="GROUP", help="model package group")
        run.add_argument("--version", type=int, required=True, help="model package version (must be Approved)")
        run.add_argument(
            "--stage",
            required=True,
            type=_validated(TypeAdapter(StageName)),
            action="append" if verb == "deploy" else "store",
            help="stage name from the policy" + ("; repeatable" if verb == "deploy" else ""),
        )
        run.add_argument(
            "--reason", type=_validated(TypeAdapter(Reason)), default="", help="why (recorded in the audit trail)"
        )
        run.add_argument("--wait", action="store_true", help="follow the execution until it ends or waits for approval")
        _wait_flags(run)
        _json_flag(run)

    _operate_commands(commands, common)
    teardown_ = commands.add_parser(
        "teardown",
        parents=[common],
        help="remove what the product created for a group in its stages' accounts: monitoring schedules, endpoints, "
        "endpoint configs, models (dry run first)",
        description=teardown.__doc__,
    )
    teardown_.add_argument("group", metavar="GROUP", help="model package group")
    teardown_.add_argument("--stage", type=_validated(TypeAdapter(StageName)), help="only this stage of the policy")
    teardown_.add_argument("--dry-run", action="store_true", help="show what would be removed, remove nothing")
    teardown_.add_argument("--yes", "-y", action="store_true", help="remove without asking")
    _json_flag(teardown_)
    return top


def _shadow_commands(commands: Any, common: argparse.ArgumentParser) -> None:
    """`promote` and `end-shadow`."""
    for verb, what in (
        ("promote", "give a stage's shadow (or A/B challenger) all the traffic, with a guarded update"),
        ("end-shadow", "end a stage's shadow test: production serves on alone"),
    ):
        shadow = commands.add_parser(verb, parents=[common], help=what)
        shadow.add_argument("group", metavar="GROUP", help="model package group")
        shadow.add_argument("--stage", required=True, type=_validated(TypeAdapter(StageName)), help="stage name")
        shadow.add_argument(
            "--reason",
            type=_validated(TypeAdapter(Reason)),
            required=verb == "end-shadow",
            default="",
            help="why (recorded and told to people)" + ("; required" if verb == "end-shadow" else ""),
        )
        shadow.add_argument("--by", help="who decides (default: your IAM identity)")
        _json_flag(shadow)


def _operate_commands(commands: Any, common: argparse.ArgumentParser) -> None:
    """`dlq list|show|redrive` and `doctor`."""
    dead = commands.add_parser("dlq", help="the dead-letter queue: what failed, when, why; redrive it")
    dead_commands = dead.add_subparsers(dest="dlq_command", required=True, metavar="ACTION")
    _json_flag(dead_commands.add_parser("list", parents=[common], help="every dead letter, oldest first"))
    show = dead_commands.add_parser("show", parents=[common], help="one dead letter, with its original event")
    show.add_argument("id", metavar="ID", help="message id (or its first 8 characters or more)")
    _json_flag(show)
    redrive = dead_commands.add_parser(
        "redrive",
        parents=[common],
        help="deliver the original events again to what failed; a message is deleted once its event was accepted",
    )
    redrive.add_argument("ids", nargs="*", metavar="ID", help="message ids (or their first 8 characters or more)")
    redrive.add_argument("--all", action="store_true", help="every dead letter of the queue")
    redrive.add_argument("--dry-run", action="store_true", help="say where each event would go; change nothing")
    _json_flag(redrive)

    check = commands.add_parser(
        "doctor",
        parents=[common],
        help="check a live installation end to end: one line per check, with a fix for each failure",
    )
    check.add_argument(
        "--account",
        action="append",
        type=_account_id,
        help="workload account to check (repeatable; default: every account of the stack's allow-list)",
    )
    _json_flag(check)


def _usage_problem(args: argparse.Namespace) -> str | None:
    """What argparse cannot check alone: how many stages one deployment may name."""
    if args.command == "deploy":
        try:
            _DEPLOY_STAGES.validate_python(args.stage)
        except ValidationError as exc:
            return f"argument --stage: {exc.errors(include_url=False)[0]['msg']}"
    if args.command == "dlq" and args.dlq_command == "redrive" and bool(args.ids) == args.all:
        return "dlq redrive: give the message ids to redrive, or --all (not both)"
    return None


def _target(args: argparse.Namespace) -> Target:
    return Target(
        stack=args.stack or DEFAULT_STACK,
        profile=args.profile,
        region=args.region,
        endpoint_url=args.endpoint_url,
        sandbox=args.sandbox,
        role_name=args.role_name,
        external_id=args.external_id,
    )


def _names_a_stack(args: argparse.Namespace) -> bool:
    return bool(args.stack or args.sandbox or args.profile or args.endpoint_url)


def _validate(args: argparse.Namespace, out: Console, err: Console) -> int:
    installation = None
    if args.allowed_accounts is not None:
        installation = policies.Installation(args.allowed_accounts, args.partition)
    elif _names_a_stack(args):
        with connected(_target(args)):
            installation = policies.Installation.of(discover(_target(args)))
    else:
        render.line(err, "note: accounts not checked against an allow-list (pass --allowed-accounts, or --stack)")
    items = policies.check_all(args.files, installation)
    if args.json:
        render.emit_json(out, [item.summary() for item in items])
    else:
        render.checked(out, err, items)
    return EXIT_OK if all(item.valid for item in items) else EXIT_FAILED


def _publish(args: argparse.Namespace, settings: Settings, out: Console, err: Console) -> int:
    items = policies.check_all(args.files, policies.Installation.of(settings))
    if not all(item.valid for item in items):
        render.checked(out, err, items)
        render.line(err, "nothing published: fix the errors above", style="red")
        return EXIT_FAILED
    failed = False
    for change in policies.plan_publish(settings, items):
        if change.unchanged:
            render.line(out, f"unchanged {change.parameter} ({change.path})")
            continue
        out.print(change.diff(), markup=False, highlight=False, end="")
        if change.current is not None and not args.yes:
            if not sys.stdin.isatty():
                render.line(err, f"not published {change.parameter}: it exists; pass --yes to overwrite", style="red")
                failed = True
                continue
            if not Confirm.ask(f"overwrite {change.parameter}?", console=out, default=False):
                render.line(out, f"skipped {change.parameter}")
                failed = True
                continue
        policies.publish(settings, change)
        render.line(out, f"published {change.parameter} ({change.tier} tier, {len(change.value.encode())} bytes)")
    return EXIT_FAILED if failed else EXIT_OK


def _status(args: argparse.Namespace, settings: Settings, out: Console) -> int:
    if args.watch and not args.json:
        render.watch(
            out, lambda: state.group_status(settings, args.group), interval=args.interval, timeout=args.timeout
        )
        return EXIT_OK
    status = state.group_status(settings, args.group)
    if args.json:
        render.emit_json(out, status)
    else:
        render.show(out, render.status_view(out, status))
    return EXIT_OK


def _history(args: argparse.Namespace, settings: Settings, out: Console) -> int:
    start = args.since
    records = state.history(settings, args.group, start)
    if args.json:
        render.emit_json(out, records)
    elif records:
        render.show(out, [render.fitted(out, render.history_grid(args.group, records, start))])
    else:
        render.line(out, f"no audit records of {args.group} since {start:%Y-%m-%d %H:%M} UTC")
    return EXIT_OK


def _gate(args: argparse.Namespace, settings: Settings, out: Console) -> int:
    gate = runs.pending_gate(settings, args.target, args.stage)
    approve = args.command == "approve"
    by = args.by or runs.caller(settings)
    runs.answer(settings, gate, approve=approve, by=by, reason=args.reason)
    verb = "approved" if approve else "rejected"
    if args.json:
        render.emit_json(out, {"execution": gate.execution.arn, "stage": gate.stage, "answer": verb, "by": by})
    else:
        version = f"v{gate.execution.version}" if gate.execution.version else gate.execution.group
        why = f": {args.reason}" if args.reason else ""
        then = "it goes on" if approve else "it restores what it changed and stops"
        render.line(out, f"{gate.stage}: {version} {verb} by {by}{why}; {then} (execution {gate.execution.name})")
    return EXIT_OK


def _shadow(args: argparse.Namespace, settings: Settings, out: Console) -> int:
    promote = args.command == "promote"
    by = args.by or runs.caller(settings)
    execution, answered = runs.shadow_verdict(
        settings, args.group, args.stage, promote=promote, by=by, reason=args.reason
    )
    if args.json:
        render.emit_json(
            out, {"execution": execution, "stage": args.stage, "answered": answered, "promote": promote, "by": by}
        )
    elif answered:
        then = "it ends the shadow, then deploys it guarded" if promote else "it ends the shadow"
        render.line(out, f"{args.stage}: shadow {'promoted' if promote else 'ended'} by {by}; {then} ({execution})")
    else:
        render.line(out, f"started {execution}")
    return EXIT_OK


def _run(args: argparse.Namespace, settings: Settings, out: Console, err: Console) -> int:
    if args.command == "deploy":
        started = runs.deploy(settings, args.group, args.version, args.stage, args.reason)
    else:
        started = runs.rollback(settings, args.group, args.version, args.stage, args.reason)
    if not args.wait:
        if args.json:
            render.emit_json(out, started)
        else:
            what = "started" if started.started else "already running"
            render.line(out, f"{what} {started.execution_arn}")
        return EXIT_OK
    progress = out if not args.json else err
    render.line(progress, f"following {started.execution_arn}")
    view = render.follow(
        progress, lambda: state.execution(settings, started.execution_arn), interval=args.interval, timeout=args.timeout
    )
    if args.json:
        render.emit_json(out, view)
    elif view.pending_approvals:
        render.line(out, f"waiting for approval of {', '.join(view.pending_approvals)}: lifecycle approve {view.name}")
    else:
        render.line(out, f"{view.name}: {view.status}" + (f" ({view.error})" if view.error else ""))
    return EXIT_OK if view.status in ("RUNNING", "SUCCEEDED") else EXIT_FAILED


def _schema(args: argparse.Namespace, out: Console) -> int:
    text = reference.reference_table() if args.markdown else reference.schema_text()
    render.document(out, text)
    return EXIT_OK


def _init(args: argparse.Namespace, out: Console) -> int:
    if args.output == "-":
        render.document(out, reference.starter(args.group, None))
        return EXIT_OK
    path = Path(args.output or f"policies/{args.group}.yaml")
    if path.exists():
        raise CliError(f"{path} exists: choose another --output, or remove it first")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(reference.starter(args.group, path))
    render.line(out, f"wrote {path}: replace its example accounts, roles, images and buckets, then check it:")
    render.line(out, f"  lifecycle policy validate {path} --stack {DEFAULT_STACK}")
    return EXIT_OK


def _teardown(args: argparse.Namespace, settings: Settings, out: Console, err: Console) -> int:
    access = teardown.Access(settings, args.group, args.role_name or teardown.ADMIN_ROLE, args.external_id)
    doomed = teardown.plan(access, args.stage)
    if args.json and args.dry_run:
        render.emit_json(out, doomed)
        return EXIT_OK
    where = f"stage {args.stage} of {args.group}" if args.stage else args.group
    if not doomed:
        render.line(out if not args.json else err, f"nothing of {where} to remove: no resource carries its tag")
        if args.json:
            render.emit_json(out, [])
        return EXIT_OK
    if not args.json:
        render.show(out, [render.fitted(out, render.teardown_grid(where, doomed))])
    again = f"lifecycle teardown {args.group}" + (f" --stage {args.stage}" if args.stage else "")
    if args.dry_run:
        render.line(out, f"dry run: nothing removed. To remove these {len(doomed)}: {again}")
        return EXIT_OK
    if not args.yes:
        if not sys.stdin.isatty():
            render.line(err, f"nothing removed: confirm with --yes ({again} --yes)", style="red")
            return EXIT_FAILED
        if not Confirm.ask(f"remove these {len(doomed)} resources of {where}?", console=err, default=False):
            render.line(err, "nothing removed")
            return EXIT_FAILED
    removed = teardown.remove(access, doomed)
    if args.json:
        render.emit_json(out, removed)
        return EXIT_OK
    for item in removed:
        found = item.resource
        render.line(out, f"{item.outcome} {found.kind} {found.name} ({found.account} {found.region})")
    return EXIT_OK


def run(args: argparse.Namespace, out: Console, err: Console) -> int:
    """Run one parsed command."""
    if args.command == "policy" and args.policy_command == "validate":
        return _validate(args, out, err)
    if args.command == "policy" and args.policy_command == "schema":
        return _schema(args, out)
    if args.command == "policy" and args.policy_command == "init":
        return _init(args, out)
    with connected(_target(args)):
        settings = discover(_target(args))
        if args.command == "policy":
            return _publish(args, settings, out, err)
        if args.command == "status":
            return _status(args, settings, out)
        if args.command == "history":
            return _history(args, settings, out)
        if args.command in ("approve", "reject"):
            return _gate(args, settings, out)
        if args.command in ("promote", "end-shadow"):
            return _shadow(args, settings, out)
        if args.command == "doctor":
            return EXIT_OK if doctor.command(args, settings, stack.describe(settings), out) else EXIT_FAILED
        if args.command == "dlq":
            return EXIT_OK if dlq.command(args, settings, stack.describe(settings), out) else EXIT_FAILED
        if args.command == "teardown":
            return _teardown(args, settings, out, err)
        return _run(args, settings, out, err)


def main(argv: list[str] | None = None) -> int:
    """The `lifecycle` console script."""
    top = parser()
    args = top.parse_args(argv)
    problem = _usage_problem(args)
    if problem:
        top.error(problem)  # exits with EXIT_USAGE
    out, err = Console(), Console(stderr=True)
    try:
        return run(args, out, err)
    except (CliError, LifecycleError, BotoCoreError) as exc:
        render.line(err, f"error: {exc}", style="red")
        return EXIT_FAILED
    except KeyboardInterrupt:
        render.line(err, "interrupted")
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
