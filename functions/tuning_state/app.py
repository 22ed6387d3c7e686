"""Hyperparameter tuning job state change → register its best training job (Completed) or notify (Failed/Stopped)."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from lifecycle.events import TuningJobEvent
from lifecycle.observability import logger, metrics, traced
from lifecycle.reaction import run
from lifecycle.reactions.tuning_state import REACTION, on_tuning_state


@logger.inject_lambda_context(correlation_id_path="id", clear_state=True)
@metrics.log_metrics
@traced
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return run(event, context, reaction=REACTION, model=TuningJobEvent, act=on_tuning_state)
