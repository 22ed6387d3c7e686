"""The policy reference comes from the policy model: the committed schema and README table are what the model
generates now, every field is in them, editors can use the schema, and the starter of `policy init` validates."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, get_args, get_origin

import jsonschema
import pytest
import yaml
from lifecycle.policy import Policy
from pydantic import BaseModel

from cli import reference

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = sorted((ROOT / "sandbox" / "policies").glob("*.yaml"))
REGENERATE = "the policy model changed: run `python -m cli.reference` and commit what it writes"


def test_the_committed_schema_is_what_the_model_generates() -> None:
    assert reference.SCHEMA_FILE.read_text() == reference.schema_text(), REGENERATE


def test_the_readme_table_is_what_the_model_generates() -> None:
    readme = reference.README.read_text()

    assert reference.readme_with_table(readme) == readme, REGENERATE


def _models_in(annotation: Any) -> list[tuple[type[BaseModel], bool]]:
    """The models a field holds, and whether it holds them in a list."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [(annotation, False)]
    in_list = get_origin(annotation) is list
    return [(model, in_list or listed) for arg in get_args(annotation) for model, listed in _models_in(arg)]


def _paths(model: type[BaseModel], prefix: str = "") -> list[str]:
    """Every field path of a policy, from the model's own fields (not from the schema the table is made of)."""
    paths = []
    for name, field in model.model_fields.items():
        path = f"{prefix}{name}"
        paths.append(path)
        for inner, listed in _models_in(field.annotation):
            paths += _paths(inner, f"{path}[]." if listed else f"{path}.")
    return paths


def test_the_table_names_every_field_of_the_model() -> None:
    named = set(re.findall(r"^\| `([^`]+)`", reference.reference_table(), re.MULTILINE))

    expected = _paths(Policy)

    assert "deployment.stages[].strategy.interval_seconds" in expected  # the walk reaches every union member
    assert "training.metric_definitions[].regex" in expected
    assert [path for path in expected if path not in named] == []


def test_the_table_says_required_defaults_and_rules() -> None:
    table = reference.reference_table()

    assert "| `group` | string | required | pattern `^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$` |" in table
    assert "| `deployment.stages[].strategy.percent` (linear) | integer | required | 10-50 |" in table
    assert "| `deployment.stages[].strategy.interval_seconds` (linear) | integer | `600` | 0-3600 |" in table
    assert "| `deployment.stages[].strategy.type` (canary) | string | required | `canary` |" in table
    assert "| `deployment.stages[].approval_timeout_hours` | number | `24` | > 0, <= 336 |" in table
    # a default made by a factory is shown too, and a `|` inside a pattern cannot split the row
    assert '| `registry.supported_content_types` | list of string | `["application/json"]` |' in table
    assert r"pattern `^[a-z]{2}(-gov\|-iso[a-z]?)?-[a-z]+-\d{1,2}$`" in table


@pytest.mark.parametrize("sample", SAMPLES, ids=[sample.name for sample in SAMPLES])
def test_sample_policies_name_the_schema_for_editors_and_satisfy_it(sample: Path) -> None:
    first = sample.read_text().splitlines()[0]

    match = re.fullmatch(r"# yaml-language-server: \$schema=(\S+)", first)

    assert match, first
    assert (sample.parent / match[1]).resolve() == reference.SCHEMA_FILE
    jsonschema.Draft202012Validator(reference.schema()).validate(yaml.safe_load(sample.read_text()))


def test_the_schema_refuses_what_the_model_refuses_an_editor_can_flag_it() -> None:
    document: dict[str, Any] = yaml.safe_load(SAMPLES[0].read_text())
    document["deployment"]["stages"][1]["strategy"]["wait_secs"] = document["deployment"]["stages"][1]["strategy"].pop(
        "wait_seconds"
    )
    document["registry"]["account"] = 123456789012

    errors = list(jsonschema.Draft202012Validator(reference.schema()).iter_errors(document))

    assert len(errors) >= 2
    assert any("wait_secs" in error.message for error in errors)
    assert any(error.message == "123456789012 is not of type 'string'" for error in errors)


def test_the_starter_validates_and_names_the_schema_from_where_it_is_written(tmp_path: Path) -> None:
    path = tmp_path / "policies" / "fraud.yaml"

    text = reference.starter("fraud", path)

    document = yaml.safe_load(text)
    assert Policy.model_validate(document).group == "fraud"
    jsonschema.Draft202012Validator(reference.schema()).validate(document)
    schema = re.match(r"# yaml-language-server: \$schema=(\S+)\n", text)
    assert schema and (path.parent / schema[1]).resolve() == reference.SCHEMA_FILE
    assert "lifecycle policy validate " + path.as_posix() in text


def test_regenerating_rewrites_only_what_is_stale(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given copies of the two generated files, the README's table out of date
    schema, readme = tmp_path / "policy.schema.json", tmp_path / "README.md"
    schema.write_text(reference.schema_text())
    readme.write_text(reference.README.read_text().replace("| `sensitive` |", "| `secret` |"))
    monkeypatch.setattr(reference, "SCHEMA_FILE", schema)
    monkeypatch.setattr(reference, "README", readme)

    # When regenerated twice
    first, second = reference.write(), reference.write()

    # Then only the stale file is written, once, and it is current
    assert (first, second) == ([readme], [])
    assert reference.readme_with_table(readme.read_text()) == readme.read_text()
    assert "| `sensitive` |" in readme.read_text()


def test_a_readme_without_the_table_markers_is_an_error() -> None:
    with pytest.raises(ValueError, match=r"README.md has no .* block"):
        reference.readme_with_table("# README\n")


def test_the_schema_is_json_schema_2020_12() -> None:
    document = json.loads(reference.schema_text())

    jsonschema.Draft202012Validator.check_schema(document)
    assert document["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert document["additionalProperties"] is False
