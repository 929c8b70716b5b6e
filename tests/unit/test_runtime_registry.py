"""runtimes/registry.py is the one list of runtimes: every place that names runtimes reads it or equals it.

Two texts are generated from the registry, because their readers need them written out: the package
adapters' `Runtime` enum in provider/components.py (the Pulumi schema analyzer reads each member's
description from the source) and the runtimes table of runtimes/README.md. Regenerate both with

    uv run python tests/unit/test_runtime_registry.py --write

A test below registers a runtime module of its own, in a fresh interpreter, and finds it in the settings,
the stack file schema, the container dispatch, the monitored runtimes' alerts and the exporter facts.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import json
import re
import subprocess
import sys
import typing
from pathlib import Path

import pytest
from pulumi_llm.runtimes import registry
from pulumi_llm.runtimes.spec import ContainerRequest, ContainerSpec, Placement, Runtime, RuntimeInfo

ROOT = Path(__file__).resolve().parents[2]
PROVIDER = ROOT / "components" / "pulumi_llm" / "provider" / "components.py"
README = ROOT / "components" / "pulumi_llm" / "runtimes" / "README.md"
WRITE_COMMAND = "uv run python tests/unit/test_runtime_registry.py --write"
ENUM_BLOCK = re.compile(r"(# generated: Runtime .*?\n)(.*?)(# /generated: Runtime\n)", re.S)
TABLE_BLOCK = re.compile(r"(<!-- runtimes -->\n)(.*?)(<!-- /runtimes -->\n)", re.S)


def provider_enum_source(infos: typing.Sequence[RuntimeInfo]) -> str:
    """The package adapters' `Runtime` enum: the server runtimes (the adapters build no edge nodes)."""
    members = "".join(
        f'    {info.name.upper().replace("-", "_")} = "{info.name}"\n    """{info.description}"""\n'
        for info in infos
        if info.placement == "server"
    )
    return f'class Runtime(Enum):\n    """The model server."""\n\n{members}\n\n'  # blank lines as ruff format puts them


def readme_table(infos: typing.Sequence[RuntimeInfo]) -> str:
    rows = [
        f"| `{info.name}` | {info.placement} | `{registry.MODULES[info.name].rsplit('.', 1)[-1]}.py` | {info.description} | "
        f"{info.fit_runtime}{f', `{info.default_quantization}` by default' if info.default_quantization else ''} | "
        f"{', '.join(f'`{e.name}`' for e in info.exporters) or 'none'} |\n"
        for info in infos
    ]
    return "| runtime | placement | module | server | sized by | exporter facts |\n|---|---|---|---|---|---|\n" + "".join(rows)


def regenerate(text: str, block: re.Pattern[str], body: str) -> str:
    if not block.search(text):
        raise AssertionError(f"no generated block {block.pattern!r}")
    return block.sub(lambda m: m.group(1) + body + m.group(3), text, count=1)


def test_names_are_the_modules_keys_in_schema_order():
    schema = json.loads((ROOT / "stacks" / "schema.json").read_text())
    assert registry.NAMES == tuple(registry.MODULES)
    assert tuple(schema["$defs"]["ModelSettings"]["properties"]["runtime"]["enum"]) == registry.NAMES


def generated_text(block: re.Pattern[str], path: Path) -> str:
    found = block.search(path.read_text())
    assert found is not None, f"no generated block {block.pattern!r} in {path.name}"
    return found.group(2)


def test_generated_texts_are_current():
    infos = registry.runtimes()
    assert generated_text(ENUM_BLOCK, PROVIDER) == provider_enum_source(infos), f"run {WRITE_COMMAND}"
    assert generated_text(TABLE_BLOCK, README) == readme_table(infos), f"run {WRITE_COMMAND}"


@pytest.mark.parametrize("name", registry.NAMES)
def test_each_entry_is_a_module_with_the_one_container_signature(name):
    module = importlib.import_module(registry.MODULES[name])
    info = registry.get(name)
    assert isinstance(info, RuntimeInfo) and info.name == name
    assert info.container_spec is module.container_spec
    assert list(inspect.signature(module.container_spec).parameters) == ["request"]
    assert typing.get_type_hints(module.container_spec) == {"request": ContainerRequest, "return": ContainerSpec}
    assert info.placement in typing.get_args(Placement)


def test_settings_allow_exactly_the_registered_runtimes():
    from pulumi_llm import settings

    assert typing.get_args(Runtime) == registry.NAMES
    assert typing.get_args(settings.ModelSettings.model_fields["runtime"].annotation) == registry.NAMES


def test_edge_only_runtimes_are_refused_off_edge_by_the_registry_list():
    from pulumi_llm.settings import EdgeSettings

    assert registry.names_where("edge") == ("llamacpp", "onnx")
    assert typing.get_args(EdgeSettings.model_fields["runtime"].annotation) == registry.names_where("edge")


def test_edge_image_builds_the_edge_runtimes():
    from pulumi_llm.edge.image import RUNTIMES

    assert RUNTIMES == registry.names_where("edge")


def test_package_adapters_enum_is_the_server_runtimes():
    from pulumi_llm.provider.components import Runtime as ProviderRuntime

    # The enum stays a class: the Pulumi schema analyzer reads each member's description from its source.
    assert tuple(member.value for member in ProviderRuntime) == registry.names_where("server")


def test_observability_covers_the_runtimes_that_export_metrics():
    from pulumi_llm.kubernetes.observability_rules import RUNTIMES

    assert RUNTIMES == registry.monitored()
    for info in registry.runtimes():
        # what the alerts and panels query is what the runtime's own exporter facts say its server writes
        emitted = {name for exporter in info.exporters for name in exporter.metrics}
        assert set(info.metrics.all()) <= emitted, info.name
        assert (info.name in RUNTIMES) == bool(info.exporters), info.name


def test_every_runtime_is_sized_by_an_engine_sizing_knows():
    from pulumi_llm.sizing.precision import RUNTIMES, get_precision

    for info in registry.runtimes():
        assert info.fit_runtime in RUNTIMES
        if info.default_quantization is not None:
            get_precision(info.default_quantization)


def test_an_unregistered_name_is_a_key_error():
    with pytest.raises(KeyError):
        registry.get("tgi")


def test_autoscaling_reads_the_hidden_queue_from_the_registry():
    from pulumi_llm.kubernetes.autoscaling import _hidden_queue

    assert [name for name in registry.NAMES if _hidden_queue(name)] == ["triton"]
    assert not _hidden_queue("not-a-runtime")


def test_gpu_vm_reads_the_model_path_a_runtime_names_in_its_args():
    from pulumi_llm.runtimes.vllm import model_argument

    assert registry.get("vllm").model_in_args is model_argument
    assert registry.get("triton").model_in_args is None  # Triton reads its model repository's config mount


FAKE_RUNTIME = """
import dataclasses

from pulumi_llm.exporter_facts import GAUGE, Exporter
from pulumi_llm.runtimes import vllm
from pulumi_llm.runtimes.spec import MetricNames, RuntimeInfo

METRICS = dataclasses.replace(vllm.METRICS, requests_waiting="fake:waiting", requests_running="fake:running")
EXPORTER = Exporter(
    name="fake",
    version="0",
    source="this test",
    metrics={**vllm.EXPORTER.metrics, "fake:waiting": GAUGE, "fake:running": GAUGE},
    labels=vllm.EXPORTER.labels,
    image_markers=("fake",),
)


def container_spec(request):
    return dataclasses.replace(vllm.container_spec(request), runtime="fake", metrics=METRICS)


RUNTIME = RuntimeInfo(
    name="fake",
    description="A stand-in server.",
    placement="server",
    metrics=METRICS,
    fit_runtime="vllm",
    container_spec=container_spec,
    exporters=(EXPORTER,),
)
"""

PROBE = """
import json, typing

from pulumi_llm.runtimes import registry

registry.MODULES["fake"] = "fake_runtime"  # the one registry line, added before anything reads the list
registry.NAMES = tuple(registry.MODULES)

from pulumi_llm import serving, settings
from pulumi_llm.kubernetes import observability_rules as rules
from pulumi_llm.verify.facts import exporters

raw = {
    "environment": "lab",
    "cloud": "onprem",
    "methods": ["onprem"],
    "onprem": {"kube_context": "lab", "gpus": {"accelerator": "L40S", "per_node": 8}},
    "models": {"m": {"catalog": "llama-3.1-8b-instruct", "source": "pvc://w/m", "runtime": "fake"}},
}
stack = settings.load({f"pulumi-llm:{k}": json.dumps(v) if not isinstance(v, str) else v for k, v in raw.items()}, "lab")
spec = serving.container(stack, "m")
server = rules.ServerMetrics(served_name="m", namespace="llm", runtime="fake", metrics=spec.metrics, service="m")
schema = json.dumps(settings.stack_file_schema())
print(json.dumps({
    "accepted": typing.get_args(settings.ModelSettings.model_fields["runtime"].annotation),
    "in_schema": '"fake"' in schema,
    "container": [spec.runtime, spec.image],
    "monitored": rules.RUNTIMES,
    "alerted": sorted(rules.metrics_referenced(rules.alert_rules([server]))),
    # The runtimes' exporters in registry order; the router in front of them (not a runtime) follows them.
    "exporters": [e.name for e in exporters.MODEL_SERVERS if e is not exporters.VLLM_ROUTER],
    "router_last": exporters.MODEL_SERVERS[-1] is exporters.VLLM_ROUTER,
}))
"""


def test_a_registered_runtime_module_reaches_settings_dispatch_monitoring_and_facts(tmp_path):
    """A new runtime is its module and its registry line: nothing else lists runtimes."""
    (tmp_path / "fake_runtime.py").write_text(FAKE_RUNTIME)
    env = {"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    seen = json.loads(done.stdout.splitlines()[-1])
    assert seen["accepted"][-1] == "fake" and seen["in_schema"]
    assert seen["container"][0] == "fake"  # serving.container dispatched to the module's container_spec
    assert seen["monitored"][-1] == "fake"
    assert "fake:waiting" in seen["alerted"]  # the queue alerts query the runtime's own gauge
    assert seen["exporters"][-1] == "fake" and seen["router_last"]  # the verifier knows what the new runtime emits


def test_the_generated_texts_follow_the_registry(monkeypatch):
    fake = dataclasses.replace(registry.get("vllm"), name="sglang", description="SGLang's OpenAI-compatible server.")
    infos = (*registry.runtimes(), fake)
    monkeypatch.setitem(registry.MODULES, "sglang", "pulumi_llm.runtimes.sglang")
    assert '    SGLANG = "sglang"\n    """SGLang\'s OpenAI-compatible server."""\n' in provider_enum_source(infos)
    assert readme_table(infos).splitlines()[-1].startswith("| `sglang` | server | `sglang.py` | SGLang's")
    assert "LLAMACPP" not in provider_enum_source(infos)  # edge runtimes are not the adapters' to build


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit(f"usage: {WRITE_COMMAND}")
    for path, block, body in (
        (PROVIDER, ENUM_BLOCK, provider_enum_source(registry.runtimes())),
        (README, TABLE_BLOCK, readme_table(registry.runtimes())),
    ):
        before = path.read_text()
        after = regenerate(before, block, body)
        if after != before:
            path.write_text(after)
            print(f"wrote {path.relative_to(ROOT)}")
