"""SageMaker Pipelines: which pipeline an execution belongs to, how it ended, and what each of its steps did."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lifecycle.aws import aws_errors

MAX_STEP_PAGES = 10
FAILED_STEP_STATES = frozenset({"Failed", "Stopped"})


@dataclass(frozen=True)
class Step:
    """One step of a pipeline execution, as ListPipelineExecutionSteps reports it."""

    name: str
    status: str
    failure_reason: str
    registered: str  # the model package ARN a RegisterModel step registered ('' for any other step)

    def line(self) -> str:
        return f"step {self.name} {self.status}: {self.failure_reason or 'no FailureReason given'}"


def describe_pipeline(sagemaker: Any, pipeline: str) -> dict[str, Any]:
    """DescribePipeline by name or ARN (API reference: "The name or Amazon Resource Name (ARN) of the pipeline"): the
    pipeline's name with its case, which its ARN does not keep."""
    with aws_errors(f"sagemaker:DescribePipeline {pipeline}", missing=f"pipeline {pipeline} does not exist"):
        return dict(sagemaker.describe_pipeline(PipelineName=pipeline))


def describe_execution(sagemaker: Any, execution_arn: str) -> dict[str, Any]:
    """DescribePipelineExecution: how the execution stands now."""
    with aws_errors(
        f"sagemaker:DescribePipelineExecution {execution_arn}", missing=f"pipeline execution {execution_arn} is gone"
    ):
        return dict(sagemaker.describe_pipeline_execution(PipelineExecutionArn=execution_arn))


def execution_steps(sagemaker: Any, execution_arn: str) -> list[Step]:
    """Every step of an execution, in the order they ran (ListPipelineExecutionSteps, ascending, paged)."""
    request: dict[str, Any] = {"PipelineExecutionArn": execution_arn, "SortOrder": "Ascending", "MaxResults": 100}
    steps: list[Step] = []
    for _ in range(MAX_STEP_PAGES):
        with aws_errors(
            f"sagemaker:ListPipelineExecutionSteps {execution_arn}",
            missing=f"pipeline execution {execution_arn} is gone",
        ):
            page = sagemaker.list_pipeline_execution_steps(**request)
        for step in page.get("PipelineExecutionSteps", []):
            registered = (step.get("Metadata") or {}).get("RegisterModel", {}).get("Arn", "")
            steps.append(
                Step(
                    name=str(step.get("StepDisplayName") or step.get("StepName", "?")),
                    status=str(step.get("StepStatus", "?")),
                    failure_reason=str(step.get("FailureReason") or "")[:1000],
                    registered=str(registered),
                )
            )
        if not page.get("NextToken"):
            break
        request["NextToken"] = page["NextToken"]
    return steps
