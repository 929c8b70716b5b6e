"""The offline plan: run the stack's Pulumi program under Pulumi's mock runtime and write what it builds.

Exactly the program `pulumi up` runs (`stacks/__main__.py`), with the config of
`stacks/Pulumi.<stack>.yaml` handed over the way the engine hands it (scalars as strings, objects as
JSON). No engine, credentials or network. Output files are byte-identical between runs.

Any other Python Pulumi project that uses the components (examples/*, a team's own repository) is planned
the same way: its own program with its own stack file's config, run from its directory; only what reads
pulumi-llm's stack settings (sizing, cost) is left out (`decide_plan_mode`).
"""

from __future__ import annotations

import copy
import difflib
import gc
import json
import os
import re
import runpy
import shutil
import sys
from collections import Counter
from collections.abc import Callable, Generator, Iterable
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, cast

import pulumi
import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from ..errors import UserError
from . import manifests, stack_yaml
from .out_dir import MANIFEST_DIR
from .recorder import SECRET, Record
from .words import plural

STACK_NAME = re.compile(r"[A-Za-z0-9_.-]{1,100}")


@dataclass
class Project:
    """Where the Pulumi project lives, read from its Pulumi.yaml."""

    root: Path
    name: str
    main: Path
    stacks_dir: Path
    runtime: str = "python"
    """Pulumi.yaml's runtime name (`runtime: python` or `runtime: {name: python, ...}`)."""

    @classmethod
    def find(cls, start: Path) -> Project:
        for directory in [start, *start.parents]:
            if (directory / "Pulumi.yaml").is_file():
                spec = _project_spec(directory / "Pulumi.yaml")
                return cls(
                    root=directory,
                    name=spec.get("name", directory.name),
                    main=directory / spec.get("main", "."),
                    stacks_dir=directory / spec.get("stackConfigDir", "."),
                    runtime=_runtime_name(spec.get("runtime")),
                )
        raise UserError(f"{start}: no Pulumi.yaml here or in any parent directory; run pulumi-llm inside the project")

    def stacks(self) -> list[str]:
        return sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in self.stacks_dir.glob("Pulumi.*.yaml"))

    def stack_file(self, stack: str) -> Path:
        check_stack_name(stack)
        path = self.stacks_dir / f"Pulumi.{stack}.yaml"
        if not path.is_file():
            known = ", ".join(self.stacks()) or "none"
            raise UserError(f"{self.relative(path)}: no such stack file; stacks: {known}")
        return path

    def relative(self, path: Path) -> str:
        try:
            return str(path.relative_to(self.root))
        except ValueError:
            return str(path)


def check_stack_name(stack: str) -> None:
    """Pulumi's own rule for a stack name; it also keeps every path built from it inside its directory."""
    if not STACK_NAME.fullmatch(stack):
        raise UserError(f"stack '{stack_yaml.shown(stack)}': not a stack name; letters, digits, '-', '_' and '.' (at most 100)")


def _runtime_name(value: object) -> str:
    """`runtime: python` or `runtime: {name: python, options: ...}`; anything else reads as unknown."""
    if isinstance(value, dict):
        value = cast("dict[str, object]", value).get("name")
    return value if isinstance(value, str) and value else "unknown"


def _project_spec(path: Path) -> dict[str, str]:
    """The keys of Pulumi.yaml this command reads (name, main, stackConfigDir), each a string."""
    try:
        spec: Any = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
        raise UserError(f"{path}: not a readable Pulumi project file ({stack_yaml.shown(str(err).splitlines()[0])})") from None
    if not isinstance(spec, dict):
        raise UserError(f"{path}: must be a map (name, runtime, main, …)")
    project = cast("dict[str, Any]", spec)
    for key in ("name", "main", "stackConfigDir"):
        if key in project and not isinstance(project[key], str):
            raise UserError(f"{path}: {key} = {stack_yaml.shown(str(project[key]))}: must be a string")
    return cast("dict[str, str]", project)


@dataclass
class Plan:
    stack: str
    project: str
    config: dict[str, Any]
    records: list[Record]
    settings: Any = None

    def by_urn(self) -> dict[str, Record]:
        return {r.urn: r for r in self.records}


STACK_FILE_KEYS = ("config", "secretsprovider", "encryptedkey", "encryptionsalt")
"""The top-level keys of a stack file (as stacks/schema.json allows them)."""


def engine_config(stack_file: Path, source: str) -> tuple[dict[str, str], list[str]]:
    """The config map the engine would pass the program, and the keys that are secret.

    Read as the Pulumi CLI reads the file (`stack_yaml`): scalars as written, maps and lists as JSON,
    duplicate keys, ambiguous YAML 1.1 scalars and alias bombs refused in one line."""
    document = stack_yaml.read_document(stack_file, source)
    if document is None:
        return {}, []
    if not isinstance(document, MappingNode):
        raise UserError(f"{source}: must be a map with a config: key, not a {_kind(document)}")
    top = dict(stack_yaml.mapping_items(document, source, "", typed=False))
    unknown = [key for key in top if key not in STACK_FILE_KEYS]
    if "config" not in top and unknown:
        # A misspelt `config:` would otherwise read as an empty config ("environment: required").
        key = next((k for k in unknown if difflib.get_close_matches(k, ["config"], n=1, cutoff=0.6)), unknown[0])
        did_you_mean = " (did you mean config?)" if difflib.get_close_matches(key, ["config"], n=1, cutoff=0.6) else ""
        raise UserError(
            f"{source}: {stack_yaml.shown(key)}: unknown top-level key{did_you_mean}, and no config: key; "
            f"allowed: {', '.join(STACK_FILE_KEYS)}"
        )
    node = top.get("config")
    if node is None or (isinstance(node, ScalarNode) and stack_yaml.scalar_text(node) == ""):
        return {}, []
    if not isinstance(node, MappingNode):
        raise UserError(f"{source}: config: must be a map of keys to values, not a {_kind(node)}")
    config: dict[str, str] = {}
    secret_keys: list[str] = []
    for key, value in stack_yaml.mapping_items(node, source, "config", typed=False):
        if ":" not in key:
            example = key if len(key) <= 40 else "<key>"
            raise UserError(f"{source}: config.{stack_yaml.shown(key)}: keys need a namespace, e.g. pulumi-llm:{example}")
        if isinstance(value, MappingNode) and [k for k, _ in stack_yaml.mapping_items(value, source, key)] == ["secure"]:
            # Encrypted values cannot be read offline; the program sees a masked placeholder.
            config[key] = SECRET
            secret_keys.append(key)
        else:
            config[key] = stack_yaml.engine_value(value, source, key)
    return config, secret_keys


def check_disabled_providers(config: dict[str, str], source: str) -> None:
    """`pulumi:disable-default-providers`, which the engine reads as a JSON list of package names."""
    key = "pulumi:disable-default-providers"
    if key not in config:
        return
    try:
        value = json.loads(config[key])
    except json.JSONDecodeError:
        value = None
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in cast("list[Any]", value)):
        shown = stack_yaml.shown(config[key]) or '""'
        raise UserError(f'{source}: {key} = {shown}: must be a list of package names; every stack sets ["*"]')


_KINDS: dict[type[Node], str] = {MappingNode: "map", SequenceNode: "list"}
"""What a message calls a YAML node of each composite type; any other node is a single value."""


def _kind(node: Node) -> str:
    return _KINDS.get(type(node), "single value")


PlanMode = Literal["settings", "program"]
SETTINGS_PROJECT = "pulumi-llm"
"""The project whose program (stacks/__main__.py) reads pulumi-llm's stack settings."""
SETTINGS_NAMESPACE = "pulumi-llm:"


def decide_plan_mode(project_name: str, config_keys: Iterable[str]) -> PlanMode:
    """How to plan a stack: "settings" when its file configures pulumi-llm's own program (the project named
    pulumi-llm, or any `pulumi-llm:` key: validated as stack settings, sized and costed); "program" for any
    other project that uses the components in a program of its own, whose config is its own business (run
    with it as written, as `pulumi preview` would). Before, every project was read as settings, so an
    example failed on "pulumi-llm:environment: required", a key it never had."""
    if project_name == SETTINGS_PROJECT or any(key.startswith(SETTINGS_NAMESPACE) for key in config_keys):
        return "settings"
    return "program"


PROGRAM_REGION_KEYS = ("aws:region", "gcp:region", "azure-native:location")
"""Provider config a program's stack file may set; the first found (else the project's own `region` key) is the
region the mocks answer with."""
PROGRAM_CLOUDS = (
    ("pulumi:providers:aws", "aws"),
    ("pulumi:providers:gcp", "gcp"),
    ("pulumi:providers:azure-native", "azure"),
    ("pulumi:providers:kubernetes", "kubernetes"),
)
"""Provider types a program registers, and the cloud each means (summary.json's `cloud`), first match wins."""


def _program_file(project: Project) -> Path:
    # Pulumi.yaml's `main` may name the program's directory (default: the project's) or its file.
    return project.main if project.main.suffix == ".py" else project.main / "__main__.py"


@contextmanager
def _in_program_dir(program: Path) -> Generator[None, None, None]:
    """Run a program as Pulumi's Python host does: from its directory, which is on sys.path (sibling modules)."""
    previous_cwd, previous_path = Path.cwd(), list(sys.path)
    os.chdir(program.parent)
    sys.path.insert(0, str(program.parent))
    try:
        yield
    finally:
        os.chdir(previous_cwd)
        sys.path[:] = previous_path


def _run_program(project: Project, stack: str, config: dict[str, str], secret_keys: list[str], source: str) -> Plan:
    """Plan a project of its own (mode "program"): its program with its stack file's config, under the mocks."""
    pulumi_yaml = project.relative(project.root / "Pulumi.yaml")
    if project.runtime != "python":
        raise UserError(
            f"{pulumi_yaml}: runtime {stack_yaml.shown(project.runtime)}: pulumi-llm plan runs Python programs only; "
            f"a {stack_yaml.shown(project.runtime)} program is previewed by the Pulumi CLI (pulumi preview)"
        )
    program = _program_file(project).resolve()  # absolute: the program runs from its own directory
    if not program.is_file():
        raise UserError(f"{pulumi_yaml}: no program at {project.relative(program)} (main: names its directory or file)")
    region = next((config[key] for key in (*PROGRAM_REGION_KEYS, f"{project.name}:region") if config.get(key)), "")
    with _in_program_dir(program):
        try:
            records = execute(
                lambda: runpy.run_path(str(program), run_name="__main__"),
                project=project.name,
                stack=stack,
                config=config,
                secret_keys=secret_keys,
                region=region,
            )
        except (ValueError, UserError) as err:
            # Pulumi's own errors go on with how to set a value; the first line is the one that says what is wrong.
            # (a UserError's text already has its line breaks written as \\n)
            first = (str(err).replace("\\n", "\n").strip().splitlines() or [type(err).__name__])[0]
            raise UserError(f"{source}: the program {project.relative(program)} stopped: {stack_yaml.shown(first)}") from None
    providers = {r.type for r in records}
    cloud = next((name for type_, name in PROGRAM_CLOUDS if type_ in providers), "none")
    summary: dict[str, Any] = {"environment": None, "cloud": cloud, "region": region or None, "methods": []}
    return Plan(stack=stack, project=project.name, config=summary, records=records, settings=None)


def run(project: Project, stack: str) -> Plan:
    """Run the stack's program under mocks; UserError for any mistake in the stack file."""
    from .. import settings as stack_settings

    stack_file = project.stack_file(stack)
    source = project.relative(stack_file)
    config, secret_keys = engine_config(stack_file, source)
    # Validate before anything registers: a bad stack file never produces a half-built plan.
    check_disabled_providers(config, source)
    if decide_plan_mode(project.name, config) == "program":
        return _run_program(project, stack, config, secret_keys, source)
    parsed = stack_settings.load(config, source)
    program = project.main / "__main__.py"
    try:
        records = execute(
            lambda: runpy.run_path(str(program), run_name="__main__"),
            project=project.name,
            stack=stack,
            config=config,
            secret_keys=secret_keys,
            region=parsed.region or "",
        )
    except (ValueError, UserError) as err:
        # The safety net for a refusal raised where the program's own net can't see it (inside an Output's
        # apply, as the AWS network's zone count): one line naming the stack file and, where known, the key.
        if isinstance(err, UserError) and str(err).startswith(source):
            raise
        from ..settings.component_errors import program_problem

        raise UserError(program_problem(err, stack_settings.raw_settings(config), source)) from None
    return Plan(stack=stack, project=project.name, config=parsed.model_dump(mode="json"), records=records, settings=parsed)


def load_settings(project: Project, stack: str):
    """The validated settings of a stack file, without running its program."""
    from .. import settings as stack_settings

    stack_file = project.stack_file(stack)
    source = project.relative(stack_file)
    config = engine_config(stack_file, source)[0]
    if decide_plan_mode(project.name, config) == "program":
        # Not "pulumi-llm:environment: required": the file configures a program of its own, not pulumi-llm's.
        raise UserError(
            f"{source}: project {project.name} configures a program of its own, not pulumi-llm stack settings (pulumi-llm:* keys)"
        )
    return stack_settings.load(config, source)


def execute(
    program: Callable[[], object],
    *,
    project: str,
    stack: str,
    config: dict[str, str],
    secret_keys: list[str] | None = None,
    region: str = "",
) -> list[Record]:
    """Run `program` as a Pulumi program under the recording mock runtime; return what it registered.

    The tests use this directly to exercise one component with exactly the runtime the plan uses.
    """
    import pulumi
    from pulumi.runtime import settings as runtime_settings
    from pulumi.runtime.config import set_all_config
    from pulumi.runtime.mocks import set_mocks
    from pulumi.runtime.stack import run_pulumi_func
    from pulumi.runtime.sync_await import _sync_await  # pyright: ignore[reportPrivateUsage]  # pulumi has no public synchronous runner

    from .recorder import PlanMocks, RecordingMonitor

    disabled = json.loads(config.get("pulumi:disable-default-providers", "[]"))
    set_all_config(config, secret_keys or [])
    runtime_settings.ROOT.set(None)  # a fresh root stack per run (pulumi#8280)
    monitor = RecordingMonitor(PlanMocks(region), disabled)
    set_mocks(monitor.mocks, project=project, stack=stack, preview=False, monitor=monitor)
    pulumi.runtime.register_stack_transformation(_without_aliases)
    # pulumi types these contextproperty attributes as methods; the stub, not the code, is wrong
    runtime_settings.SETTINGS.rpc_manager.clear()  # pyright: ignore[reportAttributeAccessIssue, reportUnknownMemberType]
    runtime_settings.SETTINGS.outputs.clear()  # pyright: ignore[reportAttributeAccessIssue, reportUnknownMemberType]
    try:
        with fewer_collections(), _without_stack_traces():
            # run_pulumi_func ignores what the program returns unless it is awaitable
            _sync_await(run_pulumi_func(cast(Callable[[], None], program)))
    except pulumi.RunError as err:
        raise UserError(str(err)) from None
    return list(monitor.records)


@contextmanager
def fewer_collections() -> Generator[None, None, None]:
    """No garbage collection while the block runs; the collector is back as the caller had it after it.
    `plan` holds it over each stack's whole plan (verify allocates as much as the program).

    The SDK modules a plan imports as it runs leave about half a million objects for the collector to track
    (dev: 80 thousand when the program starts, 506 thousand at its end), and the program's Outputs and tasks
    and the verify pass allocate fast enough to trigger collections that walk them, for little garbage (a
    plan holds few cycles). With Python's default thresholds a dev plan ran 7 full collections, 0.55 s of
    CPU of 2.3 s; with thresholds of (100_000, 50, 1000) 1 full and 6 young ones of ~100 thousand objects
    each, still 0.14 s (prod 0.17 s, onprem 0.03 s). With none: the same peak memory (dev 224 MB against
    222 MB, prod 262 against 259), the cycles a plan leaves are collected after it. bench/README.md has the
    plan times."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@contextmanager
def _without_stack_traces() -> Generator[None, None, None]:
    """The SDK's stack trace of each resource registration left empty while the block runs.

    pulumi 3.272.0 (sdk/python/lib/pulumi/runtime/resource.py, `_get_stack_trace`, called by
    `register_resource` and `read_resource`) walks the Python stack at every registration and reads each
    frame's source line from disk, for the engine to show where a resource was declared
    (RegisterResourceRequest.stackTrace / sourcePosition). Under the mocks nothing reads them: neither the
    SDK's MockMonitor nor the recorder (recorder.RecordingMonitor) looks at those fields, and a plan records
    none. Measured: 20 ms of CPU of an onprem plan of 0.86 s (median of 9). An SDK without the function
    (another version) runs as is."""
    from pulumi.runtime import resource as sdk_resource

    original = getattr(sdk_resource, "_get_stack_trace", None)
    if original is None:
        yield
        return
    from pulumi.runtime.proto import source_pb2

    empty: Callable[[], object] = source_pb2.StackTrace  # pyright: ignore[reportUnknownMemberType, reportAttributeAccessIssue]  # protobuf module, no stubs
    setattr(sdk_resource, "_get_stack_trace", empty)  # noqa: B010  # a private name of the SDK: no typed attribute to assign
    try:
        yield
    finally:
        setattr(sdk_resource, "_get_stack_trace", original)  # noqa: B010


def _without_aliases(args: pulumi.ResourceTransformationArgs) -> pulumi.ResourceTransformationResult | None:
    """The resource's options without `aliases`, for the plan only.

    Aliases tell the engine which resources in the stack's state a resource was before (an old name,
    type or parent); a plan has no state and records no aliases. Yet the SDK turns each alias into an
    Output chain for its URN as soon as the resource is constructed, and the SDK packages give their
    resources many aliases of their own (an azure-native resource one per earlier API version, about nine
    each here): that chain was a third of an azure-prod plan's time. Everything the plan records is the
    same without them (`diff -r` of `plan --all` before/after is empty)."""
    if not args.opts.aliases:
        return None
    opts = copy.copy(args.opts)
    opts.aliases = None
    return pulumi.ResourceTransformationResult(args.props, opts)


def resources_json(plan: Plan) -> list[dict[str, Any]]:
    return [
        {"urn": r.urn, "type": r.type, "name": r.name, "parent": r.parent, "id": r.id, "dependsOn": list(r.depends_on), "inputs": r.inputs}
        for r in sorted(plan.records, key=lambda r: r.urn)
    ]


def summary_json(plan: Plan, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    counts = Counter(r.type for r in plan.records if r.type != "pulumi:pulumi:Stack")
    return {
        "stack": plan.stack,
        "project": plan.project,
        "environment": plan.config["environment"],
        "cloud": plan.config["cloud"],
        "region": plan.config["region"],
        "methods": plan.config["methods"],
        "resources": {"total": sum(counts.values()), "byType": dict(sorted(counts.items()))},
        **(extra or {}),
    }


def write(plan: Plan, out: Path, extra_summary: dict[str, Any] | None = None) -> dict[str, Any]:
    """Write resources.json, manifests/ and summary.json under `out`; return the summary."""
    out.mkdir(parents=True, exist_ok=True)
    _dump(out / "resources.json", resources_json(plan))
    manifest_dir = out / MANIFEST_DIR
    if manifest_dir.exists():
        shutil.rmtree(manifest_dir)  # stale files from an earlier plan would lie about this one
    manifest_dir.mkdir()
    for filename, text in manifests.render(plan.records).items():
        (manifest_dir / filename).write_text(text)
    summary = summary_json(plan, extra_summary)
    _dump(out / "summary.json", summary)
    return summary


def tree(plan: Plan) -> str:
    """The resource tree grouped by component, each component with its count of descendants."""
    children: dict[str | None, list[Record]] = {}
    for record in sorted(plan.records, key=lambda r: r.urn):
        children.setdefault(record.parent, []).append(record)

    def count(urn: str) -> int:
        return sum(1 + count(c.urn) for c in children.get(urn, []))

    lines: list[str] = []

    def walk(record: Record, depth: int) -> None:
        suffix = "" if record.custom else f"  ({plural(count(record.urn), 'resource')})"
        lines.append(f"{'  ' * depth}{record.type}  {record.name}{suffix}")
        for child in children.get(record.urn, []):
            walk(child, depth + 1)

    for root in children.get(None, []):
        walk(root, 0)
    return "\n".join(lines)


def _dump(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
