"""Shared fixtures: a moto cloud with the automation account and three workload accounts.

Every test that touches AWS uses `cloud`; nothing reaches the network. The automation account's table and topic
are created with the same schema template.yaml gives them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import botocore.session
import infra_templates
import pytest
from aws_lambda_powertools.utilities import parameters
from lifecycle import accounts
from lifecycle.config import get_settings
from lifecycle.store import idempotency
from moto import mock_aws

AUTOMATION = "123456789012"  # moto's default account: the functions' own credentials land there
DEV = "222222222222"
STAGING = "333333333333"
PROD = "444444444444"
UNTRUSTED = "999999999999"
REGION = "us-east-1"
STACK = "sagemaker-lifecycle-test"
TABLE = "sagemaker-lifecycle-test-table"
TOPIC = f"arn:aws:sns:{REGION}:{AUTOMATION}:sagemaker-lifecycle-test-notifications"
# The customer managed key of the model artifacts: the registry and the stages read what dev trains.
ARTIFACTS_KEY = f"arn:aws:kms:{REGION}:{DEV}:key/1234abcd-12ab-34cd-56ef-1234567890ab"


@dataclass
class Cloud:
    """Handles on the moto cloud of one test."""

    notifications_queue_url: str

    def client(self, service: str, account: str = AUTOMATION, region: str = REGION) -> Any:
        """A client acting in `account`, as the workload execution role would."""
        from sandbox.cloud import client_in

        return client_in(service, account, region, role="sagemaker-lifecycle-execution", session_name="test")

    def notifications(self) -> list[dict[str, str]]:
        """Every SNS notification published so far (subject, message, attributes), oldest first."""
        sqs = self.client("sqs")
        found = []
        while True:
            messages = sqs.receive_message(QueueUrl=self.notifications_queue_url, MaxNumberOfMessages=10).get(
                "Messages", []
            )
            if not messages:
                return found
            for message in messages:
                body = json.loads(message["Body"])
                found.append(
                    {
                        "subject": body.get("Subject", ""),
                        "message": body["Message"],
                        "kind": body.get("MessageAttributes", {}).get("kind", {}).get("Value", ""),
                    }
                )
                sqs.delete_message(QueueUrl=self.notifications_queue_url, ReceiptHandle=message["ReceiptHandle"])

    def publish_policy(self, document: dict[str, Any]) -> None:
        """Publish a policy document the way `lifecycle policy publish` does."""
        self.client("ssm").put_parameter(
            Name=f"/{STACK}/policies/{document['group']}", Value=json.dumps(document), Type="String", Overwrite=True
        )
        parameters.clear_caches()


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


def churn_policy(**overrides: Any) -> dict[str, Any]:
    """The sample policy of the `churn` group: trains in dev, registers in the automation account's registry."""
    document: dict[str, Any] = {
        "group": "churn",
        "match": {"name_prefixes": ["churn-"], "label_attribute_names": ["churn-label"]},
        "training": {
            "account": DEV,
            "region": REGION,
            "role_arn": f"arn:aws:iam::{DEV}:role/SageMakerTrainingRole",
            "image": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1",
            "instance_type": "ml.m5.xlarge",
            "hyperparameters": {"max_depth": "5", "eta": "0.2", "num_round": "200", "objective": "binary:logistic"},
            "output_s3_uri": "s3://example-dev-ml-artifacts/churn/",
            "output_kms_key_arn": ARTIFACTS_KEY,
            "fresh_data_s3_uri": "s3://example-dev-ml-data/churn/fresh/",
        },
        "gate": {"metric": "validation:auc", "comparison": ">=", "threshold": 0.8},
        "registry": {"account": AUTOMATION, "region": REGION, "approvers": ["ml-leads@example.com"]},
        "debugger": {"stop_on_rules": ["LossNotDecreasing"]},
    }
    document.update(overrides)
    return document


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
