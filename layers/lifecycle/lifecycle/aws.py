"""Turning SDK errors into the product's typed errors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from botocore.exceptions import BotoCoreError, ClientError

from lifecycle.errors import ActionRefused, AwsCallFailed, ThrottlingError

THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "RequestThrottled",
        "SlowDown",
    }
)


def error_code(exc: ClientError) -> str:
    """The AWS error code of a ClientError."""
    return str(exc.response.get("Error", {}).get("Code", ""))


# How SageMaker says "no such resource" on Describe* calls.
NOT_FOUND_CODES = frozenset({"ValidationException", "ResourceNotFound", "ResourceNotFoundException"})


@contextmanager
def aws_errors(what: str, *, missing: str | None = None) -> Iterator[None]:
    """Run AWS calls; a failure the SDK's own retries could not absorb becomes a typed, retryable error.

    With `missing`, a not-found answer becomes `ActionRefused(missing)`: the event names something that is not
    there, which no retry can fix.
    """
    try:
        yield
    except ClientError as exc:
        if missing is not None and error_code(exc) in NOT_FOUND_CODES:
            raise ActionRefused(missing) from exc
        error = ThrottlingError if error_code(exc) in THROTTLING_CODES else AwsCallFailed
        raise error(f"{what}: {error_code(exc)}: {exc.response.get('Error', {}).get('Message', '')}") from exc
    except BotoCoreError as exc:
        raise AwsCallFailed(f"{what}: {exc}") from exc
