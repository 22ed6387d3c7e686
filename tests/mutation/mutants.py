"""The mutants of a source file: one classic change at a time, found and applied on the file's syntax tree.

The operators (each mutant applies exactly one):
- `compare`: a comparison operator flipped (`<` -> `<=`, `>=` -> `>`, `==` -> `!=`, `in` -> `not in`, `is` -> `is not`);
- `negate`: the condition of an `if`, `while`, conditional expression or comprehension negated (not where that
  equals a `compare` or `not` mutant);
- `not`: a `not` removed;
- `boolean`: `and` <-> `or`;
- `arithmetic`: `+` <-> `-`, `*` <-> `/`, `//` -> `*`, `**` -> `*` (also in augmented assignments);
- `delete`: a call statement, a `raise`, a `continue` or a `break` replaced by `pass`;
- `number`: an integer or float constant plus one (`100` -> `101`: an off-by-one);
- `bool`: `True` <-> `False`;
- `enum`: a string that is a value of an enum of an AWS API the product calls (botocore's service model) replaced by
  another value of that enum (`Descending` -> `Ascending`): a request AWS accepts, but not the one meant;
- `string`: any other string without whitespace wrapped in `XX` (a key, a name, a pattern no longer the same).

Left alone, because a change there is not a decision: docstrings, prose (strings with whitespace), f-strings (the
text of messages), annotations of function parameters and locals (the class-level annotations of pydantic models
and dataclasses are mutated: they hold the constraints), and `if TYPE_CHECKING:` blocks.
"""

from __future__ import annotations

import ast
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

COMPARE_FLIPS: dict[type[ast.cmpop], type[ast.cmpop]] = {
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
}
# A negated `a == b` is `a != b`: the compare mutant already makes it.
_NEGATION_IS_A_FLIP = (ast.Eq, ast.NotEq, ast.In, ast.NotIn, ast.Is, ast.IsNot)
ARITHMETIC_SWAPS: dict[type[ast.operator], type[ast.operator]] = {
    ast.Add: ast.Sub,
    ast.Sub: ast.Add,
    ast.Mult: ast.Div,
    ast.Div: ast.Mult,
    ast.FloorDiv: ast.Mult,
    ast.Pow: ast.Mult,
}
SYMBOLS: dict[type[ast.AST], str] = {
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
    ast.Eq: "==",
    ast.NotEq: "!=",
    ast.In: "in",
    ast.NotIn: "not in",
    ast.Is: "is",
    ast.IsNot: "is not",
    ast.And: "and",
    ast.Or: "or",
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.Div: "/",
    ast.FloorDiv: "//",
    ast.Pow: "**",
}
# The AWS services whose enums the `enum` operator knows (the services the product calls).
AWS_SERVICES = ("sagemaker", "stepfunctions", "dynamodb", "cloudwatch", "sns", "sts", "ssm", "events", "iam")


@dataclass(frozen=True)
class Mutant:
    """One change to one file: where (line, column, the enclosing definition), what, and the line as written."""

    path: str  # relative to the repository
    module: str  # the import name of the file
    index: int  # the n-th mutation point of the file, in syntax-tree order
    line: int
    end_line: int  # the last line of the mutated node (a multi-line call, condition)
    operator: str
    description: str
    scope: str  # the qualified name of the enclosing function or class ('' at module level)
    text: str  # the mutated line, stripped
    import_time: bool  # whether the line runs when the module is imported (module and class level)
    occurrence: int = 1  # the n-th mutant of the same scope, line text and description

    @property
    def key(self) -> str:
        """A name of the mutant that survives edits elsewhere in the file (no line number)."""
        again = f" #{self.occurrence}" if self.occurrence > 1 else ""
        return f"{self.path} | {self.scope or '<module>'} | {self.text} | {self.description}{again}"

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"


@lru_cache(maxsize=1)
def aws_enum_swaps() -> dict[str, str]:
    """For each value of an enum of `AWS_SERVICES`' models: the next value (in the enum's order) of the smallest enum
    that holds it (the first by service and shape name among equals)."""
    import botocore.session

    session = botocore.session.get_session()
    best: dict[str, list[str]] = {}
    for service in AWS_SERVICES:
        model = session.get_service_model(service)
        for name in sorted(model.shape_names):
            values = list(getattr(model.shape_for(name), "enum", None) or [])
            for value in values if len(values) > 1 else []:
                if value not in best or len(values) < len(best[value]):
                    best[value] = values
    return {value: values[(values.index(value) + 1) % len(values)] for value, values in best.items()}


def _is_docstring(node: ast.stmt, parent: ast.AST) -> bool:
    body = getattr(parent, "body", None)
    return (
        isinstance(parent, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and isinstance(body, list)
        and bool(body)
        and body[0] is node
        and isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    )


def _type_checking_block(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"


@dataclass(frozen=True)
class _Point:
    """A mutation point found while walking: what it does to its node."""

    operator: str
    description: str
    change: Callable[[ast.AST], ast.AST]


class _Walker(ast.NodeTransformer):
    """Walks a module in a fixed order, numbering every mutation point; applies the point numbered `target`."""

    def __init__(self, target: int | None = None) -> None:
        self.target = target
        self.count = 0
        self.found: list[tuple[ast.AST, _Point, str, bool]] = []
        self._scopes: list[str] = []
        self._kinds: list[str] = []  # "class" or "function", innermost last
        self.applied = False

    @property
    def _import_time(self) -> bool:
        return "function" not in self._kinds

    @property
    def _in_class_body(self) -> bool:
        return bool(self._kinds) and self._kinds[-1] == "class"

    # --- structure ---------------------------------------------------------------------------------------------------
    def visit(self, node: ast.AST) -> ast.AST | list[ast.stmt] | None:
        if _type_checking_block(node) or isinstance(node, ast.JoinedStr):
            return node
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            return self._definition(node, function=True)
        if isinstance(node, ast.ClassDef):
            return self._definition(node, function=False)
        if isinstance(node, ast.Lambda):
            self._arguments(node.args)
            self._kinds.append("function")
            node.body = self.visit(node.body)
            self._kinds.pop()
            return node
        changed = self._points(node)
        if changed is not node:
            return changed
        return self.generic_visit(node)

    def _definition(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef, *, function: bool) -> ast.AST:
        # The header (defaults, bases) runs where the definition is, the body in its own scope. Decorators are left
        # alone: their arguments wire a function into a framework (pydantic, lru_cache), they decide nothing.
        if function:
            assert isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            self._arguments(node.args)
        else:
            assert isinstance(node, ast.ClassDef)
            node.bases = [self.visit(base) for base in node.bases]
            for keyword in node.keywords:
                keyword.value = self.visit(keyword.value)
        self._scopes.append(node.name)
        self._kinds.append("function" if function else "class")
        node.body = self._body(node, node.body)
        self._kinds.pop()
        self._scopes.pop()
        return node

    def _arguments(self, arguments: ast.arguments) -> None:
        """Visit the defaults of a definition's parameters, keeping a mutated one in place."""
        arguments.defaults = [self.visit(default) for default in arguments.defaults]
        arguments.kw_defaults = [None if d is None else self.visit(d) for d in arguments.kw_defaults]

    def _body(self, parent: ast.AST, body: list[ast.stmt]) -> list[ast.stmt]:
        new: list[ast.stmt] = []
        for statement in body:
            if _is_docstring(statement, parent):
                new.append(statement)
                continue
            result = self.visit(statement)
            if isinstance(result, list):
                new.extend(result)
            elif isinstance(result, ast.stmt):
                new.append(result)
        return new

    def generic_visit(self, node: ast.AST) -> ast.AST:
        for field, value in ast.iter_fields(node):
            if field == "annotation" and not (isinstance(node, ast.AnnAssign) and self._in_class_body):
                continue  # only a class attribute's annotation is read at run time (pydantic, dataclasses)
            if isinstance(value, list):
                if value and isinstance(value[0], ast.stmt):
                    setattr(node, field, self._body(node, value))
                    continue
                items = []
                for item in value:
                    result = self.visit(item) if isinstance(item, ast.AST) else item
                    items.append(result)
                setattr(node, field, items)
            elif isinstance(value, ast.AST):
                setattr(node, field, self.visit(value))
        return node

    # --- mutation points ---------------------------------------------------------------------------------------------
    def _points(self, node: ast.AST) -> ast.AST:
        """Number the points of `node`; when one of them is the target, return `node` changed by it."""
        result = node
        for point in _points_of(node):
            if self.count == self.target:
                result = point.change(node)
                self.applied = True
            self.found.append((node, point, ".".join(self._scopes), self._import_time))
            self.count += 1
        if result is not node:
            # The change is made; the rest of the walk only counts (the subtree of the original node stays as is).
            if isinstance(result, ast.AST) and result is not node:
                ast.copy_location(result, node)
            self._count_subtree(node)
        return result

    def _count_subtree(self, node: ast.AST) -> None:
        counter = _Walker(target=None)
        counter._scopes = list(self._scopes)
        counter._kinds = list(self._kinds)
        counter.count = self.count
        counter.generic_visit(node)
        self.found.extend(counter.found)
        self.count = counter.count


def _negated(test: ast.expr) -> ast.expr:
    return ast.UnaryOp(op=ast.Not(), operand=test)


def _needs_negation(test: ast.expr) -> bool:
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        return False
    return not (isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], _NEGATION_IS_A_FLIP))


def _with(node: ast.AST, **changes: object) -> ast.AST:
    copy = type(node)(**{field: getattr(node, field) for field in node._fields})
    for field, value in changes.items():
        setattr(copy, field, value)
    return ast.copy_location(copy, node)


def _points_of(node: ast.AST) -> Iterator[_Point]:  # noqa: C901
    if isinstance(node, ast.Compare):
        for position, op in enumerate(node.ops):
            flipped = COMPARE_FLIPS.get(type(op))
            if flipped is None:
                continue
            ops = [*node.ops[:position], flipped(), *node.ops[position + 1 :]]
            yield _Point(
                "compare", f"{SYMBOLS[type(op)]!r} -> {SYMBOLS[flipped]!r}", lambda n, ops=ops: _with(n, ops=ops)
            )
    if isinstance(node, ast.If | ast.While | ast.IfExp) and _needs_negation(node.test):
        yield _Point("negate", "condition negated", lambda n: _with(n, test=_negated(n.test)))
    if isinstance(node, ast.comprehension):
        for position, condition in enumerate(node.ifs):
            if _needs_negation(condition):
                ifs = [*node.ifs[:position], _negated(condition), *node.ifs[position + 1 :]]
                yield _Point("negate", "filter negated", lambda n, ifs=ifs: _with(n, ifs=ifs))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        yield _Point("not", "'not' removed", lambda n: n.operand)
    if isinstance(node, ast.BoolOp):
        other = ast.Or if isinstance(node.op, ast.And) else ast.And
        yield _Point(
            "boolean", f"{SYMBOLS[type(node.op)]!r} -> {SYMBOLS[other]!r}", lambda n, other=other: _with(n, op=other())
        )
    if isinstance(node, ast.BinOp | ast.AugAssign) and type(node.op) in ARITHMETIC_SWAPS:
        swapped = ARITHMETIC_SWAPS[type(node.op)]
        yield _Point(
            "arithmetic",
            f"{SYMBOLS[type(node.op)]!r} -> {SYMBOLS[swapped]!r}",
            lambda n, swapped=swapped: _with(n, op=swapped()),
        )
    if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
        yield _Point("delete", "call deleted", lambda n: ast.Pass())
    if isinstance(node, ast.Raise):
        yield _Point("delete", "raise deleted", lambda n: ast.Pass())
    if isinstance(node, ast.Continue | ast.Break):
        yield _Point("delete", f"{type(node).__name__.lower()} deleted", lambda n: ast.Pass())
    if isinstance(node, ast.Constant):
        yield from _constant_points(node)


def _constant_points(node: ast.Constant) -> Iterator[_Point]:
    value = node.value
    if isinstance(value, bool):
        yield _Point("bool", f"{value} -> {not value}", lambda n: ast.Constant(value=not n.value))
    elif isinstance(value, int | float):
        yield _Point("number", f"{value!r} -> {value + 1!r}", lambda n: ast.Constant(value=n.value + 1))
    elif isinstance(value, str) and not any(character.isspace() for character in value):
        swap = aws_enum_swaps().get(value)
        if swap is not None:
            yield _Point("enum", f"{value!r} -> {swap!r}", lambda n, swap=swap: ast.Constant(value=swap))
        else:
            wrapped = f"XX{value}XX"
            yield _Point("string", f"{value!r} -> {wrapped!r}", lambda n, wrapped=wrapped: ast.Constant(value=wrapped))


def module_name(path: str, roots: Iterable[str]) -> str:
    """The import name of `path` (relative to the repository), from the first import root that holds it."""
    for root in roots:
        prefix = f"{root.rstrip('/')}/" if root not in ("", ".") else ""
        if path.startswith(prefix):
            return path[len(prefix) :].removesuffix(".py").replace("/", ".")
    raise ValueError(f"{path} is under none of the import roots {list(roots)}")


def _top_level_name(scope: str) -> str:
    return scope.split(".", 1)[0]


def _assigned_names(tree: ast.Module, line: int) -> set[str]:
    """The names a module-level assignment covering `line` binds."""
    for statement in tree.body:
        if statement.lineno <= line <= (statement.end_lineno or statement.lineno):
            targets: list[ast.expr] = []
            if isinstance(statement, ast.Assign):
                targets = statement.targets
            elif isinstance(statement, ast.AnnAssign):
                targets = [statement.target]
            return {target.id for target in targets if isinstance(target, ast.Name)}
    return set()


def _lines_of(node: ast.AST) -> tuple[int, int]:
    """The first and last line of a mutated node; a comprehension has none of its own: its filters' lines."""
    if isinstance(node, ast.comprehension):
        parts: list[ast.expr] = list(node.ifs) or [node.target]
        return parts[0].lineno, max(part.end_lineno or part.lineno for part in parts)
    line = getattr(node, "lineno", 0)
    return line, getattr(node, "end_lineno", None) or line


def mutants_of(path: str, source: str, *, module: str, only: Iterable[str] = ()) -> list[Mutant]:
    """Every mutant of `source`; with `only`, those inside these top-level definitions or module-level assignments."""
    tree = ast.parse(source)
    walker = _Walker()
    walker.visit(tree)
    lines = source.splitlines()
    wanted = set(only)
    mutants = []
    seen: Counter[tuple[str, str, str]] = Counter()
    for index, (node, point, scope, import_time) in enumerate(walker.found):
        line, end_line = _lines_of(node)
        seen[(scope, lines[line - 1].strip(), point.description)] += 1
        if wanted and _top_level_name(scope) not in wanted and not (_assigned_names(tree, line) & wanted):
            continue
        mutants.append(
            Mutant(
                path=path,
                module=module,
                index=index,
                line=line,
                end_line=end_line,
                operator=point.operator,
                description=point.description,
                scope=scope,
                text=lines[line - 1].strip(),
                import_time=import_time,
                occurrence=seen[(scope, lines[line - 1].strip(), point.description)],
            )
        )
    return mutants


def mutated_tree(source: str, index: int) -> ast.Module:
    """The syntax tree of `source` with mutation point `index` applied."""
    tree = ast.parse(source)
    walker = _Walker(target=index)
    walker.visit(tree)
    if not walker.applied:
        raise ValueError(f"no mutation point {index} (the file has {walker.count})")
    return ast.fix_missing_locations(tree)


def mutated_source(source: str, index: int) -> str:
    """The mutated module as source text (for people: the runner compiles the tree, keeping line numbers)."""
    return ast.unparse(mutated_tree(source, index))


def read(root: Path, path: str) -> str:
    return (root / path).read_text(encoding="utf-8")
