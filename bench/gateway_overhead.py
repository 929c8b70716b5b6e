"""Benchmark: what the gateway engine adds in front of a model server — gateway → vLLM against vLLM direct.

The servers are the integration tests' own: the real vLLM CPU server with the tiny offline model
(``tests/integration/support``) and the LiteLLM proxy from its pinned venv, started with the config
``pulumi_llm.gateway.config`` renders for one route to that server. LiteLLM now serves only provider
routes (the front streams self-hosted ones itself, ``bench/gateway_engine.py`` measures that path), so the
route is rendered as an OpenAI-compatible provider deployment and its model switched to LiteLLM's vLLM
provider (``hosted_vllm/``, which passes ``ignore_eos`` on): what LiteLLM adds on the path a provider
route or a fallback takes, against the same server. At 1, 16 and 64 concurrent streams a
bounded number of streamed chat completions (fixed ``max_tokens``, ``ignore_eos``) goes to vLLM
directly and through the gateway, interleaved level by level so that machine noise hits both alike.
Reported side by side: time to first token and total request latency (p50 / p99), the latency the
gateway adds (gateway p − direct p), throughput in requests/s, and the ratio gateway / direct.

    uv run python bench/gateway_overhead.py [--requests-per-stream N] [--max-tokens N] [--levels 1,16,64]

Everything runs on 127.0.0.1 and is stopped at the end. The client is the standard library (one
thread per stream), identical for both paths. This is not a test: it prints numbers, it asserts nothing.

CPU pinning (``--pin``, the default on a machine with 2+ CPUs): the CPU build of vLLM keeps its cores
busy, and a one-worker LiteLLM sharing them gets a fraction of a core — that measures starvation, not
the gateway. So vLLM (its whole process group, and its OpenMP threads via VLLM_CPU_OMP_THREADS_BIND)
runs on CPU 0 and LiteLLM on CPU 1, as they would on separate machines; the client floats. ``--no-pin``
shows the co-located case.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
INTEGRATION = ROOT / "tests" / "integration"
sys.path.insert(0, str(INTEGRATION))

from pulumi_llm.gateway.config import (  # noqa: E402
    ENGINE_ENVIRONMENT,
    GatewaySpec,
    ModelGroup,
    ProviderRoute,
    render_litellm_config,
    to_yaml,
)
from support.litellm_env import LitellmProxy, ensure_litellm_env  # noqa: E402
from support.vllm_env import ensure_vllm_env  # noqa: E402
from support.vllm_server import VllmServer  # noqa: E402

SERVED = "tiny"
VLLM_KEY = "bench-vllm-key"  # created here, loopback only
MASTER_KEY = "sk-bench-master"
VLLM_ARGS = ["--served-model-name", SERVED, "--dtype", "float32", "--max-model-len", "256"]


@dataclass
class Sample:
    ok: bool
    ttft: float
    total: float
    tokens: int


def one_stream(url: str, key: str, model: str, max_tokens: int) -> Sample:
    body = {
        "model": model,
        "messages": [{"role": "user", "content": "benchmark the gateway"}],
        "stream": True,
        "max_tokens": max_tokens,
        "temperature": 0,
        "ignore_eos": True,
    }
    req = urllib.request.Request(
        url + "/v1/chat/completions",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {key}"},
    )
    started = time.monotonic()
    ttft = None
    tokens = 0
    try:
        with urllib.request.urlopen(req, timeout=300) as resp:  # noqa: S310 - loopback
            for raw in resp:
                line = raw.strip()
                if not line.startswith(b"data: ") or line == b"data: [DONE]":
                    continue
                chunk = json.loads(line[6:])
                if chunk.get("choices") and chunk["choices"][0].get("delta", {}).get("content"):
                    tokens += 1
                    if ttft is None:
                        ttft = time.monotonic() - started
        total = time.monotonic() - started
        return Sample(ttft is not None, ttft or total, total, tokens)
    except OSError:
        return Sample(False, 0.0, time.monotonic() - started, 0)


@dataclass
class Run:
    samples: list[Sample]
    wall: float

    @property
    def ok(self) -> list[Sample]:
        return [s for s in self.samples if s.ok]

    def pct(self, attr: str, q: float) -> float:
        values = sorted(getattr(s, attr) for s in self.ok)
        if not values:
            return float("nan")
        if len(values) == 1:
            return values[0]
        return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]

    @property
    def rps(self) -> float:
        return len(self.ok) / self.wall

    @property
    def tps(self) -> float:
        return sum(s.tokens for s in self.ok) / self.wall


def run_level(url: str, key: str, concurrency: int, per_stream: int, max_tokens: int, model: str = SERVED) -> Run:
    total = concurrency * per_stream
    barrier = threading.Barrier(concurrency)

    def worker(_: int) -> list[Sample]:
        barrier.wait()
        return [one_stream(url, key, model, max_tokens) for _ in range(per_stream)]

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        samples = [s for batch in pool.map(worker, range(concurrency)) for s in batch]
    assert len(samples) == total
    return Run(samples, time.monotonic() - started)


def pin_group(pgid: int, cpus: set[int]) -> int:
    """Set the CPU affinity of every thread of every process in a process group; returns the thread count."""
    count = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            pgrp = int(stat.rsplit(")", 1)[1].split()[2])
            if pgrp != pgid:
                continue
            for task in (entry / "task").iterdir():
                os.sched_setaffinity(int(task.name), cpus)
                count += 1
        except (OSError, ValueError, IndexError):
            continue  # gone meanwhile
    return count


def ms(value: float) -> str:
    return f"{value * 1000:8.1f}"


def report(level: int, direct: Run, gateway: Run) -> list[str]:
    lines = []
    n = len(direct.samples)
    failed = (len(direct.samples) - len(direct.ok), len(gateway.samples) - len(gateway.ok))
    lines.append(f"\n{level} concurrent stream(s), {n} requests each way (failed: direct {failed[0]}, gateway {failed[1]})")
    lines.append(f"  {'metric':<22}{'direct':>10}{'gateway':>10}{'added':>10}{'ratio':>8}")
    for attr, label in (("ttft", "TTFT"), ("total", "latency")):
        for q in (50, 99):
            d, g = direct.pct(attr, q), gateway.pct(attr, q)
            lines.append(f"  {label + f' p{q} (ms)':<22}{ms(d):>10}{ms(g):>10}{ms(g - d):>10}{g / d:>8.2f}")
    lines.append(f"  {'throughput (req/s)':<22}{direct.rps:>10.1f}{gateway.rps:>10.1f}{'':>10}{gateway.rps / direct.rps:>8.2f}")
    lines.append(f"  {'tokens/s':<22}{direct.tps:>10.0f}{gateway.tps:>10.0f}{'':>10}{gateway.tps / direct.tps:>8.2f}")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--levels", default="1,16,64", help="concurrent streams per level (default 1,16,64)")
    parser.add_argument(
        "--requests-per-stream", type=int, default=0, help="requests each stream sends (default: 24 at 1, 4 at 16, 2 at 64)"
    )
    parser.add_argument("--max-tokens", type=int, default=32, help="tokens per answer (default 32)")
    parser.add_argument("--workers", type=int, default=1, help="LiteLLM worker processes (default 1)")
    parser.add_argument(
        "--pin",
        action=argparse.BooleanOptionalAction,
        default=(os.cpu_count() or 1) >= 2,
        help="vLLM on CPU 0, LiteLLM on CPU 1 (default: on with 2+ CPUs)",
    )
    args = parser.parse_args()
    levels = [int(x) for x in args.levels.split(",")]
    default_per_stream = {1: 24, 16: 4, 64: 2}

    vllm_python, litellm_python = ensure_vllm_env(), ensure_litellm_env()
    with tempfile.TemporaryDirectory(prefix="gateway-bench-") as tmp:
        work = Path(tmp)
        model = work / "tiny"
        subprocess.run(
            [str(vllm_python), str(INTEGRATION / "support" / "tiny_model.py"), str(model)],
            check=True,
            capture_output=True,
            timeout=600,
            env={**os.environ, "HF_HUB_OFFLINE": "1"},
        )
        vllm_env = {"VLLM_API_KEY": VLLM_KEY, **({"VLLM_CPU_OMP_THREADS_BIND": "0"} if args.pin else {})}
        with VllmServer(vllm_python, ["--model", str(model), *VLLM_ARGS], env=vllm_env, log_path=work / "vllm.log") as vllm:
            spec = GatewaySpec(
                model_groups=(
                    ModelGroup(
                        SERVED,
                        (
                            ProviderRoute(
                                "vllm",
                                "openai",
                                SERVED,
                                api_base=vllm.url + "/v1",
                                secret_env="SELF_HOSTED_API_KEY",
                                timeout_seconds=300,
                            ),
                        ),
                    ),
                ),
            )
            config = render_litellm_config(spec)
            [deployment] = config["model_list"]
            deployment["litellm_params"]["model"] = f"hosted_vllm/{SERVED}"
            gateway_model = deployment["model_name"]  # the deployment id, as the front sends it
            (work / "config.yaml").write_text(to_yaml(config))
            env = {**ENGINE_ENVIRONMENT, "LITELLM_MASTER_KEY": MASTER_KEY, "SELF_HOSTED_API_KEY": VLLM_KEY}
            extra = ["--num_workers", str(args.workers)] if args.workers > 1 else []
            with LitellmProxy(litellm_python, work / "config.yaml", env=env, log_path=work / "litellm.log", extra_args=extra) as proxy:
                pinning = "unpinned"
                if args.pin:
                    assert vllm.proc is not None and proxy.proc is not None
                    threads = pin_group(vllm.proc.pid, {0}), pin_group(proxy.proc.pid, {1})
                    pinning = f"vLLM on CPU 0 ({threads[0]} threads), LiteLLM on CPU 1 ({threads[1]} threads)"
                print(
                    f"vLLM {vllm.url} (ready in {vllm.seconds_to_models:.0f} s), LiteLLM {proxy.url} "
                    f"(ready in {proxy.seconds_to_ready:.0f} s, {args.workers} worker); "
                    f"{os.cpu_count()} CPUs, {pinning}; max_tokens {args.max_tokens}",
                    flush=True,
                )
                for url, key, name in ((vllm.url, VLLM_KEY, SERVED), (proxy.url, MASTER_KEY, gateway_model)):  # warm both paths
                    run_level(url, key, 4, 2, args.max_tokens, name)
                for level in levels:
                    per_stream = args.requests_per_stream or default_per_stream.get(level, 2)
                    direct = run_level(vllm.url, VLLM_KEY, level, per_stream, args.max_tokens)
                    gateway = run_level(proxy.url, MASTER_KEY, level, per_stream, args.max_tokens, gateway_model)
                    print("\n".join(report(level, direct, gateway)), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
