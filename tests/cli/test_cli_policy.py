"""`lifecycle policy validate|publish` against the policy model and the sandbox's SSM."""

from __future__ import annotations

import io
import json
from pathlib import Path

import cli_fixtures
import pytest
import yaml
from cli_fixtures import CHURN
from lifecycle.policy import Policy

from cli.policies import stored_value

STACK_PATH = "/sagemaker-lifecycle/policies"

# The shared fixtures (a conftest.py here would shadow tests/conftest.py's module name).
lifecycle, policy_file, sandbox = cli_fixtures.lifecycle, cli_fixtures.policy_file, cli_fixtures.sandbox


def _canary(percent: int):
    def edit(document: dict) -> None:
        document["deployment"]["stages"][1]["strategy"]["percent"] = percent

    return edit


class _Terminal(io.StringIO):
    """A stdin that is a terminal and answers the prompt."""

    def isatty(self) -> bool:
        return True


# --- validate --------------------------------------------------------------------------------------------------------
def test_validate_accepts_the_sample_policy(lifecycle, policy_file):
    path = policy_file("churn.yaml")

    result = lifecycle("policy", "validate", path)

    assert result.code == 0
    assert f"ok    {path}: group churn, stages staging, prod" in result.out


def test_validate_names_file_field_path_and_expectation(lifecycle, policy_file):
    # Given a canary of 80 % in the second stage
    path = policy_file("churn.yaml", _canary(80))

    # When
    result = lifecycle("policy", "validate", path)

    # Then
    assert result.code == 1
    assert (
        "policies/churn.yaml: deployment.stages[1].strategy.canary.percent: "
        "Input should be less than or equal to 50, got 80"
    ) in result.err


def test_validate_reports_every_file_and_fails_if_any_is_bad(lifecycle, policy_file):
    good = policy_file("churn.yaml")
    typo = policy_file("fraud.yaml", lambda d: d.update(group="fraud", gates={"metric": "auc"}))
    broken = policy_file("broken.yaml", text="group: churn\nregistry: [unclosed\n")
    listed = policy_file("list.json", text="[1, 2]")

    result = lifecycle("policy", "validate", good, typo, broken, listed)

    assert result.code == 1
    assert f"ok    {good}" in result.out
    assert "policies/fraud.yaml: gates: Extra inputs are not permitted" in result.err
    assert "policies/broken.yaml: not valid YAML/JSON at line 3, column 1" in result.err
    assert "policies/list.json: a policy is a mapping (group, registry, ...), got list" in result.err


def test_validate_refuses_two_files_for_one_group(lifecycle, policy_file):
    first, second = policy_file("churn.yaml"), policy_file("churn-copy.yaml")

    result = lifecycle("policy", "validate", first, second)

    assert result.code == 1
    assert "policies/churn-copy.yaml: group: 'churn' is also the group of policies/churn.yaml" in result.err


def test_validate_json_output(lifecycle, policy_file):
    good, bad = policy_file("churn.yaml"), policy_file("bad.yaml", _canary(0))

    result = lifecycle("policy", "validate", good, bad, "--json")

    assert result.code == 1
    size = len(stored_value(Policy.model_validate(yaml.safe_load(CHURN.read_text()))).encode())
    assert result.json() == [
        {
            "file": good,
            "valid": True,
            "group": "churn",
            "stages": ["staging", "prod"],
            "bytes": size,
            "tier": "Standard",
            "errors": [],
            "deprecations": [],
        },
        {
            "file": bad,
            "valid": False,
            "group": "churn",  # the group the invalid document names
            "stages": [],
            "bytes": None,
            "tier": None,
            "errors": [
                "policies/bad.yaml: deployment.stages[1].strategy.canary.percent: "
                "Input should be greater than or equal to 1, got 0"
            ],
            "deprecations": [],
        },
    ]


def _single_monitor(document: dict) -> None:
    """The prod stage's monitoring as policies wrote it before the list of monitors: one mapping, capture in it."""
    prod = document["deployment"]["stages"][1]
    del prod["data_capture"]
    prod["monitoring"] = {
        "on_violation": "retrain",
        "capture_s3_uri": "s3://example-prod-ml-monitoring/churn/capture/",
        "reports_s3_uri": "s3://example-prod-ml-monitoring/churn/reports/",
    }


def test_validate_accepts_a_single_monitor_of_older_policies_with_a_deprecation_note(lifecycle, policy_file):
    path = policy_file("churn.yaml", _single_monitor)

    result = lifecycle("policy", "validate", path)
    as_json = lifecycle("policy", "validate", path, "--json")

    assert result.code == 0
    assert f"ok    {path}: group churn, stages staging, prod" in result.out
    assert "deprecated: " in result.err and "deployment.stages[1].monitoring: a single monitor" in result.err
    assert "data_capture: {s3_uri, percent}" in " ".join(result.err.split())
    [checked] = as_json.json()
    [note] = checked["deprecations"]
    assert note.startswith(f"{path}: deployment.stages[1].monitoring: ")


def test_validate_a_missing_file(lifecycle):
    result = lifecycle("policy", "validate", "policies/nope.yaml")

    assert result.code == 1
    assert "policies/nope.yaml: cannot read: No such file or directory" in result.err


OUTSIDER = "555555555555"


def _stage_in_outsider(document: dict) -> None:
    document["deployment"]["stages"][1]["account"] = OUTSIDER


def test_validate_checks_accounts_against_the_allow_list_given(lifecycle, policy_file):
    path = policy_file("churn.yaml", _stage_in_outsider)
    trusted = "123456789012,222222222222,333333333333,444444444444"

    result = lifecycle("policy", "validate", path, "--allowed-accounts", trusted)

    assert result.code == 1
    assert (
        f"policies/churn.yaml: deployment.stages[1].account: account {OUTSIDER} is not on the stack's allow-list"
    ) in result.err
    assert lifecycle("policy", "validate", policy_file("ok.yaml"), "--allowed-accounts", trusted).code == 0


def test_validate_learns_the_allow_list_from_the_stack(lifecycle, policy_file):
    # The sandbox's stack allows dev, staging and prod, and trusts its own (automation) account: the sample is fine
    assert lifecycle("policy", "validate", policy_file("churn.yaml"), "--sandbox").code == 0

    result = lifecycle("policy", "validate", policy_file("outsider.yaml", _stage_in_outsider), "--sandbox")

    assert result.code == 1
    assert f"deployment.stages[1].account: account {OUTSIDER}" in result.err


def test_validate_without_an_allow_list_says_accounts_were_not_checked(lifecycle, policy_file):
    result = lifecycle("policy", "validate", policy_file("churn.yaml", _stage_in_outsider))

    assert result.code == 0
    assert "accounts not checked against an allow-list" in result.err


def _grown(size: int):
    def edit(document: dict) -> None:
        document["training"]["hyperparameters"].update({f"w{n}": "0." + "7" * 90 for n in range(size // 100)})

    return edit


def test_validate_refuses_a_policy_over_ssm_s_size_limit(lifecycle, policy_file):
    result = lifecycle("policy", "validate", policy_file("huge.yaml", _grown(9000)))

    assert result.code == 1
    assert "policies/huge.yaml: <document>:" in result.err
    assert "an SSM parameter holds at most 8192 (Advanced tier)" in result.err


def test_validate_declares_the_tier_a_policy_needs(lifecycle, policy_file):
    result = lifecycle("policy", "validate", policy_file("large.yaml", _grown(5000)), "--json")

    (item,) = result.json()
    assert result.code == 0
    assert item["tier"] == "Advanced" and 4096 < item["bytes"] <= 8192


# --- publish ---------------------------------------------------------------------------------------------------------
def _published(sandbox, group: str) -> dict:
    ssm, name = sandbox.client("ssm"), f"{STACK_PATH}/{group}"
    value = json.loads(ssm.get_parameter(Name=name)["Parameter"]["Value"])
    described = ssm.describe_parameters(ParameterFilters=[{"Key": "Name", "Values": [name]}])["Parameters"]
    return {"value": value, "tier": described[0]["Tier"]}


def test_publish_new_then_unchanged_then_changed(lifecycle, policy_file, sandbox, monkeypatch):
    group = "publish-flow"
    path = policy_file("flow.yaml", lambda d: d.update(group=group))

    # When published the first time: no question asked, nothing to overwrite
    first = lifecycle("policy", "publish", path, "--sandbox")
    # Then
    assert first.code == 0, first.err
    assert f"--- {STACK_PATH}/{group} (none)" in first.out
    assert f"published {STACK_PATH}/{group} (Standard tier" in first.out
    assert _published(sandbox, group)["value"]["deployment"]["stages"][1]["strategy"] == {
        "type": "canary",
        "percent": 10,
        "wait_seconds": 600,
    }

    # When published again unchanged
    again = lifecycle("policy", "publish", path, "--sandbox")
    assert again.code == 0
    assert f"unchanged {STACK_PATH}/{group}" in again.out

    # When changed, without --yes and no terminal to ask on: the diff, and nothing written
    policy_file("flow.yaml", lambda d: (d.update(group=group), _canary(20)(d)))
    refused = lifecycle("policy", "publish", path, "--sandbox")
    assert refused.code == 1
    assert '-          "percent": 10,' in refused.out
    assert '+          "percent": 20,' in refused.out
    assert f"not published {STACK_PATH}/{group}: it exists; pass --yes to overwrite" in refused.err
    assert _published(sandbox, group)["value"]["deployment"]["stages"][1]["strategy"]["percent"] == 10

    # When the person answers "n" at the prompt
    monkeypatch.setattr("sys.stdin", _Terminal("n\n"))
    declined = lifecycle("policy", "publish", path, "--sandbox")
    assert declined.code == 1
    assert f"skipped {STACK_PATH}/{group}" in declined.out
    assert _published(sandbox, group)["value"]["deployment"]["stages"][1]["strategy"]["percent"] == 10

    # When the person answers "y"
    monkeypatch.setattr("sys.stdin", _Terminal("y\n"))
    confirmed = lifecycle("policy", "publish", path, "--sandbox")
    assert confirmed.code == 0
    assert f"overwrite {STACK_PATH}/{group}?" in confirmed.out
    assert _published(sandbox, group)["value"]["deployment"]["stages"][1]["strategy"]["percent"] == 20


def test_publish_with_yes_overwrites_without_asking(lifecycle, policy_file, sandbox):
    group = "publish-yes"
    policy_file("yes.yaml", lambda d: d.update(group=group))
    assert lifecycle("policy", "publish", "policies/yes.yaml", "--sandbox").code == 0
    policy_file("yes.yaml", lambda d: (d.update(group=group), d["gate"].update(threshold=0.9)))

    result = lifecycle("policy", "publish", "policies/yes.yaml", "--sandbox", "--yes")

    assert result.code == 0
    assert '-    "threshold": 0.8' in result.out
    assert '+    "threshold": 0.9' in result.out
    assert _published(sandbox, group)["value"]["gate"]["threshold"] == 0.9


def test_publish_a_large_policy_uses_the_advanced_tier(lifecycle, policy_file, sandbox):
    group = "publish-large"
    hyperparameters = {f"feature_weight_{n}": "0." + "7" * 60 for n in range(60)}
    policy_file(
        "large.yaml", lambda d: (d.update(group=group), d["training"]["hyperparameters"].update(hyperparameters))
    )

    result = lifecycle("policy", "publish", "policies/large.yaml", "--sandbox")

    assert result.code == 0, result.err
    assert f"published {STACK_PATH}/{group} (Advanced tier" in result.out
    assert _published(sandbox, group)["tier"] == "Advanced"


def test_publish_an_invalid_policy_writes_nothing(lifecycle, policy_file, sandbox):
    path = policy_file("invalid.yaml", lambda d: (d.update(group="publish-invalid"), _canary(80)(d)))

    result = lifecycle("policy", "publish", path, "--sandbox", "--yes")

    assert result.code == 1
    assert "policies/invalid.yaml: deployment.stages[1].strategy.canary.percent" in result.err
    assert "nothing published" in result.err
    with pytest.raises(sandbox.client("ssm").exceptions.ParameterNotFound):
        sandbox.client("ssm").get_parameter(Name=f"{STACK_PATH}/publish-invalid")


def test_publish_to_a_stack_that_does_not_exist(lifecycle, policy_file):
    result = lifecycle("policy", "publish", policy_file("churn.yaml"), "--sandbox", "--stack", "no-such-stack")

    assert result.code == 1
    assert "error: stack 'no-such-stack' not found in us-east-1" in result.err


def test_sandbox_without_an_endpoint_is_a_clear_error(lifecycle, policy_file, monkeypatch):
    monkeypatch.delenv("LIFECYCLE_SANDBOX_URL")
    monkeypatch.delenv("AWS_ENDPOINT_URL")  # the in-process sandbox sets it for this process

    result = lifecycle("policy", "publish", policy_file("churn.yaml"), "--sandbox")

    assert result.code == 1
    assert "--sandbox needs the sandbox's endpoint" in result.err


def test_publish_refuses_a_policy_naming_an_account_off_the_stack_s_allow_list(lifecycle, policy_file, sandbox):
    path = policy_file("outsider.yaml", lambda d: (d.update(group="publish-outsider"), _stage_in_outsider(d)))

    result = lifecycle("policy", "publish", path, "--sandbox", "--yes")

    assert result.code == 1
    assert f"deployment.stages[1].account: account {OUTSIDER} is not on the stack's allow-list" in result.err
    with pytest.raises(sandbox.client("ssm").exceptions.ParameterNotFound):
        sandbox.client("ssm").get_parameter(Name=f"{STACK_PATH}/publish-outsider")


def test_publish_keeps_an_advanced_parameter_advanced_when_the_policy_shrinks(lifecycle, policy_file, sandbox):
    # Parameter Store cannot turn an Advanced parameter back into a Standard one (PutParameter, Tier)
    group = "publish-shrink"
    policy_file("shrink.yaml", lambda d: (d.update(group=group), _grown(5000)(d)))
    assert lifecycle("policy", "publish", "policies/shrink.yaml", "--sandbox").code == 0
    assert _published(sandbox, group)["tier"] == "Advanced"
    policy_file("shrink.yaml", lambda d: d.update(group=group))

    result = lifecycle("policy", "publish", "policies/shrink.yaml", "--sandbox", "--yes")

    assert result.code == 0, result.err
    assert f"published {STACK_PATH}/{group} (Advanced tier" in result.out
    assert _published(sandbox, group)["tier"] == "Advanced"


# --- schema, reference, starter --------------------------------------------------------------------------------------
def test_schema_prints_the_committed_schema(lifecycle):
    result = lifecycle("policy", "schema")

    assert result.code == 0
    assert result.out == (cli_fixtures.ROOT / "docs" / "policy.schema.json").read_text()


def test_schema_markdown_prints_the_readme_table(lifecycle):
    result = lifecycle("policy", "schema", "--markdown")

    assert result.code == 0
    assert result.out.startswith("| field | type | default | rules | what it does |\n")
    assert result.out in (cli_fixtures.ROOT / "README.md").read_text()


def test_init_writes_a_commented_starter_that_validates(lifecycle, policy_file):
    result = lifecycle("policy", "init", "fraud")

    assert result.code == 0, result.err
    assert "wrote policies/fraud.yaml: replace its example accounts" in result.out
    assert "  lifecycle policy validate policies/fraud.yaml --stack sagemaker-lifecycle\n" in result.out
    checked = lifecycle("policy", "validate", "policies/fraud.yaml")
    assert checked.code == 0, checked.err
    assert "ok    policies/fraud.yaml: group fraud, stages staging, prod" in checked.out


def test_init_never_overwrites_a_policy(lifecycle, policy_file):
    existing = policy_file("fraud.yaml")
    before = Path(existing).read_text()

    result = lifecycle("policy", "init", "fraud")

    assert result.code == 1
    assert "error: policies/fraud.yaml exists: choose another --output, or remove it first" in result.err
    assert Path(existing).read_text() == before


def test_init_to_stdout(lifecycle, policy_file):
    result = lifecycle("policy", "init", "fraud", "--output", "-")

    assert result.code == 0
    assert Policy.model_validate(yaml.safe_load(result.out)).group == "fraud"


def test_init_refuses_a_group_name_sagemaker_refuses(lifecycle, capsys):
    with pytest.raises(SystemExit) as exited:
        lifecycle("policy", "init", "fraud_model")

    assert exited.value.code == 2
    assert "argument GROUP: String should match pattern" in capsys.readouterr().err


def test_errors_are_one_line_each_at_80_columns(lifecycle, policy_file, monkeypatch):
    # Given an 80-column terminal and a policy with a typo and an unquoted account id
    monkeypatch.setenv("COLUMNS", "80")
    path = policy_file("churn.yaml", text=CHURN.read_text().replace('account: "444444444444"', "account: 444444444444"))

    result = lifecycle("policy", "validate", path)

    # Then each error is one line (a terminal wraps it; nothing is cut or broken mid-word by the CLI)
    assert result.code == 1
    assert (
        "policies/churn.yaml: deployment.stages[1].account: Input should be a valid string, got 444444444444 "
        '(YAML reads unquoted digits as a number: write it in quotes, "444444444444")\n'
    ) in result.err
