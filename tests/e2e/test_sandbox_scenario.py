"""The demo scenario end to end: every reaction deployed today, happy and failure paths, across accounts."""

from __future__ import annotations

import contextlib
import io
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from sandbox.cloud import AUTOMATION, DEV, PROD, STAGING, Sandbox
from sandbox.router import Router
from sandbox.scenario import ACTS, APPROVER, run_scenario, summary
from sandbox.timeline import printer


@pytest.fixture(scope="module")
def played() -> Iterator[tuple[Sandbox, Router]]:
    with Sandbox() as sandbox:
        router = run_scenario(sandbox, lambda line: None)
        yield sandbox, router


def calls(sandbox: Sandbox, name: str) -> list[dict[str, str]]:
    return [call for call in sandbox.recorder.calls if call["call"] == name]


def results(router: Router, function: str) -> list[dict]:
    return [i.result or {} for d in router.deliveries for i in d.invocations if i.function == function]


def test_no_invocation_failed(played: tuple[Sandbox, Router]) -> None:
    _, router = played
    assert [i.error for d in router.deliveries for i in d.invocations if i.error] == []


def test_debugger_issues_stop_the_dev_job_and_the_stop_is_reported(played: tuple[Sandbox, Router]) -> None:
    sandbox, router = played
    [stop] = calls(sandbox, "sagemaker:StopTrainingJob")
    assert (stop["account"], stop["resource"]) == (DEV, "churn-xgb-20261127-0900")
    stopped = [r for r in results(router, "TrainingStateFunction") if r.get("stopped_by_product")]
    assert len(stopped) == 1 and "LossNotDecreasing" in stopped[0]["reason"]


def test_passing_jobs_are_registered_in_the_registry_account_and_the_gate_stops_the_weak_one(
    played: tuple[Sandbox, Router],
) -> None:
    sandbox, router = played
    registered = calls(sandbox, "sagemaker:CreateModelPackage")
    assert registered and {call["account"] for call in registered} == {AUTOMATION}
    actions = [r.get("action") for r in results(router, "TrainingStateFunction")]
    tuned = [r.get("action") for r in results(router, "TuningStateFunction")]
    assert actions.count("gate-failed") == 1
    # the 50 trials of the tuning job register nothing themselves: the tuning job registers its best, once
    assert tuned == ["registered"]
    assert actions.count("registered") + tuned.count("registered") == len(registered)
    packages = sandbox.client("sagemaker").list_model_packages(ModelPackageGroupName="churn")["ModelPackageSummaryList"]
    assert len(packages) == len(registered)


def test_labeling_starts_training_in_the_policy_training_account(played: tuple[Sandbox, Router]) -> None:
    sandbox, router = played
    if "LabelingStateFunction" not in {f.logical_id for f in sandbox.deployment.functions.values()}:
        pytest.skip("the labeling reaction is not in template.yaml")
    [started] = [r for r in results(router, "LabelingStateFunction") if r.get("action") == "training-started"]
    created = {
        call["resource"].rsplit("/", 1)[1]: call["account"] for call in calls(sandbox, "sagemaker:CreateTrainingJob")
    }
    assert any(created.get(name) == DEV for name in created if name.startswith("churn-labels-20261127-train"))
    assert "churn-labels-20261127" in started["reason"]


def test_drift_found_in_prod_retrains_in_dev(played: tuple[Sandbox, Router]) -> None:
    sandbox, router = played
    if "MonitorViolationFunction" not in {f.logical_id for f in sandbox.deployment.functions.values()}:
        pytest.skip("the monitor violation reaction is not in template.yaml")
    assert any(d.event.get("account") == PROD for d in router.deliveries)
    retrains = [c for c in calls(sandbox, "sagemaker:CreateTrainingJob") if "retrain" in c["resource"]]
    # the data-quality drift, then the model-quality violation (its own monitor, its own cool-down)
    assert [c["account"] for c in retrains] == [DEV, DEV]


def deployments(router: Router, group: str = "churn") -> list:
    return [e for e in router.executions if e.state_machine.endswith("deploy-model") and e.name.startswith(f"{group}-")]


def test_approval_deploys_staging_then_prod_after_the_gate(played: tuple[Sandbox, Router]) -> None:
    sandbox, router = played
    first = deployments(router)[0]
    assert first.status == "SUCCEEDED"
    assert first.states.count("Create Model") == 2
    # prod's gate comes before anything changes in prod: its model is created only after the approval
    gate = first.states.index("Wait For Approval")
    assert first.states.index("Run Smoke Test") < gate < len(first.states) - first.states[::-1].index("Create Model")
    assert first.states[-1] == "Deployment Succeeded"
    created = [c for c in calls(sandbox, "sagemaker:CreateEndpoint") if "/churn-" in c["resource"]]
    assert [c["account"] for c in created] == [STAGING, PROD]
    # prod's three monitors the deployment creates (the sample policy): one job definition and schedule each
    schedules = calls(sandbox, "sagemaker:CreateMonitoringSchedule")
    assert [schedule["account"] for schedule in schedules] == [PROD] * 3
    assert {schedule["resource"].rsplit("/", 1)[-1] for schedule in schedules} == {
        "churn-prod-data-quality",
        "churn-prod-model-quality",
        "churn-prod-bias-drift",
    }


def serving(sandbox: Sandbox, account: str, endpoint: str) -> list[tuple[str, int | None]]:
    from lifecycle.deploy import endpoints

    sagemaker = sandbox.client("sagemaker", account)
    config = sagemaker.describe_endpoint(EndpointName=endpoint)["EndpointConfigName"]
    return [(v.name, v.version) for v in endpoints.serving(sagemaker, config)]


def test_every_update_is_a_guarded_update_that_keeps_the_variant_name(played: tuple[Sandbox, Router]) -> None:
    sandbox, _ = played
    updates = calls(sandbox, "sagemaker:UpdateEndpoint")
    assert len(updates) >= 2  # staging v2 -> v3, prod's canary of v3 (the fake refuses a renamed variant)
    records = sandbox.client("dynamodb").query(
        TableName=sandbox.table_name,
        KeyConditionExpression="pk = :pk AND begins_with(sk, :audit)",
        ExpressionAttributeValues={":pk": {"S": "GROUP#churn"}, ":audit": {"S": "AUDIT#"}},
    )["Items"]
    reasons = [r["reason"]["S"] for r in records if r["action"]["S"] == "update-endpoint"]
    assert reasons and all("blue/green" in reason for reason in reasons)


def test_the_prod_canary_rolls_back_on_its_alarm_and_later_stages_keep_the_old_version(
    played: tuple[Sandbox, Router],
) -> None:
    sandbox, router = played
    second = deployments(router)[1]
    assert second.status == "FAILED"
    assert second.states[-6:] == [
        "Restore Previous Endpoint Config",
        "Restore Started?",
        "Restore Autoscaling",
        "Finish Failed Stage",
        "How Did It End?",
        "Deployment Failed",
    ]
    assert serving(sandbox, STAGING, "churn-staging") == [("AllTraffic", 3)]
    assert serving(sandbox, PROD, "churn-prod") == [("AllTraffic", 2)]


def test_the_batch_stage_is_proved_by_its_transform_job_and_records_its_current_model(
    played: tuple[Sandbox, Router],
) -> None:
    sandbox, router = played
    [scoring] = deployments(router, "scoring")
    assert scoring.status == "SUCCEEDED"
    assert "Run Transform Job" in scoring.states and "Create Endpoint Config" not in scoring.states
    proved = [line.text for line in sandbox.timeline.of("world") if line.text.startswith("batch stage of scoring")]
    assert len(proved) == 1 and "v1, proved by transform job scoring-v1-batch-" in proved[0]


def test_fraud_runs_a_serverless_staging_and_an_autoscaled_prod_whose_shadow_a_person_promotes(
    played: tuple[Sandbox, Router],
) -> None:
    sandbox, router = played
    first, second = deployments(router, "fraud")
    assert first.status == "SUCCEEDED" and "Wait For Shadow Verdict" not in first.states  # nothing to shadow yet
    # v2: staging replaced, then prod runs it as a shadow until the person's verdict, then a guarded promotion
    assert second.status == "SUCCEEDED"
    verdict = second.states.index("Wait For Shadow Verdict")
    assert "Compare Shadow Metrics" not in second.states  # a person decided before the day was up
    assert second.states[verdict + 1 : verdict + 3] == ["End Shadow", "Wait For Shadow To End"]
    assert "Configure Autoscaling" in second.states[verdict:]
    assert serving(sandbox, PROD, "fraud-prod") == [("AllTraffic", 2)]
    assert serving(sandbox, STAGING, "fraud-staging") == [("AllTraffic", 2)]
    world = [line.text for line in sandbox.timeline.of("world")]
    assert (
        "while v2 runs as prod's shadow: fraud-prod InService, serving v1 on AllTraffic 100%, v2 on Shadow (shadow, a "
        "copy of 20%) (autoscaled: 2-8 instances)" in world
    )
    assert (
        "after the promotion: fraud-prod InService, serving v2 on AllTraffic 100% (autoscaled: 2-8 instances)" in world
    )
    assert (
        "after the promotion: fraud-staging InService, serving v2 on AllTraffic 100% (serverless: 2048 MB, at most 5 "
        "at once)" in world
    )
    # the promotion is guarded and audited with who promoted and why
    records = sandbox.client("dynamodb").query(
        TableName=sandbox.table_name,
        KeyConditionExpression="pk = :pk AND begins_with(sk, :audit)",
        ExpressionAttributeValues={":pk": {"S": "GROUP#fraud"}, ":audit": {"S": "AUDIT#"}},
    )["Items"]
    promoted = [
        r["reason"]["S"] for r in records if r["action"]["S"] == "deploy-stage" and "shadow" in r["reason"]["S"]
    ]
    assert len(promoted) == 1 and f"promoted from a shadow ({APPROVER}: a day of shadow traffic" in promoted[0]
    prod_updates = [c for c in calls(sandbox, "sagemaker:UpdateEndpoint") if c["resource"].endswith("/fraud-prod")]
    assert len(prod_updates) == 3  # the shadow on, the shadow off, v2 guarded


def test_summary_names_what_is_deployed_where_and_the_audit_trail(played: tuple[Sandbox, Router]) -> None:
    sandbox, _ = played
    lines = summary(sandbox)
    assert any(line.startswith(f"registry {AUTOMATION}: group churn: v1") for line in lines)
    assert any(line.startswith(f"endpoint {PROD}: churn-prod InService on churn-v2-prod-") for line in lines)
    assert any("register-model-package skipped x1" in line for line in lines)


def test_the_concise_view_is_about_one_line_per_decision(played: tuple[Sandbox, Router]) -> None:
    sandbox, router = played

    concise = sandbox.timeline.render(verbose=False).splitlines()
    verbose = sandbox.timeline.render(verbose=True).splitlines()

    kinds = {line.split()[2] for line in concise if not line.startswith(" " * 33)}
    assert kinds <= {"note", "world", "handler", "notify", "step"}
    handler_results = sum(len(d.invocations) for d in router.deliveries)
    notifications = len(sandbox.recorder.notifications)
    assert len(concise) <= 3 * len(ACTS) + handler_results + notifications + 4 * len(deployments(router)) + 25
    assert len(verbose) > 4 * len(concise)


def test_the_concise_view_names_who_approved_the_alarm_the_features_and_what_serves_where(
    played: tuple[Sandbox, Router],
) -> None:
    sandbox, _ = played

    world = [line.text for line in sandbox.timeline.of("world")]

    assert f"{APPROVER} approves churn v2 in the registry: metrics reviewed" in world
    assert any(text.startswith(f"{APPROVER} approves prod of churn-v3-") for text in world)
    assert any("alarm churn-prod-5xx" in text and "ALARM" in text for text in world)
    assert any("tenure_months (baseline_drift_check), monthly_charges (data_type_check)" in text for text in world)
    assert world[-2:] == [
        "after the canary: churn-staging InService, serving v3 on AllTraffic 100% (1 x ml.m5.large)",
        "after the canary: churn-prod InService, serving v2 on AllTraffic 100% (2 x ml.m5.xlarge)",
    ]
    subjects = [line.text for line in sandbox.timeline.of("notify")]
    assert "churn v2: approve prod?" in subjects
    assert "churn v3: deployment FAILED at prod: SageMaker rolled it back" in subjects


class _SlowStream(io.StringIO):
    """A terminal slow enough that two writes of one line let another thread's write in between."""

    def write(self, text: str) -> int:
        time.sleep(0.0005)
        return super().write(text)


def test_printed_lines_never_run_into_each_other() -> None:
    # Given the printer the demo uses, and the Step Functions engine's threads printing at once
    stream = _SlowStream()
    with contextlib.redirect_stdout(stream):
        echo = printer()
    lines = [f"line {n} " + "x" * 200 for n in range(200)]

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(echo, lines))

    # Then every line is whole, on its own line
    assert sorted(stream.getvalue().splitlines()) == sorted(lines)
