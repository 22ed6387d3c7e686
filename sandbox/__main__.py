"""`python -m sandbox demo [--verbose] | replay EVENT.json [--policy FILE ...] [--account ID ...] [--json] [--verbose] |
serve [--port N] [--scenario] [--verbose]`."""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from sandbox.timeline import Timeline, printer

EXIT_BAD_INPUT = 2


def _account_id(text: str) -> str:
    if not re.fullmatch(r"\d{12}", text):
        raise argparse.ArgumentTypeError(f"expected a 12-digit account id, got {text!r}")
    return text


def _verbose(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--verbose",
        "-v",
        action="store_true",
        help="show every line (events, rules, invocations, state machine steps, write calls, notification texts); "
        "default: one line per decision",
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    replay = commands.add_parser("replay", help="deliver one event (e.g. events/training-completed.json)")
    replay.add_argument("event", type=Path, help="an EventBridge event as JSON")
    replay.add_argument(
        "--policy",
        type=Path,
        action="append",
        default=None,
        help="policy file (YAML/JSON) to publish; repeatable; default: every sandbox/policies/*.yaml",
    )
    replay.add_argument(
        "--account",
        action="append",
        default=[],
        type=_account_id,
        help="also deploy the workload stack in this account (for a real event from it); repeatable",
    )
    replay.add_argument("--json", action="store_true", help="print one JSON document instead of the timeline")
    _verbose(replay)
    demo = commands.add_parser("demo", help="run the whole lifecycle scenario with the sample policies")
    _verbose(demo)
    serve = commands.add_parser("serve", help="run the sandbox as a moto server on 127.0.0.1 for other processes")
    serve.add_argument("--port", type=int, default=None, help="default: a free port")
    serve.add_argument(
        "--scenario",
        action="store_true",
        help="play the demo's scenario first: group churn with approved versions, endpoints, history (about 20 s)",
    )
    _verbose(serve)
    return parser


def _replay(args: argparse.Namespace) -> int:
    from sandbox.replay import InputError, read_event, read_policy, replay, sample_policies

    try:
        event = read_event(args.event)
        policies = [read_policy(path) for path in args.policy or sample_policies()]
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    timeline = Timeline(echo=None if args.json else printer(), verbose=args.verbose)
    report = replay(event, policies, timeline, accounts=tuple(args.account))
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"\noutcome: {report['outcome']}" + (f" ({report['reason']})" if report["reason"] else ""))
        print(f"rules: {', '.join(report['rules']) or 'none'}; {len(report['actions'])} write calls")
        for sent in report["notifications"]:
            print(f"\nnotification to {sent['topic']}: {sent['subject']}")
            print("\n".join(f"  {text}" for text in sent["message"].splitlines()))
    return 0


def _demo(args: argparse.Namespace) -> int:
    from sandbox.scenario import run_demo

    return run_demo(printer(), verbose=args.verbose)


def _serve(args: argparse.Namespace) -> int:
    from sandbox.server import serve

    return serve(args.port, printer(), scenario=args.scenario, verbose=args.verbose)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "replay":
        return _replay(args)
    if args.command == "demo":
        return _demo(args)
    return _serve(args)


if __name__ == "__main__":
    sys.exit(main())
