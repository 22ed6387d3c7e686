"""Authority comes from the policy, never from the event (issue 13, cases 1, 6 and 8).

Every event here is genuine-looking and from an allow-listed account: what decides is whether it may drive this
group's registry, and whether the registry, read now, agrees with it. A refused event starts nothing, records nothing
and tells nobody; a stale one is recorded as ignored, with why.
"""

from __future__ import annotations

import copy
import time
from datetime import UTC, datetime, timedelta

import pytest
from lifecycle.config import get_settings
from lifecycle.observability import metrics
from lifecycle.store.audit import history
from support.cloud import AUTOMATION, DEV, PROD, REGION
from support.deploy import DeployWorld, deploy_policy, deploy_world, prod_stage, staging_stage
from support.metrics import emitted

from sandbox import runtime

world_fixture = pytest.fixture(name="world")(deploy_world)


def handle(event: dict) -> dict:
    handler = runtime.handler("model_package_state")
    return handler(event, runtime.LambdaContext("model-package-state", "arn", 60))


def executions(world: DeployWorld) -> list[dict]:
    return world.cloud.client("stepfunctions").list_executions(stateMachineArn=world.state_machine_arn)["executions"]


def package(version: int, *, account: str = AUTOMATION, region: str = REGION, group: str = "churn") -> str:
    return f"arn:aws:sagemaker:{region}:{account}:model-package/{group}/{version}"


def event_for(load_event, status: str = "Approved", **detail) -> dict:
    name = {"Approved": "approved", "Rejected": "rejected"}[status]
    event = copy.deepcopy(load_event(f"model-package-{name}.json"))
    event["detail"].update(detail)
    event["resources"] = [event["detail"]["ModelPackageArn"]]
    return event


def nothing_happened(world: DeployWorld) -> None:
    assert executions(world) == []
    assert history("churn", get_settings()) == []
    assert world.cloud.notifications() == []


def test_a_dev_user_approving_their_own_churn_package_reaches_nothing(world: DeployWorld, load_event) -> None:
    # Given the churn policy's registry is the automation account; a dev user made a `churn` group in dev and
    # approved a package there: the event is genuine and dev is on the allow-list
    world.cloud.publish_policy(deploy_policy(staging_stage(), prod_stage()))
    world.register()
    dev = world.cloud.client("sagemaker", DEV)
    dev.create_model_package_group(ModelPackageGroupName="churn")
    rogue = dev.create_model_package(
        ModelPackageGroupName="churn",
        InferenceSpecification={
            "Containers": [{"Image": "rogue-image", "ModelDataUrl": "s3://dev-bucket/rogue.tar.gz"}],
            "SupportedContentTypes": ["application/json"],
            "SupportedResponseMIMETypes": ["application/json"],
        },
        ModelApprovalStatus="Approved",
    )["ModelPackageArn"]
    event = event_for(load_event, ModelPackageArn=rogue, ModelPackageVersion=1)
    event["account"] = DEV

    # When
    result = handle(event)

    # Then it is refused with the reason, and prod never hears of it
    assert result["outcome"] == "refused"
    assert "count only from its registry 123456789012/us-east-1" in result["reason"]
    nothing_happened(world)
    assert world.cloud.client("sagemaker", PROD).list_models()["Models"] == []


@pytest.mark.parametrize(
    ("detail", "why"),
    [
        ({"ModelPackageArn": package(2, region="eu-west-1")}, "does not name version 2 of group churn"),
        ({"ModelPackageArn": package(2, group="fraud")}, "does not name version 2 of group churn"),
        ({"ModelPackageArn": package(3)}, "does not name version 2 of group churn"),
        ({"ModelPackageArn": package(2).replace("arn:aws:", "arn:aws-cn:")}, "does not name version 2"),
        ({"ModelPackageArn": package(9), "ModelPackageVersion": 9}, "does not exist in the registry"),
    ],
)
def test_a_mismatched_or_forged_approval_is_refused_before_anything_is_written(
    world: DeployWorld, load_event, detail: dict, why: str
) -> None:
    world.cloud.publish_policy(deploy_policy(staging_stage()))
    world.register()

    result = handle(event_for(load_event, **detail))

    assert result["outcome"] == "refused", result
    assert why in result["reason"]
    nothing_happened(world)


def test_a_package_of_a_group_named_alike_in_another_case_is_refused(world: DeployWorld, load_event) -> None:
    # Given the registry holds group `Churn` (SageMaker lower-cases the group in the ARN: .../churn/2), not the policy's
    # `churn`; an event (a hand-made replay) names `churn` and that ARN: only the registry's answer tells them apart
    world.cloud.publish_policy(deploy_policy(staging_stage()))
    world.group = "Churn"
    [_, arn] = world.register()
    assert arn == package(2)

    result = handle(event_for(load_event))

    assert result["outcome"] == "refused", result
    assert result["reason"] == f"{package(2)} belongs to group 'Churn', not churn"
    nothing_happened(world)


def test_an_approved_event_for_a_package_the_registry_never_approved_is_refused(world: DeployWorld, load_event) -> None:
    # v2 is PendingManualApproval and has not changed since the event's time: the event does not match the registry
    world.cloud.publish_policy(deploy_policy(staging_stage()))
    world.register(2, approved=(1,))
    future = int((datetime.now(UTC) + timedelta(hours=1)).timestamp() * 1000)

    result = handle(event_for(load_event, LastModifiedTime=future))

    assert result["outcome"] == "refused"
    assert "the registry says v2 is PendingManualApproval, not Approved" in result["reason"]
    nothing_happened(world)


def test_a_stale_rejection_does_not_roll_back_the_re_approved_version(world: DeployWorld, load_event) -> None:
    # Given v2 was rejected (the event), then approved again (the registry now), and serves prod
    world.cloud.publish_policy(deploy_policy(prod_stage()))
    world.register(2, approved=(1, 2))
    world.deployed("prod", 1)
    world.serve(prod_stage(), 2)

    # When the old Rejected event is delivered late (a redrive)
    result = handle(event_for(load_event, "Rejected"))

    # Then it is ignored and recorded as such; prod keeps v2
    assert result["outcome"] == "ignored"
    assert result["reason"].startswith("stale event: v2 was Rejected at 2026-11-27")
    assert executions(world) == []
    [record] = history("churn", get_settings())
    assert (record.action, record.outcome) == ("rejected-event", "skipped")
    assert "is Approved now" in record.reason


def test_a_late_event_is_judged_by_when_the_package_last_changed_not_when_it_was_made(
    world: DeployWorld, load_event
) -> None:
    # Given v2 made (and approved) before the rejection the event reports, and approved again after it
    world.cloud.publish_policy(deploy_policy(prod_stage()))
    arns = world.register(2, approved=(1, 2))
    time.sleep(0.05)
    rejected_at = datetime.now(UTC)
    time.sleep(0.05)
    registry = world.cloud.client("sagemaker", AUTOMATION)
    registry.update_model_package(ModelPackageArn=arns[1], ModelApprovalStatus="Approved", ApprovalDescription="again")

    # When the Rejected event arrives late
    result = handle(event_for(load_event, "Rejected", LastModifiedTime=int(rejected_at.timestamp() * 1000)))

    # Then the registry changed after it: a stale event, ignored and recorded (not refused as a forgery)
    assert result["outcome"] == "ignored", result
    assert result["reason"].startswith(f"stale event: v2 was Rejected at {rejected_at:%Y-%m-%d %H:%M}")
    assert executions(world) == []


def test_an_approval_older_than_what_a_stage_serves_is_not_deployed_automatically(
    world: DeployWorld, load_event, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given prod serves v3; v2's Approved event arrives (an edit, a redrive)
    world.cloud.publish_policy(deploy_policy(prod_stage()))
    world.register(3, approved=(1, 2, 3))
    world.serve(prod_stage(), 3)
    metrics.clear_metrics()  # only this invocation's metrics: none left unflushed in this process
    capsys.readouterr()

    result = handle(event_for(load_event))

    assert result["outcome"] == "acted" and result["action"] == "not-deployed"
    assert result["newer"] == {"prod": 3}
    assert executions(world) == []
    [note] = world.cloud.notifications()
    assert note["kind"] == "deployment-not-started"
    assert "lifecycle deploy churn --version 2 --stage prod" in note["message"]
    assert emitted(capsys.readouterr().out).get("OlderApprovalsNotDeployed") == 1
    [record] = history("churn", get_settings())
    assert (record.action, record.outcome) == ("start-deployment", "skipped")
    assert record.reason == "v2 approved, but prod serves v3: an older version is not deployed automatically"
