"""Typed errors. Their class names are the error names ASL `Retry`/`Catch` match on.

Two families:
- `RefusedEvent`: the event must not be acted on (untrusted, malformed, no policy applies). The handler logs the
  reason with the event id and returns normally: retrying cannot help, and nothing was changed.
- `RetryableError`: nothing is wrong with the event but the product could not finish. The handler raises, so
  EventBridge/Lambda retry it and finally keep it in the dead-letter queue with the reason.
"""

from __future__ import annotations


class LifecycleError(Exception):
    """Base of every error the product raises on purpose."""


class RefusedEvent(LifecycleError):
    """The event is not acted on; `reason` is logged with the event id."""

    outcome = "refused"

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class UntrustedEvent(RefusedEvent):
    """Wrong source, or an account that is not on the allow-list."""


class MalformedEvent(RefusedEvent):
    """The event does not match the model of its detail-type."""


class IgnoredEvent(RefusedEvent):
    """A trusted, well-formed event for which no action applies (no policy, nothing to do)."""

    outcome = "ignored"


class PolicyNotFound(IgnoredEvent):
    """No policy is published for the model package group."""


class PolicyInvalid(RefusedEvent):
    """The published policy fails validation; the message names the group and the field."""


class ActionRefused(RefusedEvent):
    """The event is fine but the resources it names cannot be acted on (a person must look)."""


class RetryableError(LifecycleError):
    """The product could not finish; raising lets the platform retry and then dead-letter the event."""


class ThrottlingError(RetryableError):
    """AWS throttled the call even after the SDK's adaptive retries."""


class AwsCallFailed(RetryableError):
    """An AWS call failed for a reason other than throttling (5xx, timeout, access denied, ...)."""


class DuplicateInProgress(RetryableError):
    """The same state change is being handled right now by another invocation; retrying later finds its result."""


class AssumeRoleFailed(RetryableError):
    """STS AssumeRole of the workload execution role failed."""


# --- DeployModel state machine: these names are matched by the ASL `Retry`/`Catch` -------------------------------
class InvalidDeploymentInput(RefusedEvent):
    """The state machine input (or what it names: package, stage, version) cannot be deployed; nothing changed."""


class DeploymentStepFailed(LifecycleError):
    """A deployment stage failed; the state machine restores the previous endpoint config and stops."""


class EndpointFailed(DeploymentStepFailed):
    """The endpoint went to `Failed` while creating or updating."""


class EndpointRolledBack(DeploymentStepFailed):
    """SageMaker's auto-rollback (an alarm named in policy) put the endpoint back on its previous config."""


class EndpointWaitTimedOut(DeploymentStepFailed):
    """The endpoint did not reach InService within the stage's wait timeout."""


class SmokeTestFailed(DeploymentStepFailed):
    """InvokeEndpoint with the policy's sample payload failed or did not answer what policy expects."""


class EndpointBusy(RetryableError):
    """The endpoint is being created or updated by something else; retried with backoff."""


class RollbackAlarmFired(DeploymentStepFailed):
    """A rollback alarm of the stage went to ALARM while the product watched an update SageMaker could not guard."""


class ResourceConflict(DeploymentStepFailed):
    """A model or endpoint config of the deterministic name exists but is not what this product would have made."""


class PackageRejected(DeploymentStepFailed):
    """The model package being deployed is no longer Approved in the registry: the deployment stops."""


class EndpointLeaseTimedOut(DeploymentStepFailed):
    """Another deployment held the stage's endpoint for longer than this one may wait; nothing was changed."""
