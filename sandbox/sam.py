"""SAM translation for the sandbox: template.yaml as the plain CloudFormation moto's CloudFormation can create.

aws-sam-translator turns the SAM resources into CloudFormation (as `sam deploy` does in AWS); local `CodeUri` and
`ContentUri` become `s3://` zips the sandbox uploads (`zip_directory`), `DefinitionUri` is inlined, and the state
machine's `DefinitionSubstitutions` (which moto ignores) are folded into the definition. What moto's CloudFormation
skips (a function's EventInvokeConfig) is read back from the translated template (`invoke_config`).
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import boto3
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator
from samtranslator.utils.py27hash_fix import to_py27_compatible_template, undo_mark_unicode_str_in_template
from samtranslator.yaml_helper import yaml_parse

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"
CODE_BUCKET = "sagemaker-lifecycle-sandbox-code"


class LocalSamLoader:
    """The managed-policy loader samtranslator asks for; the template names no managed policies by name."""

    def load(self) -> dict[str, str]:
        return {}


def translate(region: str, account: str, template: Path = TEMPLATE, *, bucket: str = CODE_BUCKET) -> dict[str, Any]:
    """template.yaml as plain CloudFormation: local CodeUri/ContentUri become s3:// zips, DefinitionUri is inlined."""
    document = yaml_parse(template.read_text())
    for resource in document.get("Resources", {}).values():
        properties = resource.get("Properties", {})
        kind = resource.get("Type")
        for key in ("CodeUri", "ContentUri"):
            if kind in ("AWS::Serverless::Function", "AWS::Serverless::LayerVersion") and isinstance(
                properties.get(key), str
            ):
                properties[key] = f"s3://{bucket}/{code_key(properties[key])}"
        if kind == "AWS::Serverless::StateMachine" and isinstance(properties.get("DefinitionUri"), str):
            properties["Definition"] = json.loads((template.parent / properties.pop("DefinitionUri")).read_text())
    parameters = {"AWS::Region": region, "AWS::AccountId": account}
    to_py27_compatible_template(document, parameters)
    translator = Translator(None, Parser(), boto_session=boto3.session.Session(region_name=region))
    translated = translator.translate(document, parameters, get_managed_policy_map=LocalSamLoader().load)
    for resource in translated["Resources"].values():
        _fold_substitutions(resource)
    return dict(undo_mark_unicode_str_in_template(translated))


def _fold_substitutions(resource: dict[str, Any]) -> None:
    """moto's CloudFormation ignores DefinitionSubstitutions: fold them into an `Fn::Sub` of the definition.

    Each `${Name}` becomes the reference its substitution names (`${Resource}` or `${Resource.Attribute}`) or its
    literal value, and the definition goes to the one-argument form of `Fn::Sub`. The two-argument form would not
    do: moto runs its variable map through `string.Template`, which turns the ASL's `$$.Execution.Name` into
    `$.Execution.Name`.
    """
    properties = resource.get("Properties", {})
    if resource.get("Type") != "AWS::StepFunctions::StateMachine" or "DefinitionSubstitutions" not in properties:
        return
    definition = properties["DefinitionString"]
    if isinstance(definition, dict) and "Fn::Join" in definition:
        separator, parts = definition["Fn::Join"]
        definition = separator.join(parts)
    for name, value in properties.pop("DefinitionSubstitutions").items():
        definition = definition.replace("${" + name + "}", _inline_reference(name, value))
    properties["DefinitionString"] = {"Fn::Sub": definition}


def _inline_reference(name: str, value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and set(value) == {"Ref"}:
        return "${" + value["Ref"] + "}"
    if isinstance(value, dict) and set(value) == {"Fn::GetAtt"}:
        target = value["Fn::GetAtt"]
        return "${" + (".".join(target) if isinstance(target, list) else target) + "}"
    if isinstance(value, dict) and set(value) == {"Fn::Sub"} and isinstance(value["Fn::Sub"], str):
        return value["Fn::Sub"]  # its own ${...} references resolve in the definition's one-argument Fn::Sub
    raise ValueError(
        f"DefinitionSubstitutions {name}: the sandbox folds only Ref, Fn::GetAtt, one-argument Fn::Sub and strings, "
        f"got {value}"
    )


def code_key(local_path: str) -> str:
    return local_path.strip("/") + ".zip"


def zip_directory(directory: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(directory.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                archive.write(path, path.relative_to(directory))
    return buffer.getvalue()


def invoke_config(template: dict[str, Any], function_logical_id: str) -> tuple[str, int]:
    """The logical id of a function's on-failure destination and its retry count, from its EventInvokeConfig.

    moto's CloudFormation skips AWS::Lambda::EventInvokeConfig, so the router applies it from the template.
    """
    for resource in template["Resources"].values():
        properties = resource.get("Properties", {})
        if (
            resource["Type"] == "AWS::Lambda::EventInvokeConfig"
            and properties.get("FunctionName", {}).get("Ref") == function_logical_id
        ):
            destination = properties.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination", {})
            target = destination.get("Fn::GetAtt", [""])[0] if isinstance(destination, dict) else ""
            return target, int(properties.get("MaximumRetryAttempts", 2))
    return "", 2
