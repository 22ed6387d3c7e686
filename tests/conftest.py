"""Shared fixtures: a moto cloud with the automation account and three workload accounts.

Every test that touches AWS uses `cloud`; nothing reaches the network. The automation account's table and topic
are created with the same schema template.yaml gives them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import botocore.session
import pytest
from aws_lambda_powertools.utilities import parameters
from lifecycle import accounts
from lifecycle.config import get_settings
from lifecycle.store import idempotency
from moto import mock_aws
from support import templates as infra_templates
from support.cloud import AUTOMATION, DEV, PROD, REGION, STACK, STAGING, TABLE, TOPIC, Cloud


def _reset_caches() -> None:
    get_settings.cache_clear()
    accounts.clear_session_cache()
    idempotency.clear_persistence_cache()
    parameters.clear_caches()


@pytest.fixture
def cloud(monkeypatch: pytest.MonkeyPatch) -> Iterator[Cloud]:
    """A fresh moto cloud with the automation stack's table, topic and a queue that captures notifications."""
    env = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "LIFECYCLE_STACK_NAME": STACK,
        "LIFECYCLE_TABLE_NAME": TABLE,
        "LIFECYCLE_TOPIC_ARN": TOPIC,
        "LIFECYCLE_AUTOMATION_ACCOUNT_ID": AUTOMATION,
        "LIFECYCLE_ALLOWED_ACCOUNTS": ",".join([AUTOMATION, DEV, STAGING, PROD]),
        "LIFECYCLE_EXECUTION_ROLE_NAME": "sagemaker-lifecycle-execution",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_NAMESPACE": "SageMakerLifecycle",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    from sandbox.cloud import shared_loader
    from sandbox.fakes import install

    # Each session the product makes would parse botocore's service models again: share one loader (as the sandbox)
    monkeypatch.setattr(botocore.session, "create_loader", shared_loader)

    install()
    _reset_caches()
    with mock_aws():
        boto3.client("dynamodb", region_name=REGION).create_table(
            TableName=TABLE,
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            BillingMode="PAY_PER_REQUEST",
        )
        sns = boto3.client("sns", region_name=REGION)
        sns.create_topic(Name=TOPIC.rsplit(":", 1)[1])
        sqs = boto3.client("sqs", region_name=REGION)
        queue_url = sqs.create_queue(QueueName="captured-notifications")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=TOPIC, Protocol="sqs", Endpoint=queue_arn)
        yield Cloud(queue_url)
    _reset_caches()


@pytest.fixture
def load_event() -> Callable[[str], dict[str, Any]]:
    """Read a sample from events/ (a fresh copy each time)."""
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent / "events"

    def load(name: str) -> dict[str, Any]:
        return json.loads((root / name).read_text())

    return load


@pytest.fixture
def automation_template() -> dict[str, Any]:
    """template.yaml, parsed (short tags included)."""
    return infra_templates.automation_template()


@pytest.fixture
def workload_template() -> dict[str, Any]:
    """accounts/workload-account.yaml, parsed."""
    return infra_templates.workload_template()


@pytest.fixture
def templates() -> dict[str, dict[str, Any]]:
    """Both templates by file name."""
    return infra_templates.templates()
