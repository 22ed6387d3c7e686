"""`python -m sandbox replay` over every sample in events/, and the CLI's contract (exit codes, one JSON document)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sandbox.__main__ import EXIT_BAD_INPUT, main
from sandbox.cloud import ACCOUNTS, AUTOMATION, DEV, STAGING, Sandbox
from sandbox.replay import read_event, read_policy, replay, sample_policies, seed
from sandbox.timeline import Timeline

EVENTS = Path(__file__).resolve().parents[2] / "events"
SAMPLES = sorted(EVENTS.glob("*.json"))

# What some samples must do: outcome, and (call, account) pairs that must be among the product's write calls.
EXPECTED: dict[str, tuple[str, set[tuple[str, str]]]] = {
    "training-completed.json": ("acted", {("sagemaker:CreateModelPackage", AUTOMATION), ("sns:Publish", AUTOMATION)}),
    "training-failed.json": ("acted", {("sns:Publish", AUTOMATION)}),
    "training-stopped.json": ("acted", {("sns:Publish", AUTOMATION)}),
    "debugger-issues-found.json": ("acted", {("sagemaker:StopTrainingJob", DEV), ("sagemaker:AddTags", DEV)}),
    "profiler-issues-found.json": ("acted", {("sns:Publish", AUTOMATION)}),
    "labeling-completed.json": ("acted", {("sagemaker:CreateTrainingJob", DEV)}),
    "untrusted-account-training-completed.json": ("refused", set()),
    # the seeder makes the schedule, its execution (CompletedWithViolations) and the report: the policy retrains
    "monitor-violations.json": ("acted", {("sagemaker:CreateTrainingJob", DEV)}),
    "monitor-alarm.json": ("acted", {("sagemaker:CreateTrainingJob", DEV)}),
    # the seeder has staging serve v1 then v2 (through DeployModel): the rejection rolls staging back to v1
    "model-package-rejected.json": ("acted", {("sagemaker:UpdateEndpoint", STAGING), ("sns:Publish", AUTOMATION)}),
}


def run(sample: Path, timeline: Timeline | None = None) -> dict:
    policies = [read_policy(path) for path in sample_policies()]
    return replay(read_event(sample), policies, timeline or Timeline())


@pytest.mark.parametrize("sample", SAMPLES, ids=[sample.name for sample in SAMPLES])
def test_every_sample_replays_to_an_outcome_with_actions_in_sandbox_accounts(sample: Path) -> None:
    # When
    timeline = Timeline()
    report = run(sample, timeline)

    # Then
    assert report["outcome"] in ("acted", "ignored", "refused"), report
    assert report["outcome"] == "acted" or report["reason"]
    assert {action["account"] for action in report["actions"]} <= set(ACCOUNTS.values())
    assert all(action["call"].split(":")[1][:4] not in ("Desc", "List", "Get") for action in report["actions"])
    # every sample is seeded with what it refers to (or names why it cannot be: an account without a stack)
    notes = [line.text for line in timeline.of("note")]
    assert not [note for note in notes if note.startswith("nothing to seed")], notes
    # people read what the product did: every notification is in the report with its text
    assert len(report["notifications"]) == sum(action["call"] == "sns:Publish" for action in report["actions"])
    assert all(sent["subject"] and sent["message"] for sent in report["notifications"])
    expected = EXPECTED.get(sample.name)
    if expected is not None:
        outcome, calls = expected
        assert report["outcome"] == outcome, report
        assert calls <= {(action["call"], action["account"]) for action in report["actions"]}


def test_stop_by_debugger_rule_chains_into_the_stopped_notification() -> None:
    report = run(EVENTS / "debugger-issues-found.json")

    assert report["rules"] == ["DebuggerRuleIssuesRule", "TrainingJobStateRule"]
    assert [event["detail-type"] for event in report["events"]] == ["SageMaker Training Job State Change"] * 3
    stop = next(a for a in report["actions"] if a["call"] == "sagemaker:StopTrainingJob")
    assert stop == {
        "account": DEV,
        "region": "us-east-1",
        "call": "sagemaker:StopTrainingJob",
        "resource": "churn-xgb-20261127-0900",
    }


def test_untrusted_account_is_rejected_without_any_write() -> None:
    report = run(EVENTS / "untrusted-account-training-completed.json")

    assert report["outcome"] == "refused"
    assert "999999999999" in report["reason"] and "allow-list" in report["reason"]
    assert report["actions"] == []


def test_an_event_from_an_account_without_a_workload_stack_names_that_cause() -> None:
    report = run(EVENTS / "untrusted-account-training-completed.json")

    assert report["reason"].startswith(
        "account 999999999999 has no workload stack in the sandbox: replay --account 999999999999"
    )


def test_replay_account_deploys_a_workload_stack_there_and_forwards_its_event() -> None:
    # Given a real event from an account the sandbox does not have
    event = read_event(EVENTS / "untrusted-account-training-completed.json")

    # When it is replayed with that account added as a workload account
    report = replay(event, [read_policy(path) for path in sample_policies()], Timeline(), accounts=("999999999999",))

    # Then its workload stack forwards the event and the account is on the allow-list: what the product decides next
    # is its own policy's business, not the sandbox's topology
    assert report["rules"][0] == "TrainingJobStateRule"
    assert "no workload stack" not in report["reason"]
    assert "allow-list" not in report["reason"]


def test_cli_account_must_be_an_account_id(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["replay", str(EVENTS / "training-failed.json"), "--account", "dev"])

    assert exited.value.code == EXIT_BAD_INPUT
    assert "expected a 12-digit account id" in capsys.readouterr().err


@pytest.mark.parametrize(
    "drop",
    [("detail", "OutputDataConfig"), ("detail", "TrainingJobName"), ("detail", "AlgorithmSpecification")],
    ids=lambda drop: drop[1],
)
def test_a_field_the_product_refuses_never_crashes_the_seeder(drop: tuple[str, str]) -> None:
    # Given a real-looking event missing a field
    event = read_event(EVENTS / "training-completed.json")
    del event[drop[0]][drop[1]]

    # When it is replayed
    report = replay(event, [read_policy(path) for path in sample_policies()], Timeline())

    # Then the report is the product's decision (a refusal, or acting on what the event says), never a seeding crash
    assert report["outcome"] in ("acted", "refused", "ignored")
    assert "KeyError" not in report["reason"]


def test_a_monitoring_run_is_seeded_with_its_schedule_execution_and_report() -> None:
    report = run(EVENTS / "monitor-no-violations.json")

    # The run is found, its execution listed as Completed: the product's reason is the real one
    assert report["outcome"] == "ignored"
    assert "is Completed: no violations" in report["reason"]


def test_a_completed_job_is_seeded_with_the_artifacts_sagemaker_reports() -> None:
    event = read_event(EVENTS / "training-completed.json")
    event["detail"].pop("ModelArtifacts", None)

    with Sandbox() as sandbox:
        seed(sandbox, event)
        job = sandbox.client("sagemaker", event["account"]).describe_training_job(
            TrainingJobName=event["detail"]["TrainingJobName"]
        )

    output = event["detail"]["OutputDataConfig"]["S3OutputPath"].rstrip("/")
    name = event["detail"]["TrainingJobName"]
    assert job["ModelArtifacts"] == {"S3ModelArtifacts": f"{output}/{name}/output/model.tar.gz"}


def test_cli_json_prints_one_document_and_exits_zero(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["replay", str(EVENTS / "training-failed.json"), "--json"])

    document = json.loads(capsys.readouterr().out)
    assert code == 0
    assert document["outcome"] == "acted"
    assert set(document) >= {"outcome", "reason", "rules", "actions", "executions"}


def test_cli_refuses_an_unreadable_event_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code = main(["replay", str(tmp_path / "missing.json")])

    assert code == EXIT_BAD_INPUT
    assert "cannot read event file" in capsys.readouterr().err


def test_cli_refuses_an_event_file_that_is_not_json(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")

    assert main(["replay", str(bad)]) == EXIT_BAD_INPUT
    assert "is not JSON" in capsys.readouterr().err


def test_cli_refuses_an_invalid_policy_naming_the_field(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    policy = tmp_path / "churn.yaml"
    policy.write_text(
        "group: churn\nregistry: {account: '12', region: us-east-1}\ngate: {metric: auc, threshold: high}\n"
    )

    code = main(["replay", str(EVENTS / "training-completed.json"), "--policy", str(policy)])

    assert code == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert "invalid policy" in err and "registry.account" in err and "gate.threshold" in err


def test_a_rejection_rolls_back_the_stage_the_seeder_had_serve_it() -> None:
    timeline = Timeline()

    report = run(EVENTS / "model-package-rejected.json", timeline)

    [seeded] = [line.text for line in timeline.of("note") if line.text.startswith("seeded ")]
    assert "staging served v1, then v2 (DeployModel)" in seeded
    [rollback] = report["executions"]
    assert rollback["name"].startswith("rollback-churn-staging-v2-") and rollback["status"] == "SUCCEEDED"
    # what the seeding created is not the replay's doing
    assert ("sagemaker:CreateEndpoint", STAGING) not in {(a["call"], a["account"]) for a in report["actions"]}
    subjects = [sent["subject"] for sent in report["notifications"]]
    assert subjects == ["churn: v2 rejected, staging back to v1", "churn v1: staging rolled back to v1"]
    assert "churn-staging serves rejected v2: rolling back to v1" in report["notifications"][0]["message"]


def test_the_json_report_carries_the_notification_texts(capsys: pytest.CaptureFixture[str]) -> None:
    main(["replay", str(EVENTS / "training-failed.json"), "--json"])

    [sent] = json.loads(capsys.readouterr().out)["notifications"]
    assert sent["account"] == AUTOMATION and sent["topic"].endswith(":sagemaker-lifecycle-notifications")
    assert sent["subject"] == "churn: training job churn-xgb-20261127-0900 failed"
    assert "XGBoostError: value 0 for Parameter num_class should be greater equal to 1" in sent["message"]


def test_the_timeline_prints_decisions_and_the_notifications_verbose_prints_every_call(
    capsys: pytest.CaptureFixture[str],
) -> None:
    main(["replay", str(EVENTS / "training-failed.json")])
    concise = capsys.readouterr().out
    main(["replay", str(EVENTS / "training-failed.json"), "--verbose"])
    verbose = capsys.readouterr().out

    assert "handler  TrainingStateFunction -> acted notified" in concise
    assert "notify   churn: training job churn-xgb-20261127-0900 failed" in concise
    assert "call     " not in concise and "rule     " not in concise
    assert "notification to arn:aws:sns:us-east-1:123456789012:sagemaker-lifecycle-notifications" in concise
    assert "call     sns:Publish" in verbose and "rule     TrainingJobStateRule" in verbose
    assert "| training job churn-xgb-20261127-0900 failed: AlgorithmError" in verbose
