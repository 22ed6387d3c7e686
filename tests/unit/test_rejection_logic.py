"""A rejected version, decided on plain data: what each stage that serves it gets (issue 14, decisions as values)."""

from __future__ import annotations

from typing import Any

from lifecycle.policy import Policy
from lifecycle.reactions.model_package_state import LeaveServing, RollBack, rejection_plan
from support.deploy import batch_stage, deploy_policy, prod_stage, staging_stage


def policy(*stages: dict[str, Any]) -> Policy:
    return Policy.model_validate(deploy_policy(*stages))


def summary(plan: list[RollBack | LeaveServing]) -> list[tuple[str, str, int | None]]:
    return [
        (d.stage.name, "roll back", d.target) if isinstance(d, RollBack) else (d.stage.name, "leave", None)
        for d in plan
    ]


def test_each_endpoint_stage_serving_the_rejected_version_goes_back_to_its_own_target_in_stage_order() -> None:
    churn = policy(staging_stage(), prod_stage())
    plan = rejection_plan(churn, 3, {"prod": [3], "staging": [3]}, {"prod": 1, "staging": 2})
    assert summary(plan) == [("staging", "roll back", 2), ("prod", "roll back", 1)]


def test_a_stage_that_does_not_serve_the_rejected_version_is_left_out() -> None:
    churn = policy(staging_stage(), prod_stage())
    # staging serves v2 and a canary of v3, prod serves v2 alone: prod is not part of the plan
    plan = rejection_plan(churn, 3, {"staging": [2, 3], "prod": [2]}, {"staging": 2})
    assert summary(plan) == [("staging", "roll back", 2)]
    assert rejection_plan(churn, 3, {"staging": [2], "prod": [1]}, {}) == []


def test_an_endpoint_stage_without_a_version_to_go_back_to_is_left_and_people_are_told_how_to_fix_it() -> None:
    churn = policy(staging_stage(), prod_stage())
    [left] = rejection_plan(churn, 1, {"prod": [1]}, {"prod": None})
    assert isinstance(left, LeaveServing) and left.stage.name == "prod"
    assert left.reason == (
        "churn-prod serves rejected v1 and no other version completed a deployment to prod and is still Approved: "
        "left as it is"
    )
    assert left.subject == "churn: v1 rejected, prod NOT rolled back"
    assert "lifecycle rollback" in left.remedy


def test_a_batch_stage_is_never_rolled_back_automatically_even_with_an_earlier_version() -> None:
    churn = policy(staging_stage(), batch_stage())
    plan = rejection_plan(churn, 4, {"staging": [4], "scoring": [4]}, {"staging": 3, "scoring": 3})
    assert summary(plan) == [("staging", "roll back", 3), ("scoring", "leave", None)]
    left = plan[1]
    assert isinstance(left, LeaveServing)
    assert left.subject == "churn: v4 rejected, batch stage scoring NOT rolled back"
    assert "not rolled back automatically" in left.reason
    assert left.remedy == "Deploy another version to it: lifecycle deploy churn --version N --stage scoring"


def test_a_policy_without_deployment_stages_plans_nothing() -> None:
    no_stages = Policy.model_validate({**deploy_policy(), "deployment": None})
    assert rejection_plan(no_stages, 2, {"prod": [2]}, {"prod": 1}) == []
