"""A vLLM server as the offline plan renders it, replayed on this machine: what test_model_server_vllm.py and
test_vllm_lora.py share.

1. ``plan_manifests``: a one-stack project (the repo's program and Pulumi.yaml, the test's stack file) planned
   offline with ``--no-verify`` (a throwaway stack: no CI runner, no cluster); its manifests by file stem.
2. ``tiny_model``: the tiny offline test model (``support/tiny_model.py``, no hub) built with the vLLM venv.
3. ``replayed_serve`` / ``replayed_env``: the Deployment's ``vllm serve`` command, args and env with only what a
   laptop needs changed — the weights path, GPU-only flags through the renderer's own filter
   (``runtimes.vllm.cpu_replay``), no ``--host``/``--port`` (``VllmServer`` binds 127.0.0.1 on a free port),
   the /cache scratch volume a temp directory.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pulumi_llm.cli import main
from pulumi_llm.runtimes.vllm import cpu_replay, flag_name, model_argument

ROOT = Path(__file__).resolve().parents[3]
SUPPORT = Path(__file__).resolve().parent
STACK = "itest"


def tiny_stack(*, config: str = "", model: str = "") -> str:
    """An on-prem stack file serving the tiny offline model as ``tiny`` from its claim (``pvc://weights/tiny``,
    read at /models/tiny), context 256. `config`: more ``pulumi-llm:`` keys (lines indented 2); `model`: more
    keys of the model (lines indented 6)."""
    return f"""
config:
  pulumi:disable-default-providers: ["*"]
  pulumi-llm:environment: itest
  pulumi-llm:cloud: onprem
  pulumi-llm:methods: [onprem]
  pulumi-llm:onprem:
    kube_context: itest
    gpus: {{accelerator: L4, per_node: 1}}
{config}  pulumi-llm:models:
    tiny:
      custom:
        total_params_b: 0.0025
        num_layers: 2
        hidden_size: 256
        num_attention_heads: 4
        num_kv_heads: 4
        head_dim: 64
        max_context: 1024
        vocab_size: 512
      source: pvc://weights/tiny
      context: 256
{model}"""


def plan_manifests(stack_file: str, project: Path) -> dict[str, dict[str, Any]]:
    """Plans `stack_file` (the text of a Pulumi.<stack>.yaml) as stack ``itest`` in the empty directory
    `project`; every rendered manifest, parsed, by its file stem (``deployment-llm-tiny`` …)."""
    (project / "Pulumi.yaml").write_text((ROOT / "Pulumi.yaml").read_text())
    (project / "stacks").mkdir()
    (project / "stacks" / "__main__.py").write_text((ROOT / "stacks" / "__main__.py").read_text())
    (project / "stacks" / f"Pulumi.{STACK}.yaml").write_text(stack_file)
    out = project / "out"
    assert main(["--project-dir", str(project), "plan", STACK, "--quiet", "--no-verify", "--out", str(out)]) == 0
    return {p.stem: yaml.safe_load(p.read_text()) for p in (out / "manifests").glob("*.yaml")}


def server_container(manifests: Mapping[str, dict[str, Any]], served: str) -> dict[str, Any]:
    """The one container of model `served`'s Deployment."""
    [container] = manifests[f"deployment-llm-{served}"]["spec"]["template"]["spec"]["containers"]
    return container


def tiny_model(python: Path, dest: Path) -> Path:
    """Builds the tiny offline model in `dest` with the vLLM venv's `python`; returns `dest`."""
    subprocess.run(
        [str(python), str(SUPPORT / "tiny_model.py"), str(dest)],
        check=True,
        timeout=600,
        capture_output=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    return dest


def replayed_serve(container: Mapping[str, Any], model_dir: Path, claim_path: str | None = None) -> list[str]:
    """The manifest's command and args as this machine runs them: the CPU filter, `model_dir` as the
    positional model, no bind flags. With `claim_path` (where the rendered args read the model's claim), every
    token's `claim_path` becomes `model_dir` too (e.g. LoRA adapters below the model)."""
    model, *flags = container["args"]
    assert model == model_argument(container["args"])
    if claim_path is not None:
        assert model == claim_path
    kept = [token for token in cpu_replay(flags) if flag_name(token) not in ("--host", "--port")]
    if claim_path is not None:
        kept = [token.replace(claim_path, str(model_dir)) for token in kept]
    return [*container["command"], str(model_dir), *kept]


def replayed_env(container: Mapping[str, Any], cache: Path, secrets: Mapping[str, str] | None = None) -> dict[str, str]:
    """The container's env with /cache moved to `cache`; a variable valued from elsewhere (a Secret) takes its
    test value from `secrets` (variable name → value), or is left out when `secrets` has none."""
    env: dict[str, str] = {}
    for var in container["env"]:
        if "value" in var:
            env[var["name"]] = var["value"].replace("/cache", str(cache))
        elif var["name"] in (secrets or {}):
            env[var["name"]] = (secrets or {})[var["name"]]
    return env
