"""Monitoring schedule Failed or Stopped → record and tell: its monitor no longer watches the stage."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from lifecycle.events import MonitoringScheduleEvent
from lifecycle.observability import logger, metrics, traced
from lifecycle.reaction import run
from lifecycle.reactions.schedule_state import REACTION, on_schedule_state


@logger.inject_lambda_context(correlation_id_path="id", clear_state=True)
@metrics.log_metrics
@traced
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return run(event, context, reaction=REACTION, model=MonitoringScheduleEvent, act=on_schedule_state)
