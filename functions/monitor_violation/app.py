"""Model Monitor violation (monitoring run's processing job, or drift alarm) → retrain, roll back or notify."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from lifecycle.observability import logger, metrics, traced
from lifecycle.reaction import run
from lifecycle.reactions.monitor_violation import REACTION, SIGNALS, on_monitor_violation


@logger.inject_lambda_context(correlation_id_path="id", clear_state=True)
@metrics.log_metrics
@traced
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return run(event, context, reaction=REACTION, model=SIGNALS, act=on_monitor_violation)
