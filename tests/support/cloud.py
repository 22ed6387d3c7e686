"""What tests share that is not a fixture: the accounts of the test cloud, its handle, the sample policy."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.utilities import parameters

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
