"""The edge method end to end under the offline plan: images by digest rolled out to labelled nodes."""

from __future__ import annotations

from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from pulumi_llm.cli import main

# A test checksum (the build would verify the real archive against it; nothing is built here).
STACK = """
config:
  pulumi:disable-default-providers: ["*"]
  pulumi-llm:environment: edge
  pulumi-llm:cloud: aws
  pulumi-llm:region: eu-central-1
  pulumi-llm:methods: [edge]
  pulumi-llm:edge:
    kube_context: edge-fleet
    device: AGX-Orin-32GB
    target: {target}
    platforms: {platforms}
    image_tag: b11176-test
    llama_cpp_sha256: "{sha}"
  pulumi-llm:models:
    llama:
      catalog: {model}
      runtime: llamacpp
      quantization: {quant}
      context: 8192
      source: node://llama.gguf
"""


def write(project: Path, target: str = "cpu", platforms: str = "[linux/amd64, linux/arm64]", model: str = "llama-3.2-3b-instruct",
          quant: str = "q4_k_m") -> None:
    (project / "stacks" / "Pulumi.edge.yaml").write_text(
        STACK.format(target=target, platforms=platforms, model=model, quant=quant, sha="ab" * 32)
    )


def test_edge_rollout_runs_the_built_image_by_digest_on_labelled_nodes(scratch_project: Path) -> None:
    write(scratch_project)
    assert main(["--project-dir", str(scratch_project), "plan", "edge", "--quiet"]) == 0
    manifests = scratch_project / "out" / "edge" / "manifests"
    daemon = yaml.safe_load((manifests / "daemonset-llm-edge-llama.yaml").read_text())
    pod = daemon["spec"]["template"]["spec"]
    [server] = pod["containers"]
    assert "pulumi-llm/llama-server:b11176-test@sha256:" in server["image"]
    assert pod["nodeSelector"] == {"pulumi-llm.dev/edge": "true"}
    env = {e["name"]: e.get("value") for e in server["env"]}
    assert env["LLAMA_ARG_MODEL"] == "/models/llama.gguf" and env["LLAMA_ARG_CTX_SIZE"]
    assert {"name": "model", "hostPath": {"path": "/var/lib/pulumi-llm/models", "type": "Directory"}} in pod["volumes"]
    assert server["securityContext"]["readOnlyRootFilesystem"] is True and server["readinessProbe"]["httpGet"]["path"] == "/health"
    for path in manifests.glob("*.yaml"):
        kubernetes_validate.validate(yaml.safe_load(path.read_text()), "1.30.0", strict=True)


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"target": "jetson", "platforms": "[linux/amd64]"},
         "stacks/Pulumi.edge.yaml: pulumi-llm:edge.platforms = [\"linux/amd64\"]: a jetson target builds for linux/arm64 only "
         "(Jetson modules are arm64)"),
        ({"platforms": "[linux/riscv64]"},
         "stacks/Pulumi.edge.yaml: pulumi-llm:edge.platforms[0] = linux/riscv64: must be one of: linux/amd64, linux/arm64"),
        ({"quant": "awq"}, "stacks/Pulumi.edge.yaml: pulumi-llm:models.llama = "),
        ({"model": "llama-3.1-70b-instruct", "quant": "q8_0"}, "stacks/Pulumi.edge.yaml: pulumi-llm:models.llama = "),
    ],
)
def test_bad_edge_input_is_one_line(scratch_project: Path, capsys: pytest.CaptureFixture[str], kwargs: dict, expected: str) -> None:
    write(scratch_project, **kwargs)
    assert main(["--project-dir", str(scratch_project), "plan", "edge", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(expected) and err.count("\n") == 1
