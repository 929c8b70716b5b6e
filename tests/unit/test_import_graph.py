"""The modules of `pulumi_llm` import each other without a cycle.

A cycle hidden behind a function-local import still couples the two modules both ways: neither can be read,
moved or tested without the other, and the import order decides which one sees the other half-initialised.
So this test reads every module's source with `ast` — nothing is imported — and counts every import it holds,
at module level and inside functions alike."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE_DIR = ROOT / "components" / "pulumi_llm"
PACKAGE = "pulumi_llm"


def module_files() -> dict[str, Path]:
    """Dotted module name → its source file, for every module and package `__init__` of pulumi_llm."""
    modules: dict[str, Path] = {}
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        parts = path.relative_to(PACKAGE_DIR).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join((PACKAGE, *parts))] = path
    return modules


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _runtime_nodes(tree: ast.AST) -> Iterator[ast.AST]:
    """Every node of the tree except the bodies of `if TYPE_CHECKING:` blocks. Those imports exist for the
    type checker only (with `from __future__ import annotations` the names are never evaluated at run time),
    so they cannot initialise a module half-way; they are the sanctioned way to name a type from a module
    that imports this one. Their `else:` branch does run and is kept."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
            continue
        stack.extend(ast.iter_child_nodes(node))


def _resolve(module: str, is_package: bool, level: int, target: str | None) -> str:
    """The absolute name `from <level dots><target>` means inside `module`."""
    if level == 0:
        return target or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join([*base, target] if target else base)


def imported_modules(module: str, path: Path, known: set[str]) -> set[str]:
    """The pulumi_llm modules `module` imports at run time. `from pkg import x` counts as importing the
    submodule `pkg.x` when there is one (that is what Python loads), else as importing `pkg` itself.
    Loading a submodule also runs its packages' `__init__`, but that edge is left out: it is how every
    package works, not a choice of the importing module, and an `__init__` that imports back is already
    caught as its own edge. `importlib.import_module` with a string (the lazy exports of
    `pulumi_llm/__init__.py`) is not a static import and is not counted."""
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in _runtime_nodes(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                name = alias.name
                # `import a.b.c` loads a.b.c; keep the longest prefix that is one of ours
                while name and name not in known:
                    name = name.rpartition(".")[0]
                found.add(name)
        elif isinstance(node, ast.ImportFrom):
            source = _resolve(module, is_package, node.level, node.module)
            for alias in node.names:
                submodule = f"{source}.{alias.name}"
                found.add(submodule if submodule in known else source)
    return {name for name in found if name in known and name != module}


def import_graph() -> dict[str, set[str]]:
    files = module_files()
    known = set(files)
    return {module: imported_modules(module, path, known) for module, path in files.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected component of more than one module (Tarjan), each as the path
    `a → b → … → a` found by walking edges inside the component."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in sorted(graph[node]):
            if succ not in index:
                connect(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return [_cycle_in(graph, set(component)) for component in components]


def _cycle_in(graph: dict[str, set[str]], component: set[str]) -> list[str]:
    """A shortest cycle through the component's first module (breadth-first inside the component)."""
    start = min(component)
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for succ in sorted(graph[node] & component):
                if succ == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(previous[path[-1]])
                    return [start, *reversed(path[:-1]), start]
                if succ not in previous:
                    previous[succ] = node
                    following.append(succ)
        frontier = following
    raise AssertionError(f"no cycle in strongly connected {sorted(component)}")


def test_the_graph_reads_function_level_and_relative_imports() -> None:
    graph = import_graph()
    aws = graph["pulumi_llm.platform.aws"]
    # module level, relative one level up: `from ..component_args import …`, `from ..labels import aws_tags`
    assert {"pulumi_llm.component_args", "pulumi_llm.labels"} <= aws
    # inside functions: `from ..gateway.aws import AwsGateway`, `from ..cluster.eks import …`
    assert {"pulumi_llm.gateway.aws", "pulumi_llm.cluster.eks"} <= aws
    # `from . import azure` (in a function) is the submodule, `from ..gateway import SELF_HOSTED_KEY_SECRET` the package
    assert "pulumi_llm.platform.azure" in graph["pulumi_llm.platform"]
    assert "pulumi_llm.gateway" in aws
    # `from .. import pins` two levels up
    assert "pulumi_llm.pins" in graph["pulumi_llm.gateway.aws"]


def test_type_checking_imports_are_left_out(tmp_path: Path) -> None:
    source = tmp_path / "mod.py"
    source.write_text(
        "from typing import TYPE_CHECKING\n"
        "from . import a\n"
        "if TYPE_CHECKING:\n    from . import b\nelse:\n    from . import c\n"
        "def f():\n    import pkg.d.e\n"
    )
    known = {"pkg", "pkg.a", "pkg.b", "pkg.c", "pkg.d"}
    assert imported_modules("pkg.mod", source, known) == {"pkg.a", "pkg.c", "pkg.d"}


def test_cycles_are_found_and_printed() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"e"}}
    assert cycles(graph) == [["a", "b", "c", "a"]]


def test_relative_names_resolve_like_python() -> None:
    assert _resolve("pulumi_llm.gateway.aws", False, 1, "config") == "pulumi_llm.gateway.config"
    assert _resolve("pulumi_llm.gateway.aws", False, 2, "settings") == "pulumi_llm.settings"
    assert _resolve("pulumi_llm.gateway", True, 1, None) == "pulumi_llm.gateway"
    assert _resolve("pulumi_llm.verify.rules", True, 2, "view") == "pulumi_llm.verify.view"


def test_no_import_cycles() -> None:
    found = cycles(import_graph())
    assert not found, "import cycles (break each by moving what both sides share to a module both import):\n" + "\n".join(
        " → ".join(cycle) for cycle in found
    )


def test_the_settings_schema_does_not_run_the_sizing_planner() -> None:
    """settings ↔ serving was a cycle because a model validator sized the models; now the schema is pure and
    `load` runs `serving.check_sizing` after it, naming the model's key the planner refused (models.m.gpus)."""
    import json

    import pytest
    from pulumi_llm.errors import UserError
    from pulumi_llm.settings import Settings, load

    onprem = {"kube_context": "lab", "gpus": {"accelerator": "L40S", "per_node": 8}}
    models = {"m": {"catalog": "llama-3.1-8b-instruct", "source": "pvc://w/m", "gpus": 3}}
    raw = {"environment": "lab", "cloud": "onprem", "methods": ["onprem"], "onprem": onprem, "models": models}
    assert Settings.model_validate(raw).models["m"].gpus == 3
    with pytest.raises(UserError, match=r"^stacks/Pulumi\.lab\.yaml: pulumi-llm:models\.m\.gpus = 3: the tensor parallel size"):
        # the engine hands scalars over as plain strings and objects as JSON text
        load({f"pulumi-llm:{k}": v if isinstance(v, str) else json.dumps(v) for k, v in raw.items()}, "stacks/Pulumi.lab.yaml")
