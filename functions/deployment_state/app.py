"""Endpoint deployment rolled back by SageMaker (RollingBack, UpdateRollbackFailed) → record and tell, in words."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from lifecycle.events import EndpointDeploymentEvent
from lifecycle.observability import logger, metrics, traced
from lifecycle.reaction import run
from lifecycle.reactions.deployment_state import REACTION, on_deployment_state


@logger.inject_lambda_context(correlation_id_path="id", clear_state=True)
@metrics.log_metrics
@traced
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return run(event, context, reaction=REACTION, model=EndpointDeploymentEvent, act=on_deployment_state)
