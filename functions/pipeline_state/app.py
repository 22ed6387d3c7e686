"""Pipeline execution Failed/Stopped → notify with its failed steps; Succeeded → link what it registered (audit)."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from lifecycle.events import PipelineExecutionEvent
from lifecycle.observability import logger, metrics, traced
from lifecycle.reaction import run
from lifecycle.reactions.pipeline_state import REACTION, on_pipeline_state


@logger.inject_lambda_context(correlation_id_path="id", clear_state=True)
@metrics.log_metrics
@traced
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return run(event, context, reaction=REACTION, model=PipelineExecutionEvent, act=on_pipeline_state)
