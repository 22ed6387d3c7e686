"""SageMaker's own rollback of an endpoint deployment → recorded and people told, in words: which stage, from which
version to which, and how the endpoint stands now.

A blue/green update whose auto-rollback alarm trips is rolled back by SageMaker itself: the endpoint passes through
`RollingBack` and returns to `InService` on its previous config (or ends `UpdateRollbackFailed`). The deployment events
of those two states are routed here; the reaction reads the endpoint as it is now (DescribeEndpoint) and the versions
its configs run. An update the product made (a DeployModel execution holds the endpoint's lease, or the config rolled
back from runs a version of the group) is reported by DeployModel itself (its stage fails with `EndpointRolledBack`,
told in words, whether this event arrives before or after it ends): then it is recorded here, not told twice.
"""

from __future__ import annotations

from typing import Any

from lifecycle.deploy.endpoints import EndpointState, describe_endpoint, main_variant, serving
from lifecycle.errors import IgnoredEvent
from lifecycle.events import EndpointDeploymentEvent
from lifecycle.observability import count
from lifecycle.policy import Policy, Stage, policy_for_endpoint
from lifecycle.reaction import Reaction
from lifecycle.store import deployments
from lifecycle.store.idempotency import SemanticKey

REACTION = "deployment-state"
ROLLBACK_STATES = frozenset({"ROLLING_BACK", "UPDATE_ROLLBACK_FAILED"})


def on_deployment_state(r: Reaction[EndpointDeploymentEvent]) -> dict[str, Any]:
    """A deployment of a stage's endpoint is being (or could not be) rolled back by SageMaker."""
    detail = r.event.detail
    if detail.EndpointStatus not in ROLLBACK_STATES:
        raise IgnoredEvent(f"endpoint {detail.EndpointName} is {detail.EndpointStatus}: not a rollback")
    policy, stage = policy_for_endpoint(
        r.settings, account=r.event.account, region=r.event.region, endpoint=detail.EndpointName
    )
    key = SemanticKey.of(REACTION, detail.EndpointArn, detail.EndpointStatus, detail.LastModifiedTime)
    return r.once(key, lambda: _rolled_back(r, policy, stage))


def _group_version(sagemaker: Any, config: str, group: str) -> int | None:
    """The version of `group` the config's main variant runs (None when it runs none: not the product's config)."""
    main = main_variant(serving(sagemaker, config))
    return main.version if main is not None and main.version is not None and main.of_group(group) else None


def _version(sagemaker: Any, config: str | None, group: str) -> str:
    """`v2` (the version of `group` the config's main variant runs), or the config's name when it runs none."""
    if not config:
        return "?"
    version = _group_version(sagemaker, config, group)
    return f"v{version}" if version is not None else config


def rollback_words(stage: Stage, endpoint: EndpointState | None, *, leaving: str, back_to: str) -> str:
    """What happened, in words, from the endpoint as it is now."""
    where = f"{stage.name}: SageMaker"
    if endpoint is None:
        return f"{where} rolled back {stage.endpoint_name}, which no longer exists"
    if endpoint.status == "UpdateRollbackFailed":
        return (
            f"{where} could not roll {stage.endpoint_name} back from {leaving}: UpdateRollbackFailed "
            f"({endpoint.failure_reason}); it needs a person"
        )
    state = "is rolling" if endpoint.status == "RollingBack" else "rolled"
    alarms = f" (an auto-rollback alarm fired: {', '.join(stage.rollback_alarms)})" if stage.rollback_alarms else ""
    return f"{where} {state} {stage.endpoint_name} back from {leaving} to {back_to}{alarms}; it is {endpoint.status}"


def _rolled_back(r: Reaction[EndpointDeploymentEvent], policy: Policy, stage: Stage) -> dict[str, Any]:
    detail = r.event.detail
    sagemaker = r.client("sagemaker", r.event.account, r.event.region)
    endpoint = describe_endpoint(sagemaker, stage.endpoint_name)
    back_to = endpoint.config if endpoint else None
    # What the rolled-back deployment was moving to: the event's pending deployment (history), else the endpoint's own
    pending = detail.PendingDeploymentSummary.EndpointConfigName if detail.PendingDeploymentSummary else None
    pending = pending or (endpoint.pending_config if endpoint else None)
    leaving = pending if pending != back_to else None
    text = rollback_words(
        stage,
        endpoint,
        leaving=_version(sagemaker, leaving, policy.group) if leaving else "the update",
        back_to=_version(sagemaker, back_to, policy.group),
    )
    lease = deployments.lease_of(r.settings, deployments.Endpoint(stage.account, stage.region, stage.endpoint_name))
    ours = leaving is not None and _group_version(sagemaker, leaving, policy.group) is not None
    told = lease is None and not ours
    reporter = f"DeployModel {lease.holder} holds the endpoint" if lease else "the update was a DeployModel rollout"
    r.record(
        policy,
        action="sagemaker-rollback",
        outcome="notified" if told else "done",
        reason=text if told else f"{text}; {reporter} and reports it",
        account=r.event.account,
        region=r.event.region,
        resource=detail.EndpointArn,
        details={"stage": stage.name, "status": detail.EndpointStatus} | ({"config": back_to} if back_to else {}),
    )
    if told:
        r.tell(policy, subject=f"{policy.group}: SageMaker rolled back {stage.name}", lines=[text], kind="rolled-back")
    count("SageMakerRollbacks")
    return {"action": "recorded-rollback", "told": told, "endpoint_status": endpoint.status if endpoint else None}
