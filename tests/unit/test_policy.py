"""Policy model: what is accepted, and errors that name the group and the field."""

from __future__ import annotations

import pytest
import yaml
from lifecycle.errors import PolicyInvalid
from lifecycle.policy import Canary, deprecations, installation_problems, match_group, validate_policy
from support.cloud import ARTIFACTS_KEY, AUTOMATION, DEV, PROD, REGION, STAGING, churn_policy


def stage(name: str, account: str, **extra: object) -> dict[str, object]:
    return {
        "name": name,
        "account": account,
        "region": REGION,
        "endpoint_name": f"churn-{name}",
        "execution_role_arn": f"arn:aws:iam::{account}:role/SageMakerExecutionRole",
        "instance_type": "ml.m5.large",
        **extra,
    }


def test_the_sample_policy_is_valid() -> None:
    policy = validate_policy(churn_policy(), group="churn")

    assert policy.gate is not None
    assert policy.gate.threshold == 0.8
    assert policy.registry.account == AUTOMATION


def test_deployment_stages_with_strategies_are_typed() -> None:
    document = churn_policy(
        deployment={
            "stages": [
                stage("staging", STAGING, approval_required=True),
                stage("prod", PROD, strategy={"type": "canary", "percent": 10, "wait_seconds": 300}),
            ]
        }
    )

    policy = validate_policy(document, group="churn")

    assert policy.deployment is not None
    assert isinstance(policy.deployment.stages[1].strategy, Canary)


def test_an_out_of_range_canary_names_the_group_the_path_and_the_value() -> None:
    document = churn_policy(
        deployment={
            "stages": [stage("staging", STAGING), stage("prod", PROD, strategy={"type": "canary", "percent": 80})]
        }
    )

    with pytest.raises(PolicyInvalid) as invalid:
        validate_policy(document, group="churn")

    assert "policy of group 'churn' is invalid" in invalid.value.reason
    assert "deployment.stages[1].strategy.canary.percent: Input should be less than or equal to 50, got 80" in (
        invalid.value.reason
    )


def test_a_typo_is_refused_rather_than_silently_ignored() -> None:
    document = churn_policy(gate={"metric": "validation:auc", "threshhold": 0.8})

    with pytest.raises(PolicyInvalid) as invalid:
        validate_policy(document, group="churn")

    assert "gate.threshold: Field required" in invalid.value.reason
    assert "gate.threshhold: Extra inputs are not permitted" in invalid.value.reason


def test_duplicate_stage_names_are_refused() -> None:
    document = churn_policy(deployment={"stages": [stage("prod", STAGING), stage("prod", PROD)]})

    with pytest.raises(PolicyInvalid, match="stage names must be unique"):
        validate_policy(document, group="churn")


def test_a_policy_published_under_another_group_is_refused() -> None:
    with pytest.raises(PolicyInvalid, match="published for group 'fraud' names group 'churn'"):
        validate_policy(churn_policy(), group="fraud")


def test_the_longest_name_prefix_wins_then_the_label_attribute() -> None:
    documents = {
        "churn": {"match": {"name_prefixes": ["churn-"]}},
        "churn-eu": {"match": {"name_prefixes": ["churn-eu-"], "label_attribute_names": ["eu-label"]}},
        "fraud": {"match": {"label_attribute_names": ["fraud-label"]}},
        "broken": "not a document",
    }

    assert match_group(documents, name="churn-eu-2026") == "churn-eu"
    assert match_group(documents, name="churn-us-2026") == "churn"
    assert match_group(documents, name="labels-42", label_attribute="fraud-label") == "fraud"
    assert match_group(documents, name="unrelated") is None


CAPTURE = {"s3_uri": "s3://example-capture/churn/"}
REPORTS = "s3://example-monitoring/churn/"


def _monitors(*monitors: dict[str, object], **extra: object) -> dict[str, object]:
    return churn_policy(deployment={"stages": [stage("prod", PROD, monitoring=list(monitors), **extra)]})


def test_each_monitor_type_is_typed_with_its_own_inputs_action_and_cool_down() -> None:
    document = _monitors(
        {"type": "data_quality", "on_violation": "retrain", "reports_s3_uri": REPORTS},
        {
            "type": "model_quality",
            "on_violation": "rollback",
            "cooldown_hours": 6,
            "problem_type": "BinaryClassification",
            "ground_truth_s3_uri": "s3://example-truth/churn/",
            "reports_s3_uri": REPORTS,
        },
        {
            "type": "bias_drift",
            "analysis_config_s3_uri": "s3://example-clarify/churn/analysis_config.json",
            "ground_truth_s3_uri": "s3://example-truth/churn/",
        },
        {"type": "feature_attribution_drift", "analysis_config_s3_uri": "s3://example-clarify/churn/a.json"},
        data_capture=CAPTURE,
    )

    stage_ = validate_policy(document, group="churn").deployment.stages[0]  # type: ignore[union-attr]

    assert [(m.type, m.on_violation, m.cooldown_hours) for m in stage_.monitoring] == [
        ("data_quality", "retrain", 24),
        ("model_quality", "rollback", 6),
        ("bias_drift", "notify", 24),
        ("feature_attribution_drift", "notify", 24),
    ]
    assert [m.created_by_deployment for m in stage_.monitoring] == [True, True, False, False]
    assert stage_.monitor_for("model_quality") is stage_.monitoring[1]


@pytest.mark.parametrize(
    ("monitor", "field"),
    [
        ({"type": "model_quality", "ground_truth_s3_uri": "s3://example-truth/churn/"}, "problem_type"),
        ({"type": "model_quality", "problem_type": "BinaryClassification"}, "ground_truth_s3_uri"),
        ({"type": "bias_drift", "ground_truth_s3_uri": "s3://example-truth/churn/"}, "analysis_config_s3_uri"),
        ({"type": "bias_drift", "analysis_config_s3_uri": "s3://example-clarify/a.json"}, "ground_truth_s3_uri"),
        ({"type": "feature_attribution_drift"}, "analysis_config_s3_uri"),
    ],
)
def test_a_monitor_without_the_inputs_its_job_needs_is_refused(monitor: dict[str, object], field: str) -> None:
    with pytest.raises(PolicyInvalid, match=rf"monitoring\[0\]\.{monitor['type']}\.{field}: Field required"):
        validate_policy(_monitors(monitor), group="churn")


def test_a_monitor_the_deployment_creates_needs_the_stage_s_data_capture() -> None:
    with pytest.raises(PolicyInvalid, match=r"creates the data_quality schedule.*set data_capture"):
        validate_policy(_monitors({"type": "data_quality", "reports_s3_uri": REPORTS}), group="churn")

    own = validate_policy(_monitors({"type": "data_quality", "on_violation": "retrain"}), group="churn")
    monitor = own.deployment.stages[0].monitoring[0]  # type: ignore[union-attr]
    assert not monitor.created_by_deployment


def test_a_monitor_either_is_created_by_the_deployment_or_names_a_schedule_of_yours() -> None:
    both = {"type": "data_quality", "reports_s3_uri": REPORTS, "schedule_name": "churn-batch-data"}

    with pytest.raises(PolicyInvalid, match=r"reports_s3_uri asks the deployment to create .* set one of them"):
        validate_policy(_monitors(both, data_capture=CAPTURE), group="churn")


def test_two_monitors_of_one_schedule_are_refused_but_schedules_of_yours_may_share_a_type() -> None:
    twice = _monitors({"type": "bias_drift", **BIAS}, {"type": "bias_drift", **BIAS})
    with pytest.raises(PolicyInvalid, match="two monitors of bias_drift: one schedule per type"):
        validate_policy(twice, group="churn")

    named = _monitors(
        {"type": "data_quality"},
        {"type": "data_quality", "schedule_name": "churn-batch-data"},
        {"type": "data_quality", "schedule_name": "churn-batch-data-eu"},
    )
    keys = [m.key for m in validate_policy(named, group="churn").deployment.stages[0].monitoring]  # type: ignore[union-attr]
    assert keys == ["data_quality", "churn-batch-data", "churn-batch-data-eu"]


BIAS = {"analysis_config_s3_uri": "s3://example-clarify/a.json", "ground_truth_s3_uri": "s3://example-truth/churn/"}


def test_a_single_monitor_of_older_policies_is_read_as_one_data_quality_monitor_and_its_capture() -> None:
    old = {
        "schedule_expression": "cron(0 12 ? * * *)",
        "on_violation": "retrain",
        "cooldown_hours": 12,
        "capture_s3_uri": "s3://example-capture/churn/",
        "capture_percent": 50,
        "reports_s3_uri": REPORTS,
        "baseline_s3_uri": "s3://example-monitoring/churn/baseline/",
    }
    document = churn_policy(deployment={"stages": [stage("prod", PROD, monitoring=old)]})

    migrated = validate_policy(document, group="churn").deployment.stages[0]  # type: ignore[union-attr]
    written = _monitors(
        {
            "type": "data_quality",
            "schedule_expression": "cron(0 12 ? * * *)",
            "on_violation": "retrain",
            "cooldown_hours": 12,
            "reports_s3_uri": REPORTS,
            "baseline_s3_uri": "s3://example-monitoring/churn/baseline/",
        },
        data_capture={"s3_uri": "s3://example-capture/churn/", "percent": 50},
    )

    assert migrated == validate_policy(written, group="churn").deployment.stages[0]  # type: ignore[union-attr]
    [note] = deprecations(document)
    assert note.startswith("deployment.stages[0].monitoring: a single monitor (a mapping) is deprecated")
    assert "data_capture: {s3_uri, percent}" in note
    assert deprecations(written) == []


def test_a_smoke_test_payload_must_fit_the_state_machine_state() -> None:
    big = {"payload": "x" * (16 * 1024 + 1)}
    document = churn_policy(deployment={"stages": [stage("staging", STAGING, smoke_test=big)]})

    with pytest.raises(
        PolicyInvalid, match=r"deployment.stages\[0\].smoke_test.payload: String should have at most 16384"
    ):
        validate_policy(document, group="churn")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        # TrafficRoutingConfig.LinearStepSize: 10-50% of the variant's capacity
        (
            {"strategy": {"type": "linear", "percent": 5}},
            "strategy.linear.percent: Input should be greater than or equal to 10",
        ),
        # provisioning plus every baking period must fit SageMaker's 28,800 s maximum deployment time
        (
            {"strategy": {"type": "linear", "percent": 10, "interval_seconds": 3600}, "wait_timeout_minutes": 60},
            "is 39600 s, more than SageMaker's maximum deployment time of 28800 s",
        ),
        (
            {"approval_required": True, "approval": "at_canary"},
            "approval: at_canary needs approval_required: true and a canary strategy",
        ),
        (
            {"approval": "at_canary", "strategy": {"type": "canary", "percent": 10}},
            "approval: at_canary needs approval_required: true",
        ),
        ({"on_gate_reject": "delete_package"}, "on_gate_reject: Input should be 'keep_package' or 'reject_package'"),
    ],
)
def test_rollouts_sagemaker_would_refuse_or_could_not_finish_are_refused(extra: dict, message: str) -> None:
    document = churn_policy(deployment={"stages": [stage("prod", PROD, **extra)]})

    with pytest.raises(PolicyInvalid) as invalid:
        validate_policy(document, group="churn")

    assert message in invalid.value.reason


def test_the_rollout_time_counts_every_baking_period() -> None:
    document = churn_policy(
        deployment={
            "stages": [
                stage("prod", PROD, strategy={"type": "linear", "percent": 10, "interval_seconds": 600}),
                stage(
                    "qa",
                    PROD,
                    endpoint_name="churn-qa",
                    strategy={"type": "canary", "percent": 10, "wait_seconds": 300},
                ),
            ]
        }
    )

    linear, canary = validate_policy(document, group="churn").deployment.stages

    assert linear.rollout_seconds() == 60 * 60 + 10 * 600
    assert canary.rollout_seconds() == 60 * 60 + 2 * 300


# --- what AWS or the installation would refuse ------------------------------------------------------------------------
@pytest.mark.parametrize("threshold", [float("nan"), float("inf"), float("-inf"), "NaN", "Infinity"])
def test_a_gate_threshold_must_be_a_finite_number(threshold: object) -> None:
    # NaN compares false with everything: ">= NaN" would fail every job, "< NaN" too, silently
    with pytest.raises(PolicyInvalid, match=r"gate\.threshold"):
        validate_policy(churn_policy(gate={"metric": "validation:auc", "threshold": threshold}), group="churn")


def _monitored(expression: str) -> dict[str, object]:
    return _monitors({"type": "model_quality", "schedule_expression": expression, **MODEL_QUALITY})


MODEL_QUALITY = {"problem_type": "Regression", "ground_truth_s3_uri": "s3://example-truth/churn/"}


@pytest.mark.parametrize(
    "expression",
    ["cron(0 * ? * * *)", "cron(0 12 ? * * *)", "cron(0 0 ? * * *)", "cron(0 17/12 ? * * *)", "cron(0 0/2 ? * * *)"],
)
def test_the_schedule_expressions_sagemaker_supports_are_accepted(expression: str) -> None:
    validate_policy(_monitored(expression), group="churn")


@pytest.mark.parametrize(
    "expression",
    [
        "NOW",  # needs DataAnalysisStartTime/EndTime, which the product does not set
        "cron(0 24 ? * * *)",
        "cron(30 * ? * * *)",  # SageMaker runs monitors on the hour
        "cron(0 0/25 ? * * *)",
        "cron(0 0/0 ? * * *)",
        "rate(1 hour)",
        "cron(0 * * * ? *)",
        "hourly",
    ],
)
def test_schedule_expressions_sagemaker_refuses_are_refused(expression: str) -> None:
    with pytest.raises(
        PolicyInvalid, match=r"deployment\.stages\[0\]\.monitoring\[0\]\.model_quality\.schedule_expression"
    ):
        validate_policy(_monitored(expression), group="churn")


def test_two_stages_on_one_endpoint_are_refused() -> None:
    document = churn_policy(
        deployment={
            "stages": [stage("staging", PROD, endpoint_name="churn"), stage("prod", PROD, endpoint_name="churn")]
        }
    )

    with pytest.raises(PolicyInvalid, match="stages 'staging' and 'prod' name one endpoint"):
        validate_policy(document, group="churn")


def test_the_same_endpoint_name_in_two_accounts_is_two_endpoints() -> None:
    document = churn_policy(
        deployment={
            "stages": [stage("staging", STAGING, endpoint_name="churn"), stage("prod", PROD, endpoint_name="churn")]
        }
    )

    validate_policy(document, group="churn")


TRUSTED = {AUTOMATION, DEV, STAGING, PROD}


def test_a_policy_naming_only_trusted_accounts_in_the_stack_partition_has_no_problem() -> None:
    policy = validate_policy(churn_policy(deployment={"stages": [stage("prod", PROD)]}), group="churn")

    assert installation_problems(policy, trusted_accounts=TRUSTED, partition="aws") == []


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            lambda d: d["deployment"]["stages"][0].update(account="555555555555"),
            "deployment.stages[0].account: account 555555555555 is not on the stack's allow-list",
        ),
        (
            lambda d: d["deployment"]["stages"][0].update(
                execution_role_arn="arn:aws:iam::555555555555:role/SageMakerExecutionRole"
            ),
            "deployment.stages[0].execution_role_arn: account 555555555555 is not on the stack's allow-list",
        ),
        (
            lambda d: d["training"].update(role_arn="arn:aws:iam::555555555555:role/Training"),
            "training.role_arn: account 555555555555",
        ),
        (lambda d: d["registry"].update(account="555555555555"), "registry.account: account 555555555555"),
        (lambda d: d["training"].update(account="555555555555"), "training.account: account 555555555555"),
        (
            lambda d: d.update(notifications={"topic_arn": "arn:aws:sns:us-east-1:555555555555:ml-alerts"}),
            "notifications.topic_arn: account 555555555555",
        ),
        (
            lambda d: d["deployment"]["stages"][0].update(region="cn-north-1"),
            "deployment.stages[0].region: region cn-north-1 is in partition 'aws-cn', the stack's is 'aws'",
        ),
        (
            lambda d: d["deployment"]["stages"][0].update(
                execution_role_arn=f"arn:aws-us-gov:iam::{PROD}:role/SageMakerExecutionRole"
            ),
            "deployment.stages[0].execution_role_arn: ARN in partition 'aws-us-gov', the stack's is 'aws'",
        ),
    ],
    ids=["stage-account", "stage-role", "training-role", "registry", "training", "topic", "region", "arn-partition"],
)
def test_every_account_and_region_a_policy_names_must_fit_the_installation(edit, expected: str) -> None:
    document = churn_policy(deployment={"stages": [stage("prod", PROD)]})
    edit(document)
    policy = validate_policy(document, group="churn")

    problems = installation_problems(policy, trusted_accounts=TRUSTED, partition="aws")

    assert any(problem.startswith(expected) for problem in problems), problems


def without_key(document: dict[str, object]) -> dict[str, object]:
    training = dict(document["training"])  # type: ignore[call-overload]
    del training["output_kms_key_arn"]
    return {**document, "training": training}


@pytest.mark.parametrize(
    ("document", "reader"),
    [
        (churn_policy(), f"registry (account {AUTOMATION})"),
        (
            churn_policy(
                registry={"account": DEV, "region": REGION},
                deployment={"stages": [stage("prod", PROD)]},
            ),
            f"stage prod (account {PROD})",
        ),
    ],
    ids=["registry-elsewhere", "stage-elsewhere"],
)
def test_artifacts_read_in_another_account_need_a_customer_managed_key(document: dict, reader: str) -> None:
    # Given a policy whose registry or a stage is not in the training account, with no key for the artifacts
    with pytest.raises(PolicyInvalid) as invalid:
        validate_policy(without_key(document), group="churn")

    # Then the error names the field and who could not read what
    assert "training.output_kms_key_arn is required" in invalid.value.reason
    assert reader in invalid.value.reason
    # and with the key it is valid
    assert validate_policy(document, group="churn").training.output_kms_key_arn == ARTIFACTS_KEY  # type: ignore[union-attr]


def test_a_model_that_stays_in_its_training_account_needs_no_key() -> None:
    document = churn_policy(registry={"account": DEV, "region": REGION}, deployment={"stages": [stage("dev", DEV)]})

    policy = validate_policy(without_key(document), group="churn")

    assert policy.training is not None and policy.training.output_kms_key_arn is None


@pytest.mark.parametrize(
    "key",
    [
        "1234abcd-12ab-34cd-56ef-1234567890ab",  # a key id: the field is a key ARN
        f"arn:aws:kms:{REGION}:{DEV}:alias/artifacts",  # an alias ARN
        f"arn:aws:s3:::{DEV}/key",
        f"arn:aws:kms:{REGION}:{DEV}:key/1234 abcd",
    ],
)
def test_the_artifacts_key_must_be_a_kms_key_arn(key: str) -> None:
    document = churn_policy()
    document["training"] = {**document["training"], "output_kms_key_arn": key}

    with pytest.raises(PolicyInvalid, match=r"training\.output_kms_key_arn: String should match pattern"):
        validate_policy(document, group="churn")


# --- errors that say what to write instead ---------------------------------------------------------------------------
def _reason(document: dict[str, object]) -> str:
    with pytest.raises(PolicyInvalid) as invalid:
        validate_policy(document, group="churn")
    return invalid.value.reason


def test_an_unknown_key_names_the_key_meant_and_the_keys_allowed_there() -> None:
    document = churn_policy(gates={"metric": "validation:auc", "threshold": 0.8})

    reason = _reason(document)

    assert reason.startswith("policy of group 'churn' is invalid: ")
    assert (
        "gates: Extra inputs are not permitted (did you mean 'gate'? allowed here: group, match, training, gate, "
        "registry, debugger, labeling, deployment, notifications, sensitive)"
    ) in reason


def test_an_unknown_key_of_a_strategy_names_the_field_of_that_strategy() -> None:
    linear = {"type": "linear", "percent": 20, "wait_seconds": 300}
    document = churn_policy(deployment={"stages": [stage("prod", PROD, strategy=linear)]})

    reason = _reason(document)

    assert (
        "deployment.stages[0].strategy.linear.wait_seconds: Extra inputs are not permitted, got 300 "
        "(did you mean 'interval_seconds'? allowed here: type, percent, interval_seconds)"
    ) in reason


def test_an_unknown_key_inside_a_map_of_models_names_the_keys_allowed_there() -> None:
    from lifecycle.policy import describe_errors
    from pydantic import BaseModel, ConfigDict, ValidationError

    class Threshold(BaseModel):
        model_config = ConfigDict(extra="forbid")
        minimum: float

    class Gates(BaseModel):
        by_metric: dict[str, Threshold]

    with pytest.raises(ValidationError) as refused:
        Gates.model_validate({"by_metric": {"validation:auc": {"minimum": 0.8, "minimun": 0.9}}})

    assert describe_errors(refused.value, Gates) == [
        "by_metric.validation:auc.minimun: Extra inputs are not permitted, got 0.9 (did you mean 'minimum'? "
        "allowed here: minimum)"
    ]


def test_an_unknown_key_like_no_field_lists_the_allowed_keys_only() -> None:
    reason = _reason(churn_policy(labeling={"colour": "blue"}))

    assert "labeling.colour: Extra inputs are not permitted, got 'blue' (allowed here: min_labeled_objects)" in reason


def test_a_typo_in_a_choice_names_the_choice_meant() -> None:
    monitoring = [{"type": "data_quality", "on_violation": "retrian"}]
    strategy = {"type": "canery", "percent": 10}
    document = churn_policy(
        deployment={
            "stages": [stage("staging", STAGING, monitoring=monitoring), stage("prod", PROD, strategy=strategy)]
        }
    )

    reason = _reason(document)

    assert (
        "on_violation: Input should be 'retrain', 'rollback' or 'notify', got 'retrian' (did you mean 'retrain'?)"
        in (reason)
    )
    assert "deployment.stages[1].strategy: Input tag 'canery' found using 'type'" in reason
    assert "(did you mean 'canary'?)" in reason


def test_an_unquoted_account_id_gets_the_quoting_hint() -> None:
    document = yaml.safe_load(f"registry: {{account: {AUTOMATION}, region: {REGION}}}")

    reason = _reason(churn_policy(**document))

    assert (
        f"registry.account: Input should be a valid string, got {AUTOMATION} "
        f'(YAML reads unquoted digits as a number: write it in quotes, "{AUTOMATION}")'
    ) in reason


def test_an_unquoted_account_id_with_leading_zeros_is_told_what_yaml_did_to_it() -> None:
    # YAML 1.1 reads 012345670123 as an octal number
    document = yaml.safe_load(f"registry: {{account: 012345670123, region: {REGION}}}")

    reason = _reason(churn_policy(**document))

    assert (
        "registry.account: Input should be a valid string, got 1402433619 (YAML read unquoted digits as a number"
        in (reason)
    )
    assert 'write the 12 digits in quotes, e.g. account: "012345678901"' in reason


def test_a_yes_or_no_where_text_belongs_gets_no_quoting_hint_about_digits() -> None:
    # YAML reads `yes` as true: not a number, so the digits hint would mislead
    document = yaml.safe_load(f"registry: {{account: yes, region: {REGION}}}")

    reason = _reason(churn_policy(**document))

    assert "registry.account: Input should be a valid string, got True" in reason
    assert "digits" not in reason


def test_two_policies_claiming_a_name_with_prefixes_of_one_length_give_it_to_the_first_group_by_name() -> None:
    documents = {
        "churn-b": {"match": {"name_prefixes": ["churn-x"]}},
        "churn-a": {"match": {"name_prefixes": ["churn-y", "churn-x"]}},
        "churn": {"match": {"name_prefixes": ["churn-"]}},
    }

    assert match_group(documents, name="churn-xgb-1") == "churn-a"
    assert match_group(dict(reversed(documents.items())), name="churn-xgb-1") == "churn-a"
    assert match_group(documents, name="churn-zz") == "churn"
