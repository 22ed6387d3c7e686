"""Model package state change through the handler: approval starts DeployModel once, rejection rolls back, pending asks.

The started executions run on moto's Step Functions engine with the deploy step Lambda in-process.
"""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError
from lifecycle.accounts import own_client
from lifecycle.config import get_settings
from lifecycle.errors import AwsCallFailed, InvalidDeploymentInput, ThrottlingError
from lifecycle.observability import metrics
from lifecycle.store import deployments
from lifecycle.store.audit import history
from support.cloud import AUTOMATION, REGION
from support.deploy import DeployWorld, batch_stage, deploy_policy, deploy_world, prod_stage, staging_stage
from support.metrics import emitted

from sandbox import runtime
from sandbox import stepfunctions as harness

world_fixture = pytest.fixture(name="world")(deploy_world)


def handle(event: dict) -> dict:
    """Invoke the model package function as EventBridge would (through the in-process Lambda)."""
    handler = runtime.handler("model_package_state")
    return handler(event, runtime.LambdaContext("model-package-state", "arn", 60))


def executions(world: DeployWorld) -> list[dict]:
    sfn = world.cloud.client("stepfunctions")
    return sfn.list_executions(stateMachineArn=world.state_machine_arn)["executions"]


def test_a_duplicate_approval_event_starts_one_deployment(world: DeployWorld, load_event) -> None:
    # Given v2 approved, and its approval event delivered twice (a second time with another event id)
    world.cloud.publish_policy(deploy_policy(staging_stage()))
    world.register()
    event = load_event("model-package-approved.json")
    duplicate = dict(event, id="another-id-for-the-same-approval")

    # When
    first = handle(event)
    second = handle(duplicate)

    # Then one execution, named from the package and the approval time, and it deploys v2
    assert first["outcome"] == second["outcome"] == "acted"
    assert (first["action"], first["started"]) == ("deployment-started", True)
    [execution] = executions(world)
    assert execution["name"] == first["execution_arn"].rsplit(":", 1)[1] == second["execution_arn"].rsplit(":", 1)[1]
    assert execution["name"].startswith("churn-v2-20261127T110203000-")
    run = harness.wait(execution["executionArn"])
    assert run.status == "SUCCEEDED", run.cause
    assert serving_versions(world, staging_stage()) == [2]
    # and the audit trail records one start (the duplicate is answered by idempotency, before any decision)
    records = [(r.outcome, r.reason) for r in history("churn", get_settings()) if r.action == "start-deployment"]
    assert records == [("done", "v2 approved: started")]


def test_starting_an_execution_that_exists_is_a_no_op(world: DeployWorld) -> None:
    from lifecycle.deploy.inputs import RollbackInput, start_deployment

    world.cloud.publish_policy(deploy_policy(staging_stage()))
    world.register()
    rollback = RollbackInput(group="churn", stage="staging", version=1)

    first = start_deployment(get_settings(), rollback, name="rollback-once")
    second = start_deployment(get_settings(), rollback.model_copy(update={"reason": "again"}), name="rollback-once")

    assert (first.started, second.started) == (True, False)
    assert first.execution_arn == second.execution_arn
    assert len(executions(world)) == 1
    harness.wait(first.execution_arn)


@pytest.mark.parametrize(
    ("code", "error"), [("ThrottlingException", ThrottlingError), ("AccessDeniedException", AwsCallFailed)]
)
def test_a_start_execution_that_fails_is_raised_for_a_retry_not_reported_as_already_started(
    world: DeployWorld, load_event, code: str, error: type[Exception]
) -> None:
    # Given v2 approved, and StartExecution failing beyond the SDK's own retries (throttled, or denied)
    world.cloud.publish_policy(deploy_policy(staging_stage()))
    world.register()
    sfn = own_client("stepfunctions", get_settings())

    def failing(**_: object) -> None:
        raise ClientError({"Error": {"Code": code, "Message": "no"}}, "StartExecution")

    sfn.meta.events.register("before-call.states.StartExecution", failing, unique_id="fail-start")

    # When the approval event arrives: the handler raises, so Lambda retries it (and finally dead-letters it)
    with pytest.raises(error, match=f"states:StartExecution .*: {code}"):
        handle(load_event("model-package-approved.json"))

    # Then nothing started and nothing says it did
    assert executions(world) == []
    assert [r for r in history("churn", get_settings()) if r.action == "start-deployment"] == []
    # and the retry, once StartExecution works again, starts the deployment
    sfn.meta.events.unregister("before-call.states.StartExecution", unique_id="fail-start")
    assert handle(load_event("model-package-approved.json"))["started"] is True
    [execution] = executions(world)
    harness.wait(execution["executionArn"], timeout=120)


@pytest.mark.parametrize("name", ["r" * 81, "rollback churn"], ids=["81-characters", "a-space"])
def test_an_execution_name_step_functions_would_refuse_starts_nothing(world: DeployWorld, name: str) -> None:
    from lifecycle.deploy.inputs import RollbackInput, start_deployment

    # StartExecution: a name of 1-80 characters, without whitespace (Step Functions API reference, StartExecution)
    with pytest.raises(InvalidDeploymentInput, match="is not a valid Step Functions name"):
        start_deployment(get_settings(), RollbackInput(group="churn", stage="staging", version=1), name=name)
    assert executions(world) == []
    assert start_deployment(
        get_settings(), RollbackInput(group="churn", stage="staging", version=1), name="r" * 80
    ).execution_arn.endswith(":" + "r" * 80)
    harness.wait(executions(world)[0]["executionArn"], timeout=120)


def serving_versions(world: DeployWorld, stage: dict) -> list[int]:
    from lifecycle.deploy import endpoints

    sagemaker = world.cloud.client("sagemaker", stage["account"])
    return endpoints.serving_versions(endpoints.serving(sagemaker, world.endpoint(stage)["config"]), "churn")


def reject_in_registry(world: DeployWorld, version: int) -> None:
    world.cloud.client("sagemaker", AUTOMATION).update_model_package(
        ModelPackageArn=package(version), ModelApprovalStatus="Rejected"
    )


def test_rejection_of_the_serving_version_rolls_back_to_the_last_version_that_served_there(
    world: DeployWorld, load_event
) -> None:
    # Given prod served v1, then v2; v3 is approved too but never served prod; then v2 is rejected
    world.cloud.publish_policy(deploy_policy(staging_stage(), prod_stage()))
    world.register(3, approved=(1, 2, 3))
    world.deployed("prod", 1)
    world.serve(prod_stage(), 2)
    reject_in_registry(world, 2)

    # When
    result = handle(load_event("model-package-rejected.json"))

    # Then only prod (the stage serving v2) goes back to v1, the last version that completed a deployment there
    assert result["rollbacks"] == [{"stage": "prod", "started": True, "version": 1}]
    [execution] = executions(world)
    run = harness.wait(execution["executionArn"])
    assert run.status == "SUCCEEDED", run.cause
    assert "Wait For Approval" not in run.states
    assert serving_versions(world, prod_stage()) == [1]
    kinds = [note["kind"] for note in world.cloud.notifications()]
    assert kinds == ["rollback-started", "deployed"]


def test_a_rejection_that_rolls_back_is_audited_with_its_target_and_counted(
    world: DeployWorld, load_event, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given prod served v1, then v2; v2 is rejected
    world.cloud.publish_policy(deploy_policy(staging_stage(), prod_stage()))
    world.register(2, approved=(1, 2))
    world.deployed("prod", 1)
    world.serve(prod_stage(), 2)
    reject_in_registry(world, 2)
    metrics.clear_metrics()  # only this invocation's metrics: none left unflushed in this process
    capsys.readouterr()

    # When
    handle(load_event("model-package-rejected.json"))

    # Then the audit trail says which reaction rolled which stage back to which version, and why
    [record] = [r for r in history("churn", get_settings()) if r.action == "rollback"]
    [execution] = executions(world)
    assert (record.outcome, record.reaction, record.version, record.resource) == (
        "done",
        "model-package-state",
        2,
        "churn-prod",
    )
    assert record.reason == "churn-prod serves rejected v2: rolling back to v1"
    assert record.details == {"execution": execution["executionArn"], "target_version": "1"}
    # and one rollback is counted (only staging served nothing)
    assert emitted(capsys.readouterr().out).get("RollbacksStarted") == 1
    harness.wait(execution["executionArn"], timeout=120)


def test_a_rejection_answers_only_the_gates_waiting_on_that_version(world: DeployWorld, load_event) -> None:
    from lifecycle.store import deployments

    # Given gates waiting on v2 (its execution no longer exists: Step Functions answers InvalidToken) and on v1, and
    # no stage serving v2; then v2 is rejected
    world.cloud.publish_policy(deploy_policy(prod_stage()))
    world.register(2, approved=(1, 2))
    for version in (1, 2):
        gate = deployments.Approval(
            group="churn",
            execution=f"approved-v{version}",
            stage="prod",
            version=version,
            token=f"token-of-v{version}",
            requested_at="2026-11-27T10:00:00+00:00",
        )
        deployments.keep_approval(get_settings(), gate)
    reject_in_registry(world, 2)

    # When
    result = handle(load_event("model-package-rejected.json"))

    # Then v2's gate is answered as rejected by the registry, v1's is left waiting, and no deployment counts as
    # stopped (nothing waited on that token any more)
    gates = {gate.version: gate for gate in deployments.approvals(get_settings(), "churn")}
    assert (gates[2].decision, gates[2].answered_by) == ("rejected", "the model registry")
    assert gates[1].decision == ""
    assert (result["rollbacks"], result["stopped"]) == ([], [])
    # and the audit trail says only that no stage served v2
    records = [(r.action, r.outcome, r.reason) for r in history("churn", get_settings())]
    assert records == [("rollback", "skipped", "no stage serves rejected v2")]


def _gate_of_v2_then_rejected(world: DeployWorld) -> None:
    """v2 approved and waiting at prod's gate (its token kept), then rejected in the registry."""
    world.cloud.publish_policy(deploy_policy(prod_stage()))
    world.register(2, approved=(1, 2))
    gate = deployments.Approval(
        group="churn",
        execution="approved-v2",
        stage="prod",
        version=2,
        token="token-of-v2",
        requested_at="2026-11-27T10:00:00+00:00",
    )
    deployments.keep_approval(get_settings(), gate)
    reject_in_registry(world, 2)


def _step_functions_answers(monkeypatch: pytest.MonkeyPatch, code: str) -> None:
    """SendTaskFailure answers `code` (moto answers only InvalidToken for a token nobody waits on)."""
    from botocore.client import BaseClient

    real = BaseClient._make_api_call

    def answer(self: BaseClient, operation: str, params: dict) -> dict:
        if operation == "SendTaskFailure":
            raise ClientError({"Error": {"Code": code, "Message": f"{code} (stubbed)"}}, operation)
        return real(self, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", answer)


# SendTaskFailure (Step Functions API reference): a token whose task ended answers TaskDoesNotExist or TaskTimedOut.
@pytest.mark.parametrize("code", ["TaskDoesNotExist", "TaskTimedOut"])
def test_a_gate_whose_task_already_ended_counts_as_no_deployment_stopped(
    world: DeployWorld, load_event, monkeypatch: pytest.MonkeyPatch, code: str
) -> None:
    _gate_of_v2_then_rejected(world)
    _step_functions_answers(monkeypatch, code)

    result = handle(load_event("model-package-rejected.json"))

    [gate] = deployments.approvals(get_settings(), "churn")
    assert (gate.decision, gate.answered_by) == ("rejected", "the model registry")
    assert result["stopped"] == []
    assert "stop-deployments" not in [r.action for r in history("churn", get_settings())]


def test_a_gate_step_functions_fails_to_answer_fails_the_event_so_it_is_retried(
    world: DeployWorld, load_event, monkeypatch: pytest.MonkeyPatch
) -> None:
    _gate_of_v2_then_rejected(world)
    _step_functions_answers(monkeypatch, "AccessDeniedException")

    with pytest.raises(AwsCallFailed, match="states:SendTaskFailure approved-v2: AccessDeniedException"):
        handle(load_event("model-package-rejected.json"))


def test_a_version_rejected_at_the_gate_is_never_the_rollback_target(world: DeployWorld, load_event) -> None:
    from lifecycle.store import deployments

    # Given prod served v2 (and v2 later went out again, then was rejected at prod's gate: it stays Approved), and
    # serves v1 now; then v1 is rejected in the registry
    world.cloud.publish_policy(deploy_policy(prod_stage()))
    world.register(2, approved=(1, 2))
    world.deployed("prod", 2, at="2026-11-10T10:00:00+00:00")
    world.serve(prod_stage(), 1)
    rejected = deployments.StageEvent(
        kind="gate-rejected", version=2, at="2026-11-25T10:00:00+00:00", execution="v2-again"
    )
    deployments.record_stage_event(get_settings(), "churn", "prod", rejected)
    reject_in_registry(world, 1)

    result = handle(dict(load_event("model-package-rejected.json"), detail=rejected_detail(load_event, 1)))

    # Then nothing is rolled back to v2: people are told, prod keeps v1 until someone decides
    assert result["rollbacks"] == [{"stage": "prod", "started": False}]
    assert executions(world) == []
    [note] = world.cloud.notifications()
    assert note["kind"] == "rollback-impossible" and "no other version completed a deployment" in note["message"]


def test_rejection_with_no_version_that_served_before_notifies_and_leaves_the_endpoint(
    world: DeployWorld, load_event
) -> None:
    world.cloud.publish_policy(deploy_policy(prod_stage()))
    world.register(2, approved=(1, 2))  # v1 is Approved, but it never served prod
    world.serve(prod_stage(), 2)
    reject_in_registry(world, 2)

    result = handle(load_event("model-package-rejected.json"))

    assert result["rollbacks"] == [{"stage": "prod", "started": False}]
    assert executions(world) == []
    assert serving_versions(world, prod_stage()) == [2]
    [note] = world.cloud.notifications()
    assert note["kind"] == "rollback-impossible"
    [record] = [r for r in history("churn", get_settings()) if r.action == "rollback"]
    assert record.outcome == "skipped" and "left as it is" in record.reason


def rejected_detail(load_event, version: int) -> dict:
    detail = dict(load_event("model-package-rejected.json")["detail"])
    detail.update(ModelPackageVersion=version, ModelPackageArn=package(version))
    return detail


def package(version: int) -> str:
    return f"arn:aws:sagemaker:{REGION}:{AUTOMATION}:model-package/churn/{version}"


def test_pending_package_asks_the_approvers_with_metrics_lineage_and_the_command(
    world: DeployWorld, load_event
) -> None:
    world.cloud.publish_policy(deploy_policy(staging_stage()))
    world.register(2, approved=(1,))

    result = handle(load_event("model-package-pending.json"))

    assert result["action"] == "approval-requested"
    assert result["approvers"] == ["ml-leads@example.com"]
    [note] = world.cloud.notifications()
    assert note["kind"] == "approval-needed"
    assert "validation:auc = 0.82" in note["message"]
    assert "model data: s3://example-ml/churn/v2/model.tar.gz" in note["message"]
    arn = f"arn:aws:sagemaker:{REGION}:{AUTOMATION}:model-package/churn/2"
    assert (
        f"aws sagemaker update-model-package --model-package-arn {arn} --model-approval-status Approved"
        in (note["message"])
    )
    assert (
        f"Reject:\n  aws sagemaker update-model-package --model-package-arn {arn} --model-approval-status Rejected "
        f"--region {REGION}" in note["message"]
    )
    assert [r.action for r in history("churn", get_settings())] == ["request-approval"]
    assert executions(world) == []


def proved(world: DeployWorld, version: int) -> None:
    """The batch stage's transform job proved `version` (what DeployModel records when it completes)."""
    deployments.record_current_model(
        get_settings(),
        "churn",
        "scoring",
        deployments.CurrentModel(
            version=version,
            model=f"churn-v{version}-scoring",
            transform_job=f"churn-v{version}-scoring-job",
            output="s3://example-prod-ml-predictions/churn/",
            at="2026-11-28T10:00:00+00:00",
            execution="earlier",
        ),
    )


def test_an_approval_older_than_what_a_batch_stage_runs_is_not_deployed_to_it(world: DeployWorld, load_event) -> None:
    # Given a batch stage whose transform job proved v3, and v2 approved late
    world.cloud.publish_policy(deploy_policy(batch_stage()))
    world.register(3, approved=(2, 3))
    proved(world, 3)

    # When
    result = handle(load_event("model-package-approved.json"))

    # Then nothing starts: the batch stage keeps v3 (read from its current model, not from an endpoint it has not)
    assert result["action"] == "not-deployed" and result["newer"] == {"scoring": 3}
    assert executions(world) == []


def test_rejecting_a_batch_stages_current_model_is_told_not_rolled_back(world: DeployWorld, load_event) -> None:
    # Given a batch stage whose transform job proved v2, which is then rejected
    world.cloud.publish_policy(deploy_policy(batch_stage()))
    world.register(2, approved=(1, 2))
    proved(world, 2)
    reject_in_registry(world, 2)

    # When
    result = handle(load_event("model-package-rejected.json"))

    # Then no execution starts, and people are told what to do about the stage
    assert result["rollbacks"] == [{"stage": "scoring", "started": False}]
    assert executions(world) == []
    [note] = world.cloud.notifications()
    assert note["kind"] == "rollback-impossible" and "batch stage scoring" in note["subject"]
    [record] = [r for r in history("churn", get_settings()) if r.action == "rollback"]
    assert record.outcome == "skipped" and "not rolled back automatically" in record.reason
