"""Benchmark: the vLLM router's cache_aware policy against round_robin, on a shared-prefix chat workload.

Two real vLLM CPU servers (the integration tests' tiny offline model, prefix caching on, a deliberately small
KV cache: ``--num-gpu-blocks-override``) sit behind the real router (the pinned ``vllm-router`` wheel, run
as the cluster pods run it: ``python -c LAUNCHER`` with the flags ``router_render.router_args`` renders, the
replicas given as static URLs instead of Kubernetes discovery). The workload: ``--prompts`` long system
prompts (``--system-words``, ≈300 tokens each), ``--conversations`` conversations on each, ``--turns`` turns per conversation,
each turn resending the whole history (as chat clients do); ``--concurrency`` sessions at a time, each playing
its conversation to the end. Each policy gets the same workload with its own prompt texts, after both
servers' prefix caches were reset, in one run.

The regime measured: each replica's KV cache (``--blocks``) holds about half of the system prompts plus the
running conversations — the case of a fleet serving more distinct prefixes than one replica can keep. Under
round_robin every replica sees every prompt and evicts them in turn, and a conversation's next turn lands on
the other replica half the time; cache_aware keeps each prompt and conversation on one replica. With a cache
that holds everything on every replica, the gap shrinks to the history half (``--blocks 400``). Round-robin
keeps a good share of hits even so (a conversation's own recent turn is the freshest entry of the LRU cache),
so the hit-rate ratio stays well under the TTFT and throughput gains.

Reported per policy: the servers' prefix-cache hit rate over the run (Δ``vllm:prefix_cache_hits_total`` /
Δ``vllm:prefix_cache_queries_total`` summed over both servers, from their /metrics), time to first token
p50/p99 (client-side, first streamed chunk), requests/s and generated tokens/s, and how the requests split
between the two servers. The issue's goal: hit rate ≥ 1.5× round_robin's, TTFT p50 lower.

    uv run python bench/router_prefix.py [--prompts 8] [--conversations 3] [--turns 4] [--concurrency 4]

Everything runs on 127.0.0.1 and is stopped at the end. This is not a test: it prints numbers, it asserts
nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "integration"))
sys.path.insert(0, str(ROOT / "components"))

from pulumi_llm.kubernetes import router_render as rr  # noqa: E402
from support.router_env import ensure_router_env  # noqa: E402
from support.vllm_env import ensure_vllm_env  # noqa: E402
from support.vllm_server import VllmServer, free_port  # noqa: E402

MODEL = "tiny"
WORDS = (
    "the a model serves tokens from a cluster of nodes gateway route request response latency budget cache prefix "
    "stream chunk health ready metrics queue running waiting kernel tensor weight layer head vector prompt answer "
    "question hello world cloud region zone pod service deploy stack config value error retry limit rate quota"
).split()


def server_args(blocks: int) -> list[str]:
    return [
        "--served-model-name",
        MODEL,
        "--dtype",
        "float32",
        "--max-model-len",
        "1024",
        "--enable-prefix-caching",
        "--block-size",
        "32",
        "--num-gpu-blocks-override",
        str(blocks),
    ]


def metric(url: str, name: str) -> float:
    with urllib.request.urlopen(url + "/metrics", timeout=10) as resp:  # noqa: S310 - loopback
        text = resp.read().decode()
    return sum(float(m.group(1)) for m in re.finditer(rf"^{re.escape(name)}(?:{{[^}}]*}})? ([0-9.e+-]+)$", text, re.M))


@dataclass
class Conversation:
    system: str
    turns: list[str]
    history: str = ""
    done: int = 0


@dataclass
class Result:
    ttft: list[float] = field(default_factory=list[float])
    tokens: int = 0
    errors: int = 0


def workload(rng: random.Random, prompts: int, conversations: int, turns: int, salt: str, words: int) -> list[Conversation]:
    systems = [f"{salt} system {i}: " + " ".join(rng.choice(WORDS) for _ in range(words)) for i in range(prompts)]
    out = [
        Conversation(system, [" ".join(rng.choice(WORDS) for _ in range(40)) for _ in range(turns)])
        for system in systems
        for _ in range(conversations)
    ]
    rng.shuffle(out)
    return out


def stream_completion(url: str, prompt: str, max_tokens: int) -> tuple[float, str]:
    body = json.dumps(
        {"model": MODEL, "prompt": prompt, "max_tokens": max_tokens, "ignore_eos": True, "stream": True, "temperature": 0}
    ).encode()
    req = urllib.request.Request(url + "/v1/completions", data=body, headers={"Content-Type": "application/json"})
    started = time.monotonic()
    first: float | None = None
    text = []
    with urllib.request.urlopen(req, timeout=300) as resp:  # noqa: S310 - loopback
        for raw in resp:
            line = raw.decode().strip()
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            chunk = json.loads(line[6:])
            piece = chunk["choices"][0].get("text", "") if chunk.get("choices") else ""
            if piece and first is None:
                first = time.monotonic() - started
            text.append(piece)
    return (first if first is not None else time.monotonic() - started), "".join(text)


def run_workload(url: str, convs: list[Conversation], concurrency: int, max_tokens: int) -> tuple[Result, float]:
    """`concurrency` sessions at a time, each a conversation played to its end turn after turn (a chat user
    waiting for each answer), the next conversation taken when one ends."""
    pending = list(convs)
    lock = threading.Lock()
    result = Result()

    def worker() -> None:
        while True:
            with lock:
                if not pending:
                    return
                conv = pending.pop(0)
            while conv.done < len(conv.turns):
                prompt = f"{conv.system}\n{conv.history}user: {conv.turns[conv.done]}\nassistant:"
                try:
                    ttft, reply = stream_completion(url, prompt, max_tokens)
                except OSError as exc:
                    print(f"  request failed: {exc}", file=sys.stderr)
                    with lock:
                        result.errors += 1
                    break
                conv.history += f"user: {conv.turns[conv.done]}\nassistant:{reply}\n"
                conv.done += 1
                with lock:
                    result.ttft.append(ttft)
                    result.tokens += max_tokens

    started = time.monotonic()
    with ThreadPoolExecutor(concurrency) as pool:
        for _ in range(concurrency):
            pool.submit(worker)
    return result, time.monotonic() - started


@contextmanager
def router(python: Path, policy: rr.Policy, workers: list[str], log: Path) -> Iterator[str]:
    port, metrics_port = free_port(), free_port()
    args = rr.router_args(
        rr.RouterOptions(policy=policy),
        rr.StaticWorkers(tuple(workers)),
        host="127.0.0.1",
        port=port,
        metrics_host="127.0.0.1",
        metrics_port=metrics_port,
    )
    with open(log, "wb") as out:
        proc = subprocess.Popen([str(python), "-c", rr.LAUNCHER, *args], stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"router exited {proc.returncode}: {log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(url + "/readiness", timeout=2) as resp:  # noqa: S310 - loopback
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"router not ready: {log.read_text()[-2000:]}")
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else float("nan")


def measure(
    servers: list[VllmServer], router_python: Path, policy: rr.Policy, convs: list[Conversation], opts: argparse.Namespace, tmp: Path
) -> dict[str, float]:
    for s in servers:
        # vLLM's dev endpoint (VLLM_SERVER_DEV_MODE=1): each policy starts from empty prefix caches.
        urllib.request.urlopen(urllib.request.Request(s.url + "/reset_prefix_cache", method="POST"), timeout=30).read()  # noqa: S310
    names = ("vllm:prefix_cache_hits_total", "vllm:prefix_cache_queries_total", "vllm:request_success_total")
    before = {(s.url, n): metric(s.url, n) for s in servers for n in names}
    with router(router_python, policy, [s.url for s in servers], tmp / f"router-{policy}.log") as url:
        result, seconds = run_workload(url, convs, opts.concurrency, opts.max_tokens)
    delta = {(s.url, n): metric(s.url, n) - before[(s.url, n)] for s in servers for n in names}
    hits = sum(delta[(s.url, names[0])] for s in servers)
    queries = sum(delta[(s.url, names[1])] for s in servers)
    split = [delta[(s.url, names[2])] for s in servers]
    return {
        "hit_rate": hits / queries if queries else float("nan"),
        "ttft_p50_ms": pct(result.ttft, 0.5) * 1000,
        "ttft_p99_ms": pct(result.ttft, 0.99) * 1000,
        "ttft_mean_ms": statistics.fmean(result.ttft) * 1000 if result.ttft else float("nan"),
        "requests": len(result.ttft),
        "errors": result.errors,
        "req_per_s": len(result.ttft) / seconds,
        "gen_tok_per_s": result.tokens / seconds,
        "seconds": seconds,
        "server_a": split[0],
        "server_b": split[1],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--prompts", type=int, default=8)
    parser.add_argument("--system-words", type=int, default=300, help="words per system prompt (≈1 token each)")
    parser.add_argument("--conversations", type=int, default=3, help="conversations per system prompt")
    parser.add_argument("--turns", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--max-tokens", type=int, default=16)
    parser.add_argument("--blocks", type=int, default=64, help="KV-cache blocks of 32 tokens per server (CPU attention: a multiple of 32)")
    opts = parser.parse_args()

    vllm_python = ensure_vllm_env()
    router_python = ensure_router_env(rr.requirements_text())
    tmp = Path(tempfile.mkdtemp(prefix="router-bench-"))
    model = tmp / "tiny-model"
    subprocess.run([str(vllm_python), str(ROOT / "tests/integration/support/tiny_model.py"), str(model)], check=True, capture_output=True)
    env = {"VLLM_SERVER_DEV_MODE": "1"}
    args = ["--model", str(model), *server_args(opts.blocks)]
    print(
        f"vllm-router {rr.ROUTER_VERSION}; 2 × vLLM CPU {MODEL} (prefix caching, {opts.blocks} blocks × 32 tokens); "
        f"{opts.prompts} system prompts of ~{opts.system_words} tokens × {opts.conversations} conversations × {opts.turns} turns "
        f"= {opts.prompts * opts.conversations * opts.turns} requests per policy, concurrency {opts.concurrency}, "
        f"{opts.max_tokens} tokens out; logs in {tmp}",
        flush=True,
    )
    results: dict[str, dict[str, float]] = {}
    with (
        VllmServer(vllm_python, args, env=env, log_path=tmp / "vllm-a.log") as a,
        VllmServer(vllm_python, args, env=env, log_path=tmp / "vllm-b.log") as b,
    ):
        for i, policy in enumerate(("round_robin", "cache_aware")):
            convs = workload(random.Random(7), opts.prompts, opts.conversations, opts.turns, salt=f"run{i}", words=opts.system_words)
            results[policy] = measure([a, b], router_python, policy, convs, opts, tmp)
            print(f"{policy}: {json.dumps({k: round(v, 3) for k, v in results[policy].items()})}", flush=True)
    rr_, ca = results["round_robin"], results["cache_aware"]
    print()
    print(f"{'policy':<12} {'hit rate':>9} {'TTFT p50':>10} {'TTFT p99':>10} {'req/s':>7} {'tok/s':>7} {'split a/b':>10} {'errors':>6}")
    for policy, r in results.items():
        print(
            f"{policy:<12} {r['hit_rate']:>9.3f} {r['ttft_p50_ms']:>8.1f}ms {r['ttft_p99_ms']:>8.1f}ms "
            f"{r['req_per_s']:>7.2f} {r['gen_tok_per_s']:>7.1f} {int(r['server_a']):>4}/{int(r['server_b']):<5} {int(r['errors']):>6}"
        )
    print()
    print(
        f"cache_aware / round_robin: hit rate ×{ca['hit_rate'] / rr_['hit_rate']:.2f} (goal ≥ 1.5), "
        f"TTFT p50 {ca['ttft_p50_ms']:.1f} vs {rr_['ttft_p50_ms']:.1f} ms (goal: lower), "
        f"throughput ×{ca['req_per_s'] / rr_['req_per_s']:.2f}"
    )
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
