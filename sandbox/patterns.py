"""EventBridge pattern matching through arrays of objects, which moto's `EventPattern` misses.

EventBridge matches `{"detail": {"DebugRuleEvaluationStatuses": {"RuleEvaluationStatus": ["IssuesFound"]}}}` when
any element of the `DebugRuleEvaluationStatuses` array has that status (arrays are flattened, each leaf path
collecting the values of every element). moto 5.2.5 flattens nested objects only, so a pattern through an array never
matches: both the Debugger rule of template.yaml and the alarm clause of the workload forwarding rule need it. The
sandbox replaces moto's flattening with one that walks arrays; every other part of moto's matcher is kept.
"""

from __future__ import annotations

import json
from typing import Any

from moto.events.models import EventPattern

_ORIGINAL = EventPattern.__dict__["_flatten_dict"]


def _collect(result: dict[str, Any], key: str, values: list[Any]) -> None:
    existing = result.get(key)
    if isinstance(existing, list):
        existing.extend(values)
    else:
        result[key] = values


def flatten_event(node: Any, prefix: str = "", result: dict[str, Any] | None = None) -> dict[str, Any]:
    """`{"a": {"b": [{"c": 1}, {"c": 2}]}}` → `{"a.b.c": [1, 2]}`, the way EventBridge sees an event."""
    result = {} if result is None else result
    if not isinstance(node, dict):
        return result
    for key, value in node.items():
        path = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict) and value:
            flatten_event(value, path, result)
        elif isinstance(value, list) and any(isinstance(item, dict) for item in value):
            for item in value:
                if isinstance(item, dict):
                    for leaf, leaf_value in flatten_event(item, path).items():
                        _collect(result, leaf, leaf_value if isinstance(leaf_value, list) else [leaf_value])
                else:
                    _collect(result, path, [item])
        else:
            result[path] = value
    return result


class EventBridgePattern(EventPattern):
    """moto's matcher with EventBridge's array semantics, for code that matches patterns itself (tests)."""

    _flatten_dict = staticmethod(flatten_event)  # type: ignore[assignment]


def matches(pattern: dict[str, Any], event: dict[str, Any]) -> bool:
    """Whether EventBridge would deliver `event` to a rule with `pattern`."""
    return bool(EventBridgePattern.load(json.dumps(pattern)).matches_event(event))


def install() -> None:
    """Give moto's own rules (the deployed ones the sandbox routes by) the same array semantics."""
    EventPattern._flatten_dict = staticmethod(flatten_event)  # type: ignore[method-assign,assignment]


def uninstall() -> None:
    EventPattern._flatten_dict = _ORIGINAL  # type: ignore[method-assign]
