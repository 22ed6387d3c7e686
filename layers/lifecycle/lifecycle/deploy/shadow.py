"""A shadow test: the new version beside production on a copy of its requests, judged on CloudWatch metrics.

The stage's config gets the new version as its shadow variant (`endpoints.variants_for`, phase `shadow`). A person can
decide at any time (`lifecycle promote` / `lifecycle end-shadow`, the token this module keeps); after the policy's
minimum time the state machine asks `compare_shadow_metrics`, which reads both variants' metrics in the stage's
account (namespace AWS/SageMaker, dimensions EndpointName and VariantName: "Amazon SageMaker AI metrics in Amazon
CloudWatch"; the shadow variant publishes its own: "Monitor a shadow test") and decides. Either way `end_shadow`
first takes the shadow variant off (production alone again); a promotion then deploys the new version with a guarded
update, the variant names kept (`rollout.create_or_update_endpoint`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from lifecycle.aws import aws_errors
from lifecycle.deploy import endpoints, scaling
from lifecycle.deploy.stage import StepContext, require_approved
from lifecycle.errors import InvalidDeploymentInput
from lifecycle.policy import Shadow, ShadowCompare
from lifecycle.store import deployments

NAMESPACE = "AWS/SageMaker"
_PERIOD_MAX_SECONDS = 86400 * 7  # one datapoint per query is not needed: every datapoint of the window is summed


@dataclass(frozen=True)
class VariantMetrics:
    """What one variant did over the window: invocations, and the compared metric's sum and sample count."""

    invocations: float
    total: float
    samples: float

    @property
    def average(self) -> float | None:
        return self.total / self.samples if self.samples else None


@dataclass(frozen=True)
class Verdict:
    decision: Literal["promote", "end"]
    reason: str

    def as_state(self, by: str) -> dict[str, str]:
        return {"decision": self.decision, "by": by, "reason": self.reason}


def judge(compare: ShadowCompare, production: VariantMetrics, shadow: VariantMetrics) -> Verdict:
    """Promote when the shadow had enough invocations and its metric is no worse than allowed; else end it."""
    if shadow.invocations < compare.min_invocations:
        return Verdict(
            "end",
            f"the shadow had {shadow.invocations:.0f} invocations, fewer than {compare.min_invocations}: no evidence "
            "to promote on",
        )
    if compare.metric == "ModelLatency":
        ours, theirs = shadow.average, production.average
        if ours is None or theirs is None or theirs <= 0:
            return Verdict("end", "ModelLatency has no datapoints for both variants: nothing to compare")
        regression = (ours - theirs) / theirs
        said = (
            f"ModelLatency {ours / 1000:.1f} ms on the shadow vs {theirs / 1000:.1f} ms in production "
            f"({regression:+.1%}; at most {compare.max_regression:+.1%} allowed)"
        )
        return Verdict("end" if regression > compare.max_regression else "promote", said)
    ours_rate = shadow.total / shadow.invocations
    theirs_rate = production.total / production.invocations if production.invocations else 0.0
    said = (
        f"5XX errors on {ours_rate:.2%} of the shadow's invocations vs {theirs_rate:.2%} in production "
        f"(at most {compare.max_regression:.2%} more allowed)"
    )
    return Verdict("end" if ours_rate - theirs_rate > compare.max_regression else "promote", said)


def metric_queries(endpoint: str, variant: str, compare: ShadowCompare, *, period: int, prefix: str) -> list[dict]:
    """GetMetricData queries of one variant: Invocations (Sum), and the compared metric's Sum and SampleCount."""

    def query(suffix: str, metric: str, stat: str) -> dict[str, Any]:
        return {
            "Id": f"{prefix}{suffix}",
            "MetricStat": {
                "Metric": {
                    "Namespace": NAMESPACE,
                    "MetricName": metric,
                    "Dimensions": [
                        {"Name": "EndpointName", "Value": endpoint},
                        {"Name": "VariantName", "Value": variant},
                    ],
                },
                "Period": period,
                "Stat": stat,
            },
            "ReturnData": True,
        }

    return [
        query("invocations", "Invocations", "Sum"),
        query("total", compare.metric, "Sum"),
        query("samples", compare.metric, "SampleCount"),
    ]


def window_period(start: datetime, end: datetime) -> int:
    """A period (a multiple of 60 s) covering the window, so each query answers with few datapoints."""
    seconds = max(60, int((end - start).total_seconds()))
    return min(_PERIOD_MAX_SECONDS, -(-seconds // 60) * 60)


def read_metrics(
    cloudwatch: Any, endpoint: str, variants: dict[str, str], compare: ShadowCompare, *, start: datetime, end: datetime
) -> dict[str, VariantMetrics]:
    """The metrics of each variant (`variants`: its query id prefix -> variant name) over [start, end]."""
    period = window_period(start, end)
    queries = [
        query
        for prefix, variant in variants.items()
        for query in metric_queries(endpoint, variant, compare, period=period, prefix=prefix)
    ]
    sums: dict[str, float] = {query["Id"]: 0.0 for query in queries}
    request: dict[str, Any] = {"MetricDataQueries": queries, "StartTime": start, "EndTime": end}
    with aws_errors(f"cloudwatch:GetMetricData {endpoint}"):
        while True:
            page = cloudwatch.get_metric_data(**request)
            for result in page["MetricDataResults"]:
                sums[result["Id"]] += sum(result.get("Values", []))
            if not page.get("NextToken"):
                break
            request["NextToken"] = page["NextToken"]
    return {
        prefix: VariantMetrics(sums[f"{prefix}invocations"], sums[f"{prefix}total"], sums[f"{prefix}samples"])
        for prefix in variants
    }


def _strategy(step: StepContext) -> Shadow:
    strategy = step.stage.strategy
    if not isinstance(strategy, Shadow):  # the plan's stage was snapshotted from the policy: this cannot change
        raise InvalidDeploymentInput(f"stage {step.stage.name} runs no shadow strategy")
    return strategy


def request_shadow_verdict(step: StepContext, token: str) -> dict[str, Any]:
    """Keep the task token for `lifecycle promote | end-shadow` and tell people the shadow test runs."""
    plan, stage, state = step.plan, step.stage, step.state
    strategy = _strategy(step)
    now = step.keep_wait(token, kind="shadow", keep=timedelta(seconds=state.shadow_seconds) + timedelta(days=1))
    compare_at = now + timedelta(seconds=state.shadow_seconds)
    compare = strategy.compare
    text = (
        f"{stage.name}: v{plan.version} runs as a shadow of production on {stage.endpoint_name}, on a copy of "
        f"{strategy.percent}% of its requests (its answers go to no caller)"
    )
    step.record("shadow-started", "done", f"{text}; compared at {compare_at:%Y-%m-%d %H:%M} UTC")
    step.tell(
        f"{stage.name}: shadow test of v{plan.version} running",
        [
            f"{text}.",
            f"At {compare_at:%Y-%m-%d %H:%M} UTC the product compares {compare.metric} of the shadow with production "
            f"(at most {compare.max_regression:g} worse, at least {compare.min_invocations} shadow invocations) and "
            "promotes it with a guarded update, or ends the shadow.",
            "Decide earlier:",
            f"  lifecycle promote {plan.group} --stage {stage.name}",
            f"  lifecycle end-shadow {plan.group} --stage {stage.name} --reason '<why>'",
        ],
        kind="shadow-started",
    )
    return {}


def compare_shadow_metrics(step: StepContext) -> dict[str, Any]:
    """After the minimum time: judge the shadow on the metrics of both variants since it started."""
    stage, state = step.stage, step.state
    strategy = _strategy(step)
    sagemaker = step.client("sagemaker")
    endpoint = endpoints.describe_endpoint(sagemaker, stage.endpoint_name or "")
    variants = endpoints.serving(sagemaker, endpoint.config) if endpoint else []
    main, shadow = endpoints.main_variant(variants), endpoints.shadow_variant(variants)
    if main is None or shadow is None:
        verdict = Verdict("end", f"{stage.endpoint_name} runs no shadow variant any more: nothing to promote")
    else:
        now = datetime.now(UTC)
        since = datetime.fromisoformat(state.shadow_since) if state.shadow_since else now - timedelta(seconds=60)
        found = read_metrics(
            step.client("cloudwatch"),
            stage.endpoint_name or "",
            {"production": main.name, "shadow": shadow.name},
            strategy.compare,
            start=since,
            end=now,
        )
        verdict = judge(strategy.compare, found["production"], found["shadow"])
    step.record("shadow-compared", "done", f"{verdict.decision}: {verdict.reason}", resource=stage.endpoint_name or "")
    return step.next(verdict=verdict.as_state("the metric comparison"))


def end_shadow(step: StepContext) -> dict[str, Any]:
    """Take the shadow variant off: production alone again (compare-and-set: only a shadow of this group, running the
    version of this plan). An update SageMaker cannot guard (the variant set changes) that moves no traffic."""
    plan, stage, state = step.plan, step.stage, step.state
    verdict = state.verdict or {"decision": "end", "by": "unknown", "reason": "no verdict"}
    if verdict.get("decision") == "promote":
        require_approved(step)
    sagemaker = step.client("sagemaker")
    endpoint = endpoints.describe_endpoint(sagemaker, stage.endpoint_name or "")
    variants = endpoints.serving(sagemaker, endpoint.config) if endpoint else []
    shadow = endpoints.shadow_variant(variants)
    if endpoint is None or shadow is None or shadow.version != plan.version or not shadow.of_group(plan.group):
        raise InvalidDeploymentInput(
            f"{stage.endpoint_name} runs no shadow of {plan.group} v{plan.version} (it runs "
            f"{', '.join(f'{v.name} v{v.version}' for v in variants) or 'nothing'}): left as it is"
        )
    main = endpoints.main_variant(variants)
    assert main is not None  # a config with a shadow variant has one production variant (CreateEndpointConfig)
    production = endpoints.variants_for(
        stage, model=shadow.model, version=plan.version, serving=variants, phase="production"
    )
    # Named and tagged after the version production runs: the config it served before the shadow, when nothing else
    # changed (the name is a digest of the content).
    request = endpoints.config_request(
        stage, group=plan.group, version=main.version or plan.version, package_arn=main.package_arn, variants=production
    )
    endpoints.ensure_endpoint_config(sagemaker, request)
    config = request["EndpointConfigName"]
    # What a failed promotion goes back to: for a shadow this execution started, the config before it (kept then);
    # for a manual promote or end-shadow, production alone (this config), never the shadow test again.
    previous = deployments.keep_restore_point(step.settings, plan.execution, stage.name, config)
    old = endpoints.describe_endpoint_config(sagemaker, endpoint.config) or {}
    scaled = scaling.update_endpoint(step, sagemaker, old=old, new=request, deployment=None)
    step.record(
        "end-shadow",
        "done",
        f"{endpoint.config} -> {config}: shadow v{plan.version} off ({verdict.get('decision')} by "
        f"{verdict.get('by')}: {verdict.get('reason')})" + (f"; autoscaling: {scaled}" if scaled else ""),
        resource=stage.endpoint_name or "",
    )
    deadline = datetime.now(UTC) + timedelta(seconds=stage.wait_timeout_minutes * 60)
    return step.next(
        model_name=shadow.model,
        phase="single",
        config_name=config,
        configs=[*state.configs, config] if config not in state.configs else state.configs,
        previous_config=previous,
        changed=True,
        status="Updating",
        deadline=deadline.isoformat(),
        bake_seconds=0,
        bake_until="",
        watch_alarms=[],
        verdict=verdict,
    )
