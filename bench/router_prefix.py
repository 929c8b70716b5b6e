"""Benchmark: the vLLM router's cache_aware policy against round_robin, on shared-prefix chat traffic.

Two real vLLM CPU servers (the integration tests' tiny offline model, prefix caching on, the KV cache of each
sized explicitly with ``--num-gpu-blocks-override``: ``--blocks`` × 32 tokens) sit behind the real router (the
pinned ``vllm-router`` wheel, run as the cluster pods run it: ``python -c LAUNCHER`` with the flags
``router_render.router_args`` renders — the same cache_aware knobs as the Kubernetes args — the replicas given
as static URLs instead of Kubernetes discovery).

The workload: ``prompts`` distinct shared prefixes (system prompts, agent contexts, documents) of ``words``
words, ``conversations`` conversations on each, ``turns`` turns per conversation, each turn resending the
whole history (as chat clients do; ``--api chat``, the default, as messages to /v1/chat/completions,
``--api completions`` as one prompt). The requests of all conversations are interleaved in a seeded random
order (a conversation's turns stay in order: a turn waits for its previous answer), ``--concurrency`` at a
time. Two regimes (``--workload``):

- ``many-prefixes`` (default): the prefixes together are ~1.5× one replica's KV cache and well under both
  replicas' — a fleet serving more distinct long prefixes than one replica keeps. Under round_robin every
  replica sees every prefix and its LRU cache evicts them in turn; cache_aware is meant to send each prefix to one
  replica, so each replica keeps its half (whether it did is in the router's decision count below). This is where prefix-aware routing pays.
- ``small-prefix-set``: the first version's shape (8 system prompts of ~300 tokens × 3 conversations × 4
  turns); the prefixes together fit in one replica's cache, so round_robin hits them too and only the
  conversations' own history is left for cache_aware to win.
- ``both``: the two, on the same two servers (started once).

Each policy gets its own prompt texts, from empty prefix caches (both servers' caches reset) and a fresh
router, in one run; the second regime runs the policies in the opposite order, so neither always goes first.
The prefixes' total tokens come from the server's /tokenize; the cache size from the flags (and vLLM's log).

Reported per policy: the servers' prefix-cache hit rate over the pass (Δ``vllm:prefix_cache_hits_total`` /
Δ``vllm:prefix_cache_queries_total`` summed over both servers, from their /metrics), time to first token
p50/p99 (client-side, first streamed chunk), requests/s and generated tokens/s, and how the requests split
between the two servers; and the router's own count of its cache_aware decisions
(``vllm_router_prefix_routing_decisions_total`` by outcome: prefix_hit, prefix_miss, load_imbalance,
missing_tokens), which says whether it routed by prefix at all. The issue's goal: hit rate ≥ 1.5×
round_robin's, TTFT p50 lower.

    uv run python bench/router_prefix.py [--workload many-prefixes|small-prefix-set|both] [--blocks 512]

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
BLOCK_SIZE = 32
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
        str(BLOCK_SIZE),
        "--num-gpu-blocks-override",
        str(blocks),
        # The render endpoints (/v1/chat/completions/render, /v1/completions/render) vllm-router 0.1.17's cache_aware
        # asks each replica for the prompt's token ids; without them every decision is missing_tokens (no prefix routing).
        "--enable-scale-out",
    ]


def metric(url: str, name: str) -> float:
    with urllib.request.urlopen(url + "/metrics", timeout=10) as resp:  # noqa: S310 - loopback
        text = resp.read().decode()
    return sum(float(m.group(1)) for m in re.finditer(rf"^{re.escape(name)}(?:{{[^}}]*}})? ([0-9.e+-]+)$", text, re.M))


@dataclass(frozen=True)
class Shape:
    """One regime's workload."""

    prompts: int
    """Distinct shared prefixes."""
    words: int
    """Words per prefix (the tiny model's tokenizer: about one token each; measured with /tokenize)."""
    conversations: int
    """Conversations per prefix."""
    turns: int
    """Turns per conversation."""
    user_words: int
    """Words per user turn."""


SHAPES: dict[str, Shape] = {
    # 34 × ~750 tokens ≈ 25,000 tokens: ~1.5× a 512-block (16,384-token) replica, ~0.75× the two. Each prefix
    # is used 6 times (cold misses cap the hit rate near 5/6 of the prefix tokens), a prompt stays under the
    # tiny model's 1,024 positions, and a few running requests take a small share of the cache (with a cache of
    # ~3 requests, running requests and vLLM's retries of requests that find no free block dominate instead).
    "many-prefixes": Shape(prompts=34, words=740, conversations=2, turns=3, user_words=24),
    # The first version's workload: 8 × ~300 tokens ≈ 2,400 tokens, which one replica holds many times over.
    "small-prefix-set": Shape(prompts=8, words=300, conversations=3, turns=4, user_words=40),
}


@dataclass
class Conversation:
    system: str
    turns: list[str]
    history: list[tuple[str, str]] = field(default_factory=list[tuple[str, str]])
    """(user turn, answer) so far."""
    done: int = 0


@dataclass
class Result:
    ttft: list[float] = field(default_factory=list[float])
    tokens: int = 0
    errors: int = 0


def prefixes(rng: random.Random, shape: Shape, salt: str) -> list[str]:
    return [f"{salt} system {i}: " + " ".join(rng.choice(WORDS) for _ in range(shape.words)) for i in range(shape.prompts)]


def workload(rng: random.Random, shape: Shape, salt: str) -> tuple[list[Conversation], list[Conversation]]:
    """(conversations, schedule): the schedule names a conversation once per turn, in a seeded random order."""
    convs = [
        Conversation(system, [" ".join(rng.choice(WORDS) for _ in range(shape.user_words)) for _ in range(shape.turns)])
        for system in prefixes(rng, shape, salt)
        for _ in range(shape.conversations)
    ]
    schedule = [conv for conv in convs for _ in range(shape.turns)]
    rng.shuffle(schedule)
    return convs, schedule


def request_body(api: str, conv: Conversation, turn: int, max_tokens: int) -> tuple[str, dict[str, object]]:
    """(path, body) of a conversation's next turn: the whole history resent, as chat clients do."""
    common = {"model": MODEL, "max_tokens": max_tokens, "ignore_eos": True, "stream": True, "temperature": 0}
    if api == "chat":
        messages = [{"role": "system", "content": conv.system}]
        for user, answer in conv.history:
            messages += [{"role": "user", "content": user}, {"role": "assistant", "content": answer}]
        messages.append({"role": "user", "content": conv.turns[turn]})
        return "/v1/chat/completions", {**common, "messages": messages}
    history = "".join(f"user: {user}\nassistant:{answer}\n" for user, answer in conv.history)
    return "/v1/completions", {**common, "prompt": f"{conv.system}\n{history}user: {conv.turns[turn]}\nassistant:"}


def stream(url: str, path: str, body: dict[str, object]) -> tuple[float, str]:
    """(time to the first streamed text, the whole text)."""
    req = urllib.request.Request(url + path, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    started = time.monotonic()
    first: float | None = None
    text = []
    with urllib.request.urlopen(req, timeout=300) as resp:  # noqa: S310 - loopback
        for raw in resp:
            line = raw.decode().strip()
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            chunk = json.loads(line[6:])
            choice = chunk["choices"][0] if chunk.get("choices") else {}
            piece = choice.get("text") or (choice.get("delta") or {}).get("content") or ""
            if piece and first is None:
                first = time.monotonic() - started
            text.append(piece)
    return (first if first is not None else time.monotonic() - started), "".join(text)


def run_workload(url: str, api: str, schedule: list[Conversation], concurrency: int, max_tokens: int) -> tuple[Result, float]:
    """`concurrency` workers take the schedule's turns in order; a turn whose previous turn is still being
    answered waits for it (the user reads the answer first), which never deadlocks: the oldest waiting turn's
    predecessor was taken earlier and waits for nothing."""
    pending = [(conv, sum(1 for c in schedule[:i] if c is conv)) for i, conv in enumerate(schedule)]
    lock = threading.Condition()
    result = Result()

    def worker() -> None:
        while True:
            with lock:
                if not pending:
                    return
                conv, turn = pending.pop(0)
                lock.wait_for(lambda c=conv, t=turn: c.done >= t)
            if conv.done > turn:  # an earlier turn of it failed and skipped the rest
                continue
            path, body = request_body(api, conv, turn, max_tokens)
            try:
                ttft, reply = stream(url, path, body)
            except Exception as exc:  # noqa: BLE001 - counted; the other workers must not wait on it forever
                print(f"  request failed: {exc!r}", file=sys.stderr)
                with lock:
                    result.errors += 1
                    conv.done = len(conv.turns) + 1
                    lock.notify_all()
                continue
            with lock:
                conv.history.append((conv.turns[turn], reply))
                conv.done += 1
                result.ttft.append(ttft)
                result.tokens += max_tokens
                lock.notify_all()

    started = time.monotonic()
    with ThreadPoolExecutor(concurrency) as pool:
        for _ in range(concurrency):
            pool.submit(worker)
    return result, time.monotonic() - started


@contextmanager
def router(python: Path, policy: rr.Policy, workers: list[str], log: Path) -> Iterator[tuple[str, str]]:
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
        yield url, f"http://127.0.0.1:{metrics_port}"
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
    servers: list[VllmServer],
    router_python: Path,
    policy: rr.Policy,
    schedule: list[Conversation],
    opts: argparse.Namespace,
    log: Path,
) -> dict[str, float]:
    for s in servers:
        # vLLM's dev endpoint (VLLM_SERVER_DEV_MODE=1): each policy starts from empty prefix caches.
        urllib.request.urlopen(urllib.request.Request(s.url + "/reset_prefix_cache", method="POST"), timeout=30).read()  # noqa: S310
    names = ("vllm:prefix_cache_hits_total", "vllm:prefix_cache_queries_total", "vllm:request_success_total")
    before = {(s.url, n): metric(s.url, n) for s in servers for n in names}
    with router(router_python, policy, [s.url for s in servers], log) as (url, metrics_url):
        result, seconds = run_workload(url, opts.api, schedule, opts.concurrency, opts.max_tokens)
        with urllib.request.urlopen(metrics_url + "/metrics", timeout=10) as resp:  # noqa: S310 - loopback
            router_metrics = resp.read().decode()
    # The router's own account of its cache_aware decisions (prefix_hit, prefix_miss, load_imbalance, missing_tokens).
    decisions = {
        m.group(1): int(float(m.group(2)))
        for m in re.finditer(
            r'^vllm_router_prefix_routing_decisions_total{[^}]*outcome="([^"]+)"[^}]*} ([0-9.e+-]+)$', router_metrics, re.M
        )
    }
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
        **{f"router_{k}": float(v) for k, v in sorted(decisions.items())},
    }


def tokens(url: str, text: str) -> int:
    """The server's own count of `text`'s prompt tokens (vLLM's /tokenize)."""
    body = json.dumps({"model": MODEL, "prompt": text}).encode()
    req = urllib.request.Request(url + "/tokenize", data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310 - loopback
        return int(json.load(resp)["count"])


CACHE_AWARE_KNOBS = ("cache_threshold", "balance_abs_threshold", "balance_rel_threshold", "eviction_interval_secs", "max_tree_size")


def cache_aware_knobs(router_python: Path, args: list[str]) -> dict[str, str]:
    """The cache_aware knobs as the router parses the rendered flags (upstream defaults where none is rendered)."""
    code = (
        "import argparse, json, sys\n"
        "from vllm_router.router_args import RouterArgs\n"
        "p = argparse.ArgumentParser(); RouterArgs.add_cli_args(p, use_router_prefix=False)\n"
        "a = p.parse_args(sys.argv[1:])\n"
        f"print(json.dumps({{k: getattr(a, k) for k in {CACHE_AWARE_KNOBS!r}}}))\n"
    )
    out = subprocess.run([str(router_python), "-c", code, *args], capture_output=True, text=True, check=True, timeout=60)
    return {k: str(v) for k, v in json.loads(out.stdout).items()}


def kv_cache_tokens(log: Path) -> str:
    """vLLM's own statement of the cache it allocated, from its log."""
    found = re.search(r"KV cache size: ([0-9,]+) tokens", log.read_text(errors="replace"))
    return found.group(1) if found else "?"


def report(regime: str, results: dict[str, dict[str, float]]) -> None:
    rr_, ca = results["round_robin"], results["cache_aware"]
    print()
    print(f"[{regime}]")
    print(f"{'policy':<12} {'hit rate':>9} {'TTFT p50':>10} {'TTFT p99':>10} {'req/s':>7} {'tok/s':>7} {'split a/b':>10} {'errors':>6}")
    for policy, r in results.items():
        print(
            f"{policy:<12} {r['hit_rate']:>9.3f} {r['ttft_p50_ms']:>8.1f}ms {r['ttft_p99_ms']:>8.1f}ms "
            f"{r['req_per_s']:>7.2f} {r['gen_tok_per_s']:>7.1f} {int(r['server_a']):>4}/{int(r['server_b']):<5} {int(r['errors']):>6}"
        )
    routed = {k.removeprefix("router_"): int(v) for k, v in ca.items() if k.startswith("router_")}
    print(f"[{regime}] cache_aware's decisions by the router's own count: {json.dumps(routed)}")
    print(
        f"[{regime}] cache_aware / round_robin: hit rate ×{ca['hit_rate'] / rr_['hit_rate']:.2f} (goal ≥ 1.5), "
        f"TTFT p50 {ca['ttft_p50_ms']:.1f} vs {rr_['ttft_p50_ms']:.1f} ms (goal: lower), "
        f"throughput ×{ca['req_per_s'] / rr_['req_per_s']:.2f}",
        flush=True,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--workload", choices=(*SHAPES, "both"), default="many-prefixes")
    parser.add_argument(
        "--api", choices=("chat", "completions"), default="chat", help="/v1/chat/completions (messages) or /v1/completions (one prompt)"
    )
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--max-tokens", type=int, default=16)
    parser.add_argument("--blocks", type=int, default=512, help="KV-cache blocks of 32 tokens per server (CPU attention: a multiple of 32)")
    parser.add_argument("--seed", type=int, default=7)
    opts = parser.parse_args()
    regimes = list(SHAPES) if opts.workload == "both" else [opts.workload]

    vllm_python = ensure_vllm_env()
    router_python = ensure_router_env(rr.requirements_text())
    tmp = Path(tempfile.mkdtemp(prefix="router-bench-"))
    model = tmp / "tiny-model"
    subprocess.run([str(vllm_python), str(ROOT / "tests/integration/support/tiny_model.py"), str(model)], check=True, capture_output=True)
    env = {"VLLM_SERVER_DEV_MODE": "1"}
    args = ["--model", str(model), *server_args(opts.blocks)]
    cache = opts.blocks * BLOCK_SIZE
    rendered = rr.router_args(rr.RouterOptions(policy="cache_aware"), rr.StaticWorkers(("http://127.0.0.1:1",)))
    print(
        f"vllm-router {rr.ROUTER_VERSION}, cache_aware knobs as rendered for Kubernetes: "
        f"{json.dumps(cache_aware_knobs(router_python, rendered))}; "
        f"2 × vLLM CPU {MODEL} (prefix caching, {opts.blocks} blocks × {BLOCK_SIZE} = {cache} tokens of KV cache each); "
        f"{opts.api} API, concurrency {opts.concurrency}, {opts.max_tokens} tokens out; logs in {tmp}",
        flush=True,
    )
    with (
        VllmServer(vllm_python, args, env=env, log_path=tmp / "vllm-a.log") as a,
        VllmServer(vllm_python, args, env=env, log_path=tmp / "vllm-b.log") as b,
    ):
        print(f"vLLM says: KV cache {kv_cache_tokens(a.log_path)} / {kv_cache_tokens(b.log_path)} tokens", flush=True)
        for n, regime in enumerate(regimes):
            shape = SHAPES[regime]
            total = sum(tokens(a.url, text) for text in prefixes(random.Random(opts.seed), shape, salt="run0"))
            requests = shape.prompts * shape.conversations * shape.turns
            print(
                f"\n[{regime}] {shape.prompts} prefixes, {total} tokens together (×{total / cache:.2f} one replica's cache, "
                f"×{total / (2 * cache):.2f} both); {shape.conversations} conversations × {shape.turns} turns each "
                f"(user turns of {shape.user_words} words), interleaved at random: {requests} requests per policy",
                flush=True,
            )
            results: dict[str, dict[str, float]] = {}
            policies: tuple[rr.Policy, ...] = ("round_robin", "cache_aware") if n % 2 == 0 else ("cache_aware", "round_robin")
            for i, policy in enumerate(policies):
                _, schedule = workload(random.Random(opts.seed), shape, salt=f"run{n}{i}")
                results[policy] = measure([a, b], router_python, policy, schedule, opts, tmp / f"router-{regime}-{policy}.log")
                print(f"{policy}: {json.dumps({k: round(v, 3) for k, v in results[policy].items()})}", flush=True)
            report(regime, {p: results[p] for p in ("round_robin", "cache_aware")})
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
