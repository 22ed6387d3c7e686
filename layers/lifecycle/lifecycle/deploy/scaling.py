"""Autoscaling of a stage's main variant: an Application Auto Scaling scalable target and a target-tracking policy.

What SageMaker requires of scaling while an endpoint changes (developer guide, "Update endpoints that use auto
scaling"; every rule is in docs/aws-rules.md):
- UpdateEndpoint fails when it would change the instance type of a variant registered as a scalable target, or remove
  such a variant: the product deregisters it first (its scaling policies, then the target), keeping what it removed as
  the execution's scaling restore point;
- a new model on a registered variant of the same instance type is allowed; with `RetainAllVariantProperties` the new
  fleet starts at the instance count autoscaling reached, not the config's InitialInstanceCount (so a deployment never
  shrinks a scaled-out production fleet);
- RegisterScalableTarget needs the endpoint's variant to exist ("Register a model"), PutScalingPolicy a registered
  target (API reference, PutScalingPolicy: ObjectNotFoundException).

A registration is a value (`Registration`): what the policy wants (`desired`), what Application Auto Scaling holds
(`read`), and one executor (`apply`) that makes the second the first; restores apply the snapshot kept before the
execution first changed anything.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from lifecycle.aws import aws_errors, error_code
from lifecycle.deploy import endpoints
from lifecycle.deploy.stage import StepContext
from lifecycle.policy import GROUP_TAG, Stage
from lifecycle.store import deployments

NAMESPACE = "sagemaker"
DIMENSION = "sagemaker:variant:DesiredInstanceCount"
_NOT_FOUND = frozenset({"ObjectNotFoundException"})


def resource_id(endpoint: str, variant: str) -> str:
    """The ResourceId of an endpoint variant ("Register a model": `endpoint/<endpoint>/variant/<variant>`)."""
    return f"endpoint/{endpoint}/variant/{variant}"


def policy_name(endpoint: str, variant: str) -> str:
    """The product's target-tracking policy of a variant (PolicyName: printable, at most 256)."""
    return f"{endpoint}-{variant}-target-tracking"


@dataclass(frozen=True)
class Registration:
    """What Application Auto Scaling holds for one variant: registered or not, its bounds, its policies (each the
    PutScalingPolicy fields that define it)."""

    registered: bool
    min: int = 0
    max: int = 0
    policies: tuple[dict[str, Any], ...] = field(default_factory=tuple)

    def describe(self) -> str:
        if not self.registered:
            return "not registered"
        names = ", ".join(policy["PolicyName"] for policy in self.policies) or "no policy"
        return f"{self.min}-{self.max} instances ({names})"

    def to_json(self) -> str:
        return json.dumps(
            {"registered": self.registered, "min": self.min, "max": self.max, "policies": list(self.policies)},
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> Registration:
        raw = json.loads(text)
        return cls(bool(raw["registered"]), int(raw["min"]), int(raw["max"]), tuple(raw["policies"]))


def _target_tracking(stage: Stage, endpoint: str, variant: str) -> dict[str, Any]:
    scaling = stage.autoscaling
    assert scaling is not None
    target = scaling.target
    configuration: dict[str, Any] = {
        "ScaleInCooldown": scaling.scale_in_cooldown,
        "ScaleOutCooldown": scaling.scale_out_cooldown,
    }
    if target.invocations_per_instance is not None:
        configuration["TargetValue"] = target.invocations_per_instance
        configuration["PredefinedMetricSpecification"] = {
            "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"
        }
    else:
        configuration["TargetValue"] = target.value
        configuration["CustomizedMetricSpecification"] = {
            "MetricName": target.metric,
            "Namespace": target.namespace,
            "Dimensions": [{"Name": "EndpointName", "Value": endpoint}, {"Name": "VariantName", "Value": variant}],
            "Statistic": target.statistic,
        }
    return configuration


def desired(stage: Stage, variant: str) -> Registration:
    """What the stage's policy wants for its main variant (not registered when it names no autoscaling)."""
    scaling, endpoint = stage.autoscaling, stage.endpoint_name
    if scaling is None or endpoint is None:
        return Registration(registered=False)
    policy = {
        "PolicyName": policy_name(endpoint, variant),
        "PolicyType": "TargetTrackingScaling",
        "TargetTrackingScalingPolicyConfiguration": _target_tracking(stage, endpoint, variant),
    }
    return Registration(registered=True, min=scaling.min, max=scaling.max, policies=(policy,))


def target_request(endpoint: str, variant: str, registration: Registration, *, group: str | None) -> dict[str, Any]:
    """RegisterScalableTarget: a new target carries the product's lineage tag (Tags only apply when a target is
    created: "To tag an existing scalable target, use the TagResource operation")."""
    request: dict[str, Any] = {
        "ServiceNamespace": NAMESPACE,
        "ResourceId": resource_id(endpoint, variant),
        "ScalableDimension": DIMENSION,
        "MinCapacity": registration.min,
        "MaxCapacity": registration.max,
    }
    if group is not None:
        request["Tags"] = {GROUP_TAG: group}
    return request


def policy_request(endpoint: str, variant: str, policy: dict[str, Any]) -> dict[str, Any]:
    """PutScalingPolicy of one of a registration's policies."""
    return {
        "ServiceNamespace": NAMESPACE,
        "ResourceId": resource_id(endpoint, variant),
        "ScalableDimension": DIMENSION,
        **policy,
    }


_POLICY_FIELDS = (
    "PolicyName",
    "PolicyType",
    "TargetTrackingScalingPolicyConfiguration",
    "StepScalingPolicyConfiguration",
)


def read(autoscaling: Any, endpoint: str, variant: str) -> Registration:
    """What Application Auto Scaling holds for the variant now."""
    rid = resource_id(endpoint, variant)
    with aws_errors(f"application-autoscaling:DescribeScalableTargets {rid}"):
        targets = autoscaling.describe_scalable_targets(
            ServiceNamespace=NAMESPACE, ResourceIds=[rid], ScalableDimension=DIMENSION
        )["ScalableTargets"]
    if not targets:
        return Registration(registered=False)
    with aws_errors(f"application-autoscaling:DescribeScalingPolicies {rid}"):
        found = autoscaling.describe_scaling_policies(
            ServiceNamespace=NAMESPACE, ResourceId=rid, ScalableDimension=DIMENSION
        )["ScalingPolicies"]
    policies = tuple(
        sorted(
            ({key: policy[key] for key in _POLICY_FIELDS if key in policy} for policy in found),
            key=lambda policy: policy["PolicyName"],
        )
    )
    return Registration(True, int(targets[0]["MinCapacity"]), int(targets[0]["MaxCapacity"]), policies)


def deregister(autoscaling: Any, endpoint: str, variant: str, current: Registration) -> None:
    rid = resource_id(endpoint, variant)
    for policy in current.policies:
        with aws_errors(f"application-autoscaling:DeleteScalingPolicy {policy['PolicyName']}"):
            autoscaling.delete_scaling_policy(
                PolicyName=policy["PolicyName"], ServiceNamespace=NAMESPACE, ResourceId=rid, ScalableDimension=DIMENSION
            )
    with aws_errors(f"application-autoscaling:DeregisterScalableTarget {rid}"):
        try:
            autoscaling.deregister_scalable_target(
                ServiceNamespace=NAMESPACE, ResourceId=rid, ScalableDimension=DIMENSION
            )
        except ClientError as exc:
            if error_code(exc) not in _NOT_FOUND:
                raise


def _contains(found: Any, wanted: Any) -> bool:
    """Whether `found` (what AWS describes, defaults filled in) holds everything of `wanted`."""
    if isinstance(wanted, dict):
        return isinstance(found, dict) and all(_contains(found.get(key), value) for key, value in wanted.items())
    return bool(found == wanted)


def _holds(current: Registration, wanted: Registration) -> bool:
    if current.registered != wanted.registered:
        return False
    if not wanted.registered:
        return True
    by_name = {policy["PolicyName"]: policy for policy in current.policies}
    return (
        (current.min, current.max) == (wanted.min, wanted.max)
        and set(by_name) == {policy["PolicyName"] for policy in wanted.policies}
        and all(_contains(by_name[policy["PolicyName"]], policy) for policy in wanted.policies)
    )


def apply(autoscaling: Any, endpoint: str, variant: str, wanted: Registration, *, group: str) -> str:
    """Make the variant's registration `wanted`; returns what changed ("" when it already was)."""
    current = read(autoscaling, endpoint, variant)
    if _holds(current, wanted):
        return ""
    if not wanted.registered:
        deregister(autoscaling, endpoint, variant, current)
        return f"deregistered (was {current.describe()})"
    request = target_request(endpoint, variant, wanted, group=None if current.registered else group)
    with aws_errors(f"application-autoscaling:RegisterScalableTarget {request['ResourceId']}"):
        autoscaling.register_scalable_target(**request)
    wanted_names = {policy["PolicyName"] for policy in wanted.policies}
    for policy in current.policies:
        if policy["PolicyName"] not in wanted_names:
            with aws_errors(f"application-autoscaling:DeleteScalingPolicy {policy['PolicyName']}"):
                autoscaling.delete_scaling_policy(
                    PolicyName=policy["PolicyName"],
                    ServiceNamespace=NAMESPACE,
                    ResourceId=request["ResourceId"],
                    ScalableDimension=DIMENSION,
                )
    for policy in wanted.policies:
        with aws_errors(f"application-autoscaling:PutScalingPolicy {policy['PolicyName']}"):
            autoscaling.put_scaling_policy(**policy_request(endpoint, variant, policy))
    return f"{wanted.describe()} (was {current.describe()})"


def blocking(old: dict[str, Any], new: dict[str, Any], registered: Iterable[str]) -> list[str]:
    """The registered variants of config `old` an update to config `new` would change the instance type of, or remove:
    SageMaker refuses that update until they are deregistered."""
    types = {variant["VariantName"]: variant.get("InstanceType") for variant in new.get("ProductionVariants", [])}
    before = {variant["VariantName"]: variant.get("InstanceType") for variant in old.get("ProductionVariants", [])}
    return sorted(name for name in registered if name in before and types.get(name, "<removed>") != before[name])


def registrations(autoscaling: Any, endpoint: str, config: dict[str, Any]) -> dict[str, Registration]:
    """The registration (or its absence) of each instance variant of `config` (an endpoint's current config)."""
    return {
        variant["VariantName"]: read(autoscaling, endpoint, variant["VariantName"])
        for variant in config.get("ProductionVariants", [])
        if "InstanceType" in variant
    }


def snapshot_json(found: dict[str, Registration]) -> str:
    """A scaling restore point: the registration of each variant as found (unregistered ones included)."""
    return json.dumps(
        {name: json.loads(registration.to_json()) for name, registration in found.items()}, sort_keys=True
    )


def from_snapshot(text: str) -> dict[str, Registration]:
    return {name: Registration.from_json(json.dumps(raw)) for name, raw in json.loads(text).items()}


def update_endpoint(
    step: StepContext, sagemaker: Any, *, old: dict[str, Any], new: dict[str, Any], deployment: dict | None
) -> str:
    """UpdateEndpoint of the stage's endpoint from the config it serves (`old`, as DescribeEndpointConfig answers) to
    `new`, as SageMaker allows it with autoscaling: registered variants the update would retype or remove are
    deregistered first (the registrations as found kept as the execution's scaling restore point); registered variants
    that stay keep their scaled instance count. Returns what was done to autoscaling ("" when nothing)."""
    stage, plan = step.stage, step.plan
    endpoint = stage.endpoint_name or ""
    config = str(new["EndpointConfigName"])
    autoscaling = step.client("application-autoscaling")
    found = registrations(autoscaling, endpoint, old)
    registered = [name for name, registration in found.items() if registration.registered]
    blocked = blocking(old, new, registered)
    if blocked:
        deployments.keep_scaling_restore_point(step.settings, plan.execution, stage.name, snapshot_json(found))
        for name in blocked:
            deregister(autoscaling, endpoint, name, found[name])
    retain = bool(set(registered) - set(blocked))
    endpoints.update_endpoint(sagemaker, name=endpoint, config=config, deployment=deployment, retain=retain)
    done = [f"deregistered {', '.join(blocked)} first (the update changes their instance type or removes them)"] * bool(
        blocked
    )
    done += ["the scaled instance count kept (RetainAllVariantProperties)"] * retain
    return "; ".join(done)
