"""Debugger / profiler rule IssuesFound on a running training job → stop it per policy, record, notify."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from lifecycle.events import TrainingJobEvent
from lifecycle.observability import logger, metrics, traced
from lifecycle.reaction import run
from lifecycle.reactions.debugger_rule import REACTION, on_rule_issues


@logger.inject_lambda_context(correlation_id_path="id", clear_state=True)
@metrics.log_metrics
@traced
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return run(event, context, reaction=REACTION, model=TrainingJobEvent, act=on_rule_issues)
