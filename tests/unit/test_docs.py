"""Docs can't drift from the code: every args model of a package has a generated table in the package's
README, and each table equals what the pydantic model says today (names, types, defaults, descriptions).

Regenerate after changing an args model:

    uv run python tests/unit/test_docs.py --write

which rewrites each `<!-- args:module.Class -->` … `<!-- /args -->` block in place and appends the
missing ones under "## Args reference" at the end of the README.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import importlib
import inspect
import pkgutil
import re
import sys
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import cast

import pulumi
from pydantic import BaseModel, ConfigDict, Field

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "components" / "pulumi_llm"
# Packages whose README must carry the tables: every package with args models, plus the pure ones
# (runtimes, sizing) that have a README of their own. `offline` and `provider` are tooling, not API;
# `settings` is the stack file's schema (stacks/schema.json documents it), not component args.
DOCUMENTED = (
    "cluster",
    "edge",
    "gateway",
    "gpu_vm",
    "kubernetes",
    "monitoring",
    "network",
    "onprem",
    "platform",
    "runtimes",
    "security",
    "sizing",
    "storage",
)
REFERENCE_HEADING = "## Args reference"
WRITE_COMMAND = "uv run python tests/unit/test_docs.py --write"
BLOCK = re.compile(r"<!-- args:(?P<id>[\w.]+) -->\n.*?<!-- /args -->\n", re.S)


def args_models(package: str) -> list[type]:
    """The pydantic models defined in the package's modules, in module then source order."""
    from pydantic import BaseModel

    found: list[type] = []
    root = importlib.import_module(f"pulumi_llm.{package}")
    modules = [root] + [
        importlib.import_module(f"pulumi_llm.{package}.{m.name}") for m in pkgutil.iter_modules(root.__path__) if not m.name.startswith("_")
    ]
    for module in modules:
        classes = [c for c in vars(module).values() if inspect.isclass(c) and issubclass(c, BaseModel) and c.__module__ == module.__name__]
        found += sorted(classes, key=lambda c: inspect.getsourcelines(c)[1])
    return found


def _type(annotation: object) -> str:
    """A short, readable spelling of a field's type (pulumi Inputs as Input[T])."""
    import pulumi

    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return _type(args[0])
    if origin in (typing.Union, types.UnionType):
        outputs = [a for a in args if typing.get_origin(a) is pulumi.Output or a is pulumi.Output]
        awaitables = [a for a in args if typing.get_origin(a) is collections.abc.Awaitable]
        rest = [a for a in args if a not in outputs and a not in awaitables]
        if outputs and rest:
            plain = [a for a in rest if a is not type(None)]
            inner = " | ".join(_type(a) for a in plain)
            text = f"Input[{inner}]"
            return f"{text} | None" if type(None) in rest else text
        return " | ".join("None" if a is type(None) else _type(a) for a in args)
    if origin is typing.Literal:
        return ", ".join(repr(a) for a in args)
    if origin is not None:
        name = getattr(origin, "__name__", str(origin))
        if origin is pulumi.Output:
            name = "Output"
        inner = ", ".join("..." if a is Ellipsis else _type(a) for a in args)
        return f"{name}[{inner}]" if args else name
    if annotation is type(None):
        return "None"
    if annotation is pulumi.Output:
        return "Output"
    return getattr(annotation, "__name__", str(annotation).replace("typing.", ""))


def _pin_name(value: str) -> str | None:
    from pulumi_llm import pins

    for name, pin in vars(pins).items():
        if getattr(pin, "ref", None) == value:
            return f"pins.{name}.ref"
    return None


def _default(field) -> str:
    from pydantic_core import PydanticUndefined

    if field.is_required():
        return "required"
    if field.default_factory is not None:
        value = field.default_factory()
    elif field.default is PydanticUndefined:
        return "required"
    else:
        value = field.default
    if isinstance(getattr(value, "ref", None), str) and _pin_name(value.ref):
        return f"`{cast(str, _pin_name(value.ref))[: -len('.ref')]}`"
    if isinstance(value, str) and "@sha256:" in value:
        return f"`{_pin_name(value) or value}`"
    text = _short(value)
    return f"`{text}`" if len(text) <= MAX_DEFAULT else "see description"


MAX_DEFAULT = 160
"""Longer defaults (whole pool maps, source records) are summed up by the field's description."""


def _short(value: object) -> str:
    """repr, with models and dataclasses showing only what differs from their own defaults."""
    from pydantic import BaseModel

    if isinstance(value, BaseModel):
        fields = type(value).model_fields
        changed = [
            (k, getattr(value, k))
            for k, f in fields.items()
            if f.is_required() or f.default_factory is not None or getattr(value, k) != f.default
        ]
        return f"{type(value).__name__}({', '.join(f'{k}={_short(v)}' for k, v in changed)})"
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changed = [
            (f.name, getattr(value, f.name))
            for f in dataclasses.fields(value)
            if f.default is dataclasses.MISSING or getattr(value, f.name) != f.default
        ]
        return f"{type(value).__name__}({', '.join(f'{k}={_short(v)}' for k, v in changed)})"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k!r}: {_short(v)}" for k, v in value.items()) + "}"
    return repr(value)


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def table(model: type) -> str:
    """The generated block of one args model."""
    lines = [
        f"<!-- args:{model.__module__}.{model.__name__} -->",
        f"#### `{model.__name__}` (`{model.__module__}`)",
        "",
        "| arg | type | default | description |",
        "|---|---|---|---|",
    ]
    for name, field in model.model_fields.items():
        lines.append(f"| `{name}` | `{_cell(_type(field.annotation))}` | {_cell(_default(field))} | {_cell(field.description or '')} |")
    lines.append("<!-- /args -->")
    return "\n".join(lines) + "\n"


def readme(package: str) -> Path:
    return PACKAGE / package / "README.md"


def expected_blocks(package: str) -> dict[str, str]:
    return {f"{m.__module__}.{m.__name__}": table(m) for m in args_models(package)}


def regenerate(text: str, blocks: dict[str, str]) -> str:
    """`text` with every known block refreshed, blocks of models that no longer exist dropped, and
    missing ones appended under the reference heading."""
    present = set()

    def replace(match: re.Match[str]) -> str:
        present.add(match["id"])
        return blocks.get(match["id"], "")

    text = BLOCK.sub(replace, text)
    missing = [block for key, block in blocks.items() if key not in present]
    if missing:
        if REFERENCE_HEADING not in text:
            text = text.rstrip("\n") + (
                f"\n\n{REFERENCE_HEADING}\n\nGenerated from the pydantic models (`{WRITE_COMMAND}`); a test keeps it equal to the code.\n"
            )
        text = text.rstrip("\n") + "\n\n" + "\n".join(missing)
    return text


# --- tests ------------------------------------------------------------------------------------------


def test_every_documented_package_has_a_readme() -> None:
    for package in DOCUMENTED:
        assert readme(package).is_file(), f"components/pulumi_llm/{package}/README.md is missing"
    with_models = {
        p
        for p in (d.name for d in PACKAGE.iterdir() if (d / "__init__.py").is_file())
        if p not in {"offline", "provider", "settings"} and args_models(p)
    }
    assert with_models <= set(DOCUMENTED), with_models - set(DOCUMENTED)


def test_every_args_model_has_an_up_to_date_table_in_its_package_readme() -> None:
    problems = []
    for package in DOCUMENTED:
        text = readme(package).read_text()
        blocks = expected_blocks(package)
        found = {m["id"]: m[0] for m in BLOCK.finditer(text)}
        for key, block in blocks.items():
            if key not in found:
                problems.append(f"{package}/README.md: no args table for {key}")
            elif found[key] != block:
                problems.append(f"{package}/README.md: the args table of {key} differs from the model")
        for key in set(found) - set(blocks):
            problems.append(f"{package}/README.md: a table for {key}, which is not an args model of the package")
    assert not problems, "\n".join(problems) + f"\nrun: {WRITE_COMMAND}"


def test_every_field_of_every_args_model_is_a_row_of_its_table() -> None:
    """The plain statement of the rule, independent of the table's formatting."""
    for package in DOCUMENTED:
        text = readme(package).read_text()
        found = {m["id"]: m[0] for m in BLOCK.finditer(text)}
        for model in args_models(package):
            block = found.get(f"{model.__module__}.{model.__name__}", "")
            rows = set(re.findall(r"^\| `(\w+)` \|", block, re.M))
            assert set(model.model_fields) <= rows, (package, model.__name__, set(model.model_fields) - rows)


class _Thresholds(BaseModel):
    cpu: float = Field(80.0, description="CPU.")


class _ExampleArgs(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)

    name: str = Field(description="A name | with a bar.")
    key: str | pulumi.Output[str] | None = Field(None, description="A key.")
    sizes: tuple[int, ...] = Field((1, 2), description="Sizes.")
    mode: typing.Literal["a", "b"] = Field("a", description="Mode.\n  Two lines.")
    limits: _Thresholds = Field(default_factory=cast(Callable[[], _Thresholds], _Thresholds), description="Limits.")


def test_table_rendering() -> None:
    rows = table(_ExampleArgs).splitlines()[5:-1]
    assert rows == [
        "| `name` | `str` | required | A name \\| with a bar. |",
        "| `key` | `Input[str] \\| None` | `None` | A key. |",
        "| `sizes` | `tuple[int, ...]` | `(1, 2)` | Sizes. |",
        "| `mode` | `'a', 'b'` | `'a'` | Mode. Two lines. |",
        "| `limits` | `_Thresholds` | `_Thresholds()` | Limits. |",
    ]


def test_regenerate_replaces_drops_and_appends() -> None:
    old = "# x\n\ntext\n\n<!-- args:m.A -->\nold\n<!-- /args -->\n\n<!-- args:m.Gone -->\nold\n<!-- /args -->\n"
    new = regenerate(old, {"m.A": "<!-- args:m.A -->\nnew\n<!-- /args -->\n", "m.B": "<!-- args:m.B -->\nb\n<!-- /args -->\n"})
    assert "<!-- args:m.A -->\nnew\n<!-- /args -->\n" in new and "m.Gone" not in new
    assert new.index(REFERENCE_HEADING) < new.index("<!-- args:m.B -->")
    assert regenerate(new, {"m.A": "<!-- args:m.A -->\nnew\n<!-- /args -->\n", "m.B": "<!-- args:m.B -->\nb\n<!-- /args -->\n"}) == new


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit(f"usage: {WRITE_COMMAND}")
    for package in DOCUMENTED:
        path = readme(package)
        before = path.read_text() if path.is_file() else f"# {package}\n"
        after = regenerate(before, expected_blocks(package))
        if after != before:
            path.write_text(after)
            print(f"wrote {path.relative_to(ROOT)}")


# --- the snippets run -------------------------------------------------------------------------------

SNIPPET = re.compile(r"^```python\n(.*?)^```", re.S | re.M)
# The READMEs whose Python snippets are complete programs (the method READMEs' snippets elide their
# surroundings, e.g. `logs_key.arn`; their complete programs are examples/, planned by tests/examples).
RUNNABLE = (
    "README.md",
    *(f"components/pulumi_llm/{p}/README.md" for p in ("kubernetes", "storage", "security", "monitoring", "runtimes", "sizing")),
)


def test_readme_keeps_its_two_set_up_commands() -> None:
    text = (ROOT / "README.md").read_text()
    assert "uv run pulumi-llm plan onprem" in text and "\nuv run pytest " in text
    assert 'pip install "pulumi-llm @ git+https://github.com/<org>/pulumi-llm@v' + __import__("pulumi_llm").__version__ + '"' in text


def test_readme_snippets_run_under_the_mock_runtime(capsys) -> None:
    """Each snippet runs as a Pulumi program with default providers disabled, as a user's stack would."""
    import json

    from pulumi_llm.offline.plan import execute

    ran = 0
    for relative in RUNNABLE:
        for code in SNIPPET.findall((ROOT / relative).read_text()):
            records = execute(
                lambda code=code, relative=relative: exec(compile(code, relative, "exec"), {"__name__": "__main__"}),
                project="readme",
                stack="docs",
                config={"pulumi:disable-default-providers": json.dumps(["*"])},
                region="us-east-1",
            )
            if "pulumi.ResourceOptions" in code:
                assert any(r.type.startswith("pulumi-llm:index:") for r in records), (relative, code[:80])
            ran += 1
    assert ran >= 7
