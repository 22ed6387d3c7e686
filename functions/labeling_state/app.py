"""Ground Truth labeling job state change → start training on the labels (Completed) or notify (Failed/Stopped)."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from lifecycle.events import LabelingJobEvent
from lifecycle.observability import logger, metrics, traced
from lifecycle.reaction import run
from lifecycle.reactions.labeling_state import REACTION, on_labeling_state


@logger.inject_lambda_context(correlation_id_path="id", clear_state=True)
@metrics.log_metrics
@traced
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return run(event, context, reaction=REACTION, model=LabelingJobEvent, act=on_labeling_state)
