"""The context of one DeployModel step, and what it reads of the registry and the endpoint now."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from lifecycle.aws import NOT_FOUND_CODES, aws_errors, error_code
from lifecycle.config import Settings
from lifecycle.context import Context
from lifecycle.deploy import endpoints
from lifecycle.deploy.inputs import (
    REACTION,
    Plan,
    StageState,
)
from lifecycle.errors import (
    InvalidDeploymentInput,
    PackageRejected,
)
from lifecycle.policy import AllAtOnce, Stage
from lifecycle.store import deployments
from lifecycle.store.audit import Outcome


@dataclass(frozen=True)
class StepContext(Context):
    """One step of one execution: the plan, where the stage is, and the context to act, record and tell."""

    plan: Plan
    state: StageState

    @classmethod
    def of(cls, settings: Settings, plan: Plan, state: StageState) -> StepContext:
        return cls(settings=settings, name=REACTION, event_id=plan.execution, plan=plan, state=state)

    @property
    def stage(self) -> Stage:
        return self.plan.stages[self.state.index]

    @property
    def endpoint(self) -> deployments.Endpoint:
        """What the stage's lease is taken on: its endpoint, or (a batch stage) the stage of the group itself."""
        stage = self.stage
        name = stage.endpoint_name or f"batch:{self.plan.group}:{stage.name}"
        return deployments.Endpoint(stage.account, stage.region, name)

    def client(self, service: str) -> Any:
        """A client in the stage's account."""
        return self.client_in(service, self.stage.account, self.stage.region)

    def registry(self) -> Any:
        """A SageMaker client in the policy's registry."""
        return self.client_in("sagemaker", self.plan.registry_account, self.plan.registry_region)

    def record(
        self, action: str, outcome: Outcome, reason: str, *, resource: str = "", details: dict[str, str] | None = None
    ) -> None:
        """The audit record of one decision in this stage."""
        stage = self.stage
        self.audit(
            group=self.plan.group,
            action=action,
            outcome=outcome,
            reason=reason,
            account=stage.account,
            region=stage.region,
            resource=resource,
            version=self.plan.version,
            details={"stage": stage.name, **(details or {})},
            sensitive=self.plan.sensitive,
        )

    def tell(self, subject: str, lines: list[str], *, kind: str) -> None:
        self.notify(
            group=self.plan.group,
            subject=f"{self.plan.subject}: {subject}",
            lines=[*lines, f"execution: {self.plan.execution}"],
            kind=kind,
            topic_arn=self.plan.topic_arn,
        )

    def keep_wait(
        self, token: str, *, kind: deployments.WaitKind = "gate", keep: timedelta = deployments.APPROVAL_KEPT
    ) -> datetime:
        """Keep the stage's waiting task token (an approval gate, or a shadow test's verdict) where `lifecycle` and a
        rejection of the package find it, at least `keep` long; returns when it was asked."""
        plan, now = self.plan, datetime.now(UTC)
        wait = deployments.Approval(
            group=plan.group,
            execution=plan.execution,
            stage=self.stage.name,
            version=plan.version,
            token=token,
            requested_at=now.isoformat(),
            kind=kind,
        )
        deployments.keep_approval(self.settings, wait, keep=keep)
        return now

    def next(self, **changes: Any) -> dict[str, Any]:
        return self.state.model_copy(update=changes).model_dump()


def approved_package(registry: Any, arn: str, group: str) -> dict[str, Any]:
    """The package as the registry describes it now; it must belong to `group` (case-exact) and be Approved."""
    with aws_errors(f"sagemaker:DescribeModelPackage {arn}"):
        try:
            package = dict(registry.describe_model_package(ModelPackageName=arn))
        except ClientError as exc:
            if error_code(exc) not in NOT_FOUND_CODES:
                raise
            raise InvalidDeploymentInput(f"model package {arn} does not exist") from exc
    if package.get("ModelPackageGroupName") != group:
        raise InvalidDeploymentInput(f"{arn} belongs to group {package.get('ModelPackageGroupName')!r}, not {group!r}")
    if package.get("ModelApprovalStatus") != "Approved":
        raise InvalidDeploymentInput(f"{arn} is {package.get('ModelApprovalStatus')}, not Approved")
    return package


def require_approved(step: StepContext) -> None:
    """`PackageRejected` when the package being deployed is no longer Approved (a rejection stops the deployment)."""
    plan = step.plan
    with aws_errors(f"sagemaker:DescribeModelPackage {plan.package_arn}"):
        try:
            status = step.registry().describe_model_package(ModelPackageName=plan.package_arn)["ModelApprovalStatus"]
        except ClientError as exc:
            if error_code(exc) not in NOT_FOUND_CODES:
                raise
            status = "deleted"
    if status != "Approved":
        raise PackageRejected(f"{plan.group} v{plan.version} is {status} in the registry now: not deploying it")


def newest_approved(step: StepContext) -> int | None:
    """The newest Approved version of the group in the registry (SortOrder Descending: the default is ascending)."""
    with aws_errors(f"sagemaker:ListModelPackages {step.plan.group}"):
        summaries = step.registry().list_model_packages(
            ModelPackageGroupName=step.plan.group,
            ModelApprovalStatus="Approved",
            SortBy="CreationTime",
            SortOrder="Descending",
            MaxResults=1,
        )["ModelPackageSummaryList"]
    return int(summaries[0]["ModelPackageVersion"]) if summaries else None


def serves_now(step: StepContext) -> str:
    """`prod serves v1` (what a person needs to know after a stage did not finish)."""
    stage = step.stage
    if stage.endpoint_name is None:
        current = deployments.current_model(step.settings, step.plan.group, stage.name)
        return (
            f"{stage.name} runs v{current.version} ({current.model})" if current else f"{stage.name} has no model yet"
        )
    sagemaker = step.client("sagemaker")
    endpoint = endpoints.describe_endpoint(sagemaker, stage.endpoint_name)
    if endpoint is None:
        return f"{stage.name} has no endpoint"
    versions = endpoints.serving_versions(endpoints.serving(sagemaker, endpoint.config), step.plan.group)
    shown = ", ".join(f"v{version}" for version in versions) or f"no version of {step.plan.group}"
    return f"{stage.name} serves {shown}" + ("" if endpoint.status == "InService" else f" ({endpoint.status})")


def corrective(stage: Stage) -> Stage:
    """A rollback or promotion: all at once, no gate, the stage's alarms kept (the same baking period)."""
    bake = min(stage.strategy.total_wait_seconds(), 3600)
    return stage.model_copy(
        update={"strategy": AllAtOnce(wait_seconds=bake), "approval_required": False, "approval": "before_traffic"}
    )
