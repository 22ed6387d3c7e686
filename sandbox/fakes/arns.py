"""SageMaker ARNs name resources in lower case; the `*Name` fields keep the case they were given.

A model package group `ChurnPrediction` has the ARN `.../model-package-group/churnprediction` and its packages
`.../model-package/churnprediction/7`, while `ModelPackageGroupName` stays `ChurnPrediction`; the same holds for
training jobs, endpoints, models and the other resources (measured in this project, LOCAL-FACTS "Real AWS rules";
seen by others on real accounts: boto/boto3#4606 for tuning jobs, aws/sagemaker-experiments#172 for training jobs,
prometheus-community/yet-another-cloudwatch-exporter#1178 for endpoints). The API reference states it only through
its examples, and botocore's documentation of CreateEndpoint.EndpointName ("The name is case-insensitive in
CreateEndpoint, but the case is preserved") and CreateLabelingJob.LabelingJobName ("LabelingJobName is not case
sensitive"). So a name can never be read back from an ARN: the product carries names.

moto 5.2.5 lower-cases only model package ARNs. This module makes every ARN moto's SageMaker forms lower-case its
resource name, and makes moto's tagging calls (which find the resource by the name part of the ARN) find it
whatever the case of its name, as SageMaker does.
"""

from __future__ import annotations

from typing import Any

import moto.sagemaker.models as moto_models
import moto.sagemaker.utils as moto_utils
from moto.sagemaker.exceptions import ValidationError
from moto.sagemaker.models import SageMakerModelBackend

_MOTO_ARN_FORMATTER = moto_utils.arn_formatter
_MOTO_RESOURCE_FROM_ARN = SageMakerModelBackend._get_resource_from_arn


def sagemaker_arn(_type: str, _id: str, account_id: str, region_name: str) -> str:
    """The ARN SageMaker gives resource `_id` of kind `_type` (e.g. training-job): its name in lower case.

    (moto's `arn_formatter`'s signature, which moto calls with keywords.)"""
    return _MOTO_ARN_FORMATTER(_type, _id.lower(), account_id, region_name)


def _resource_from_arn(self: SageMakerModelBackend, arn: str) -> Any:
    """moto's lookup by the ARN's name part, else the resource whose ARN it is (its name in any case)."""
    try:
        found = _MOTO_RESOURCE_FROM_ARN(self, arn)
    except (ValidationError, AttributeError, ValueError):
        found = None
    if found is not None:
        return found
    for store in vars(self).values():
        for resource in store.values() if isinstance(store, dict) else ():
            if getattr(resource, "arn", None) == arn:
                return resource
    raise ValidationError(message=f"Could not find resource {arn}")


def lower_case_resource_names() -> None:
    """Make moto's SageMaker ARNs lower-case resource names, and its ARN lookups follow (idempotent)."""
    moto_utils.arn_formatter = sagemaker_arn
    moto_models.arn_formatter = sagemaker_arn
    SageMakerModelBackend._get_resource_from_arn = _resource_from_arn  # type: ignore[method-assign]
