"""The local cloud: moto with four accounts, the real template.yaml deployed into it, and the workload stacks.

`Sandbox` is a context manager. On entry it starts moto (in-process, or as a `ThreadedMotoServer` on 127.0.0.1),
installs the SageMaker fakes and the call recorder, translates template.yaml with aws-sam-translator and creates it
with moto's CloudFormation in the automation account, then creates accounts/workload-account.yaml in every workload
account (dev, staging, prod, and any `extra_accounts`), as the README tells users to deploy: no workload stack in the
automation account, whose own SageMaker events (its registry's) the automation stack forwards itself. What moto's
CloudFormation skips (EventInvokeConfig, bus policy) is read back from the translated template by the router; nothing
is created behind CloudFormation's back.
"""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import boto3
import botocore.session
from botocore.config import Config
from botocore.loaders import Loader, create_loader
from moto import mock_aws
from moto.server import ThreadedMotoServer
from samtranslator.yaml_helper import yaml_parse

from sandbox import lambdas, patterns
from sandbox.fakes import install as install_fakes
from sandbox.sam import CODE_BUCKET, ROOT, invoke_config, translate, zip_directory
from sandbox.stepfunctions import stop_running_executions
from sandbox.timeline import CallRecorder, Timeline
from sandbox.world import WORLD

WORKLOAD_TEMPLATE = ROOT / "accounts" / "workload-account.yaml"

AUTOMATION = "123456789012"  # moto's default account: the functions' own credentials land there
DEV = "222222222222"
STAGING = "333333333333"
PROD = "444444444444"
ACCOUNTS = {"automation": AUTOMATION, "dev": DEV, "staging": STAGING, "prod": PROD}
REGION = "us-east-1"
STACK = "sagemaker-lifecycle"
WORKLOAD_STACK = "sagemaker-lifecycle-workload"
EXTERNAL_ID = "sandbox-external-id"
EXECUTION_ROLE = "sagemaker-lifecycle-execution"
ADMIN_ROLE = "OrganizationAccountAccessRole"  # how the sandbox itself (not the product) acts in an account
OPERATOR_ROLE = "sagemaker-lifecycle-operator"  # the workload stacks' read-only role for people (the CLI's default)
OPERATORS = f"arn:aws:iam::{AUTOMATION}:role/Operator"  # who may assume it: people of the automation account
MOTO_CONFIG = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}
_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
}


@dataclass(frozen=True)
class Function:
    """A deployed Lambda function and where its code lives in this repository."""

    logical_id: str
    name: str
    arn: str
    code_dir: Path
    handler: str
    environment: dict[str, str]
    max_retries: int
    on_failure: str  # logical id of the on-failure destination (moto's CloudFormation skips EventInvokeConfig)

    @property
    def attribute(self) -> str:
        return self.handler.rsplit(".", 1)[1]


@dataclass
class Deployment:
    """What the stacks created: functions by name, rule logical ids by rule ARN, the stack's outputs."""

    outputs: dict[str, str] = field(default_factory=dict)
    functions: dict[str, Function] = field(default_factory=dict)
    rule_ids: dict[str, str] = field(default_factory=dict)
    resources: dict[str, str] = field(default_factory=dict)
    template: dict[str, Any] = field(default_factory=dict)


_LOADERS: dict[str | None, Loader] = {}
_ENGINE_LOG = logging.getLogger("moto.stepfunctions.parser")
_QUIET = logging.NullHandler()


# No proxy for moto, so no reading of the proxy settings: botocore reads them by iterating os.environ when a client is
# made without `proxies`, and an invocation running on moto's Step Functions engine thread sets and restores its
# function's variables meanwhile (`runtime.invocation`): the iteration then fails with KeyError.
_SANDBOX_CLIENT = Config(proxies={})


def client_in(
    service: str, account: str, region: str = REGION, *, role: str = ADMIN_ROLE, session_name: str = "sandbox"
) -> Any:
    """A client of moto acting in `account`: the automation account's own credentials, else an assumed `role` there
    (moto lands assumed-role credentials in the role's account)."""
    if account == AUTOMATION:
        return boto3.client(service, region_name=region, config=_SANDBOX_CLIENT)
    credentials = boto3.client("sts", region_name=region, config=_SANDBOX_CLIENT).assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/{role}", RoleSessionName=session_name
    )["Credentials"]
    return boto3.client(
        service,
        region_name=region,
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        config=_SANDBOX_CLIENT,
    )


def shared_loader(search_path_string: str | None = None) -> Loader:
    """One botocore data loader for every session: each new session would otherwise parse the service models again
    (the product makes a session per account; parsing SageMaker's model takes a quarter of a second)."""
    if search_path_string not in _LOADERS:
        _LOADERS[search_path_string] = create_loader(search_path_string)
    return _LOADERS[search_path_string]


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextmanager
def _moto_log() -> Iterator[list[str]]:
    """moto's log lines (e.g. the resource types its CloudFormation skips) collected instead of printed."""
    logger = logging.getLogger("moto")
    collect = _Collect()
    propagate = logger.propagate
    logger.addHandler(collect)
    logger.propagate = False
    try:
        yield collect.messages
    finally:
        logger.removeHandler(collect)
        logger.propagate = propagate


def mount_code() -> None:
    """Make the functions' code and the layer importable, as the Lambda runtime mounts them (/var/task, /opt/python).

    A no-op where the project is installed (`make dev` installs the layer package into the venv).
    """
    for path in (ROOT, ROOT / "layers" / "lifecycle"):
        if str(path) not in sys.path:
            sys.path.append(str(path))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Sandbox:
    """moto + the deployed stacks, for the duration of a `with` block."""

    def __init__(
        self,
        *,
        timeline: Timeline | None = None,
        server: bool = False,
        port: int | None = None,
        extra_accounts: tuple[str, ...] = (),
    ) -> None:
        self.timeline = timeline or Timeline()
        self.recorder = CallRecorder(self.timeline)
        self.server = server
        self.port = port
        self.endpoint_url = ""
        self.deployment = Deployment()
        # Where accounts/workload-account.yaml is deployed (and so AllowedAccountIds): not the automation account.
        self.workload_accounts = list(dict.fromkeys([DEV, STAGING, PROD, *extra_accounts]))
        self._saved_env: dict[str, str | None] = {}
        self._mock: Any = None
        self._moto_server: ThreadedMotoServer | None = None

    # ---------------------------------------------------------------------------------------------------------------
    # lifecycle
    # ---------------------------------------------------------------------------------------------------------------
    _running = False  # moto's state is process-wide: one sandbox at a time

    def __enter__(self) -> Sandbox:
        if Sandbox._running:
            raise RuntimeError("a Sandbox is already running in this process (moto's state is process-wide)")
        Sandbox._running = True
        env = dict(_CREDENTIALS)
        if self.server:
            self.port = self.port or free_port()
            self.endpoint_url = f"http://127.0.0.1:{self.port}"
            env |= {"AWS_ENDPOINT_URL": self.endpoint_url, "MOTO_PORT": str(self.port)}
        for key, value in env.items():
            self._saved_env[key] = os.environ.get(key)
            os.environ[key] = value
        mount_code()
        install_fakes()
        patterns.install()
        _ENGINE_LOG.addHandler(_QUIET)  # the engine logs every failed state; the timeline reports them from history
        _ENGINE_LOG.propagate = False
        WORLD.drain()
        lambdas.drain_async()
        self.recorder.install()
        botocore.session.create_loader = shared_loader  # type: ignore[attr-defined]
        boto3.DEFAULT_SESSION = None  # a fresh default session picks up the recorder's hooks
        reset_product_caches()
        try:
            self._start_moto()
            self.deploy()
        except BaseException:
            self.__exit__(*sys.exc_info())
            raise
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        stop_running_executions()  # moto's engine threads outlive the mock: a waiting gate would go on in the next one
        if self._moto_server is not None:
            self._moto_server.stop()
            self._moto_server = None
        if self._mock is not None:
            self._mock.stop()
            self._mock = None
        self.recorder.uninstall()
        patterns.uninstall()
        _ENGINE_LOG.removeHandler(_QUIET)
        _ENGINE_LOG.propagate = True
        botocore.session.create_loader = create_loader  # type: ignore[attr-defined]
        boto3.DEFAULT_SESSION = None
        WORLD.drain()
        lambdas.drain_async()
        reset_product_caches()
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved_env.clear()
        Sandbox._running = False

    def _start_moto(self) -> None:
        if self.server:
            self._moto_server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
            self._moto_server.start()
            import requests

            # A ThreadedMotoServer serves the process's own moto state ("the ThreadedMotoServer and the decorators act
            # on the same state", moto's server mode docs), and stopping it clears nothing: start from an empty moto,
            # as mock_aws does, or a stack a sandbox served earlier in this process is still there.
            requests.post(f"{self.endpoint_url}/moto-api/reset", timeout=10).raise_for_status()
            requests.post(f"{self.endpoint_url}/moto-api/config", json=MOTO_CONFIG, timeout=10).raise_for_status()
        else:
            self._mock = mock_aws(config=MOTO_CONFIG)  # type: ignore[arg-type]
            self._mock.start()

    # ---------------------------------------------------------------------------------------------------------------
    # clients
    # ---------------------------------------------------------------------------------------------------------------
    def client(self, service: str, account: str = AUTOMATION, region: str = REGION) -> Any:
        """A client acting in `account` as an administrator of that account (the sandbox's own calls)."""
        return client_in(service, account, region)

    # ---------------------------------------------------------------------------------------------------------------
    # deployment
    # ---------------------------------------------------------------------------------------------------------------
    def deploy(self) -> Deployment:
        """Create the automation stack (template.yaml) and the workload stack in every workload account."""
        template = translate(REGION, AUTOMATION)
        self._upload_code(template)
        parameters = {"AllowedAccountIds": ",".join(self.workload_accounts), "ExternalId": EXTERNAL_ID}
        with warnings.catch_warnings(), _moto_log() as skipped:
            warnings.simplefilter("ignore")  # moto's deprecation notices about its own CloudFormation parser
            outputs, resources = self._create_stack(AUTOMATION, STACK, template, parameters)
            workload = yaml_parse(WORKLOAD_TEMPLATE.read_text())
            workload_resources = {
                account: self._create_stack(
                    account, WORKLOAD_STACK, workload, self._workload_parameters(account, outputs)
                )[1]
                for account in self.workload_accounts
            }
        self.deployment = Deployment(outputs=outputs, resources=resources, template=template)
        self._apply_bus_policy(template)
        self._read_functions(template, resources)
        self._executable_state_machines(template, resources)
        for account, created in workload_resources.items():
            rule = created["ForwardingRule"]
            self.deployment.rule_ids[f"arn:aws:events:{REGION}:{account}:rule/{rule}"] = "ForwardingRule"
        self.timeline.add(
            "note",
            AUTOMATION,
            f"deployed {STACK} (template.yaml, {len(resources)} resources) in {AUTOMATION} and {WORKLOAD_STACK} "
            f"(accounts/workload-account.yaml) in {', '.join(self.workload_accounts)}",
        )
        unsupported = sorted(
            {kind for line in skipped for kind in re.findall(r"No Moto CloudFormation support for (\S+)", line)}
        )
        if unsupported:
            self.timeline.add(
                "note",
                AUTOMATION,
                f"moto's CloudFormation skipped {', '.join(unsupported)} (the router applies the EventInvokeConfigs)",
            )
        return self.deployment

    def _apply_bus_policy(self, template: dict[str, Any]) -> None:
        """The bus policy of template.yaml (LifecycleBusPolicyAccounts, OrganizationId empty), put through the API:
        moto's CloudFormation skips AWS::Events::EventBusPolicy."""
        properties = template["Resources"]["LifecycleBusPolicyAccounts"]["Properties"]
        statement = dict(properties["Statement"])
        if statement["Principal"] != {"AWS": {"Ref": "AllowedAccountIds"}} or statement["Resource"] != {
            "Fn::GetAtt": ["LifecycleBus", "Arn"]
        }:
            raise ValueError(f"the sandbox applies the bus policy it knows, not {statement}")
        statement |= {
            "Sid": properties["StatementId"],
            "Principal": {"AWS": list(self.workload_accounts)},
            "Resource": self.deployment.outputs["LifecycleBusArn"],
        }
        policy = {"Version": "2012-10-17", "Statement": [statement]}
        self.client("events").put_permission(EventBusName=self.bus_name, Policy=json.dumps(policy))

    @property
    def forwarding_accounts(self) -> list[str]:
        """Accounts whose default bus forwards SageMaker events to the lifecycle bus: the workload accounts (their
        stack's ForwardingRule) and the automation account (template.yaml's AutomationForwardingRule)."""
        return [AUTOMATION, *self.workload_accounts]

    def _workload_parameters(self, account: str, outputs: dict[str, str]) -> dict[str, str]:
        return {
            "AutomationAccountId": AUTOMATION,
            "AutomationBusName": outputs["LifecycleBusName"],
            "ExternalId": EXTERNAL_ID,
            # Every role a policy passes to SageMaker here: the stages' execution role, dev's training role.
            "SageMakerExecutionRoleArns": ",".join(
                f"arn:aws:iam::{account}:role/{role}" for role in ("SageMakerExecutionRole", "SageMakerTrainingRole")
            ),
            "AutomationFunctionRoleArns": outputs["AutomationFunctionRoleArns"],
            "OperatorPrincipalArns": OPERATORS,
        }

    def _upload_code(self, template: dict[str, Any]) -> None:
        s3 = self.client("s3")
        s3.create_bucket(Bucket=CODE_BUCKET)
        for resource in template["Resources"].values():
            properties = resource.get("Properties", {})
            for location in (properties.get("Code"), properties.get("Content")):
                if isinstance(location, dict) and location.get("S3Bucket") == CODE_BUCKET:
                    directory = ROOT / location["S3Key"].removesuffix(".zip")
                    s3.put_object(Bucket=CODE_BUCKET, Key=location["S3Key"], Body=zip_directory(directory))

    def _create_stack(
        self, account: str, name: str, template: dict[str, Any], parameters: dict[str, str]
    ) -> tuple[dict[str, str], dict[str, str]]:
        cloudformation = self.client("cloudformation", account)
        cloudformation.create_stack(
            StackName=name,
            TemplateBody=json.dumps(template),
            Parameters=[{"ParameterKey": key, "ParameterValue": value} for key, value in parameters.items()],
            Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"],
        )
        stack = cloudformation.describe_stacks(StackName=name)["Stacks"][0]
        if stack["StackStatus"] != "CREATE_COMPLETE":
            raise RuntimeError(f"stack {name} in {account}: {stack['StackStatus']} {stack.get('StackStatusReason')}")
        outputs = {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}
        summaries = cloudformation.list_stack_resources(StackName=name)["StackResourceSummaries"]
        resources = {summary["LogicalResourceId"]: summary["PhysicalResourceId"] for summary in summaries}
        return outputs, resources

    def _read_functions(self, template: dict[str, Any], resources: dict[str, str]) -> None:
        lambda_ = self.client("lambda")
        events = self.client("events")
        for logical_id, resource in template["Resources"].items():
            if resource["Type"] == "AWS::Lambda::Function":
                configuration = lambda_.get_function_configuration(FunctionName=resources[logical_id])
                code_key = resource["Properties"]["Code"]["S3Key"]
                on_failure, retries = invoke_config(template, logical_id)
                self.deployment.functions[configuration["FunctionName"]] = Function(
                    logical_id=logical_id,
                    name=configuration["FunctionName"],
                    arn=configuration["FunctionArn"],
                    code_dir=ROOT / code_key.removesuffix(".zip"),
                    handler=configuration["Handler"],
                    environment=configuration.get("Environment", {}).get("Variables", {}),
                    max_retries=retries,
                    on_failure=on_failure,
                )
            elif resource["Type"] == "AWS::Events::Rule":
                own_bus = resource["Properties"].get("EventBusName") == "default"
                bus = "default" if own_bus else self.deployment.outputs["LifecycleBusName"]
                rule = events.describe_rule(Name=resources[logical_id], EventBusName=bus)
                self.deployment.rule_ids[rule["Arn"]] = logical_id

    def _executable_state_machines(self, template: dict[str, Any], resources: dict[str, str]) -> None:
        """Re-create CloudFormation's state machines in moto's executing engine (CloudFormation puts them in the
        non-executing backend), same name and so same ARN; their Lambda tasks run in-process (sandbox.lambdas)."""
        from moto.stepfunctions.models import stepfunctions_backends

        lambdas.install()
        for function in self.deployment.functions.values():
            runtime = {"AWS_REGION": REGION, "AWS_DEFAULT_REGION": REGION, "AWS_LAMBDA_FUNCTION_NAME": function.name}
            lambdas.register(function.name, function.code_dir.name, {**function.environment, **runtime})
        stepfunctions = self.client("stepfunctions")
        for logical_id, resource in template["Resources"].items():
            if resource["Type"] == "AWS::StepFunctions::StateMachine":
                made = stepfunctions_backends[AUTOMATION][REGION].describe_state_machine(resources[logical_id])
                stepfunctions.create_state_machine(
                    name=made.name, definition=made.definition, roleArn=made.roleArn, type="STANDARD"
                )

    # ---------------------------------------------------------------------------------------------------------------
    # what the product reads
    # ---------------------------------------------------------------------------------------------------------------
    @property
    def bus_name(self) -> str:
        return self.deployment.outputs["LifecycleBusName"]

    @property
    def table_name(self) -> str:
        return self.deployment.outputs["LifecycleTableName"]

    @property
    def topic_arn(self) -> str:
        return self.deployment.outputs["NotificationTopicArn"]

    @property
    def policy_path(self) -> str:
        return self.deployment.outputs["PolicyParameterPath"]

    def publish_policy(self, document: dict[str, Any]) -> str:
        """Publish a policy document (already validated) the way `lifecycle policy publish` does."""
        name = f"{self.policy_path}/{document['group']}"
        self.client("ssm").put_parameter(Name=name, Value=json.dumps(document), Type="String", Overwrite=True)
        self.grant_artifacts(document)
        reset_product_caches()
        self.timeline.add("note", AUTOMATION, f"policy {document['group']!r} published at {name}")
        return name

    def grant_artifacts(self, document: dict[str, Any]) -> None:
        """What "Deploy to real accounts" step 5 has people do for a policy whose stages read artifacts trained in
        another account: in the training account, the output bucket's policy and the key (the one the policy names:
        moto cannot choose a key id, so the created key takes it) admit each stage's execution role; in each stage
        account, that role exists and its own policy allows the read."""
        training = document.get("training") or {}
        key_arn = str(training.get("output_kms_key_arn") or "")
        stages = (document.get("deployment") or {}).get("stages", [])
        readers = sorted({s["execution_role_arn"] for s in stages if s["account"] != training.get("account")})
        if not key_arn or not readers:
            return
        account, region = str(training["account"]), str(training.get("region", REGION))
        bucket, _, prefix = str(training["output_s3_uri"]).removeprefix("s3://").partition("/")
        objects = f"arn:aws:s3:::{bucket}/{prefix}*"
        s3 = self.client("s3", account, region)
        s3.create_bucket(Bucket=bucket)
        read = {"Sid": "StageExecutionRolesReadModelArtifacts", "Effect": "Allow", "Principal": {"AWS": readers}}
        s3.put_bucket_policy(
            Bucket=bucket,
            Policy=json.dumps(
                {"Version": "2012-10-17", "Statement": [read | {"Action": "s3:GetObject", "Resource": objects}]}
            ),
        )
        decrypt = read | {
            "Sid": "StageExecutionRolesDecryptModelArtifacts",
            "Action": ["kms:Decrypt", "kms:DescribeKey"],
            "Resource": "*",
            "Condition": {"StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"}},
        }
        admin = {
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
            "Action": "kms:*",
            "Resource": "*",
        }
        _key_named(
            self.client("kms", account, region), key_arn, {"Version": "2012-10-17", "Statement": [admin, decrypt]}
        )
        for role_arn in readers:
            iam = self.client("iam", role_arn.split(":")[4])
            name = role_arn.rsplit("/", 1)[1]
            trust = {"Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}, "Action": "sts:AssumeRole"}
            with suppress(iam.exceptions.EntityAlreadyExistsException):
                iam.create_role(
                    RoleName=name, AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [trust]})
                )
            own = [
                {"Effect": "Allow", "Action": "s3:GetObject", "Resource": objects},
                {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": key_arn},
            ]
            iam.put_role_policy(
                RoleName=name,
                PolicyName=f"read-{document['group']}-artifacts",
                PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": own}),
            )


def _key_named(kms: Any, key_arn: str, policy: dict[str, Any]) -> None:
    """The KMS key `key_arn` with `policy`: created under that id (moto picks key ids itself) or its policy updated."""
    from moto.kms.models import kms_backends

    _, _, _, region, account, resource = key_arn.split(":", 5)
    key_id = resource.removeprefix("key/")
    backend = kms_backends[account][region]
    if key_id not in backend.keys:
        made = backend.keys.pop(kms.create_key(Description="model artifacts (sandbox)")["KeyMetadata"]["KeyId"])
        made.id, made.arn = key_id, key_arn
        backend.keys[key_id] = made
    kms.put_key_policy(KeyId=key_id, PolicyName="default", Policy=json.dumps(policy))


def reset_product_caches() -> None:
    """Forget what warm Lambda containers would cache (settings, sessions, policies) across sandboxes."""
    from aws_lambda_powertools.utilities import parameters
    from lifecycle import accounts
    from lifecycle.config import get_settings
    from lifecycle.store import idempotency

    get_settings.cache_clear()
    accounts.clear_session_cache()
    idempotency.clear_persistence_cache()
    parameters.clear_caches()
