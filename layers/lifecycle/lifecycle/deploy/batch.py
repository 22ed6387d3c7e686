"""A batch stage: the model created in the stage's account and proved by a transform job on the policy's input.

The `Run Transform Job` task keeps its task token with the job (`lifecycle.store.deployments.TransformWait`) before
it creates the job, and ends when the job's `SageMaker Transform Job State Change` event reaches the
transform-job-state reaction, which answers the token from the job as DescribeTransformJob shows it then: no Lambda
and no Wait-state loop polls the job. Transform job names are unique in an account and Region (API reference,
CreateTransformJob `TransformJobName`): one per execution and stage, deterministic, so a retried step finds its job.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from lifecycle.aws import NOT_FOUND_CODES, aws_errors, error_code
from lifecycle.deploy import endpoints
from lifecycle.deploy.stage import StepContext
from lifecycle.policy import Stage
from lifecycle.store import deployments

TRANSFORM_FAILED = "TransformJobFailed"  # the error name a failed or stopped job gives the waiting task
TERMINAL = frozenset({"Completed", "Failed", "Stopped"})
# What Step Functions answers for a task token nobody waits on any more (the task ended, or a retry replaced it).
STALE_TOKEN_CODES = frozenset({"TaskTimedOut", "TaskDoesNotExist", "InvalidToken"})
_CAUSE_MAX = 32768


def transform_job_name(group: str, version: int, stage: str, execution: str) -> str:
    """`<group>-v<version>-<stage>-<digest of the execution>`: one job per execution and stage."""
    digest = hashlib.sha256(execution.encode()).hexdigest()[:8]
    return endpoints.resource_name(group, f"v{version}", stage, digest)


def transform_request(stage: Stage, *, group: str, version: int, package_arn: str, model: str, job: str) -> dict:
    """CreateTransformJob of the stage's model on the policy's input; results under `<output>/<job>/`."""
    batch = stage.batch
    assert batch is not None
    transform_input: dict[str, Any] = {
        "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": batch.input_s3_uri}},
        "SplitType": batch.split_type,
    }
    if batch.content_type:
        transform_input["ContentType"] = batch.content_type
    return {
        "TransformJobName": job,
        "ModelName": model,
        "TransformInput": transform_input,
        "TransformOutput": {"S3OutputPath": f"{batch.output_s3_uri.rstrip('/')}/{job}/", "AssembleWith": "Line"},
        "TransformResources": {"InstanceType": batch.instance_type, "InstanceCount": batch.instance_count},
        "Tags": endpoints.lineage_tags(group, package_arn, version),
    }


def describe_transform_job(sagemaker: Any, name: str) -> dict[str, Any] | None:
    with aws_errors(f"sagemaker:DescribeTransformJob {name}"):
        try:
            return dict(sagemaker.describe_transform_job(TransformJobName=name))
        except ClientError as exc:
            if error_code(exc) in NOT_FOUND_CODES:
                return None
            raise


def answer(sfn: Any, token: str, described: dict[str, Any]) -> bool:
    """Answer the waiting task from the job as described: its output on Completed, `TransformJobFailed` otherwise.
    False when nobody waits on the token any more (answered already, or the task ended)."""
    status = str(described["TransformJobStatus"])
    name = str(described["TransformJobName"])
    with aws_errors(f"states:SendTask{'Success' if status == 'Completed' else 'Failure'} {name}"):
        try:
            if status == "Completed":
                output = {
                    "job": name,
                    "status": status,
                    "output": str((described.get("TransformOutput") or {}).get("S3OutputPath", "")),
                }
                sfn.send_task_success(taskToken=token, output=json.dumps(output))
            else:
                reason = described.get("FailureReason") or "no reason given"
                cause = f"transform job {name} {status}: {reason}"[:_CAUSE_MAX]
                sfn.send_task_failure(taskToken=token, error=TRANSFORM_FAILED, cause=cause)
        except ClientError as exc:
            if error_code(exc) not in STALE_TOKEN_CODES:
                raise
            return False
    return True


def _job(step: StepContext) -> str:
    return transform_job_name(step.plan.group, step.plan.version, step.stage.name, step.plan.execution)


def run_transform_job(step: StepContext, token: str) -> dict[str, Any]:
    """Keep the task token with the job, then start the job (unless it exists). A retried step whose job already
    ended answers its own token: the job's event went to the token it replaced."""
    plan, stage, state = step.plan, step.stage, step.state
    name = _job(step)
    deployments.keep_transform_wait(
        step.settings,
        deployments.TransformWait(
            account=stage.account,
            region=stage.region,
            job=name,
            token=token,
            execution=plan.execution,
            group=plan.group,
            stage=stage.name,
            version=plan.version,
        ),
        keep=timedelta(seconds=state.transform_timeout_seconds) + timedelta(days=1),
    )
    sagemaker = step.client("sagemaker")
    described = describe_transform_job(sagemaker, name)
    if described is None:
        request = transform_request(
            stage,
            group=plan.group,
            version=plan.version,
            package_arn=plan.package_arn,
            model=state.model_name,
            job=name,
        )
        with aws_errors(f"sagemaker:CreateTransformJob {name}"):
            sagemaker.create_transform_job(**request)
        batch = stage.batch
        assert batch is not None
        step.record(
            "transform-job",
            "done",
            f"started {name}: {state.model_name} on {batch.input_s3_uri}, {batch.instance_count} x "
            f"{batch.instance_type}; waiting for its state change",
            resource=name,
        )
    elif described["TransformJobStatus"] in TERMINAL:
        answer(step.own("stepfunctions"), token, described)
        step.record("transform-job", "skipped", f"{name} had already ended {described['TransformJobStatus']}")
    return {}


def stop_transform_job(step: StepContext) -> str:
    """What a failed batch stage leaves: its transform job stopped if it still runs. The stage's current model is
    only ever changed by a finished stage, so nothing else is undone."""
    name = _job(step)
    sagemaker = step.client("sagemaker")
    described = describe_transform_job(sagemaker, name)
    if described is None or described["TransformJobStatus"] != "InProgress":
        found = described["TransformJobStatus"] if described else "never started"
        return f"transform job {name} {found}: nothing to stop; the stage keeps its current model"
    with aws_errors(f"sagemaker:StopTransformJob {name}"):
        sagemaker.stop_transform_job(TransformJobName=name)
    return f"transform job {name} stopped; the stage keeps its current model"


def failure_of(step: StepContext) -> str:
    """Why the stage's transform job did not complete, as DescribeTransformJob says (the error's cause may not reach
    the state machine's Catch intact)."""
    name = _job(step)
    described = describe_transform_job(step.client("sagemaker"), name)
    if described is None:
        return f"transform job {name} was never started"
    reason = described.get("FailureReason") or "no reason given"
    return f"transform job {name} {described['TransformJobStatus']}: {reason}"


def record_current_model(step: StepContext) -> str:
    """The batch stage now runs the plan's version: the model its transform job proved."""
    plan, stage, state = step.plan, step.stage, step.state
    result = state.transform or {}
    current = deployments.CurrentModel(
        version=plan.version,
        model=state.model_name,
        transform_job=str(result.get("job", "")),
        output=str(result.get("output", "")),
        at=datetime.now(UTC).isoformat(),
        execution=plan.execution,
    )
    deployments.record_current_model(step.settings, plan.group, stage.name, current)
    return f"{stage.name} runs v{plan.version} ({current.model}), proved by transform job {current.transform_job}"
