"""template.yaml gives the code what the code reads: environment, table schema, layer layout, handlers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lifecycle.accounts import CLIENT_CONFIG, retry_budget_seconds
from lifecycle.config import Settings
from pydantic_core import PydanticUndefined

ROOT = Path(__file__).resolve().parents[2]
SET_BY_LAMBDA = {"AWS_REGION"}


def test_every_required_setting_is_in_the_function_environment(automation_template: dict[str, Any]) -> None:
    # Given the settings the layer validates at cold start
    required = {
        field.alias
        for field in Settings.model_fields.values()
        if field.alias and field.default is PydanticUndefined and field.default_factory is None
    }
    known = {field.alias for field in Settings.model_fields.values() if field.alias}

    # When the template sets the functions' environment
    environment = automation_template["Globals"]["Function"]["Environment"]["Variables"]
    lifecycle_vars = {name for name in environment if name.startswith("LIFECYCLE_")}

    # Then every required one is set, and none the code does not know
    assert required - SET_BY_LAMBDA <= set(environment)
    assert lifecycle_vars <= known, f"template sets variables config.py does not read: {lifecycle_vars - known}"
    assert environment["POWERTOOLS_SERVICE_NAME"] == "sagemaker-lifecycle"
    assert environment["POWERTOOLS_METRICS_NAMESPACE"] == "SageMakerLifecycle"


def test_table_schema_is_what_audit_and_idempotency_use(automation_template: dict[str, Any]) -> None:
    table = automation_template["Resources"]["LifecycleTable"]["Properties"]

    assert {(k["AttributeName"], k["KeyType"]) for k in table["KeySchema"]} == {("pk", "HASH"), ("sk", "RANGE")}
    assert {(a["AttributeName"], a["AttributeType"]) for a in table["AttributeDefinitions"]} == {
        ("pk", "S"),
        ("sk", "S"),
    }
    # powertools idempotency writes its expiry to `expiration`: the table's TTL removes expired records
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expiration", "Enabled": True}
    assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}


def test_functions_point_at_real_handlers_and_the_layer(automation_template: dict[str, Any]) -> None:
    globals_ = automation_template["Globals"]["Function"]
    functions = {
        logical_id: resource["Properties"]
        for logical_id, resource in automation_template["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    }
    assert globals_["Runtime"] == "python3.13"
    assert globals_["Layers"] == [{"Ref": "LifecycleLayer"}]

    for logical_id, props in functions.items():
        module, function = props.get("Handler", globals_["Handler"]).split(".")
        source = ROOT / props["CodeUri"] / f"{module}.py"
        assert source.is_file(), f"{logical_id}: {source} does not exist"
        assert f"def {function}(" in source.read_text(encoding="utf-8"), f"{logical_id}: no {function} in {source}"


def test_layer_builds_the_lifecycle_package(automation_template: dict[str, Any]) -> None:
    layer = automation_template["Resources"]["LifecycleLayer"]
    content = ROOT / layer["Properties"]["ContentUri"]
    assert (content / "lifecycle" / "__init__.py").is_file()
    assert (content / "requirements.txt").is_file()

    # The built layer must hold python/lifecycle/ (Lambda puts /opt/python on sys.path)
    build_method = layer["Metadata"]["BuildMethod"]
    if build_method == "makefile":
        makefile = (content / "Makefile").read_text(encoding="utf-8")
        assert "build-LifecycleLayer:" in makefile
        assert '"$(ARTIFACTS_DIR)/python/lifecycle"' in makefile
    else:
        # sam's python builder copies ContentUri to python/ and installs its requirements.txt there
        assert build_method == "python3.13"


def test_every_function_outlives_one_sdk_call_s_retry_budget(automation_template: dict[str, Any]) -> None:
    # A call the SDK is still retrying (adaptive mode: every attempt's connect and read timeouts, backoff between)
    # must not be cut off by the function's own timeout: Lambda would kill it mid-retry and retry the whole event.
    budget = retry_budget_seconds(CLIENT_CONFIG)
    default = automation_template["Globals"]["Function"]["Timeout"]
    timeouts = {
        logical_id: resource["Properties"].get("Timeout", default)
        for logical_id, resource in automation_template["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    }

    assert budget > 60  # what the functions had: a single stalled call outlasted it
    assert {logical_id: timeout for logical_id, timeout in timeouts.items() if timeout <= budget} == {}
    assert all(timeout <= 900 for timeout in timeouts.values())  # Lambda's maximum


def test_every_function_reserves_the_concurrency_the_parameter_names(automation_template) -> None:
    # A burst queues in Lambda's asynchronous queue instead of taking the account's whole concurrency; -1 reserves
    # nothing (Lambda keeps at least 100 unreserved: "Configuring reserved concurrency for a function")
    parameter = automation_template["Parameters"]["FunctionConcurrency"]
    assert (parameter["Type"], parameter["Default"], parameter["MinValue"]) == ("Number", 10, -1)
    assert automation_template["Conditions"]["ReserveConcurrency"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "FunctionConcurrency"}, -1]}]
    }
    reserved = automation_template["Globals"]["Function"]["ReservedConcurrentExecutions"]
    assert reserved == {"Fn::If": ["ReserveConcurrency", {"Ref": "FunctionConcurrency"}, {"Ref": "AWS::NoValue"}]}
    functions = [r for r in automation_template["Resources"].values() if r["Type"] == "AWS::Serverless::Function"]
    assert functions and all("ReservedConcurrentExecutions" not in f["Properties"] for f in functions)
