"""Issue 18, fix 1 — LoRA that loads, proved with the real vLLM CPU server.

A stack file serving the tiny offline test model with two LoRA adapters (`chat`, `sql`, below the model's
directory on its claim) is planned offline; the Deployment's `vllm serve` command and args are run as rendered,
with only what a laptop needs changed: the claim's mount point /models/tiny becomes the directory this test
builds the model and adapters in (the model argument and the two adapter items alike), GPU-only flags go through
the renderer's own filter (`runtimes.vllm.cpu_replay`), and the bind address is loopback. The adapters are real
PEFT-format LoRA adapters the test writes for the tiny model's own shapes (support/tiny_lora.py, no hub).

Then vLLM must list both adapters beside the base model on /v1/models and answer a completion for each adapter
name. Before the fix the args held one `--lora-modules=chat=… sql=…` token, which vLLM's own parser reads as ONE
adapter named `chat` whose path holds the space: the first test shows that with vLLM's parser. One server start
for the module (≈ 1 min on 2 cores), small context and batch.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from support import rendered_vllm  # noqa: E402
from support.vllm_env import ensure_vllm_env  # noqa: E402
from support.vllm_server import VllmServer  # noqa: E402

pytestmark = pytest.mark.integration

SUPPORT = Path(__file__).resolve().parent / "support"
SERVED = "tiny"
CLAIM_PATH = "/models/tiny"  # where the rendered args read pvc://weights/tiny
ADAPTERS = {"chat": "lora/chat", "sql": "lora/sql"}
STACK = rendered_vllm.tiny_stack(model=f"      lora_adapters: {json.dumps(ADAPTERS)}\n      lora_max_rank: 8\n")

# vLLM's own argument parser, run in the vLLM venv: prints [[name, path], ...] for the --lora-modules it reads.
PARSE = r"""
import json, sys
from vllm.utils.argparse_utils import FlexibleArgumentParser
from vllm.entrypoints.launchers.cli_args import make_arg_parser
ns = make_arg_parser(FlexibleArgumentParser()).parse_args(json.loads(sys.argv[1]))
print(json.dumps([[m.name, m.path] for m in ns.lora_modules or []]))
"""


@pytest.fixture(scope="module")
def server_container(tmp_path_factory: pytest.TempPathFactory) -> dict:
    return rendered_vllm.server_container(rendered_vllm.plan_manifests(STACK, tmp_path_factory.mktemp("project")), SERVED)


@pytest.fixture(scope="module")
def vllm_python() -> Path:
    return ensure_vllm_env()


@pytest.fixture(scope="module")
def model_dir(vllm_python: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny model with the two adapters below it, as the claim holds them."""
    dest = rendered_vllm.tiny_model(vllm_python, tmp_path_factory.mktemp("tiny"))
    for seed, rel in enumerate(ADAPTERS.values(), start=1):
        subprocess.run(
            [str(vllm_python), str(SUPPORT / "tiny_lora.py"), str(dest), str(dest / rel), str(seed)],
            check=True,
            timeout=300,
            capture_output=True,
            env={**os.environ, "HF_HUB_OFFLINE": "1"},
        )
    return dest


def lora_modules_vllm_reads(vllm_python: Path, args: list[str]) -> list[list[str]]:
    proc = subprocess.run([str(vllm_python), "-c", PARSE, json.dumps(args)], capture_output=True, text=True, timeout=300, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_vllms_own_parser_reads_two_adapters_from_the_rendered_args(server_container: dict, vllm_python: Path) -> None:
    rendered = [f"--model={CLAIM_PATH}", *server_container["args"][1:]]
    assert lora_modules_vllm_reads(vllm_python, rendered) == [["chat", f"{CLAIM_PATH}/lora/chat"], ["sql", f"{CLAIM_PATH}/lora/sql"]]
    # What the renderer wrote before the fix: one token, which vLLM reads as one adapter with a broken path.
    before = [f"--model={CLAIM_PATH}", f"--lora-modules=chat={CLAIM_PATH}/lora/chat sql={CLAIM_PATH}/lora/sql"]
    assert lora_modules_vllm_reads(vllm_python, before) == [["chat", f"{CLAIM_PATH}/lora/chat sql={CLAIM_PATH}/lora/sql"]]


@pytest.fixture(scope="module")
def server(server_container: dict, vllm_python: Path, model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[VllmServer]:
    cache = tmp_path_factory.mktemp("cache")
    env = rendered_vllm.replayed_env(server_container, cache)
    srv = VllmServer.from_serve(
        vllm_python,
        rendered_vllm.replayed_serve(server_container, model_dir, CLAIM_PATH),
        env=env,
        log_path=tmp_path_factory.mktemp("log") / "vllm.log",
        startup_timeout=900,
    )
    with srv:
        print(f"\n[lora] vLLM /v1/models after {srv.seconds_to_models:.1f} s", file=sys.stderr)
        yield srv


def post(srv: VllmServer, path: str, body: dict) -> tuple[int, dict]:
    req = urllib.request.Request(srv.url + path, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=120) as resp:  # noqa: S310 - loopback
        return resp.status, json.load(resp)


def test_models_lists_both_adapters_beside_the_base_model(server: VllmServer, model_dir: Path) -> None:
    with urllib.request.urlopen(server.url + "/v1/models", timeout=10) as resp:  # noqa: S310 - loopback
        models = {m["id"]: m for m in json.load(resp)["data"]}
    assert set(models) == {SERVED, "chat", "sql"}
    for name, rel in ADAPTERS.items():
        assert models[name]["parent"] == SERVED
        assert models[name]["root"] == str(model_dir / rel)


@pytest.mark.parametrize("adapter", list(ADAPTERS))
def test_a_completion_for_each_adapter_answers(server: VllmServer, adapter: str) -> None:
    status, body = post(server, "/v1/completions", {"model": adapter, "prompt": "hello world", "max_tokens": 4, "temperature": 0})
    assert status == 200
    assert body["model"] == adapter
    assert body["usage"]["completion_tokens"] >= 1
