"""Debugger / profiler rule IssuesFound → stop per policy (at most once), record, notify; then the Stopped event."""

from __future__ import annotations

from lifecycle.config import get_settings
from lifecycle.store import audit
from support.cloud import DEV, REGION, STAGING, Cloud, churn_policy
from support.training import Context, create_job

from functions.debugger_rule.app import lambda_handler as debugger_handler
from functions.training_state.app import lambda_handler as training_handler
from sandbox.fakes import training as fake_training

JOB = "churn-xgb-20261127-0900"


def running_job_with_issues(cloud: Cloud, rule: str = "LossNotDecreasing", profiler: bool = False) -> dict:
    create_job(cloud, JOB)
    fake_training.set_state(DEV, REGION, JOB, status="InProgress", secondary="Training")
    return fake_training.set_rule_status(
        DEV, REGION, JOB, rule=rule, status="IssuesFound", details="RuleEvaluationConditionMet", profiler=profiler
    )


def status(cloud: Cloud) -> str:
    return cloud.client("sagemaker", DEV).describe_training_job(TrainingJobName=JOB)["TrainingJobStatus"]


def test_a_rule_the_policy_stops_on_stops_the_job_once_even_when_the_event_repeats(cloud: Cloud) -> None:
    # Given
    cloud.publish_policy(churn_policy())
    event = running_job_with_issues(cloud)
    fake_training.WORLD.drain()

    # When the same IssuesFound arrives three times, twice with new ids
    results = [debugger_handler(dict(event, id=f"dup-{n}" if n else event["id"]), Context()) for n in range(3)]

    # Then exactly one stop, and the job is Stopped
    assert [r["action"] for r in results] == ["stopped"] * 3
    assert status(cloud) == "Stopped"
    emitted = [e["detail"]["TrainingJobStatus"] for e in fake_training.WORLD.drain()]
    assert emitted == ["Stopping", "Stopped"]
    trail = audit.history("churn", get_settings())
    assert [(r.action, r.outcome) for r in trail].count(("stop-training-job", "done")) == 1
    [note] = cloud.notifications()
    assert "LossNotDecreasing: RuleEvaluationConditionMet" in note["message"]
    assert "stopped the job because policy stops on LossNotDecreasing" in note["message"]


def test_a_rule_the_policy_does_not_stop_on_only_notifies(cloud: Cloud) -> None:
    cloud.publish_policy(churn_policy())
    event = running_job_with_issues(cloud, rule="LowGPUUtilization", profiler=True)

    result = debugger_handler(event, Context())

    assert result["action"] == "notified"
    assert status(cloud) == "InProgress"
    [note] = cloud.notifications()
    assert "job left running: policy stops on none of these rules" in note["message"]


def test_the_stopped_event_says_the_product_stopped_it(cloud: Cloud) -> None:
    cloud.publish_policy(churn_policy())
    debugger_handler(running_job_with_issues(cloud), Context())
    stopped = fake_training.WORLD.drain()[-1]
    cloud.notifications()

    result = training_handler(stopped, Context())

    assert result["stopped_by_product"] is True
    [note] = cloud.notifications()
    assert "stopped by sagemaker-lifecycle, because rule LossNotDecreasing found issues" in note["message"]


def test_a_job_stopped_by_a_person_is_reported_as_such(cloud: Cloud) -> None:
    cloud.publish_policy(churn_policy())
    create_job(cloud, JOB)
    fake_training.set_state(DEV, REGION, JOB, status="InProgress")
    cloud.client("sagemaker", DEV).stop_training_job(TrainingJobName=JOB)
    stopped = fake_training.WORLD.drain()[-1]

    result = training_handler(stopped, Context())

    assert result["stopped_by_product"] is False
    assert "by a person or another system" in cloud.notifications()[0]["message"]


def test_a_failed_job_notifies_its_failure_reason(cloud: Cloud) -> None:
    cloud.publish_policy(churn_policy())
    create_job(cloud, JOB)
    failed = fake_training.set_state(DEV, REGION, JOB, status="Failed", failure_reason="AlgorithmError: out of memory")

    result = training_handler(failed, Context())

    assert result["action"] == "notified"
    [note] = cloud.notifications()
    assert note["kind"] == "training-failed"
    assert "AlgorithmError: out of memory" in note["message"]


def test_issues_reported_after_the_job_completed_are_recorded_and_told_not_dropped(cloud: Cloud) -> None:
    # Given a job that completed, then a rule it stops on reports IssuesFound
    cloud.publish_policy(churn_policy())
    create_job(cloud, JOB)
    fake_training.set_state(DEV, REGION, JOB, status="Completed", metrics={"validation:auc": 0.9})
    event = fake_training.set_rule_status(DEV, REGION, JOB, rule="LossNotDecreasing", status="IssuesFound")
    fake_training.WORLD.drain()

    # When
    result = debugger_handler(event, Context())

    # Then the finding is recorded and told, and nothing is stopped
    assert result["outcome"] == "acted"
    assert result["action"] == "notified"
    assert status(cloud) == "Completed"
    assert fake_training.WORLD.drain() == []
    [record] = audit.history("churn", get_settings())
    assert (record.action, record.outcome) == ("debugger-issues-found", "notified")
    assert "reported after the job ended (Completed): nothing to stop" in record.reason
    [note] = cloud.notifications()
    assert "LossNotDecreasing" in note["message"]


def test_issues_told_while_running_are_not_told_again_when_the_job_ends(cloud: Cloud) -> None:
    # Given a rule the policy does not stop on found issues while the job ran, and that was told
    cloud.publish_policy(churn_policy())
    running = running_job_with_issues(cloud, rule="LowGPUUtilization", profiler=True)
    assert debugger_handler(running, Context())["action"] == "notified"
    cloud.notifications()

    # When the job completes, its event still carrying the same IssuesFound
    completed = fake_training.set_state(DEV, REGION, JOB, status="Completed", metrics={"validation:auc": 0.9})
    debugger_handler(completed, Context())

    # Then nothing new is told or recorded
    assert cloud.notifications() == []
    assert len(audit.history("churn", get_settings())) == 1


def test_a_rule_name_tags_refuse_is_made_to_fit_the_tag_the_stop_writes(cloud: Cloud) -> None:
    # Given a policy stopping on a rule whose name holds characters a tag value refuses ('(', ')', '#')
    rule = "LossNotDecreasing(val)#2"
    cloud.publish_policy(churn_policy(debugger={"stop_on_rules": [rule]}))
    event = running_job_with_issues(cloud, rule=rule)

    # When the reaction stops the job
    result = debugger_handler(event, Context())

    # Then the job is stopped and the tag holds the rule's name as SageMaker accepts it
    assert result["action"] == "stopped"
    assert status(cloud) == "Stopped"
    job_arn = event["detail"]["TrainingJobArn"]
    tags = cloud.client("sagemaker", DEV).list_tags(ResourceArn=job_arn)["Tags"]
    assert {"Key": "lifecycle:stopped-by", "Value": "LossNotDecreasing_val__2"} in tags


def test_issues_of_a_job_outside_the_policys_training_account_are_refused(cloud: Cloud) -> None:
    # Given a running job of the group in staging (the policy trains in dev) whose rule the policy stops on
    cloud.publish_policy(churn_policy())
    create_job(cloud, JOB, account=STAGING)
    fake_training.set_state(STAGING, REGION, JOB, status="InProgress")
    event = fake_training.set_rule_status(STAGING, REGION, JOB, rule="LossNotDecreasing", status="IssuesFound")

    # When
    result = debugger_handler(event, Context())

    # Then refused: the job is not stopped, nothing recorded or told
    assert result["outcome"] == "refused"
    assert f"count only from its training account {DEV}" in result["reason"]
    job = cloud.client("sagemaker", STAGING).describe_training_job(TrainingJobName=JOB)
    assert job["TrainingJobStatus"] == "InProgress"
    assert audit.history("churn", get_settings()) == []
    assert cloud.notifications() == []
