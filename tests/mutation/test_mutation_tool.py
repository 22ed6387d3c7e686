"""The mutation runner's own parts: the mutants it makes, the import hook, which tests judge a mutant, the verdicts."""

from __future__ import annotations

import ast
import importlib
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest

from tests.mutation.mutants import Mutant, module_name, mutants_of, mutated_source, mutated_tree
from tests.mutation.runner import (
    CONFIG,
    ROOT,
    CoverageMap,
    Equivalent,
    MutantFinder,
    _collected,
    all_mutants,
    draw,
    left_open,
    load_config,
    select_tests,
    toml_entry,
    verdict_of,
)

SOURCE = textwrap.dedent(
    '''
    """Module docstring: never mutated."""

    from __future__ import annotations

    from typing import Annotated, Literal

    from pydantic import BaseModel, Field

    LIMIT = 100


    class Canary(BaseModel):
        """Class docstring."""

        percent: Annotated[int, Field(ge=1, le=50)]
        order: Literal["Descending"] = "Descending"


    def decide(value: int, names: list[str], flag: bool = True) -> str:
        """Function docstring."""
        local: Annotated[int, Field(le=7)] = 1
        if value >= LIMIT and flag:
            raise ValueError(f"too big: {value > 3}")
        if value == 0:
            return "zero value"
        record(value)
        kept = [name for name in names if name != "x"]
        return "small" if not kept else str(value - local)


    def record(value: int) -> None:
        return None
    '''
)


def _mutants() -> list[Mutant]:
    return mutants_of("pkg/decide.py", SOURCE, module="pkg.decide")


def _descriptions(line_text: str) -> set[str]:
    return {m.description for m in _mutants() if m.text == line_text}


def test_each_operator_makes_its_classic_change_on_the_line_it_belongs_to():
    # Given a module with a comparison, a boolean operator, a raise, a call, constants and a comprehension
    # When its mutants are made
    # Then each line gets the classic changes of what it holds
    assert _descriptions("if value >= LIMIT and flag:") == {"'>=' -> '>'", "condition negated", "'and' -> 'or'"}
    assert _descriptions('raise ValueError(f"too big: {value > 3}")') == {"raise deleted"}
    assert _descriptions("record(value)") == {"call deleted"}
    assert _descriptions("LIMIT = 100") == {"100 -> 101"}
    assert _descriptions('kept = [name for name in names if name != "x"]') == {"'!=' -> '=='", "'x' -> 'XXxXX'"}
    # (negating `not kept` is removing the `not`: one mutant, not two; a string without whitespace is a name)
    assert _descriptions('return "small" if not kept else str(value - local)') == {
        "'not' removed",
        "'-' -> '+'",
        "'small' -> 'XXsmallXX'",
    }
    # and a value of an AWS enum becomes another value AWS accepts (botocore's SortOrder), not a made-up one
    assert _descriptions('order: Literal["Descending"] = "Descending"') == {"'Descending' -> 'Ascending'"}


def test_docstrings_prose_f_strings_and_parameter_annotations_are_left_alone_class_annotations_are_not():
    mutated_lines = {m.text for m in _mutants()}
    # Then no docstring, no prose, nothing inside an f-string, no parameter's or local's annotation is mutated
    assert not any("docstring" in text for text in mutated_lines)
    assert 'return "zero value"' not in mutated_lines
    assert "local: Annotated[int, Field(le=7)] = 1" in mutated_lines  # its value 1 only
    assert _descriptions("local: Annotated[int, Field(le=7)] = 1") == {"1 -> 2"}
    assert "def decide(value: int, names: list[str], flag: bool = True) -> str:" in mutated_lines  # the default only
    # and a pydantic field's constraints (read at run time) are
    assert _descriptions("percent: Annotated[int, Field(ge=1, le=50)]") == {"1 -> 2", "50 -> 51"}


def test_a_mutant_changes_exactly_its_own_point_and_keeps_the_line_numbers():
    original = ast.unparse(ast.parse(SOURCE))
    for mutant in _mutants():
        tree = mutated_tree(SOURCE, mutant.index)
        changed = ast.unparse(tree)
        assert changed != original, mutant.key
        # the mutated node still sits on its line: the compiled module reports the same line numbers
        lines = {getattr(node, "lineno", None) for node in ast.walk(tree)} - {None}
        assert mutant.line in lines
        compile(tree, "decide.py", "exec")


def test_the_negated_condition_and_the_flipped_comparison_are_what_they_say():
    (flip,) = [m for m in _mutants() if m.description == "'>=' -> '>'"]
    (negated,) = [m for m in _mutants() if m.text.startswith("if value >=") and m.operator == "negate"]
    assert "if value > LIMIT and flag:" in mutated_source(SOURCE, flip.index)
    assert "if not (value >= LIMIT and flag):" in mutated_source(SOURCE, negated.index)


def test_a_negated_filter_sits_on_the_line_of_its_condition():
    source = (
        "def pick(names):\n"
        "    return [\n"
        "        name\n"
        "        for name in names\n"
        "        if name.startswith('a')\n"
        "    ]\n"
    )
    (negated,) = [m for m in mutants_of("pick.py", source, module="pick") if m.operator == "negate"]
    assert (negated.line, negated.end_line, negated.text) == (5, 5, "if name.startswith('a')")


def test_lines_at_import_time_are_told_from_lines_inside_functions():
    by_text = {m.text: m.import_time for m in _mutants()}
    assert by_text["LIMIT = 100"] is True
    assert by_text["percent: Annotated[int, Field(ge=1, le=50)]"] is True
    assert by_text["record(value)"] is False


def test_a_key_names_the_mutant_without_its_line_number_so_lines_added_above_keep_it():
    # Given the same module with two lines added at the top
    moved = mutants_of("pkg/decide.py", "import os\nimport sys\n" + SOURCE, module="pkg.decide")
    # Then every mutant keeps its key (and its line moves by two)
    assert [m.key for m in moved] == [m.key for m in _mutants()]
    assert [m.line for m in moved] == [m.line + 2 for m in _mutants()]
    # and two identical changes on one line are told apart
    keys = [m.key for m in _mutants()]
    assert len(keys) == len(set(keys))


def test_only_limits_the_mutants_to_the_named_definitions_and_module_names():
    only = mutants_of("pkg/decide.py", SOURCE, module="pkg.decide", only=["Canary", "LIMIT"])
    assert {m.text for m in only} == {
        "LIMIT = 100",
        "percent: Annotated[int, Field(ge=1, le=50)]",
        'order: Literal["Descending"] = "Descending"',
    }


def test_the_import_hook_runs_the_mutated_code_in_place_of_the_file(tmp_path: Path):
    # Given a module on disk and its `>=` flipped to `>`
    source = "def passes(value, threshold):\n    return value >= threshold\n"
    path = tmp_path / "gate_under_test.py"
    path.write_text(source)
    (mutant,) = [
        m for m in mutants_of("gate_under_test.py", source, module="gate_under_test") if m.operator == "compare"
    ]
    finder = MutantFinder("gate_under_test", path, compile(mutated_tree(source, mutant.index), str(path), "exec"))
    # When the module is imported with the hook in place
    sys.meta_path.insert(0, finder)
    try:
        module = importlib.import_module("gate_under_test")
    finally:
        sys.meta_path.remove(finder)
        sys.modules.pop("gate_under_test", None)
    # Then the mutated code runs (at the threshold it no longer passes), from the file's own name
    assert finder.loaded
    assert module.passes(5, 5) is False
    assert module.__file__ == str(path)


def test_module_names_come_from_the_first_import_root_that_holds_the_file():
    assert module_name("layers/lifecycle/lifecycle/policy.py", ["layers/lifecycle", "."]) == "lifecycle.policy"
    assert module_name("sandbox/cloud.py", ["layers/lifecycle", "."]) == "sandbox.cloud"


def test_a_sample_is_the_same_for_the_same_seed_and_another_for_another():
    mutants = _mutants()
    assert draw(mutants, sample=5, seed=21) == draw(mutants, sample=5, seed=21)
    assert draw(mutants, sample=5, seed=21) != draw(mutants, sample=5, seed=22)
    assert draw(mutants, sample=None, seed=21) == mutants


def _line(text: str) -> int:
    return SOURCE.splitlines().index(text) + 1


def _map() -> CoverageMap:
    # Two tests run the `if`; another runs the line after it; the record() call is run by none.
    condition, after = _line("    if value >= LIMIT and flag:"), _line("    if value == 0:")
    return CoverageMap(
        tests_by_line={"pkg/decide.py": {condition: ["t::slow", "t::fast"], after: ["t::other"]}},
        durations={"t::slow": 9.0, "t::fast": 0.1, "t::other": 1.0},
    )


def test_a_changed_test_module_s_tests_are_replaced_in_the_map_and_the_others_kept():
    # Given a map where tests/a.py and tests/b.py run line 3
    found = CoverageMap({"m.py": {3: ["tests/a.py::t", "tests/b.py::t"]}}, {"tests/a.py::t": 1.0, "tests/b.py::t": 2.0})
    # When tests/b.py changed: its tests are forgotten, and what it runs now is added
    again = CoverageMap({"m.py": {4: ["tests/b.py::u"]}}, {"tests/b.py::u": 3.0})
    updated = found.without({"tests/b.py"}).plus(again)
    # Then line 3 is run by a.py's test only, line 4 by b.py's new test
    assert updated.tests_by_line == {"m.py": {3: ["tests/a.py::t"], 4: ["tests/b.py::u"]}}
    assert updated.durations == {"tests/a.py::t": 1.0, "tests/b.py::u": 3.0}


def test_only_the_test_modules_the_coverage_pass_collects_are_run_again():
    config = load_config(CONFIG)
    assert _collected("tests/unit/test_policy_bounds.py", config)
    assert not _collected("tests/e2e/test_sandbox_hooks.py", config)
    assert not _collected("tests/mutation/test_mutation_tool.py", config)


def test_a_mutant_is_judged_by_the_tests_that_run_its_line_fastest_first():
    (mutant,) = [m for m in _mutants() if m.description == "'>=' -> '>'"]
    selection = select_tests(mutant, {}, _map())
    assert selection.tests == ("t::fast", "t::slow")
    assert selection.why == "line"


def test_a_mutant_run_at_import_is_judged_by_every_test_of_its_module_and_one_no_test_runs_by_none():
    (constant,) = [m for m in _mutants() if m.text == "LIMIT = 100"]
    assert select_tests(constant, {}, _map()).tests == ("t::fast", "t::other", "t::slow")
    (unrun,) = [m for m in _mutants() if m.text == "record(value)"]
    assert select_tests(unrun, {}, _map()).why == "none"


def test_verdicts_follow_pytest_s_exit_codes_and_the_time_limit():
    mutant = _mutants()[0]
    outcome = {"code": 0, "loaded": True, "test": "", "reason": ""}
    assert verdict_of(mutant, outcome, timed_out=False, seconds=1, tests=3).status == "survived"
    assert verdict_of(mutant, {**outcome, "code": 1}, timed_out=False, seconds=1, tests=3).status == "killed"
    assert verdict_of(mutant, {**outcome, "code": 2}, timed_out=False, seconds=1, tests=3).status == "killed"
    assert verdict_of(mutant, None, timed_out=True, seconds=1, tests=3).status == "killed"
    # a run that never imported the mutated module proves nothing: an error, not a survivor
    assert verdict_of(mutant, {**outcome, "loaded": False}, timed_out=False, seconds=1, tests=3).status == "error"
    assert verdict_of(mutant, {**outcome, "code": 5}, timed_out=False, seconds=1, tests=3).status == "error"
    # a module the mutant makes unimportable stops pytest at a conftest (exit 4): killed, once the mutant was loaded
    assert verdict_of(mutant, {**outcome, "code": 4}, timed_out=False, seconds=1, tests=3).status == "killed"
    unloaded = {**outcome, "code": 4, "loaded": False}
    assert verdict_of(mutant, unloaded, timed_out=False, seconds=1, tests=3).status == "error"


def test_a_kill_by_a_test_that_gave_up_waiting_is_confirmed_and_other_kills_are_not():
    mutant = _mutants()[0]
    outcome = {"code": 1, "loaded": True, "test": "t::deploys", "reason": ""}
    timed = {**outcome, "reason": "TimeoutError: arn:...:execution:deploy-model:happy still running after 30 s"}
    assert verdict_of(mutant, timed, timed_out=False, seconds=1, tests=3).by_timing
    wrong = {**outcome, "reason": "AssertionError: assert [2] == [1]"}
    assert not verdict_of(mutant, wrong, timed_out=False, seconds=1, tests=3).by_timing
    assert verdict_of(mutant, wrong, timed_out=False, seconds=1, tests=3).test == "t::deploys"
    assert not verdict_of(mutant, {**timed, "code": 0}, timed_out=False, seconds=1, tests=3).by_timing


def test_the_entry_printed_for_a_survivor_marks_exactly_that_mutant_once_its_why_is_written():
    for mutant in _mutants():
        entry = tomllib.loads(toml_entry(mutant).replace('why = ""', 'why = "the same either way"'))
        (equivalent,) = [Equivalent(**raw) for raw in entry["equivalent"]]
        assert equivalent.matches(mutant)
        assert not any(equivalent.matches(other) for other in _mutants() if other != mutant)


def test_the_survivors_and_errors_of_a_run_are_read_back_to_be_judged_again(tmp_path: Path):
    survivors, errors = _mutants()[:3], _mutants()[5:6]
    (tmp_path / "survivors.toml").write_text("\n\n".join(toml_entry(m) for m in survivors) + "\n")
    (tmp_path / "errors.toml").write_text("\n\n".join(toml_entry(m) for m in errors) + "\n")
    entries = left_open(tmp_path)
    assert [m for m in _mutants() if any(entry.matches(m) for entry in entries)] == survivors + errors
    assert left_open(tmp_path / "none") == []


def test_the_configuration_names_existing_files_and_every_equivalent_entry_matches_a_mutant_and_says_why():
    config = load_config(CONFIG)
    for target in config.targets:
        assert (ROOT / target.path).is_file(), target.path
    mutants = all_mutants(config)
    for entry in config.equivalents:
        assert entry.why.strip()
        assert any(entry.matches(m) for m in mutants), f"stale equivalent entry: {entry}"


@pytest.mark.parametrize("name", ["check_trust", "check_arns_in_account"])
def test_the_trust_checks_are_among_the_mutated_code(name: str):
    assert any(m.scope.startswith(name) for m in all_mutants(load_config(CONFIG)))
