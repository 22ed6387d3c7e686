"""Notifications to people, through the SNS topic (the stack's, or the one the policy names)."""

from __future__ import annotations

from typing import Any

from lifecycle.accounts import own_client
from lifecycle.aws import aws_errors
from lifecycle.config import Settings

_SUBJECT_MAX = 100


def notify(
    settings: Settings, *, subject: str, lines: list[str], group: str, kind: str, topic_arn: str | None = None
) -> str:
    """Publish a plain-text notification; returns the SNS message id.

    The subject is one line of at most 100 characters (SNS's limit); the body is the lines, in order. Message
    attributes `group` and `kind` let subscribers filter.
    """
    topic = topic_arn or settings.topic_arn
    clean_subject = " ".join(subject.split())
    if len(clean_subject) > _SUBJECT_MAX:
        clean_subject = clean_subject[: _SUBJECT_MAX - 3] + "..."
    request: dict[str, Any] = {
        "TopicArn": topic,
        "Subject": clean_subject,
        "Message": "\n".join(lines),
        "MessageAttributes": {
            "group": {"DataType": "String", "StringValue": group or "-"},
            "kind": {"DataType": "String", "StringValue": kind},
        },
    }
    # Always the function's own credentials: a topic in another account admits us through its topic policy.
    sns = own_client("sns", settings, topic.split(":")[3])
    with aws_errors("sns:Publish"):
        return str(sns.publish(**request)["MessageId"])
