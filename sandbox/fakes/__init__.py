"""Faithful fakes for the SageMaker APIs moto lacks.

Each fake is a function registered with `@sagemaker_fake("OperationName")`. `install()` adds it to moto's
SageMaker responder, so boto3 clients (in-process or against a moto server) reach it like any other API. Every
request is validated strictly against botocore's service model before the fake sees it, as SageMaker would.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from moto.core.responses import ActionResult
from moto.core.utils import camelcase_to_underscores
from moto.sagemaker.exceptions import ValidationError
from moto.sagemaker.models import SageMakerModelBackend, sagemaker_backends
from moto.sagemaker.responses import SageMakerResponse

from sandbox.fakes import arns
from sandbox.fakes.strict import request_errors, service_model
from sandbox.world import WORLD, World


@dataclass(frozen=True)
class FakeCall:
    """One request to a fake: where it landed and what it asked."""

    account: str
    region: str
    params: dict[str, Any]
    world: World

    @property
    def backend(self) -> SageMakerModelBackend:
        """moto's SageMaker state of the account and region the request landed in."""
        return sagemaker_backends[self.account][self.region]


Fake = Callable[[FakeCall], dict[str, Any]]
_FAKES: dict[str, Fake] = {}


def sagemaker_fake(operation: str) -> Callable[[Fake], Fake]:
    """Register `fn` as the implementation of SageMaker `operation` (its API name, e.g. StopTrainingJob)."""

    def register(fn: Fake) -> Fake:
        _FAKES[operation] = fn
        return fn

    return register


def validate_request(service: str, operation: str, params: dict[str, Any]) -> None:
    """Refuse a request that breaks any constraint of botocore's model of `operation` (types, required members,
    `pattern`, `min`, `max`, `enum`: see `sandbox.fakes.strict`), with SageMaker's error code."""
    errors = request_errors(service, operation, params)
    if errors:
        raise ValidationError(message=f"{len(errors)} validation error(s) detected: " + "; ".join(errors))


def _fake_responder(fn: Fake) -> Callable[[SageMakerResponse], ActionResult]:
    def respond(self: SageMakerResponse) -> ActionResult:
        params = json.loads(self.body or "{}")
        return ActionResult(fn(FakeCall(self.current_account, self.region, params, WORLD)))

    return respond


def _validated(operation: str, respond: Callable[[SageMakerResponse], Any]) -> Callable[[SageMakerResponse], Any]:
    """`respond`, after the request is validated strictly against the model of `operation`."""
    if getattr(respond, "lifecycle_validated", False):
        return respond

    @wraps(respond)
    def validated(self: SageMakerResponse) -> Any:
        validate_request("sagemaker", operation, json.loads(self.body or "{}"))
        return respond(self)

    validated.lifecycle_validated = True  # type: ignore[attr-defined]
    return validated


def install() -> list[str]:
    """Add every fake to moto's SageMaker API (and EventBridge's, IAM's and Application Auto Scaling's:
    `sandbox.fakes.events`, `.iam`, `.scaling`), and
    validate every SageMaker request moto answers (the fakes' and moto's own) strictly against botocore's model
    (idempotent); returns the SageMaker operations faked."""
    import sandbox.fakes.endpoints  # registers its fakes (and InvokeEndpoint on sagemaker-runtime)
    import sandbox.fakes.labeling  # registers its fakes
    import sandbox.fakes.pipelines  # registers its fakes
    import sandbox.fakes.transform  # registers its fakes
    import sandbox.fakes.tuning  # noqa: F401  (registers its fakes)
    from sandbox.fakes import events, iam, monitoring, registry, scaling, training  # each registers its fakes

    events.install()
    iam.install()
    scaling.install()
    training.refuse_duplicate_names()
    monitoring.refuse_what_sagemaker_refuses()
    registry.emit_registry_events()
    arns.lower_case_resource_names()
    for operation, fn in _FAKES.items():
        setattr(SageMakerResponse, camelcase_to_underscores(operation), _fake_responder(fn))
    for operation in service_model("sagemaker").operation_names:
        method = camelcase_to_underscores(operation)
        if callable(getattr(SageMakerResponse, method, None)):
            setattr(SageMakerResponse, method, _validated(operation, getattr(SageMakerResponse, method)))
    return sorted(_FAKES)
