"""The metrics a handler emitted: what CloudWatch would record from its embedded metric format (EMF) output."""

from __future__ import annotations

import json
from collections import defaultdict


def emitted(out: str) -> dict[str, float]:
    """The metrics of every EMF document printed in `out` (powertools' `log_metrics` prints one per invocation),
    summed by name."""
    found: dict[str, float] = defaultdict(float)
    for line in out.splitlines():
        try:
            document = json.loads(line)
        except ValueError:
            continue
        if not isinstance(document, dict) or "_aws" not in document:
            continue
        for directive in document["_aws"]["CloudWatchMetrics"]:
            for metric in directive["Metrics"]:
                value = document[metric["Name"]]
                found[metric["Name"]] += sum(value) if isinstance(value, list) else value
    return dict(found)
