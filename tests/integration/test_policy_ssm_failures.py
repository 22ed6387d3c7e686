"""SSM failures while loading a policy are the product's typed, retryable errors (found by `make reliability`:
powertools' GetParameterError escaped the handlers untyped when SSM throttled or timed out)."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.handlers import BUILTIN_HANDLERS
from lifecycle import accounts
from lifecycle.config import get_settings
from lifecycle.errors import AwsCallFailed, PolicyInvalid, PolicyNotFound, ThrottlingError
from lifecycle.policy import find_policy, load_policy
from support.cloud import Cloud, churn_policy


def _failing_ssm(code: str) -> Any:
    def fail(model: Any, **_: Any) -> None:
        if model.service_model.endpoint_prefix == "ssm":
            raise ClientError({"Error": {"Code": code, "Message": "injected"}}, model.name)

    return fail


@pytest.fixture
def ssm_fails(request: pytest.FixtureRequest) -> Any:
    handler = ("before-call", _failing_ssm(request.param))
    BUILTIN_HANDLERS.append(handler)
    yield request.param
    BUILTIN_HANDLERS.remove(handler)


@pytest.mark.parametrize(
    ("ssm_fails", "expected"),
    [("ThrottlingException", ThrottlingError), ("InternalServerError", AwsCallFailed)],
    indirect=["ssm_fails"],
)
def test_a_failing_policy_read_is_a_typed_retryable_error(cloud: Cloud, ssm_fails: str, expected: type) -> None:
    # Given a published policy, and SSM failing every call from now on
    cloud.publish_policy(churn_policy())
    settings = get_settings()
    boto3.DEFAULT_SESSION = None  # sessions made from now on carry the failing hook
    accounts.clear_session_cache()

    # When / Then: by group and by name prefix
    with pytest.raises(expected, match=ssm_fails):
        load_policy("churn", settings)
    with pytest.raises(expected, match="GetParametersByPath"):
        find_policy(settings, tags={}, name="churn-xgb-1")


def test_a_missing_policy_is_still_ignored_not_retried(cloud: Cloud) -> None:
    with pytest.raises(PolicyNotFound):
        load_policy("no-such-group", get_settings())


def test_a_policy_that_is_not_json_is_refused_as_invalid_naming_where_it_is(cloud: Cloud) -> None:
    # Given a policy parameter someone wrote by hand, in YAML instead of JSON
    cloud.client("ssm").put_parameter(
        Name="/sagemaker-lifecycle-test/policies/churn", Value="group: churn\n", Type="String", Overwrite=True
    )
    # Then it is refused as invalid (no retry can fix it), naming the group and the parameter
    with pytest.raises(PolicyInvalid, match="policy of group 'churn' at /sagemaker-lifecycle-test/policies/churn"):
        load_policy("churn", get_settings())
