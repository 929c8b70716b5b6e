"""The `edge` stack under the offline plan: CPU (amd64, arm64) and Jetson images by digest, rolled out to
labelled nodes; and every bad edge input as one line (exit 2), on copies of the real stack file."""

from __future__ import annotations

import json
from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from pulumi_llm import pins
from pulumi_llm.cli import main

ROOT = Path(__file__).resolve().parents[2]
STACK_FILE = ROOT / "stacks" / "Pulumi.edge.yaml"
SDIST_SHA256 = "832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e"


@pytest.fixture(scope="module")
def edge_plan(plans: Path) -> Path:
    return plans / "edge"


def manifest(plan: Path, name: str) -> dict:
    return yaml.safe_load((plan / "manifests" / name).read_text())


def test_the_stack_builds_cpu_and_jetson_images_from_the_pinned_source(edge_plan: Path) -> None:
    resources = {r["name"]: r for r in json.loads((edge_plan / "resources.json").read_text())}
    images = {n: r["inputs"] for n, r in resources.items() if r["type"] == "docker-build:index:Image"}
    assert sorted(images) == ["llm-edge-image-amd64", "llm-edge-image-arm64", "llm-edge-image-jetson-arm64"]
    for _name, image in images.items():
        assert image["buildArgs"]["LLAMA_CPP_SHA256"] == SDIST_SHA256
        assert image["buildArgs"]["LLAMA_CPP_SOURCE_URL"].endswith("/llama_cpp_python-0.3.36.tar.gz")
        assert image["push"] is True and ":latest" not in image["tags"][0]
    assert images["llm-edge-image-amd64"]["target"] == "cpu" and images["llm-edge-image-amd64"]["platforms"] == ["linux/amd64"]
    assert images["llm-edge-image-arm64"]["builder"] == {"name": "graviton"}
    jetson = images["llm-edge-image-jetson-arm64"]
    assert jetson["target"] == "jetson" and jetson["platforms"] == ["linux/arm64"]
    assert jetson["buildArgs"]["JETSON_BUILD_IMAGE"] == pins.L4T_JETPACK.ref
    assert jetson["buildArgs"]["JETSON_RUNTIME_IMAGE"] == pins.UBUNTU_22_04.ref
    # One repository (created once), two indexes told apart by tag.
    assert [r["inputs"]["name"] for r in resources.values() if r["type"] == "aws:ecr/repository:Repository"] == [
        "pulumi-llm/llama-server-buildcache",
        "pulumi-llm/llama-server",
    ]
    indexes = {n: r["inputs"] for n, r in resources.items() if r["type"] == "docker-build:index:Index"}
    assert indexes["llm-edge-image-index"]["tag"].endswith("pulumi-llm/llama-server:llama-0c1e570-r1")
    assert indexes["llm-edge-image-jetson-index"]["tag"].endswith("pulumi-llm/llama-server:llama-0c1e570-r1-jetson")
    assert [s.split("@")[0].rsplit("-", 1)[1] for s in indexes["llm-edge-image-index"]["sources"]] == ["amd64", "arm64"]


def test_each_fleet_runs_its_image_by_digest_on_its_labelled_nodes(edge_plan: Path) -> None:
    for name, fleet, selector, image_tag in (
        ("llama-3-2-3b", "cpu", {"pulumi-llm.dev/edge": "cpu"}, "llama-0c1e570-r1@sha256:"),
        ("llama-3-2-3b-jetson", "jetson", {"pulumi-llm.dev/edge": "jetson"}, "llama-0c1e570-r1-jetson@sha256:"),
    ):
        daemon = manifest(edge_plan, f"daemonset-llm-edge-{name}.yaml")
        assert daemon["spec"]["selector"]["matchLabels"]["pulumi-llm.dev/fleet"] == fleet
        pod = daemon["spec"]["template"]["spec"]
        [server] = pod["containers"]
        assert f"pulumi-llm/llama-server:{image_tag}" in server["image"]
        assert pod["nodeSelector"] == selector
        env = {e["name"]: e.get("value") for e in server["env"]}
        assert env["LLAMA_ARG_MODEL"] == "/models/llama-3-2-3b-q4_k_m.gguf" and int(env["LLAMA_ARG_CTX_SIZE"]) >= 8192
        assert {"name": "model", "hostPath": {"path": "/var/lib/pulumi-llm/models", "type": "Directory"}} in pod["volumes"]
        assert server["securityContext"]["readOnlyRootFilesystem"] is True and server["readinessProbe"]["httpGet"]["path"] == "/health"
        assert server["resources"]["limits"]["memory"]
        service = manifest(edge_plan, f"service-llm-edge-{name}.yaml")
        assert service["spec"]["selector"]["pulumi-llm.dev/fleet"] == fleet and service["spec"]["internalTrafficPolicy"] == "Local"
    jetson_pod = manifest(edge_plan, "daemonset-llm-edge-llama-3-2-3b-jetson.yaml")["spec"]["template"]["spec"]
    assert jetson_pod["tolerations"] == [{"effect": "NoSchedule", "key": "nvidia.com/gpu", "operator": "Exists"}]
    assert int({e["name"]: e["value"] for e in jetson_pod["containers"][0]["env"]}["LLAMA_ARG_N_GPU_LAYERS"]) > 0
    cpu_pod = manifest(edge_plan, "daemonset-llm-edge-llama-3-2-3b.yaml")["spec"]["template"]["spec"]
    assert cpu_pod["tolerations"] == [] and "nvidia.com/gpu" not in cpu_pod["containers"][0]["resources"].get("limits", {})
    assert manifest(edge_plan, "networkpolicy-llm-edge-default-deny.yaml")["spec"] == {
        "podSelector": {},
        "policyTypes": ["Ingress", "Egress"],
    }


def test_every_edge_manifest_validates(edge_plan: Path) -> None:
    paths = sorted((edge_plan / "manifests").glob("*.yaml"))
    assert len(paths) == 8
    for path in paths:
        kubernetes_validate.validate(yaml.safe_load(path.read_text()), "1.30.0", strict=True)


def test_the_fit_is_for_the_devices_named(edge_plan: Path) -> None:
    summary = json.loads((edge_plan / "summary.json").read_text())
    [model] = summary["sizing"]
    assert model["served_name"] == "llama-3-2-3b" and model["precision"] == "q4_k_m" and model["max_model_len"] == 8192
    # the CPU fleet's node (cpu-16gib, sizing.cpu_host): no GPU layers; the weights + KV fit its RAM
    assert model["hardware"]["accelerator"] == "cpu-16gib" and model["llamacpp"]["n_gpu_layers"] == 0
    assert model["memory_gb"]["weights"] + model["memory_gb"]["kv_cache"] <= model["memory_gb"]["budget"]


# ------------------------------------------------------------------- bad input, on copies of the real file


def write(project: Path, edit) -> None:  # noqa: ANN001
    config = yaml.safe_load(STACK_FILE.read_text())
    edit(config["config"])
    (project / "stacks" / "Pulumi.edge.yaml").write_text(yaml.safe_dump(config, sort_keys=False))


def _set(path: str, value):  # noqa: ANN001, ANN202
    def edit(config: dict) -> None:
        keys = path.split(".")
        node = config[keys[0]]
        for key in keys[1:-1]:
            node = node[key]
        node[keys[-1]] = value

    return edit


def _model(**changes):  # noqa: ANN202
    def edit(config: dict) -> None:
        config["pulumi-llm:models"]["llama-3-2-3b"].update(changes)

    return edit


def _cpu_only_jetson_target(config: dict) -> None:
    config["pulumi-llm:edge"].pop("jetson")
    config["pulumi-llm:edge"]["target"] = "jetson"


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            _set("pulumi-llm:edge.platforms", ["linux/riscv64"]),
            "stacks/Pulumi.edge.yaml: pulumi-llm:edge.platforms[0] = linux/riscv64: must be one of: linux/amd64, linux/arm64",
        ),
        (
            _cpu_only_jetson_target,
            'stacks/Pulumi.edge.yaml: pulumi-llm:edge.platforms = ["linux/amd64", "linux/arm64"]: a jetson target builds for '
            "linux/arm64 only (Jetson modules are arm64)",
        ),
        # the key at fault, not the whole model
        (_model(quantization="awq"), "stacks/Pulumi.edge.yaml: pulumi-llm:models.llama-3-2-3b.quantization = awq: "),
        (_model(catalog="llama-3.1-70b-instruct", quantization="q8_0"), "stacks/Pulumi.edge.yaml: pulumi-llm:models.llama-3-2-3b = "),
        # fits the 16 GiB CPU nodes, not the 8 GB Orin Nano
        (
            _model(catalog="llama-3.1-8b-instruct", quantization="q8_0"),
            "stacks/Pulumi.edge.yaml: pulumi-llm:models.llama-3-2-3b = |: on edge.jetson.device Orin-Nano-8GB: "
            "llama-3.1-8b-instruct in q8_0 needs",
        ),
        (
            _set("pulumi-llm:edge.jetson.device", "L4"),
            "stacks/Pulumi.edge.yaml: pulumi-llm:edge.jetson.device = L4: a Jetson module: Orin-Nano-8GB, Orin-NX-16GB, "
            "AGX-Orin-32GB or AGX-Orin-64GB",
        ),
        (_set("pulumi-llm:edge.device", "raspberry-pi"), "stacks/Pulumi.edge.yaml: pulumi-llm:edge.device = raspberry-pi: unknown GPU"),
        (
            _set("pulumi-llm:edge.jetson_build_image", "nvcr.io/nvidia/l4t-jetpack:r36.4.0"),
            "stacks/Pulumi.edge.yaml: pulumi-llm:edge.jetson_build_image = nvcr.io/nvidia/l4t-jetpack:r36.4.0: pin the base image "
            "by digest as repository:tag@sha256:<digest> (read it with `crane digest <ref>`)",
        ),
        (
            _set("pulumi-llm:edge.llama_cpp_sha256", "ab" * 32),
            f"stacks/Pulumi.edge.yaml: pulumi-llm:edge.llama_cpp_sha256 = {'ab' * 32}: the image builds llama-cpp-python "
            f"0.3.36's sdist, whose sha256 is {SDIST_SHA256} (PyPI)",
        ),
        (
            _set("pulumi-llm:edge.builders", {"linux/s390x": "z"}),
            "stacks/Pulumi.edge.yaml: pulumi-llm:edge.builders.linux/s390x: the name must be one of: linux/amd64, linux/arm64",
        ),
    ],
)
def test_bad_edge_input_is_one_line(scratch_project: Path, capsys: pytest.CaptureFixture[str], edit, expected: str) -> None:  # noqa: ANN001
    write(scratch_project, edit)
    assert main(["--project-dir", str(scratch_project), "plan", "edge", "--quiet"]) == 2
    err = capsys.readouterr().err
    prefix, _, inside = expected.partition("|")
    assert err.startswith(prefix) and inside in err and err.count("\n") == 1, err
