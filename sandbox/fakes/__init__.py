"""Faithful fakes for the SageMaker APIs moto lacks.

Each fake is a function registered with `@sagemaker_fake("OperationName")`. `install()` adds it to moto's
SageMaker responder, so boto3 clients (in-process or against a moto server) reach it like any other API. Every
request is validated against botocore's service model before the fake sees it, as SageMaker would.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

import botocore.session
from botocore.validate import ParamValidator
from moto.core.responses import ActionResult
from moto.sagemaker.exceptions import ValidationError
from moto.sagemaker.models import SageMakerModelBackend, sagemaker_backends
from moto.sagemaker.responses import SageMakerResponse

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


@cache
def _service_model(service: str) -> Any:
    return botocore.session.get_session().get_service_model(service)


def validate_request(service: str, operation: str, params: dict[str, Any]) -> None:
    """Refuse a request botocore's model of `operation` refuses, with SageMaker's error code."""
    shape = _service_model(service).operation_model(operation).input_shape
    report = ParamValidator().validate(params, shape)
    if report.has_errors():
        raise ValidationError(message=report.generate_report())


def _snake(operation: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in operation).lstrip("_")


def _responder(operation: str, fn: Fake) -> Callable[[SageMakerResponse], ActionResult]:
    def respond(self: SageMakerResponse) -> ActionResult:
        params = json.loads(self.body or "{}")
        validate_request("sagemaker", operation, params)
        return ActionResult(fn(FakeCall(self.current_account, self.region, params, WORLD)))

    respond.__name__ = _snake(operation)
    return respond


def install() -> list[str]:
    """Add every fake to moto's SageMaker API (idempotent); returns the operations faked."""
    import sandbox.fakes.endpoints  # registers its fakes (and InvokeEndpoint on sagemaker-runtime)
    import sandbox.fakes.labeling  # registers its fakes
    import sandbox.fakes.monitoring  # noqa: F401  (registers its fakes)
    from sandbox.fakes import registry, training  # training registers its fakes

    training.refuse_duplicate_names()
    registry.emit_registry_events()
    for operation, fn in _FAKES.items():
        setattr(SageMakerResponse, _snake(operation), _responder(operation, fn))
    return sorted(_FAKES)
