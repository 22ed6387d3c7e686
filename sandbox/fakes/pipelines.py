"""SageMaker Pipelines executions as SageMaker reports them: how each ended, its steps, and the state-change event.

moto starts every pipeline execution `Succeeded`, answers DescribePipeline by name only (the API takes a name or an
ARN: "The name or Amazon Resource Name (ARN) of the pipeline to describe"), reports no FailureReason and has no
ListPipelineExecutionSteps. These fakes keep moto's pipelines and executions and add: DescribePipeline by ARN too,
DescribePipelineExecution with the status and FailureReason a scenario gave it, ListPipelineExecutionSteps with the
steps it ran, and `end_execution`, which ends an execution and emits `SageMaker Model Building Pipeline Execution
Status Change` (keys in camelCase, as the developer guide's sample has them).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from moto.sagemaker.exceptions import ResourceNotFound
from moto.sagemaker.models import FakePipeline, FakePipelineExecution, SageMakerModelBackend, sagemaker_backends

from sandbox.fakes import FakeCall, sagemaker_fake
from sandbox.world import WORLD

DETAIL_TYPE = "SageMaker Model Building Pipeline Execution Status Change"


def _pipeline(backend: SageMakerModelBackend, name_or_arn: str) -> FakePipeline:
    found = next(
        (p for p in backend.pipelines.values() if name_or_arn in (p.pipeline_name, p.arn)),
        None,
    )
    if found is None:
        raise ResourceNotFound(message=f"Pipeline {name_or_arn} does not exist.")
    return found


def _execution(backend: SageMakerModelBackend, arn: str) -> tuple[FakePipeline, FakePipelineExecution]:
    for pipeline in backend.pipelines.values():
        if arn in pipeline.pipeline_executions:
            return pipeline, pipeline.pipeline_executions[arn]
    raise ResourceNotFound(message=f"Pipeline execution {arn} does not exist.")


@sagemaker_fake("DescribePipeline")
def describe_pipeline(call: FakeCall) -> dict[str, Any]:
    """The pipeline named, by its name or its ARN."""
    pipeline = _pipeline(call.backend, call.params["PipelineName"])
    described = call.backend.describe_pipeline(pipeline.pipeline_name)
    return {key: value for key, value in described.items() if value is not None}


@sagemaker_fake("DescribePipelineExecution")
def describe_pipeline_execution(call: FakeCall) -> dict[str, Any]:
    """The execution as it stands, its FailureReason once it failed."""
    pipeline, execution = _execution(call.backend, call.params["PipelineExecutionArn"])
    described = {
        "PipelineArn": pipeline.arn,
        "PipelineExecutionArn": execution.arn,
        "PipelineExecutionDisplayName": execution.pipeline_execution_display_name,
        "PipelineExecutionStatus": execution.pipeline_execution_status,
        "PipelineExecutionDescription": execution.pipeline_execution_description,
        "FailureReason": execution.pipeline_execution_failure_reason,
        "CreationTime": execution.creation_time,
        "LastModifiedTime": execution.last_modified_time,
    }
    return {key: value for key, value in described.items() if value is not None}


@sagemaker_fake("ListPipelineExecutionSteps")
def list_pipeline_execution_steps(call: FakeCall) -> dict[str, Any]:
    """The steps the execution ran (a scenario's script), newest first unless asked Ascending; paged."""
    _, execution = _execution(call.backend, call.params["PipelineExecutionArn"])
    steps = list(getattr(execution, "lifecycle_steps", []))
    if call.params.get("SortOrder", "Descending") == "Descending":
        steps.reverse()
    start, size = int(call.params.get("NextToken") or 0), int(call.params.get("MaxResults") or 10)
    page = {"PipelineExecutionSteps": steps[start : start + size]}
    return page | ({"NextToken": str(start + size)} if start + size < len(steps) else {})


def set_execution(
    account: str,
    region: str,
    arn: str,
    *,
    status: str,
    steps: list[dict[str, Any]],
    failure_reason: str | None = None,
) -> tuple[FakePipeline, FakePipelineExecution, str]:
    """An execution is `status` after running `steps` (PipelineExecutionStep shapes, in the order they ran), as
    DescribePipelineExecution and ListPipelineExecutionSteps then report it; returns it with its status before."""
    backend = sagemaker_backends[account][region]
    pipeline, execution = _execution(backend, arn)
    now = datetime.now(UTC)
    previous = execution.pipeline_execution_status
    execution.pipeline_execution_status = status
    execution.pipeline_execution_failure_reason = failure_reason
    execution.last_modified_time = now
    execution.lifecycle_steps = [  # type: ignore[attr-defined]
        {"StartTime": execution.start_time, "EndTime": now, "AttemptCount": 1, **step} for step in steps
    ]
    return pipeline, execution, previous


def end_execution(
    account: str,
    region: str,
    arn: str,
    *,
    status: str,
    steps: list[dict[str, Any]],
    failure_reason: str | None = None,
) -> dict[str, Any]:
    """An execution ends `status` after running `steps` and SageMaker emits its state change."""
    pipeline, execution, previous = set_execution(
        account, region, arn, status=status, steps=steps, failure_reason=failure_reason
    )
    now = execution.last_modified_time
    detail = {
        "pipelineExecutionDisplayName": execution.pipeline_execution_display_name,
        "currentPipelineExecutionStatus": status,
        "previousPipelineExecutionStatus": previous if previous != status else "Executing",
        "executionStartTime": f"{execution.start_time:%Y-%m-%dT%H:%M:%SZ}",
        "executionEndTime": f"{now:%Y-%m-%dT%H:%M:%SZ}",
        "pipelineExecutionDescription": execution.pipeline_execution_description,
        "pipelineArn": pipeline.arn,
        "pipelineExecutionArn": execution.arn,
    }
    detail = {key: value for key, value in detail.items() if value is not None}
    return WORLD.emit(
        account=account, region=region, detail_type=DETAIL_TYPE, detail=detail, resources=[pipeline.arn, execution.arn]
    )
