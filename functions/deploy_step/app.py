"""The DeployModel state machine's Lambda task: runs the step its input names (see lifecycle.deploy.steps)."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from lifecycle.config import get_settings
from lifecycle.deploy.steps import run_step
from lifecycle.observability import logger, metrics, traced


@logger.inject_lambda_context(correlation_id_path="execution", clear_state=True)
@metrics.log_metrics
@traced
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return run_step(event, get_settings())
