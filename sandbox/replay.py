"""`python -m sandbox replay EVENT.json`: seed what the event refers to, deliver it, run everything it causes.

Seeding makes the sandbox hold the resources an event names as SageMaker would have them (e.g. the training job of a
training job state change, in the event's account, with its status, final metrics, artifacts, rule statuses and tags;
the monitoring schedule, execution and report of a Model Monitor run), so the handlers' Describe calls see what a real
Describe would answer. A real event from any account replays with `--account ID` (a workload stack there). An event the
product would refuse (a missing field, a malformed value) is delivered unseeded: the product's refusal is what you see.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from botocore.exceptions import BotoCoreError, ClientError
from moto.core.exceptions import ServiceException
from moto.sagemaker.models import sagemaker_backends

from sandbox.cloud import STACK, Sandbox, mount_code
from sandbox.fakes import transform as fake_transform
from sandbox.router import Delivery, Router
from sandbox.sam import ROOT
from sandbox.timeline import Timeline
from sandbox.world import WORLD

POLICIES = ROOT / "sandbox" / "policies"
Seeder = Callable[[Sandbox, dict[str, Any]], str]
_SEEDERS: dict[str, Seeder] = {}


class InputError(Exception):
    """An input file the sandbox cannot use (unreadable, not JSON/YAML, invalid policy)."""


def seeder(detail_type: str) -> Callable[[Seeder], Seeder]:
    """Register how to seed the resources of events of `detail_type`."""

    def register(fn: Seeder) -> Seeder:
        _SEEDERS[detail_type] = fn
        return fn

    return register


def _when(millis: Any) -> datetime:
    if isinstance(millis, int | float):
        return datetime.fromtimestamp(millis / 1000, UTC)
    if isinstance(millis, str) and millis.isdigit():
        return datetime.fromtimestamp(int(millis) / 1000, UTC)
    if isinstance(millis, str):
        return datetime.fromisoformat(millis.replace("Z", "+00:00"))
    return datetime.now(UTC)


def _timestamps(items: list[dict[str, Any]] | None, *keys: str) -> list[dict[str, Any]]:
    return [{**item, **{key: _when(item[key]) for key in keys if key in item}} for item in items or []]


@seeder("SageMaker Training Job State Change")
def seed_training_job(sandbox: Sandbox, event: dict[str, Any]) -> str:
    """The training job, in the event's account, in the state the event reports."""
    detail, account, region = event["detail"], event["account"], event["region"]
    name = detail["TrainingJobName"]
    jobs = sagemaker_backends[account][region].training_jobs
    output = {key: value for key, value in (detail.get("OutputDataConfig") or {}).items() if value}
    if name not in jobs:
        request: dict[str, Any] = {
            "TrainingJobName": name,
            "AlgorithmSpecification": detail["AlgorithmSpecification"],
            "RoleArn": detail["RoleArn"],
            "OutputDataConfig": output,
            "ResourceConfig": detail["ResourceConfig"],
            "StoppingCondition": detail["StoppingCondition"],
            "HyperParameters": detail.get("HyperParameters", {}),
            "Tags": [{"Key": key, "Value": value} for key, value in (detail.get("Tags") or {}).items()],
        }
        if detail.get("InputDataConfig"):
            request["InputDataConfig"] = detail["InputDataConfig"]
        sandbox.client("sagemaker", account, region).create_training_job(**request)
    job = jobs[name]  # moto creates every job Completed: set what the event says
    job.training_job_status = detail["TrainingJobStatus"]
    job.secondary_status = detail.get("SecondaryStatus", detail["TrainingJobStatus"])
    job.failure_reason = detail.get("FailureReason")
    job.last_modified_time = _when(detail.get("LastModifiedTime"))
    job.training_end_time = _when(detail["TrainingEndTime"]) if detail.get("TrainingEndTime") else None
    job.final_metric_data_list = _timestamps(detail.get("FinalMetricDataList"), "Timestamp")
    job.model_artifacts = detail.get("ModelArtifacts") or _artifacts(job.training_job_status, output, name)
    job.debug_rule_evaluation_statuses = _timestamps(detail.get("DebugRuleEvaluationStatuses"), "LastModifiedTime")
    job.profiler_rule_evaluation_statuses = _timestamps(
        detail.get("ProfilerRuleEvaluationStatuses"), "LastModifiedTime"
    )
    return f"training job {name} ({job.training_job_status})"


def _artifacts(status: str, output: dict[str, Any], name: str) -> dict[str, str] | None:
    """Where a Completed job's DescribeTrainingJob says its model is (`<S3OutputPath>/<job>/output/model.tar.gz`);
    none before the job has written it."""
    if status != "Completed" or not output.get("S3OutputPath"):
        return None
    return {"S3ModelArtifacts": f"{str(output['S3OutputPath']).rstrip('/')}/{name}/output/model.tar.gz"}


@seeder("SageMaker Model Package State Change")
def seed_model_package(sandbox: Sandbox, event: dict[str, Any]) -> str:
    """The group and its versions up to the event's: earlier versions Approved (the group's history), the event's
    version with the event's approval status, inference specification, metadata and tags.

    A rejection is seen by what serves the rejected version: the stages of the group's policy that need no approval
    first served the version before it and then the rejected one (each deployed by DeployModel, as its approval would
    have), so the replay shows those stages rolled back."""
    detail, account, region = event["detail"], event["account"], event["region"]
    group, version = detail["ModelPackageGroupName"], int(detail["ModelPackageVersion"])
    status = detail["ModelApprovalStatus"]
    sagemaker = sandbox.client("sagemaker", account, region)
    tags = [{"Key": key, "Value": value} for key, value in (detail.get("Tags") or {}).items()]
    existing = sagemaker.list_model_package_groups(NameContains=group)["ModelPackageGroupSummaryList"]
    if not any(summary["ModelPackageGroupName"] == group for summary in existing):
        sagemaker.create_model_package_group(ModelPackageGroupName=group, Tags=tags)
    count = len(sagemaker.list_model_packages(ModelPackageGroupName=group)["ModelPackageSummaryList"])
    for number in range(count + 1, version + 1):
        last = number == version
        metadata = detail.get("CustomerMetadataProperties") if last else None
        # A package of a group takes its group's tags; SageMaker refuses Tags (and an empty metadata map) here.
        sagemaker.create_model_package(
            ModelPackageGroupName=group,
            ModelPackageDescription=detail.get("ModelPackageDescription", "") if last else f"version {number}",
            InferenceSpecification=detail["InferenceSpecification"],
            ModelApprovalStatus="Approved" if not last or status == "Rejected" else status,
            **({"CustomerMetadataProperties": metadata} if metadata else {}),
        )
    seeded = f"model package group {group} with versions 1..{version} (v{version} {status})"
    if status != "Rejected" or version < 2:
        return seeded
    stages = _serve(sandbox, group, [version - 1, version])
    packages = sagemaker.list_model_packages(ModelPackageGroupName=group, MaxResults=100)["ModelPackageSummaryList"]
    rejected = next(p["ModelPackageArn"] for p in packages if int(p["ModelPackageVersion"]) == version)
    sagemaker.update_model_package(ModelPackageArn=rejected, ModelApprovalStatus="Rejected")
    served = f"; {', '.join(stages)} served v{version - 1}, then v{version} (DeployModel)" if stages else ""
    return seeded + served


def _serve(sandbox: Sandbox, group: str, versions: list[int]) -> list[str]:
    """Deploy `versions` in turn to the stages of `group`'s policy that need no approval, through DeployModel; returns
    those stages (none when the group has no published policy, or every stage has a gate)."""
    from lifecycle.config import Settings
    from lifecycle.deploy.inputs import DeployInput, compact_time, execution_name, start_deployment
    from lifecycle.errors import PolicyInvalid, PolicyNotFound
    from lifecycle.policy import load_policy

    stack = sandbox.client("cloudformation").describe_stacks(StackName=STACK)["Stacks"][0]
    settings = Settings.from_stack(stack)
    try:
        policy = load_policy(group, settings)
    except (PolicyNotFound, PolicyInvalid):
        return []
    configured = policy.deployment.stages if policy.deployment else []
    ungated = [stage.name for stage in configured if not stage.approval_required]
    WORLD.drain()  # the registry's events of the group's history: acted on long ago
    router = Router(sandbox)
    for version in versions if ungated else []:
        name = execution_name(group, "seed", f"v{version}", compact_time(datetime.now(UTC)))
        reason = "seeded: what served before the replayed event"
        started = start_deployment(
            settings, DeployInput(group=group, version=version, stages=ungated, reason=reason), name=name
        )
        router.follow(started.execution_arn)
        router.settle()
    return ungated


@seeder("SageMaker Transform Job State Change")
def seed_transform_job(sandbox: Sandbox, event: dict[str, Any]) -> str:
    """The job, on its model, in the state the event reports, and (when the group's policy has a batch stage in the
    event's account) the task token of the DeployModel execution waiting on it, as `Run Transform Job` keeps it."""
    from lifecycle.config import Settings
    from lifecycle.deploy import batch, endpoints
    from lifecycle.errors import PolicyInvalid, PolicyNotFound
    from lifecycle.policy import GROUP_TAG, load_policy
    from lifecycle.store import deployments

    detail, account, region = event["detail"], event["account"], event["region"]
    name, model = detail["TransformJobName"], detail["ModelName"]
    group = str((detail.get("Tags") or {}).get(GROUP_TAG, ""))
    version = int((detail.get("Tags") or {}).get(endpoints.VERSION_TAG, "0"))
    sagemaker = sandbox.client("sagemaker", account, region)
    if batch.describe_transform_job(sagemaker, name) is None:
        if endpoints.describe_model(sagemaker, model) is None:
            sagemaker.create_model(
                ModelName=model,
                PrimaryContainer={"Image": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"},
                ExecutionRoleArn=f"arn:aws:iam::{account}:role/SageMakerExecutionRole",
            )
        request = {
            key: detail[key] for key in ("TransformInput", "TransformOutput", "TransformResources") if key in detail
        }
        request["TransformOutput"] = {k: v for k, v in request["TransformOutput"].items() if v}
        tags = [{"Key": key, "Value": value} for key, value in (detail.get("Tags") or {}).items()]
        sagemaker.create_transform_job(TransformJobName=name, ModelName=model, Tags=tags, **request)
        if detail["TransformJobStatus"] != "InProgress":
            fake_transform.finish(
                account, region, name, status=detail["TransformJobStatus"], reason=detail.get("FailureReason", "")
            )
    seeded = f"transform job {name} ({detail['TransformJobStatus']})"
    stack = sandbox.client("cloudformation").describe_stacks(StackName=STACK)["Stacks"][0]
    settings = Settings.from_stack(stack)
    try:
        policy = load_policy(group, settings)
    except (PolicyNotFound, PolicyInvalid):
        return seeded
    stages = policy.deployment.stages if policy.deployment else []
    found = next((s for s in stages if s.batch is not None and (s.account, s.region) == (account, region)), None)
    if found is None:
        return seeded
    execution = f"{group}-seeded-{name}"[:80]
    wait = deployments.TransformWait(account, region, name, "seeded-token", execution, group, found.name, version)
    deployments.keep_transform_wait(settings, wait, keep=timedelta(days=1))
    return f"{seeded}, waited on by {execution} (stage {found.name})"


GROUND_TRUTH_LAMBDAS = "arn:aws:lambda:us-east-1:432418664414:function"  # AWS-owned pre/post-labeling functions


def labeling_job_request(name: str, account: str, region: str = "us-east-1") -> dict[str, Any]:
    """A CreateLabelingJob request for the churn data set (label attribute `churn-label`)."""
    return {
        "LabelingJobName": name,
        "LabelAttributeName": "churn-label",
        "InputConfig": {
            "DataSource": {"S3DataSource": {"ManifestS3Uri": "s3://example-dev-ml-data/churn/in.manifest"}}
        },
        "OutputConfig": {"S3OutputPath": "s3://example-dev-ml-labels/churn/"},
        "RoleArn": f"arn:aws:iam::{account}:role/GroundTruthRole",
        "HumanTaskConfig": {
            "WorkteamArn": f"arn:aws:sagemaker:{region}:{account}:workteam/private-crowd/churn-team",
            "UiConfig": {"UiTemplateS3Uri": "s3://example-dev-ml-data/churn/template.liquid"},
            "PreHumanTaskLambdaArn": f"{GROUND_TRUTH_LAMBDAS}:PRE-TextMultiClass",
            "TaskTitle": "Will this customer churn?",
            "TaskDescription": "Read the account history and choose churn or stay",
            "NumberOfHumanWorkersPerDataObject": 3,
            "TaskTimeLimitInSeconds": 300,
            "AnnotationConsolidationConfig": {
                "AnnotationConsolidationLambdaArn": f"{GROUND_TRUTH_LAMBDAS}:ACS-TextMultiClass"
            },
        },
    }


@seeder("SageMaker Ground Truth Labeling Job State Change")
def seed_labeling_job(sandbox: Sandbox, event: dict[str, Any]) -> str:
    """The labeling job named in `resources`, ended the way the event says (labels written for Completed)."""
    from sandbox.fakes import labeling

    account, region = event["account"], event["region"]
    name = str(event["resources"][0]).rsplit("/", 1)[1]
    status = event["detail"]["LabelingJobStatus"]
    sandbox.client("sagemaker", account, region).create_labeling_job(**labeling_job_request(name, account, region))
    if status == "Completed":
        labeling.complete_labeling_job(account, region, name, human=120, machine=380)
    elif status == "Failed":
        labeling.fail_labeling_job(account, region, name, reason="ClientError: the input manifest is not readable")
    elif status in ("Stopping", "Stopped"):
        labeling.stop_labeling_job(account, region, name, reason="stopped by a person", human=40)
    return f"labeling job {name} ({status})"


def _execution_status(detail: dict[str, Any]) -> str:
    """How ListMonitoringExecutions reports the run of this processing job (its ExitMessage says violations)."""
    if detail.get("ProcessingJobStatus") == "Failed":
        return "Failed"
    return "CompletedWithViolations" if "CompletedWithViolations" in str(detail.get("ExitMessage")) else "Completed"


@seeder("CloudWatch Alarm State Change")
def seed_alarm(sandbox: Sandbox, event: dict[str, Any]) -> str:
    """The alarm, in the event's account, on the metric its configuration names, in the state the event reports."""
    from sandbox.fakes import monitoring

    detail, account, region = event["detail"], event["account"], event["region"]
    metric = detail["configuration"]["metrics"][0]["metricStat"]["metric"]
    dimensions = metric.get("dimensions") or {}
    monitoring.set_alarm(
        account,
        region,
        alarm_name=detail["alarmName"],
        endpoint_name=str(dimensions.get("Endpoint", "")),
        schedule_name=str(dimensions.get("MonitoringSchedule", "")),
        state=detail["state"]["value"],
        metric_name=metric["name"],
        namespace=metric["namespace"],
    )
    return f"alarm {detail['alarmName']} on {metric['name']} ({detail['state']['value']})"


@seeder("SageMaker Processing Job State Change")
def seed_monitoring_run(sandbox: Sandbox, event: dict[str, Any]) -> str:
    """A Model Monitor run: its schedule, the processing job as DescribeProcessingJob has it, the execution
    ListMonitoringExecutions reports, and the constraint_violations.json the run wrote (violations when it found some).
    """
    from lifecycle.monitoring.signals import ENDPOINT_ENV, SCHEDULE_ENV, VIOLATIONS_FILE

    from sandbox.fakes import monitoring

    detail, account, region = event["detail"], event["account"], event["region"]
    environment = detail.get("Environment") or {}
    schedule_arn = str(detail.get("MonitoringScheduleArn") or "")
    schedule = environment.get(SCHEDULE_ENV) or schedule_arn.rsplit("/", 1)[-1]
    if not schedule:
        return f"processing job {detail['ProcessingJobName']} (no monitoring schedule started it: nothing else)"
    backend = sagemaker_backends[account][region]
    output = str(detail["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"]).rstrip("/")
    endpoint = str(environment.get(ENDPOINT_ENV, ""))
    now = datetime.now(UTC)
    known = monitoring.schedules(backend)
    if schedule not in known:
        known[schedule] = monitoring.MonitoringSchedule(
            name=schedule,
            arn=schedule_arn or f"arn:aws:sagemaker:{region}:{account}:monitoring-schedule/{schedule}",
            config={
                "MonitoringType": "DataQuality",
                "MonitoringJobDefinition": {
                    "MonitoringOutputConfig": {"MonitoringOutputs": [{"S3Output": {"S3Uri": output}}]},
                    "RoleArn": detail["RoleArn"],
                },
            },
            endpoint_name=endpoint,
            monitoring_type="DataQuality",
            creation_time=now,
            last_modified_time=now,
            tags=[],
        )
    job = backend.create_processing_job(
        app_specification=detail["AppSpecification"],
        experiment_config=None,  # type: ignore[arg-type]  (absent, as on a monitoring job)
        network_config=detail.get("NetworkConfig"),  # type: ignore[arg-type]
        processing_inputs=detail.get("ProcessingInputs", []),
        processing_job_name=detail["ProcessingJobName"],
        processing_output_config=detail["ProcessingOutputConfig"],
        role_arn=detail["RoleArn"],
        stopping_condition=detail.get("StoppingCondition", {"MaxRuntimeInSeconds": 3600}),
        tags=[],
    )
    job.environment = environment
    job.monitoring_schedule_arn = known[schedule].arn
    job.processing_job_status = detail["ProcessingJobStatus"]
    job.exit_message = detail.get("ExitMessage")
    job.failure_reason = detail.get("FailureReason")
    job.last_modified_time = job.processing_end_time = _when(detail.get("ProcessingEndTime"))
    status = _execution_status(detail)
    scheduled = _when(environment["end_time"]) if environment.get("end_time") else now
    known[schedule].executions.append(
        monitoring.MonitoringExecution(
            schedule_name=schedule,
            scheduled_time=scheduled,
            creation_time=job.creation_time,
            last_modified_time=job.last_modified_time,
            status=status,
            processing_job_arn=job.arn,
            endpoint_name=endpoint,
            monitoring_type="DataQuality",
            failure_reason=detail.get("FailureReason"),
        )
    )
    if status != "Failed":
        violations = monitoring.default_violations() if status == "CompletedWithViolations" else []
        bucket, _, prefix = output.removeprefix("s3://").partition("/")
        s3 = sandbox.client("s3", account, region)
        s3.create_bucket(Bucket=bucket)
        s3.put_object(Bucket=bucket, Key=f"{prefix}/{VIOLATIONS_FILE}", Body=json.dumps({"violations": violations}))
    return f"monitoring schedule {schedule}, its run {detail['ProcessingJobName']} ({status}) and its report"


@seeder("SageMaker Monitoring Schedule State Change")
def seed_monitoring_schedule(sandbox: Sandbox, event: dict[str, Any]) -> str:
    """The schedule, in the event's account, with the status (and FailureReason) the event reports."""
    from sandbox.fakes import monitoring

    detail, account, region = event["detail"], event["account"], event["region"]
    name, status = detail["MonitoringScheduleName"], str(detail["MonitoringScheduleStatus"]).capitalize()
    monitoring_type = str(detail.get("MonitoringType") or "DataQuality")
    known = monitoring.schedules(sagemaker_backends[account][region])
    found = known.setdefault(
        name,
        monitoring.MonitoringSchedule(
            name=name,
            arn=detail["MonitoringScheduleArn"],
            config={"MonitoringType": monitoring_type, "ScheduleConfig": {"ScheduleExpression": "cron(0 * ? * * *)"}},
            endpoint_name=str(detail.get("EndpointName") or ""),
            monitoring_type=monitoring_type,
            creation_time=_when(detail.get("CreationTime")),
            last_modified_time=_when(detail.get("LastModifiedTime")),
            tags=[{"Key": key, "Value": value} for key, value in (detail.get("Tags") or {}).items()],
        ),
    )
    found.status = status
    found.failure_reason = detail.get("FailureReason") if status == "Failed" else None
    return f"monitoring schedule {name} ({status})"


@seeder("SageMaker Model Building Pipeline Execution Status Change")
def seed_pipeline_execution(sandbox: Sandbox, event: dict[str, Any]) -> str:
    """The pipeline and its execution in the status the event reports: a failed or stopped one with its data step
    Succeeded and its training step Failed (or Stopped); a succeeded one with the package its RegisterModel step
    registered."""
    from moto.sagemaker.models import FakePipelineExecution

    from sandbox.fakes import pipelines

    detail, account, region = event["detail"], event["account"], event["region"]
    backend = sagemaker_backends[account][region]
    name, arn, status = (
        str(detail["pipelineArn"]).rsplit("/", 1)[-1],
        str(detail["pipelineExecutionArn"]),
        detail["currentPipelineExecutionStatus"],
    )
    definition = json.dumps({"Version": "2020-12-01", "Steps": []})
    if name not in backend.pipelines:
        backend.create_pipeline(
            pipeline_name=name,
            pipeline_display_name=name,
            pipeline_definition=definition,
            pipeline_definition_s3_location=None,  # type: ignore[arg-type]
            pipeline_description="",
            role_arn=f"arn:aws:iam::{account}:role/SageMakerPipelineRole",
            tags=[],
            parallelism_configuration=None,  # type: ignore[arg-type]
        )
    executions = backend.pipelines[name].pipeline_executions
    executions.setdefault(
        arn,
        FakePipelineExecution(
            arn,
            str(detail.get("pipelineExecutionDisplayName") or arn.rsplit("/", 1)[-1]),
            [],
            str(detail.get("pipelineExecutionDescription") or ""),
            {},
            definition,
            event["id"],
        ),
    )
    steps: list[dict[str, Any]] = [{"StepName": "PrepareData", "StepStatus": "Succeeded"}]
    reason = None
    if status in ("Failed", "Stopped"):
        reason = "Step failure: One or multiple steps failed." if status == "Failed" else None
        cause = "ClientError: AlgorithmError: the training channel is empty" if status == "Failed" else ""
        steps.append({"StepName": "TrainModel", "StepStatus": status} | ({"FailureReason": cause} if cause else {}))
    elif status == "Succeeded":
        package = f"arn:aws:sagemaker:{region}:{account}:model-package/{name}/1"
        steps += [
            {"StepName": "TrainModel", "StepStatus": "Succeeded"},
            {"StepName": "RegisterModel", "StepStatus": "Succeeded", "Metadata": {"RegisterModel": {"Arn": package}}},
        ]
    pipelines.set_execution(account, region, arn, status=status, steps=steps, failure_reason=reason)
    return f"pipeline {name} and its execution {arn.rsplit('/', 1)[-1]} ({status}, {len(steps)} steps)"


@seeder("SageMaker HyperParameter Tuning Job State Change")
def seed_tuning_job(sandbox: Sandbox, event: dict[str, Any]) -> str:
    """The tuning job, in the event's account, with as many completed trials as its counters say (up to 50), each
    with its objective value, ended in the event's status."""
    from lifecycle.policy import GROUP_TAG

    from sandbox.fakes import tuning

    detail, account, region = event["detail"], event["account"], event["region"]
    name = detail["HyperParameterTuningJobName"]
    if name in sagemaker_backends[account][region].hyper_parameter_tuning_jobs:
        return f"tuning job {name} (already there)"
    trials = min(int((detail.get("TrainingJobStatusCounters") or {}).get("Completed", 0)), 50)
    tuning.run_tuning_job(
        sandbox.client("sagemaker", account, region),
        name,
        account=account,
        region=region,
        group=detail["Tags"][GROUP_TAG],
        objective=detail["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"],
        values=[0.80 + 0.15 * ((index * 37) % trials) / trials for index in range(trials)],
        status=detail["HyperParameterTuningJobStatus"],
        reason=str(detail.get("FailureReason") or ""),
    )
    return f"tuning job {name} and its {trials} trials ({detail['HyperParameterTuningJobStatus']})"


# The endpoint statuses of the events (upper snake case) as the API spells them.
_ENDPOINT_STATUSES = {"ROLLING_BACK": "RollingBack", "UPDATE_ROLLBACK_FAILED": "UpdateRollbackFailed"}


@seeder("SageMaker Endpoint Deployment State Change")
def seed_endpoint_deployment(sandbox: Sandbox, event: dict[str, Any]) -> str:
    """The endpoint, in the event's account, on the config it serves (and the config of the deployment rolled back
    beside it), in the status the event reports."""
    from sandbox.fakes import endpoints as fake_endpoints
    from sandbox.fakes.training import XGBOOST_IMAGE

    detail, account, region = event["detail"], event["account"], event["region"]
    sagemaker = sandbox.client("sagemaker", account, region)
    name = detail["EndpointName"]
    configs = [detail["EndpointConfigName"], (detail.get("PendingDeploymentSummary") or {}).get("EndpointConfigName")]
    known = sagemaker_backends[account][region].endpoint_configs
    for config in [config for config in configs if config and config not in known]:
        sagemaker.create_model(
            ModelName=config,
            PrimaryContainer={
                "Image": XGBOOST_IMAGE,
                "ModelDataUrl": f"s3://example-ml-artifacts/{config}/model.tar.gz",
            },
            ExecutionRoleArn=f"arn:aws:iam::{account}:role/SageMakerExecutionRole",
        )
        variant = {"VariantName": "AllTraffic", "ModelName": config, "InstanceType": "ml.m5.xlarge"}
        sagemaker.create_endpoint_config(
            EndpointConfigName=config, ProductionVariants=[variant | {"InitialInstanceCount": 1}]
        )
    endpoints = sagemaker_backends[account][region].endpoints
    if name not in endpoints:
        sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=configs[0])
    fake_endpoints.settle(account, region, name)
    status = str(detail["EndpointStatus"])
    endpoints[name].endpoint_status = _ENDPOINT_STATUSES.get(status, status.title().replace("_", ""))
    return f"endpoint {name} on {configs[0]} ({endpoints[name].endpoint_status})"


# What a seeder meets in an event the product itself refuses cleanly (a missing or malformed field): the event is then
# delivered unseeded, so what the user sees is the product's refusal, not the sandbox's crash.
_UNSEEDABLE = (
    KeyError,
    IndexError,
    TypeError,
    ValueError,
    AttributeError,
    ClientError,
    BotoCoreError,
    ServiceException,
)


def seed(sandbox: Sandbox, event: dict[str, Any]) -> None:
    """Create what `event` refers to, in its account, as SageMaker would have it."""
    account = str(event.get("account", ""))
    fn = _SEEDERS.get(str(event.get("detail-type", "")))
    if fn is None or not isinstance(event.get("detail"), dict):
        sandbox.timeline.add("note", account, f"nothing to seed for {event.get('detail-type')!r}")
        return
    if account not in sandbox.forwarding_accounts:
        sandbox.timeline.add("note", account, f"nothing seeded: {no_stack_reason(account)}")
        return
    try:
        with sandbox.timeline.quiet():  # what seeding made is said in one note
            seeded = fn(sandbox, event)
    except _UNSEEDABLE as exc:
        sandbox.timeline.add("note", account, f"nothing seeded ({type(exc).__name__}: {exc}): the product decides")
    else:
        sandbox.timeline.add("note", account, f"seeded {seeded}")
    WORLD.drain()  # the seeding's own events (a registered package, a finished job): the replayed event is delivered


def no_stack_reason(account: str) -> str:
    return f"account {account} has no workload stack in the sandbox: replay --account {account}"


# -------------------------------------------------------------------------------------------------------------------
# inputs
# -------------------------------------------------------------------------------------------------------------------
def read_event(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text())
    except OSError as exc:
        raise InputError(f"cannot read event file {path}: {exc.strerror or exc}") from exc
    except json.JSONDecodeError as exc:
        raise InputError(f"event file {path} is not JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise InputError(f"event file {path} holds a JSON {type(document).__name__}, not an EventBridge event object")
    return document


def read_policy(path: Path) -> dict[str, Any]:
    """A policy file (YAML or JSON), validated by the product's own model."""
    mount_code()
    from lifecycle.errors import PolicyInvalid
    from lifecycle.policy import validate_policy

    try:
        document = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise InputError(f"cannot read policy file {path}: {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        raise InputError(f"policy file {path} is not YAML/JSON: {exc}") from exc
    group = document.get("group") if isinstance(document, dict) else None
    if not isinstance(group, str):
        raise InputError(f"invalid policy {path}: it must be a mapping with a `group` name")
    try:
        validate_policy(document, group=group)
    except PolicyInvalid as exc:
        raise InputError(f"invalid policy {path}: {exc}") from exc
    return dict(document)


def sample_policies() -> list[Path]:
    return sorted(POLICIES.glob("*.yaml"))


# -------------------------------------------------------------------------------------------------------------------
# the run
# -------------------------------------------------------------------------------------------------------------------
def outcome_of(deliveries: list[Delivery], sandbox: Sandbox) -> tuple[str, str]:
    """acted when any handler acted; else failed, rejected or ignored, with the first reason given. An event from an
    account without a workload stack names that first: in AWS nothing would have forwarded it."""
    invocations = [invocation for delivery in deliveries for invocation in delivery.invocations]
    account = str(deliveries[0].event.get("account", "")) if deliveries else ""
    cause = no_stack_reason(account) if deliveries and account not in sandbox.forwarding_accounts else ""
    for wanted in ("acted", "failed", "refused", "ignored"):
        found = [invocation for invocation in invocations if invocation.outcome == wanted]
        if found:
            reason = found[0].error or str((found[0].result or {}).get("reason", ""))
            if wanted == "acted":
                return wanted, ""
            return wanted, f"{cause}; then: {reason}" if cause else reason
    if cause:
        return "ignored", cause
    if deliveries and not deliveries[0].forwarded:
        return "ignored", "no forwarding rule of the event's account matches it"
    return "ignored", "no rule of the automation bus matches the event"


def replay(
    event: dict[str, Any], policies: list[dict[str, Any]], timeline: Timeline, *, accounts: tuple[str, ...] = ()
) -> dict[str, Any]:
    """Run one event through a fresh sandbox (with a workload stack in each of `accounts` too); the report `--json`
    prints."""
    with Sandbox(timeline=timeline, extra_accounts=accounts) as sandbox:
        for policy in policies:
            sandbox.publish_policy(policy)
        seed(sandbox, event)
        calls, notifications = len(sandbox.recorder.calls), len(sandbox.recorder.notifications)  # after the seeding
        router = Router(sandbox)
        deliveries = router.emit_and_settle(event)
        outcome, reason = outcome_of(deliveries, sandbox)
        template_rules = sandbox.deployment.template["Resources"]
        rules = list(
            dict.fromkeys(rule for delivery in deliveries for rule in delivery.rules if rule in template_rules)
        )
        report: dict[str, Any] = {"outcome": outcome, "reason": reason, "rules": rules}
        report["actions"] = sandbox.recorder.calls[calls:]
        report["notifications"] = sandbox.recorder.notifications[notifications:]
        report["executions"] = [
            {"stateMachine": e.state_machine, "name": e.name, "status": e.status, "states": e.states}
            for e in router.executions
        ]
        report["events"] = [
            {"id": d.event.get("id"), "detail-type": d.event.get("detail-type"), "account": d.event.get("account")}
            for d in deliveries
        ]
        return report
