"""The DeployModel state machine's input, its plan, and how to start it.

Five inputs start the same state machine; each names the model package group (and version), never an ARN (the
registry is the policy's: an event from elsewhere cannot choose it, and ARNs lower-case the group's name):
- `ApprovedInput`: started by the model package reaction when a package is approved;
- `DeployInput`: a person deploys a version to some of the policy's stages;
- `RollbackInput`: a stage goes back to an earlier version (a person, the rejection reaction or Model Monitor);
- `PromoteInput`: the A/B challenger, or the shadow, of a stage takes 100% of the traffic;
- `EndShadowInput`: a stage's shadow variant is removed; production serves on, alone.

The first Lambda step validates the input and turns it into a `Plan` (the policy's stages, snapshotted), so bad
input fails before anything changes and every later step reads the same plan.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from functools import cache
from typing import Annotated, Any, Literal

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from lifecycle.accounts import own_client
from lifecycle.aws import aws_errors, error_code
from lifecycle.config import ConfigurationError, Settings
from lifecycle.errors import InvalidDeploymentInput
from lifecycle.names import bounded_name
from lifecycle.policy import GroupName, Shadow, Stage, describe_errors

REACTION = "deploy-model"
APPROVAL_REJECTED = "ApprovalRejected"  # the error name `lifecycle reject` gives the gate's task token
PACKAGE_REJECTED = "PackageRejected"  # the error name a rejection in the registry gives a waiting gate
SHADOW_NOT_PROMOTED = "ShadowNotPromoted"  # a shadow test ended without a promotion (a person, or its metrics)
EXECUTION_NAME_MAX = 80
_EXECUTION_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")
# A versioned model package ARN. Its group segment is the group's name lower-cased (SageMaker lower-cases resource
# names in ARNs; `ModelPackageGroupName` keeps the case): never take a name from it.
PACKAGE_ARN = re.compile(
    r"^arn:(?P<partition>aws[a-z-]*):sagemaker:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):"
    r"model-package/(?P<group>[a-z0-9](-*[a-z0-9]){0,62})/(?P<version>[1-9]\d{0,9})$"
)
StageName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{0,15}$")]
Version = Annotated[int, Field(ge=1, le=9_999_999_999)]
Reason = Annotated[str, Field(max_length=1000)]


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)  # built on first use (cold start)


class ApprovedInput(_Input):
    """A package was approved: deploy it through every stage of its group's policy."""

    kind: Literal["approved"] = "approved"
    group: GroupName
    version: Version
    approved_at: datetime
    event_id: Annotated[str, Field(min_length=1, max_length=256)]


class DeployInput(_Input):
    """Deploy this version to these stages (in the policy's order)."""

    kind: Literal["deploy"] = "deploy"
    group: GroupName
    version: Version
    stages: list[StageName] = Field(min_length=1, max_length=10)
    reason: Reason = ""


class RollbackInput(_Input):
    """Put `stage` back on `version` of `group` (which must be Approved). With `from_version` (a rejection or a
    monitor asked), only while the stage still serves that version."""

    kind: Literal["rollback"] = "rollback"
    group: GroupName
    stage: StageName
    version: Version
    from_version: Version | None = None
    reason: Reason = ""


class PromoteInput(_Input):
    """Give the A/B challenger, or the shadow, of `stage` all the traffic (a single-variant config of it)."""

    kind: Literal["promote"] = "promote"
    group: GroupName
    stage: StageName
    reason: Reason = ""


class EndShadowInput(_Input):
    """End the shadow test of `stage`: its shadow variant is removed, production serves alone."""

    kind: Literal["end-shadow"] = "end-shadow"
    group: GroupName
    stage: StageName
    reason: Reason = ""


AnyInput = ApprovedInput | DeployInput | RollbackInput | PromoteInput | EndShadowInput
DeploymentInput = Annotated[AnyInput, Field(discriminator="kind")]


@cache
def _input_adapter() -> TypeAdapter[AnyInput]:
    """Built on first use: only the functions that parse a deployment input pay for its validators (cold start)."""
    return TypeAdapter(DeploymentInput)


def parse_input(raw: Any) -> AnyInput:
    """Validate a state machine input; `InvalidDeploymentInput` names every bad field."""
    try:
        return _input_adapter().validate_python(raw)
    except ValidationError as exc:
        raise InvalidDeploymentInput(
            "invalid DeployModel input: " + "; ".join(describe_errors(exc, DeploymentInput))
        ) from exc


class PackageRef(BaseModel):
    """What a versioned model package ARN says (its `name_in_arn` is the group's name lower-cased)."""

    model_config = ConfigDict(defer_build=True)  # built on first use: most reactions never deploy

    arn: str
    partition: str
    region: str
    account: str
    name_in_arn: str
    version: int


def package_ref(arn: str) -> PackageRef:
    """Split a versioned model package ARN; `InvalidDeploymentInput` when it is not one."""
    match = PACKAGE_ARN.match(arn)
    if match is None:
        raise InvalidDeploymentInput(f"{arn[:300]!r} is not a versioned model package ARN")
    return PackageRef(
        arn=arn,
        partition=match["partition"],
        region=match["region"],
        account=match["account"],
        name_in_arn=match["group"],
        version=int(match["version"]),
    )


def package_arn(partition: str, region: str, account: str, group: str, version: int) -> str:
    """The ARN of version `version` of `group` in a registry (the name lower-cased, as SageMaker writes ARNs)."""
    return f"arn:{partition}:sagemaker:{region}:{account}:model-package/{group.lower()}/{version}"


class Plan(BaseModel):
    """What one execution deploys: the package and the stages, snapshotted from the policy at the start."""

    model_config = ConfigDict(defer_build=True)  # built on first use: most reactions never deploy

    kind: Literal["approved", "deploy", "rollback", "promote", "end-shadow"]
    group: str
    version: int
    package_arn: str
    registry_account: str
    registry_region: str
    from_version: int | None = Field(default=None, description="a rollback's: act only while the stage serves it")
    reason: str
    execution: str
    execution_arn: str = ""
    topic_arn: str
    subject: str = Field(description="a short subject prefix for notifications, at most 70 characters")
    stages: list[Stage]
    stage_count: int
    approvers: list[str] = Field(default_factory=list)
    sensitive: bool = Field(default=False, description="the policy's: endpoint answers stay out of records and notes")


Phase = Literal["single", "canary", "final", "shadow", "production"]


class StageState(BaseModel):
    """The state machine's `$.stage`: where the current stage is. Each step returns the next one."""

    model_config = ConfigDict(defer_build=True)  # built on first use: most reactions never deploy

    index: int
    name: str = ""
    account: str = ""
    region: str = ""
    endpoint_name: str = ""
    gate_before: bool = Field(default=False, description="a person approves before anything in the stage changes")
    approved: bool = False
    approval: dict[str, Any] | None = Field(default=None, description="the task output of the last approval gate")
    lease: Literal["", "held", "wait", "not_needed", "approve_first", "shadow"] = Field(
        default="", description="shadow: a manual promote or end-shadow of a shadow test, straight to End Shadow"
    )
    batch: bool = Field(default=False, description="a batch stage: a transform job proves the model, no endpoint")
    lease_deadline: str = ""
    phase: Phase = "single"
    model_name: str = ""
    config_name: str = ""
    new_variant: str = Field(default="", description="the variant running the version being deployed")
    configs: list[str] = Field(default_factory=list, description="every config this execution put on the endpoint")
    previous_config: str | None = None
    changed: bool = False
    status: str = ""
    deadline: str = ""
    bake_seconds: int = 0
    bake_until: str = ""
    watch_alarms: list[str] = Field(default_factory=list)
    poll_seconds: int = 1
    approval_timeout_seconds: int = 1
    smoke_test: str = ""
    shadow_seconds: int = Field(default=1, description="how long the shadow runs before its metrics are compared")
    shadow_since: str = Field(default="", description="when the shadow variant started receiving its copy")
    verdict: dict[str, str] | None = Field(
        default=None, description="the shadow's verdict: decision (promote | end), by, reason"
    )
    transform_timeout_seconds: int = Field(default=1, description="how long a batch stage waits for its job's end")
    transform: dict[str, str] | None = Field(default=None, description="the transform job's end, as its event told")
    previous_stage: dict[str, str] = Field(
        default_factory=dict, description="what the stage before this one showed: its evidence for a gate"
    )
    done: bool = False


def first_state(plan: Plan, index: int, *, previous_stage: dict[str, str] | None = None) -> StageState:
    """The state the state machine enters stage `index` with (`done` past the last stage)."""
    if index >= plan.stage_count:
        return StageState(index=index, done=True)
    stage = plan.stages[index]
    return StageState(
        index=index,
        name=stage.name,
        account=stage.account,
        region=stage.region,
        endpoint_name=stage.endpoint_name or "",
        gate_before=stage.approval_required and stage.approval == "before_traffic",
        batch=stage.batch is not None,
        shadow_seconds=stage.strategy.minimum_seconds() if isinstance(stage.strategy, Shadow) else 1,
        transform_timeout_seconds=stage.wait_timeout_minutes * 60,
        poll_seconds=stage.poll_seconds,
        approval_timeout_seconds=max(1, round(stage.approval_timeout_hours * 3600)),
        previous_stage=previous_stage or {},
    )


def execution_name(*parts: str) -> str:
    """A valid, deterministic execution name (at most 80 of `[A-Za-z0-9_-]`), hashed when the parts are long."""
    return bounded_name(parts, unsafe=_EXECUTION_UNSAFE, limit=EXECUTION_NAME_MAX, digest_length=16)


def compact_time(when: datetime) -> str:
    """A timestamp usable in names: 20261127T101502123 (UTC, milliseconds)."""
    return when.strftime("%Y%m%dT%H%M%S") + f"{when.microsecond // 1000:03d}"


def approved_execution_name(group: str, version: int, approved_at: datetime) -> str:
    """The execution of one approval: the same package approved at the same time always gets the same name."""
    stamp = compact_time(approved_at)
    digest = hashlib.sha256(f"{group}/{version}@{stamp}".encode()).hexdigest()[:8]
    return execution_name(group[:40], f"v{version}", stamp, digest)


def execution_arn(state_machine_arn: str, name: str) -> str:
    """The ARN of execution `name` of a state machine."""
    return state_machine_arn.replace(":stateMachine:", ":execution:", 1) + f":{name}"


class Started(BaseModel):
    model_config = ConfigDict(defer_build=True)  # built on first use: most reactions never deploy

    execution_arn: str
    started: bool = Field(description="False when an execution of that name already existed (a duplicate)")


def start_deployment(settings: Settings, input_: AnyInput, *, name: str) -> Started:
    """Start DeployModel with `input_` as execution `name`. An execution of that name already existing is done."""
    if not settings.deploy_state_machine_arn:
        raise ConfigurationError("LIFECYCLE_DEPLOY_STATE_MACHINE_ARN is not set")
    if len(name) > EXECUTION_NAME_MAX or _EXECUTION_UNSAFE.search(name):
        raise InvalidDeploymentInput(f"execution name {name!r} is not a valid Step Functions name")
    sfn = own_client("stepfunctions", settings)
    with aws_errors(f"states:StartExecution {name}"):
        try:
            arn = sfn.start_execution(
                stateMachineArn=settings.deploy_state_machine_arn, name=name, input=input_.model_dump_json()
            )["executionArn"]
        except ClientError as exc:
            if error_code(exc) != "ExecutionAlreadyExists":
                raise
            return Started(execution_arn=execution_arn(settings.deploy_state_machine_arn, name), started=False)
    return Started(execution_arn=str(arn), started=True)
