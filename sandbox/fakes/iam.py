"""IAM SimulatePrincipalPolicy, which moto lacks: the identity policies of a role or user, evaluated for actions on
resources with the context entries given.

IAM's evaluation logic ("Policy evaluation logic", IAM User Guide): an explicit Deny wins, else an Allow, else the
request is implicitly denied. A statement applies when its Action (or NotAction) and Resource (or NotResource) match,
with `*` and `?` wildcards (actions case-insensitively), and every condition holds. A condition whose key the request
context lacks does not hold ("Condition element": a missing key evaluates to false, except for the ...IfExists forms).
The simulated policies are the entity's inline and attached managed policies (SimulatePrincipalPolicy,
`PolicySourceArn`). What this fake does not evaluate it refuses loudly instead of guessing: condition operators
outside the ones below, and a `ResourcePolicy` with a role as the policy source, which IAM itself refuses ("Simulation
of resource-based policies isn't supported for IAM roles", SimulatePrincipalPolicy `ResourcePolicy`).
"""

from __future__ import annotations

import json
import re
from typing import Any

from moto.core.responses import ActionResult
from moto.iam.exceptions import InvalidInput
from moto.iam.models import iam_backends
from moto.iam.responses import IamResponse

from sandbox.fakes.strict import request_errors

_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::(?P<account>\d{12}):(?P<kind>role|user)/(?:.*/)?(?P<name>[^/]+)$")


def _wildcard(pattern: str, value: str, *, case: bool = True) -> bool:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, flags=0 if case else re.IGNORECASE) is not None


def _values(value: Any) -> list[str]:
    return [str(item) for item in (value if isinstance(value, list) else [value])]


def _condition_holds(operator: str, key: str, expected: Any, context: dict[str, list[str]]) -> bool:
    if_exists = operator.endswith("IfExists")
    base = operator.removesuffix("IfExists")
    actual = context.get(key.lower())
    if actual is None:
        return if_exists
    wanted = _values(expected)
    tests = {
        "StringEquals": lambda a, w: a == w,
        "StringLike": lambda a, w: _wildcard(w, a),
        "ArnEquals": lambda a, w: a == w,
        "ArnLike": lambda a, w: _wildcard(w, a),
        "Bool": lambda a, w: a.lower() == w.lower(),
    }
    if base == "StringNotEquals":
        return all(a not in wanted for a in actual)
    test = tests.get(base)
    if test is None:
        raise InvalidInput(f"the sandbox's SimulatePrincipalPolicy cannot evaluate the condition operator {operator}")
    return any(test(a, w) for a in actual for w in wanted)


def _applies(statement: dict[str, Any], action: str, resource: str, context: dict[str, list[str]]) -> bool:
    if "Action" in statement:
        acts = any(_wildcard(p, action, case=False) for p in _values(statement["Action"]))
    else:
        acts = not any(_wildcard(p, action, case=False) for p in _values(statement.get("NotAction", [])))
    if "Resource" in statement:
        on = any(_wildcard(p, resource) for p in _values(statement["Resource"]))
    else:
        on = not any(_wildcard(p, resource) for p in _values(statement.get("NotResource", [])))
    if not (acts and on):
        return False
    for operator, keys in (statement.get("Condition") or {}).items():
        for key, expected in keys.items():
            if not _condition_holds(operator, key, expected, context):
                return False
    return True


def evaluate(policies: list[dict[str, Any]], action: str, resource: str, context: dict[str, list[str]]) -> str:
    """allowed, explicitDeny or implicitDeny for one action on one resource."""
    decision = "implicitDeny"
    for policy in policies:
        statements = policy.get("Statement", [])
        for statement in statements if isinstance(statements, list) else [statements]:
            if _applies(statement, action, resource, context):
                if statement.get("Effect") == "Deny":
                    return "explicitDeny"
                decision = "allowed"
    return decision


def identity_policies(arn: str) -> list[dict[str, Any]]:
    """The inline and attached managed policies of the role or user `arn` (moto's IAM state)."""
    match = _ROLE_ARN.match(arn)
    if match is None:
        raise InvalidInput(f"PolicySourceArn {arn} is not the ARN of an IAM role or user")
    backend = iam_backends[match["account"]]["global"]
    entity = backend.get_role(match["name"]) if match["kind"] == "role" else backend.get_user(match["name"])
    documents = [json.loads(text) if isinstance(text, str) else text for text in entity.policies.values()]
    for managed in entity.managed_policies.values():
        documents += [json.loads(v.document) for v in managed.versions if v.is_default]
    return documents


def simulate(params: dict[str, Any]) -> dict[str, Any]:
    """The answer of SimulatePrincipalPolicy to `params` (the request, as botocore's model names its members)."""
    errors = request_errors("iam", "SimulatePrincipalPolicy", params)
    if errors:
        raise InvalidInput("; ".join(errors))
    source = str(params["PolicySourceArn"])
    if params.get("ResourcePolicy") and ":role/" in source:
        raise InvalidInput("Simulation of resource-based policies isn't supported for IAM roles")
    policies = identity_policies(source)
    policies += [json.loads(text) for text in params.get("PolicyInputList", [])]
    context: dict[str, list[str]] = {}
    for entry in params.get("ContextEntries", []):
        context[str(entry["ContextKeyName"]).lower()] = [str(value) for value in entry.get("ContextKeyValues", [])]
    results = [
        {
            "EvalActionName": action,
            "EvalResourceName": resource,
            "EvalDecision": evaluate(policies, action, resource, context),
        }
        for action in params["ActionNames"]
        for resource in params.get("ResourceArns") or ["*"]
    ]
    return {"EvaluationResults": results, "IsTruncated": False}


def _respond(self: IamResponse) -> ActionResult:
    params: dict[str, Any] = {
        "PolicySourceArn": self._get_param("PolicySourceArn"),
        "ActionNames": self._get_param("ActionNames", []),
    }
    for name in ("ResourceArns", "PolicyInputList", "ContextEntries"):
        value = self._get_param(name, [])
        if value:
            params[name] = value
    for name in ("ResourcePolicy", "ResourceOwner", "CallerArn"):
        if self._get_param(name):
            params[name] = self._get_param(name)
    return ActionResult(simulate(params))  # an unknown role or user: moto's NoSuchEntity


def install() -> None:
    """Answer SimulatePrincipalPolicy in moto's IAM (idempotent)."""
    IamResponse.simulate_principal_policy = _respond  # type: ignore[attr-defined]
