"""The demo scenario: the whole lifecycle of the `churn` model, scripted world and all, on the local sandbox.

The world is scripted (what people and SageMaker do: start a job, a Debugger rule finds issues, a job ends with
`validation:auc = 0.91`, a drift alarm fires); everything else is the product reacting through the deployed rules.
An act runs only when the reaction it shows is deployed (its rule is in template.yaml), so the demo grows with the
product: add an act here when a reaction lands.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from sandbox.cloud import AUTOMATION, DEV, PROD, REGION, STACK, STAGING, Sandbox
from sandbox.fakes import training as fake_training
from sandbox.replay import labeling_job_request, read_policy, sample_policies
from sandbox.router import Router
from sandbox.timeline import Timeline
from sandbox.world import WORLD

GROUP = "churn"
APPROVER = "ml-lead@example.com"


@dataclass(frozen=True)
class Act:
    title: str
    needs_rule: str
    run: Callable[[World], None]


class World:
    """What people and SageMaker do in the scenario; each change emits SageMaker's event and the product reacts.

    Each thing the world does is a `world` line of the timeline, naming who or what did it (the approver, the alarm,
    the features the monitor found drifting): the product's decisions that follow are read against it.
    """

    def __init__(self, sandbox: Sandbox, router: Router) -> None:
        self.sandbox = sandbox
        self.router = router

    def say(self, account: str, text: str) -> None:
        self.sandbox.timeline.add("world", account, text)

    def show(self, when: str, group: str = GROUP) -> None:
        """Say what each stage's endpoint serves now (what `lifecycle status` would show a person)."""
        from lifecycle.deploy import endpoints

        for account, endpoint in ((STAGING, f"{group}-staging"), (PROD, f"{group}-prod")):
            sagemaker = self.sandbox.client("sagemaker", account)
            found = endpoints.describe_endpoint(sagemaker, endpoint)
            if found is None:
                self.say(account, f"{when}: {endpoint} does not exist (nothing is created before the approval)")
                continue
            variants = endpoints.serving(sagemaker, found.config)
            shares = ", ".join(
                f"v{v.version} on {v.name} "
                + (f"(shadow, a copy of {v.weight:.0%})" if v.shadow else f"{v.weight:.0%}")
                for v in variants
            )
            self.say(account, f"{when}: {endpoint} {found.status}, serving {shares}{self._sizing(account, endpoint)}")

    def _sizing(self, account: str, endpoint: str) -> str:
        """How the endpoint's main variant is sized: serverless memory and concurrency, or the instances Application
        Auto Scaling keeps it within (what the console shows beside the variants)."""
        sagemaker = self.sandbox.client("sagemaker", account)
        config = sagemaker.describe_endpoint(EndpointName=endpoint)["EndpointConfigName"]
        main = sagemaker.describe_endpoint_config(EndpointConfigName=config)["ProductionVariants"][0]
        if "ServerlessConfig" in main:
            serverless = main["ServerlessConfig"]
            return f" (serverless: {serverless['MemorySizeInMB']} MB, at most {serverless['MaxConcurrency']} at once)"
        targets = self.sandbox.client("application-autoscaling", account).describe_scalable_targets(
            ServiceNamespace="sagemaker", ResourceIds=[f"endpoint/{endpoint}/variant/{main['VariantName']}"]
        )["ScalableTargets"]
        if targets:
            return f" (autoscaled: {targets[0]['MinCapacity']}-{targets[0]['MaxCapacity']} instances)"
        return f" ({main.get('InitialInstanceCount', 1)} x {main.get('InstanceType')})"

    def settle(self) -> None:
        self.router.settle()

    def start_training_job(self, name: str, *, account: str = DEV) -> None:
        """A data scientist starts a training job (tagged with its model package group)."""
        sagemaker = self.sandbox.client("sagemaker", account)
        self.say(account, f"a data scientist starts training job {name} (tag lifecycle:model-package-group={GROUP})")
        fake_training.start_job(sagemaker, name, account=account, region=REGION, group=GROUP)
        self.settle()

    def training_job_ends(self, name: str, *, auc: float, account: str = DEV) -> None:
        """The job reaches Completed with `validation:auc = auc`."""
        self.say(account, f"training job {name} Completed with validation:auc {auc}")
        fake_training.set_state(account, REGION, name, status="Completed", metrics={"validation:auc": auc})
        self.settle()

    def rule_finds_issues(self, name: str, rule: str, *, account: str = DEV) -> None:
        self.say(account, f"Debugger rule {rule} finds issues in {name} at step 500 (the job still runs)")
        fake_training.set_rule_status(
            account,
            REGION,
            name,
            rule=rule,
            status="IssuesFound",
            details=f"RuleEvaluationConditionMet: Evaluation of the rule {rule} at step 500 resulted in the condition "
            "being met",
        )
        self.settle()

    def labeling_job_completes(self, name: str, *, account: str = DEV) -> None:
        """A Ground Truth job labels the churn data set (120 by people, 380 by the model)."""
        from sandbox.fakes import labeling

        self.sandbox.client("sagemaker", account).create_labeling_job(**labeling_job_request(name, account))
        self.settle()
        self.say(account, f"labeling job {name} Completed: 500 labels (120 by people, 380 by the model)")
        labeling.complete_labeling_job(account, REGION, name, human=120, machine=380)
        self.settle()

    def drift_alarm_fires(self, *, endpoint: str, account: str = PROD) -> None:
        """The Model Monitor drift alarm of the prod endpoint goes to ALARM."""
        from sandbox.fakes import monitoring

        self.say(account, f"alarm {endpoint}-feature-drift (Model Monitor metrics of {endpoint}) goes to ALARM")
        monitoring.set_alarm(
            account,
            REGION,
            alarm_name=f"{endpoint}-feature-drift",
            endpoint_name=endpoint,
            schedule_name=f"{endpoint}-data-quality",
            state="ALARM",
        )
        self.settle()

    def approve_package(self, version: int, group: str = GROUP) -> None:
        """The ML lead approves a version in the registry (`aws sagemaker update-model-package ... Approved`)."""
        arn = f"arn:aws:sagemaker:{REGION}:{AUTOMATION}:model-package/{group}/{version}"
        self.say(AUTOMATION, f"{APPROVER} approves {group} v{version} in the registry: metrics reviewed")
        self.sandbox.client("sagemaker", AUTOMATION).update_model_package(
            ModelPackageArn=arn, ModelApprovalStatus="Approved", ApprovalDescription="metrics reviewed"
        )
        self.settle()

    def register_model(self, group: str, *, content_type: str) -> None:
        """A data scientist registers a version of a model trained elsewhere (PendingManualApproval) in the
        registry, creating its model package group the first time."""
        sagemaker = self.sandbox.client("sagemaker", AUTOMATION)
        groups = sagemaker.list_model_package_groups(NameContains=group)["ModelPackageGroupSummaryList"]
        if not any(found["ModelPackageGroupName"] == group for found in groups):
            sagemaker.create_model_package_group(ModelPackageGroupName=group)
        version = len(sagemaker.list_model_packages(ModelPackageGroupName=group)["ModelPackageSummaryList"]) + 1
        self.say(AUTOMATION, f"a data scientist registers {group} v{version} (trained elsewhere) for approval")
        sagemaker.create_model_package(
            ModelPackageGroupName=group,
            InferenceSpecification={
                "Containers": [
                    {
                        "Image": fake_training.XGBOOST_IMAGE,
                        "ModelDataUrl": f"s3://example-ml/{group}/{version}/model.tar.gz",
                    }
                ],
                "SupportedContentTypes": [content_type],
                "SupportedResponseMIMETypes": [content_type],
            },
            ModelApprovalStatus="PendingManualApproval",
        )
        self.settle()

    def shadow_traffic(self, endpoint: str, served: dict[str, tuple[int, float]], *, account: str = PROD) -> None:
        """A day of requests: each variant (name -> invocations, average ModelLatency in ms) publishes its CloudWatch
        metrics (AWS/SageMaker, per EndpointName and VariantName; a shadow variant its own, on its copy of the
        requests)."""
        from datetime import UTC, datetime

        cloudwatch = self.sandbox.client("cloudwatch", account)
        now = datetime.now(UTC)
        for variant, (invocations, latency_ms) in served.items():
            dimensions = [{"Name": "EndpointName", "Value": endpoint}, {"Name": "VariantName", "Value": variant}]
            cloudwatch.put_metric_data(
                Namespace="AWS/SageMaker",
                MetricData=[
                    {"MetricName": "Invocations", "Dimensions": dimensions, "Timestamp": now, "Value": invocations},
                    {
                        "MetricName": "ModelLatency",
                        "Dimensions": dimensions,
                        "Timestamp": now,
                        "Value": latency_ms * 1000,
                    },
                ],
            )
        said = ", ".join(f"{variant} {n:,} requests at {ms:g} ms" for variant, (n, ms) in served.items())
        self.say(account, f"a day of requests on {endpoint}: {said} (ModelLatency, average)")

    def promote_shadow(self, group: str, stage: str, reason: str) -> None:
        """The ML lead reads the shadow's metrics and promotes it (`lifecycle promote GROUP --stage STAGE`)."""
        from lifecycle.config import Settings

        from cli import runs

        stack = self.sandbox.client("cloudformation").describe_stacks(StackName=STACK)
        settings = Settings.from_stack(stack["Stacks"][0])
        self.say(AUTOMATION, f"{APPROVER} runs lifecycle promote {group} --stage {stage}: {reason}")
        execution, _ = runs.shadow_verdict(settings, group, stage, promote=True, by=APPROVER, reason=reason)
        self.router.resume(next(e.arn for e in self.router.executions if e.name == execution))
        self.settle()

    def approve_gates(self) -> None:
        """The approver answers every waiting approval gate (what `lifecycle approve <execution>` does: the answer
        is kept with the gate, then its task token is used)."""
        from lifecycle.config import Settings
        from lifecycle.store import deployments

        stack = self.sandbox.client("cloudformation").describe_stacks(StackName=STACK)
        settings = Settings.from_stack(stack["Stacks"][0])
        stepfunctions = self.sandbox.client("stepfunctions")
        for execution in [e for e in self.router.executions if e.status == "RUNNING"]:
            for gate in deployments.approvals(settings, GROUP, execution=execution.name):
                reason = f"{gate.stage}: evidence reviewed"
                if gate.decision or not deployments.answer_approval(
                    settings, gate, decision="approved", by=APPROVER, reason=reason
                ):
                    continue
                self.say(AUTOMATION, f"{APPROVER} approves {gate.stage} of {execution.name}: {reason}")
                output = {"approved_by": APPROVER, "reason": reason}
                stepfunctions.send_task_success(taskToken=gate.token, output=json.dumps(output))
            self.router.resume(execution.arn)
        self.settle()

    def alarm_fires(self, alarm: str, *, account: str = PROD) -> None:
        """A CloudWatch alarm of the prod endpoint (its 5xx rate) goes to ALARM."""
        cloudwatch = self.sandbox.client("cloudwatch", account)
        cloudwatch.put_metric_alarm(
            AlarmName=alarm,
            Namespace="AWS/SageMaker",
            MetricName="Invocation5XXErrors",
            Dimensions=[
                {"Name": "EndpointName", "Value": "churn-prod"},
                {"Name": "VariantName", "Value": "AllTraffic"},
            ],
            Statistic="Sum",
            Period=60,
            EvaluationPeriods=1,
            Threshold=1,
            ComparisonOperator="GreaterThanOrEqualToThreshold",
        )
        cloudwatch.set_alarm_state(AlarmName=alarm, StateValue="ALARM", StateReason="5xx errors on the canary")
        self.say(account, f"alarm {alarm} (Invocation5XXErrors of churn-prod) is in ALARM: 5xx errors on the canary")

    def alarm_clears(self, alarm: str, *, account: str = PROD) -> None:
        """The incident is over: the alarm goes back to OK."""
        cloudwatch = self.sandbox.client("cloudwatch", account)
        cloudwatch.set_alarm_state(AlarmName=alarm, StateValue="OK", StateReason="no 5xx errors for 15 minutes")
        self.say(account, f"alarm {alarm} is OK again: no 5xx errors for 15 minutes")

    def monitor_finds_violations(self, endpoint: str, *, account: str = PROD) -> None:
        """The hourly Model Monitor run of an endpoint finds drift (CompletedWithViolations)."""
        from sandbox.fakes import monitoring

        found = ", ".join(
            f"{v['feature_name']} ({v['constraint_check_type']})" for v in monitoring.default_violations()
        )
        self.say(account, f"Model Monitor run of {endpoint}-data-quality: CompletedWithViolations, {found}")
        monitoring.run_execution(account, REGION, f"{endpoint}-data-quality", outcome="violations")
        self.settle()

    def monitor_run_finds_violations(self, schedule: str, *, account: str = PROD) -> None:
        """A run of one of the endpoint's monitors (model quality, bias drift, ...) finds violations."""
        from sandbox.fakes import monitoring

        described = self.sandbox.client("sagemaker", account).describe_monitoring_schedule(
            MonitoringScheduleName=schedule
        )
        kind = described["MonitoringType"]
        found = ", ".join(
            f"{v.get('feature_name') or v.get('metric_name')} ({v['constraint_check_type']})"
            for v in monitoring.default_violations(kind)
        )
        self.say(account, f"Model Monitor run of {schedule} ({kind}): CompletedWithViolations, {found}")
        monitoring.run_execution(account, REGION, schedule, outcome="violations")
        self.settle()

    def tuning_job_runs(self, name: str, *, trials: int, account: str = DEV) -> None:
        """A data scientist's tuning job runs `trials` training jobs (each emits its Completed), then completes."""
        from sandbox.fakes import tuning

        values = [round(0.80 + 0.14 * ((index * 37) % trials) / trials, 4) for index in range(trials)]
        self.say(
            account,
            f"a data scientist's tuning job {name} runs {trials} trials (best validation:auc {max(values)}), then "
            "Completed",
        )
        tuning.run_tuning_job(
            self.sandbox.client("sagemaker", account),
            name,
            account=account,
            region=REGION,
            group=GROUP,
            objective={"Type": "Maximize", "MetricName": "validation:auc"},
            values=values,
        )
        self.settle()

    def pipeline_fails(self, pipeline: str, *, account: str = DEV) -> None:
        """A data scientist's training pipeline runs, and its training step fails."""
        from sandbox.fakes import pipelines

        sagemaker = self.sandbox.client("sagemaker", account)
        sagemaker.create_pipeline(
            PipelineName=pipeline,
            PipelineDefinition=json.dumps({"Version": "2020-12-01", "Steps": []}),
            RoleArn=f"arn:aws:iam::{account}:role/SageMakerPipelineRole",
        )
        started = sagemaker.start_pipeline_execution(
            PipelineName=pipeline, PipelineExecutionDisplayName=f"{pipeline}-weekly"
        )
        reason = "AlgorithmError: the training channel is empty"
        self.say(account, f"pipeline {pipeline}: its step TrainModel Failed ({reason})")
        steps = [
            {"StepName": "PrepareData", "StepStatus": "Succeeded"},
            {"StepName": "TrainModel", "StepStatus": "Failed", "FailureReason": reason},
        ]
        pipelines.end_execution(
            account,
            REGION,
            started["PipelineExecutionArn"],
            status="Failed",
            steps=steps,
            failure_reason="Step failure: One or multiple steps failed.",
        )
        self.settle()

    def schedule_fails(self, schedule: str, reason: str, *, account: str = PROD) -> None:
        """A monitoring schedule of the endpoint fails (SageMaker stops running it)."""
        from sandbox.fakes import monitoring

        self.say(account, f"monitoring schedule {schedule} Failed: {reason}")
        monitoring.set_schedule_status(account, REGION, schedule, status="Failed", reason=reason)
        self.settle()

    def finish_deployments(self) -> None:
        """Follow every deployment still running to its end (a slow machine outlasts one follow), then deliver what
        SageMaker emitted meanwhile (its own rollback of the endpoint, say)."""
        for execution in [e for e in self.router.executions if e.status == "RUNNING"]:
            self.router.resume(execution.arn)
        self.settle()

    def jobs_started_by_product(self) -> list[str]:
        """Names of the training jobs the product created (its CreateTrainingJob calls), oldest first."""
        return [
            call["resource"].rsplit("/", 1)[1]
            for call in self.sandbox.recorder.calls
            if call["call"] == "sagemaker:CreateTrainingJob"
        ]


def _debugger(world: World) -> None:
    world.start_training_job("churn-xgb-20261127-0900")
    world.rule_finds_issues("churn-xgb-20261127-0900", "LossNotDecreasing")


def _labeling_to_registration(world: World) -> None:
    world.labeling_job_completes("churn-labels-20261127")
    started = world.jobs_started_by_product()
    if started:  # the product started training from the labels: that job now runs and ends well
        fake_training.set_state(DEV, REGION, started[-1], status="InProgress", secondary="Training")
        world.training_job_ends(started[-1], auc=0.91)


def _registration(world: World) -> None:
    world.start_training_job("churn-xgb-20261127-1100")
    world.training_job_ends("churn-xgb-20261127-1100", auc=0.91)


def _gate_fails(world: World) -> None:
    world.start_training_job("churn-xgb-20261127-1300")
    world.training_job_ends("churn-xgb-20261127-1300", auc=0.71)


def _approval_deploys(world: World) -> None:
    world.approve_package(2)
    world.show("while prod's approval gate waits")
    world.approve_gates()
    world.show("after the approval")


def _drift_retrains(world: World) -> None:
    before = len(world.jobs_started_by_product())
    if monitoring_schedule_exists(world.sandbox, "churn-prod"):
        world.monitor_finds_violations("churn-prod")
    else:
        world.drift_alarm_fires(endpoint="churn-prod")
    started = world.jobs_started_by_product()[before:]
    if started:  # the retraining job runs on fresh data and ends better
        fake_training.set_state(DEV, REGION, started[-1], status="InProgress", secondary="Training")
        world.training_job_ends(started[-1], auc=0.93)


def _monitors_act_by_type(world: World) -> None:
    world.monitor_run_finds_violations("churn-prod-model-quality")
    world.monitor_run_finds_violations("churn-prod-bias-drift")


def _tuning_registers_its_best(world: World) -> None:
    world.tuning_job_runs("churn-xgb-hpo-20261127", trials=50)


def _sagemaker_fails_on_its_own(world: World) -> None:
    world.pipeline_fails("churn-training-pipeline")
    world.schedule_fails(
        "churn-prod-bias-drift",
        "the ground truth labels at s3://example-prod-ml-monitoring/churn/ground-truth/ could not be read: "
        "Access Denied",
    )


def _batch_stage_proved(world: World) -> None:
    from lifecycle.config import Settings
    from lifecycle.store import deployments

    world.register_model("scoring", content_type="text/csv")
    world.approve_package(1, group="scoring")
    stack = world.sandbox.client("cloudformation").describe_stacks(StackName=STACK)
    current = deployments.current_model(Settings.from_stack(stack["Stacks"][0]), "scoring", "batch")
    world.say(
        PROD,
        f"batch stage of scoring: model {current.model}, v{current.version}, proved by transform job "
        f"{current.transform_job}"
        if current
        else "batch stage of scoring: no model (its transform job did not complete)",
    )


def _shadow_promoted(world: World) -> None:
    world.register_model("fraud", content_type="application/json")
    world.approve_package(1, group="fraud")
    world.show("fraud v1 deployed", group="fraud")
    world.register_model("fraud", content_type="application/json")
    world.approve_package(2, group="fraud")
    world.show("while v2 runs as prod's shadow", group="fraud")
    world.shadow_traffic("fraud-prod", {"AllTraffic": (48_000, 21.0), "Shadow": (9_600, 19.5)})
    world.promote_shadow("fraud", "prod", "a day of shadow traffic: latency 19.5 ms vs 21.0 ms, answers reviewed")
    world.show("after the promotion", group="fraud")


def _canary_rolls_back(world: World) -> None:
    world.alarm_fires("churn-prod-5xx")
    world.approve_package(3)
    world.show("while prod's approval gate waits")
    world.approve_gates()
    world.finish_deployments()
    world.show("after the canary")


ACTS = [
    Act(
        "A Debugger rule finds issues in a dev training job -> stopped, people told",
        "DebuggerRuleIssuesRule",
        _debugger,
    ),
    Act(
        "Labeling completes -> training starts -> it ends with validation:auc 0.91 -> registered",
        "LabelingJobStateRule",
        _labeling_to_registration,
    ),
    Act(
        "A training job ends with validation:auc 0.91 -> registered in the registry",
        "TrainingJobStateRule",
        _registration,
    ),
    Act("A training job ends with validation:auc 0.71 -> the metric gate fails", "TrainingJobStateRule", _gate_fails),
    Act(
        "v2 is approved -> DeployModel: staging, smoke test; prod untouched at its approval gate until a person "
        "approves -> prod canary, monitoring schedule",
        "ModelPackageStateRule",
        _approval_deploys,
    ),
    Act(
        "The prod monitor finds drift -> retraining starts -> it completes -> v3 registered (the loop closes)",
        "MonitoringJobStateRule",
        _drift_retrains,
    ),
    Act(
        "prod's model-quality monitor finds AUC degraded -> retraining starts; its bias-drift monitor finds a worse "
        "class imbalance -> people told only (each monitor its own action)",
        "MonitoringJobStateRule",
        _monitors_act_by_type,
    ),
    Act(
        "A 50-trial tuning job completes -> its best trial goes through the gate -> exactly one package registered",
        "TuningJobStateRule",
        _tuning_registers_its_best,
    ),
    Act(
        "A training pipeline fails at its TrainModel step, then prod's bias-drift schedule fails -> recorded, people "
        "told what failed and why",
        "PipelineExecutionStateRule",
        _sagemaker_fails_on_its_own,
    ),
    Act(
        "scoring v1 is approved -> its batch stage: the model in prod, a transform job on the scoring input proves it",
        "TransformJobStateRule",
        _batch_stage_proved,
    ),
    Act(
        "fraud v1 is approved -> a serverless staging and an autoscaled prod; v2 -> staging updated, prod runs it as a "
        "shadow on a copy of 20% of its requests -> promoted by a person -> guarded update, the scaling policy kept",
        "ModelPackageStateRule",
        _shadow_promoted,
    ),
    Act(
        "v3 is approved -> staging updated; prod approved, its 5xx alarm fires during the canary -> SageMaker rolls "
        "it back to v2",
        "ModelPackageStateRule",
        _canary_rolls_back,
    ),
]


def monitoring_schedule_exists(sandbox: Sandbox, endpoint: str, account: str = PROD) -> bool:
    """Whether the deployment set up the endpoint's data-quality schedule."""
    schedules = sandbox.client("sagemaker", account).list_monitoring_schedules(EndpointName=endpoint)
    return bool(schedules["MonitoringScheduleSummaries"])


def summary(sandbox: Sandbox) -> list[str]:
    """What was registered and deployed where, and what the audit table recorded."""
    lines = []
    sagemaker = sandbox.client("sagemaker", AUTOMATION)
    for group in sagemaker.list_model_package_groups()["ModelPackageGroupSummaryList"]:
        name = group["ModelPackageGroupName"]
        packages = sagemaker.list_model_packages(ModelPackageGroupName=name)["ModelPackageSummaryList"]
        versions = ", ".join(f"v{p['ModelPackageVersion']} {p['ModelApprovalStatus']}" for p in packages)
        lines.append(f"registry {AUTOMATION}: group {name}: {versions}")
    for account in (DEV, STAGING, PROD):
        client = sandbox.client("sagemaker", account)
        jobs = client.list_training_jobs()["TrainingJobSummaries"]
        if jobs:
            statuses = Counter(job["TrainingJobStatus"] for job in jobs)
            lines.append(f"training jobs {account}: {len(jobs)}: " + ", ".join(f"{n} {s}" for s, n in statuses.items()))
        for endpoint in client.list_endpoints()["Endpoints"]:
            config = client.describe_endpoint(EndpointName=endpoint["EndpointName"])["EndpointConfigName"]
            lines.append(f"endpoint {account}: {endpoint['EndpointName']} {endpoint['EndpointStatus']} on {config}")
    items = sandbox.client("dynamodb").query(
        TableName=sandbox.table_name,
        KeyConditionExpression="pk = :pk AND begins_with(sk, :audit)",
        ExpressionAttributeValues={":pk": {"S": f"GROUP#{GROUP}"}, ":audit": {"S": "AUDIT#"}},
    )["Items"]
    decisions = Counter(f"{item['action']['S']} {item['outcome']['S']}" for item in items)
    lines.append(
        f"audit table: {len(items)} records for {GROUP}: " + ", ".join(f"{k} x{n}" for k, n in decisions.items())
    )
    return lines


def run_scenario(sandbox: Sandbox, echo: Callable[[str], None]) -> Router:
    """Publish the sample policies and play every act whose reaction is deployed."""
    for path in sample_policies():
        sandbox.publish_policy(read_policy(path))
    router = Router(sandbox)
    world = World(sandbox, router)
    deployed = set(sandbox.deployment.rule_ids.values())
    for number, act in enumerate(ACTS, 1):
        if act.needs_rule not in deployed:
            echo(f"\n== {number}. {act.title}: skipped ({act.needs_rule} is not in template.yaml yet)")
            continue
        echo(f"\n== {number}. {act.title}")
        act.run(world)
    WORLD.drain()
    return router


def run_demo(echo: Callable[[str], None], *, verbose: bool = False) -> int:
    """`make demo`: the scenario with a live timeline (its decisions, or every line when `verbose`) and a summary."""
    started = time.monotonic()
    timeline = Timeline(echo=echo, verbose=verbose)
    echo("sagemaker-lifecycle sandbox: moto, four accounts, the real template.yaml; no AWS, no Docker")
    echo(f"accounts: automation {AUTOMATION}, dev {DEV}, staging {STAGING}, prod {PROD}\n")
    with Sandbox(timeline=timeline) as sandbox:
        router = run_scenario(sandbox, echo)
        echo("\n== Summary")
        for line in summary(sandbox):
            echo(line)
        invocations = [i for d in router.deliveries for i in d.invocations]
        failed = [i for i in invocations if i.error]
        echo(
            f"{len(router.deliveries)} events, {len(invocations)} handler invocations, "
            f"{len(sandbox.recorder.notifications)} notifications, {len(sandbox.recorder.calls)} write calls, "
            f"{len(failed)} failed invocations, {time.monotonic() - started:.1f} s"
        )
    return 1 if failed else 0
