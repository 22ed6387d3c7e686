"""One model package per training job: a claim in the lifecycle table, keyed by the training job's ARN.

Distinct events for one job (different `LastModifiedTime`) are distinct state changes to idempotency and may be
handled at the same time; describe-before-create cannot see a package another invocation is creating. So before
CreateModelPackage the training reaction claims the job with one conditional write, never read-then-write:

    attribute_not_exists(pk) OR (attribute_not_exists(package_arn) AND (#until <= :now OR holder = :holder))

- The holder is the state change that claims (the job's `LastModifiedTime`): the retry of the same state change
  gets its claim back; another one is told who holds it.
- An attempt that fails releases its claim (the platform's retry claims again), and a claim whose invocation died
  expires after `CLAIM_SECONDS`.
- Once registered, the item keeps the package ARN as long as idempotency records are kept: a later claimer gets that
  package back instead of a claim.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from botocore.exceptions import ClientError

from lifecycle.aws import aws_errors, error_code
from lifecycle.config import Settings
from lifecycle.store import CONDITION_FAILED, registration_key, table

# The longest a Lambda invocation runs: a claim older than that belongs to an invocation that no longer exists.
CLAIM_SECONDS = 900


@dataclass(frozen=True)
class Claim:
    """The answer to a claim: granted to this holder, or held by `holder`, or the job's registered package."""

    granted: bool
    holder: str = ""
    package_arn: str = ""


def registration_item(
    job_arn: str, *, holder: str, until: datetime, expiration: datetime, package_arn: str = ""
) -> dict[str, dict[str, str]]:
    """The table item of a training job's registration: who holds it until when, the package once registered, and
    the TTL attribute `expiration`."""
    item = registration_key(job_arn) | {
        "holder": {"S": holder},
        "until": {"N": str(int(until.timestamp()))},
        "expiration": {"N": str(int(expiration.timestamp()))},
    }
    return item | ({"package_arn": {"S": package_arn}} if package_arn else {})


def claim(settings: Settings, job_arn: str, *, holder: str, now: datetime | None = None) -> Claim:
    """Claim the registration of `job_arn` for `holder` unless another holder's claim is live or it is registered."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    until = now + timedelta(seconds=CLAIM_SECONDS)
    item = registration_item(job_arn, holder=holder, until=until, expiration=until)
    with aws_errors(f"dynamodb:PutItem registration claim {job_arn}"):
        try:
            table(settings).put_item(
                TableName=settings.table_name,
                Item=item,
                ConditionExpression=(
                    "attribute_not_exists(pk) OR "
                    "(attribute_not_exists(package_arn) AND (#until <= :now OR holder = :holder))"
                ),
                ExpressionAttributeNames={"#until": "until"},
                ExpressionAttributeValues={":now": {"N": str(int(now.timestamp()))}, ":holder": {"S": holder}},
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if error_code(exc) != CONDITION_FAILED:
                raise
            held = exc.response.get("Item", {})
            return Claim(
                granted=False,
                holder=held.get("holder", {}).get("S", ""),
                package_arn=held.get("package_arn", {}).get("S", ""),
            )
    return Claim(granted=True, holder=holder)


def finish(settings: Settings, job_arn: str, *, holder: str, package_arn: str, now: datetime | None = None) -> None:
    """Record that `holder` registered `job_arn` as `package_arn` (kept as long as idempotency records)."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    expiration = now + timedelta(seconds=settings.idempotency_ttl_seconds)
    item = registration_item(job_arn, holder=holder, until=now, expiration=expiration, package_arn=package_arn)
    with aws_errors(f"dynamodb:PutItem registration of {job_arn}"):
        table(settings).put_item(TableName=settings.table_name, Item=item)


def release(settings: Settings, job_arn: str, *, holder: str) -> None:
    """Give up `holder`'s claim after a failed attempt, so the platform's retry can claim again (no-op when the
    claim is no longer this holder's, or the job is registered)."""
    with aws_errors(f"dynamodb:DeleteItem registration claim {job_arn}"):
        try:
            table(settings).delete_item(
                TableName=settings.table_name,
                Key=registration_key(job_arn),
                ConditionExpression="holder = :holder AND attribute_not_exists(package_arn)",
                ExpressionAttributeValues={":holder": {"S": holder}},
            )
        except ClientError as exc:
            if error_code(exc) != CONDITION_FAILED:
                raise
