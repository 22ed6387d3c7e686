"""Strict request validation: every constraint botocore's service model states, not only the ones botocore checks.

botocore's `ParamValidator` checks types, required members and `min`; SageMaker also refuses what breaks a
member's `pattern`, `max` or `enum` (API reference, "Common Errors": ValidationException, "The input fails to
satisfy the constraints specified by an AWS service"). The model states these on each shape
(`shape.metadata["pattern" | "min" | "max"]`, `shape.enum`); this validator walks a request (or a response) and
checks all of them, recursively:

- `pattern` must match the whole string (SageMaker's patterns are Java regular expressions matched against the
  whole value). They use `\\p{L}`-style classes, which the `regex` package understands and `re` does not; Java's
  UTF-16 surrogate pairs (`\\uD800\\uDC00-\\uDBFF\\uDFFF`) are read as the code points they stand for.
- `min`/`max`: the length of a string, blob, list or map; the value of a number.
- `enum`: the string is one of the listed values.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

import botocore.session
import regex
from botocore.model import ListShape, MapShape, OperationModel, ServiceModel, Shape, StructureShape
from botocore.validate import ParamValidator

_SURROGATE_PAIR = re.compile(r"\\u(d[89ab][0-9a-f]{2})\\u(d[c-f][0-9a-f]{2})", re.IGNORECASE)
_SIZED = frozenset({"string", "blob", "list", "map"})
_NUMBERS = frozenset({"integer", "long", "float", "double"})


@cache
def service_model(service: str) -> ServiceModel:
    """botocore's model of `service` (loaded once per process)."""
    return botocore.session.get_session().get_service_model(service)


def operation_model(service: str, operation: str) -> OperationModel:
    """botocore's model of one operation (its API name, e.g. CreateModelPackage)."""
    return service_model(service).operation_model(operation)


def _code_point(pair: re.Match[str]) -> str:
    high, low = int(pair[1], 16), int(pair[2], 16)
    return f"\\U{0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00):08x}"


@cache
def compiled(pattern: str) -> regex.Pattern[str]:
    """A model pattern, compiled with the `regex` package (Java surrogate pairs read as code points)."""
    return regex.compile(_SURROGATE_PAIR.sub(_code_point, pattern))


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 120 else f"{text[:117]}..."


def _check_scalar(value: Any, shape: Shape, path: str) -> list[str]:
    errors = []
    metadata = shape.metadata
    kind = shape.type_name
    if kind in _SIZED and not isinstance(value, str | bytes | bytearray | list | tuple | dict):
        return errors
    measure = len(value) if kind in _SIZED else value
    what = "length" if kind in _SIZED else "value"
    if "min" in metadata and measure < metadata["min"]:
        errors.append(f"{path}: {what} {measure} is less than the minimum {metadata['min']}")
    if "max" in metadata and measure > metadata["max"]:
        errors.append(f"{path}: {what} {measure} is greater than the maximum {metadata['max']}")
    if kind == "string" and isinstance(value, str):
        pattern = metadata.get("pattern")
        if pattern is not None and compiled(pattern).fullmatch(value) is None:
            errors.append(f"{path}: value {_shown(value)} does not match pattern {pattern}")
        if shape.enum and value not in shape.enum:
            errors.append(f"{path}: value {_shown(value)} is not one of {', '.join(shape.enum)}")
    return errors


def _walk(value: Any, shape: Shape, path: str) -> list[str]:
    errors: list[str] = []
    if shape.type_name in _SIZED or shape.type_name in _NUMBERS:
        errors += _check_scalar(value, shape, path)
    if isinstance(shape, StructureShape) and isinstance(value, dict):
        for name, member in value.items():
            if name in shape.members:
                errors += _walk(member, shape.members[name], f"{path}.{name}" if path else name)
    elif isinstance(shape, ListShape) and isinstance(value, list | tuple):
        for index, item in enumerate(value):
            errors += _walk(item, shape.member, f"{path}[{index}]")
    elif isinstance(shape, MapShape) and isinstance(value, dict):
        for key, item in value.items():
            errors += _walk(key, shape.key, f"{path} (key {_shown(key)})")
            errors += _walk(item, shape.value, f"{path}.{key}")
    return errors


def strict_errors(value: Any, shape: Shape) -> list[str]:
    """Every way `value` breaks `shape`: botocore's own checks (types, required members), then every `pattern`,
    `min`, `max` and `enum` of the model. Empty when the value is valid."""
    report = ParamValidator().validate(value, shape)
    if report.has_errors():
        return report.generate_report().splitlines()
    return _walk(value, shape, "")


def request_errors(service: str, operation: str, params: dict[str, Any]) -> list[str]:
    """Every way a request breaks the model of `operation`'s input."""
    return strict_errors(params, operation_model(service, operation).input_shape)
