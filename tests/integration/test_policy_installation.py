"""At run time a function refuses a published policy that names an account off the stack's allow-list (or a region of
another partition), naming the field and the account: `lifecycle policy publish` checks the same, but a parameter can
be written by other means, and the allow-list can shrink after a policy was published."""

from __future__ import annotations

import pytest
from lifecycle.config import get_settings
from lifecycle.errors import PolicyInvalid
from lifecycle.events import TrainingJobEvent
from lifecycle.policy import load_policy
from lifecycle.reaction import run
from lifecycle.reactions.training_state import REACTION, on_training_state
from support.cloud import DEV, REGION, Cloud, churn_policy

OUTSIDER = "555555555555"


def test_a_policy_naming_an_account_off_the_allow_list_is_refused_naming_field_and_account(cloud: Cloud) -> None:
    cloud.publish_policy(churn_policy(registry={"account": OUTSIDER, "region": REGION}))

    with pytest.raises(PolicyInvalid, match=f"registry.account: account {OUTSIDER} is not on the stack's allow-list"):
        load_policy("churn", get_settings())


def test_a_policy_that_was_valid_is_refused_once_its_account_leaves_the_allow_list(
    cloud: Cloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    cloud.publish_policy(churn_policy())
    load_policy("churn", get_settings())

    monkeypatch.setenv("LIFECYCLE_ALLOWED_ACCOUNTS", "333333333333,444444444444")  # dev removed
    get_settings.cache_clear()

    with pytest.raises(PolicyInvalid, match=f"training.account: account {DEV} is not on the stack's allow-list"):
        load_policy("churn", get_settings())


def test_a_reaction_writes_nothing_for_a_policy_sending_the_step_off_the_allow_list(cloud: Cloud, load_event) -> None:
    # Given a policy whose registry is in an account the installer never admitted
    cloud.publish_policy(churn_policy(registry={"account": OUTSIDER, "region": REGION}))

    # When a training job of the group completes
    result = run(
        load_event("training-completed.json"), None, reaction=REACTION, model=TrainingJobEvent, act=on_training_state
    )

    # Then the event is refused with the reason, and nothing is registered or notified
    assert result["outcome"] == "refused"
    assert f"registry.account: account {OUTSIDER}" in result["reason"]
    assert cloud.notifications() == []
