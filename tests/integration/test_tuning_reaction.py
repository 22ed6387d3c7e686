"""Hyperparameter tuning jobs, end to end through the handlers, against moto: a sweep in dev, the registry in the
automation account. Under `training.tuning: best` (the default) the sweep registers exactly its best trial, once, with
the tuning job in its lineage; under `each` every trial that passes the gate is registered and the tuning job's own
`Completed` registers nothing more."""

from __future__ import annotations

from typing import Any

from lifecycle.actions.registry import TRAINING_JOB_KEY, TUNING_JOB_KEY
from lifecycle.config import get_settings
from lifecycle.store.audit import history
from support.cloud import AUTOMATION, DEV, REGION, Cloud, churn_policy

from functions.training_state.app import lambda_handler as training_handler
from functions.tuning_state.app import lambda_handler as tuning_handler
from sandbox.fakes import tuning as fake_tuning
from sandbox.world import WORLD

TUNING = "churn-xgb-hpo-20261127"
OBJECTIVE = {"Type": "Maximize", "MetricName": "validation:auc"}


class Context:
    function_name = "tuning-state"
    memory_limit_in_mb = 512
    invoked_function_arn = f"arn:aws:lambda:{REGION}:{AUTOMATION}:function:tuning-state"
    aws_request_id = "req-1"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 60_000


def sweep(cloud: Cloud, values: list[float], **kwargs: Any) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Run a tuning job of `values` trials in dev: (the trials' Completed events, the tuning job's event)."""
    WORLD.drain()
    tuning_event = fake_tuning.run_tuning_job(
        cloud.client("sagemaker", DEV),
        kwargs.pop("name", TUNING),
        account=DEV,
        region=REGION,
        group="churn",
        objective=OBJECTIVE,
        values=values,
        **kwargs,
    )
    trials = [
        event
        for event in WORLD.drain()
        if event["detail-type"] == "SageMaker Training Job State Change"
        and event["detail"]["TrainingJobStatus"] == "Completed"
    ]
    return trials, tuning_event


def packages(cloud: Cloud) -> list[dict[str, Any]]:
    sagemaker = cloud.client("sagemaker", AUTOMATION)
    groups = sagemaker.list_model_package_groups()["ModelPackageGroupSummaryList"]
    if not groups:
        return []
    summaries = sagemaker.list_model_packages(ModelPackageGroupName="churn")["ModelPackageSummaryList"]
    return [sagemaker.describe_model_package(ModelPackageName=s["ModelPackageArn"]) for s in summaries]


def test_best_registers_the_best_trial_once_with_the_tuning_job_in_its_lineage(cloud: Cloud) -> None:
    # Given a 5-trial sweep whose third trial has the best AUC (default: training.tuning best)
    cloud.publish_policy(churn_policy())
    trials, tuning_event = sweep(cloud, [0.81, 0.84, 0.93, 0.79, 0.88])

    # When every trial's Completed and then the tuning job's Completed are handled
    trial_results = [training_handler(event, Context()) for event in trials]
    result = tuning_handler(tuning_event, Context())

    # Then the trials are left to the tuning job, which registers its best one, with both in the lineage
    assert {r["outcome"] for r in trial_results} == {"ignored"}
    assert result["outcome"] == "acted" and result["action"] == "registered"
    [package] = packages(cloud)
    metadata = package["CustomerMetadataProperties"]
    best = trials[2]["detail"]
    assert metadata[TRAINING_JOB_KEY] == best["TrainingJobArn"]
    assert metadata[TUNING_JOB_KEY] == tuning_event["detail"]["HyperParameterTuningJobArn"]
    assert metadata["metric:validation:auc"] == "0.93"
    [record] = [r for r in history("churn", get_settings()) if r.action == "register-model-package"]
    assert record.details["tuning_job"] == tuning_event["detail"]["HyperParameterTuningJobArn"]
    assert f"best of tuning job {TUNING}: validation:auc 0.93 (Maximize), best of 5 trials" in record.reason


def test_the_same_tuning_job_completed_twice_registers_one_package(cloud: Cloud) -> None:
    cloud.publish_policy(churn_policy())
    _, tuning_event = sweep(cloud, [0.85, 0.9])

    first = tuning_handler(tuning_event, Context())
    second = tuning_handler({**tuning_event, "id": "another-id-for-the-same-change"}, Context())

    assert first["action"] == "registered"
    assert second["outcome"] in ("acted", "duplicate")
    assert len(packages(cloud)) == 1


def test_a_best_trial_below_the_gate_is_not_registered_and_people_are_told(cloud: Cloud) -> None:
    cloud.publish_policy(churn_policy())
    _, tuning_event = sweep(cloud, [0.61, 0.72])

    result = tuning_handler(tuning_event, Context())

    assert result["action"] == "gate-failed"
    assert "validation:auc 0.72 < 0.8" in result["reason"] and TUNING in result["reason"]
    assert packages(cloud) == []
    [note] = cloud.notifications()
    assert note["kind"] == "gate-failed"


def test_each_registers_every_passing_trial_and_the_tuning_job_adds_none(cloud: Cloud) -> None:
    policy = churn_policy()
    policy["training"] = {**policy["training"], "tuning": "each"}
    cloud.publish_policy(policy)
    trials, tuning_event = sweep(cloud, [0.81, 0.79, 0.9])

    trial_results = [training_handler(event, Context()) for event in trials]
    result = tuning_handler(tuning_event, Context())

    assert [r.get("action") for r in trial_results] == ["registered", "gate-failed", "registered"]
    assert result["outcome"] == "ignored"
    registered = {p["CustomerMetadataProperties"][TRAINING_JOB_KEY] for p in packages(cloud)}
    assert registered == {trials[0]["detail"]["TrainingJobArn"], trials[2]["detail"]["TrainingJobArn"]}
    assert all(TUNING_JOB_KEY not in p["CustomerMetadataProperties"] for p in packages(cloud))


def test_a_failed_tuning_job_is_notified_with_its_reason_and_registers_nothing(cloud: Cloud) -> None:
    cloud.publish_policy(churn_policy())
    _, tuning_event = sweep(cloud, [0.9], status="Failed", reason="ClientError: the training channel is empty")

    result = tuning_handler(tuning_event, Context())

    assert result["action"] == "notified"
    assert packages(cloud) == []
    [record] = history("churn", get_settings())
    assert record.action == "notify-tuning-failed"
    assert "the training channel is empty" in record.reason
    [note] = cloud.notifications()
    assert note["kind"] == "tuning-failed"


def test_a_tuning_job_outside_the_policy_s_training_account_is_refused(cloud: Cloud) -> None:
    cloud.publish_policy(churn_policy())
    _, tuning_event = sweep(cloud, [0.9])

    result = tuning_handler({**tuning_event, "account": AUTOMATION}, Context())

    assert result["outcome"] == "refused"
    assert packages(cloud) == []
