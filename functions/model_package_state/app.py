"""Model package state change: Approved → start DeployModel; Rejected → roll back stages serving it; Pending → ask."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from lifecycle.events import ModelPackageEvent
from lifecycle.observability import logger, metrics, traced
from lifecycle.reaction import run
from lifecycle.reactions.model_package_state import REACTION, on_model_package_state


@logger.inject_lambda_context(correlation_id_path="id", clear_state=True)
@metrics.log_metrics
@traced
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return run(event, context, reaction=REACTION, model=ModelPackageEvent, act=on_model_package_state)
