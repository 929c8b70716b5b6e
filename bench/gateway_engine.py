"""Benchmark: what each gateway engine costs per core — direct, LiteLLM (as deployed) and the front, side by side.

Issue 15's goal, per engine core: added TTFT p50 <= 5 ms at 1 stream and >= 0.9x direct throughput at
64 streams of 50 tokens/s. Two backends, in one run:

- a fast fake streaming backend (this file, ``--serve-fake``: stdlib asyncio, OpenAI SSE, 64 chunks 20 ms
  apart = 50 tokens/s) — it isolates the engine;
- the real vLLM CPU server with the tiny offline model, started as ``bench/gateway_overhead.py`` does.

Engines, each reached over 127.0.0.1 by the same asyncio client (stdlib, one keep-alive connection per
stream): ``direct`` (the backend itself), ``litellm`` (the LiteLLM proxy from its pinned venv with the
config ``pulumi_llm.gateway.config`` renders for the route) and ``front`` (``gateway/front_server.py``
with the config ``engine.front_config`` builds, a consumer granted the model, edge identity), when the
front exists in this tree.

Pinning (2+ CPUs): each engine on CPU 1, the backends and this client on CPU 0 — an engine gets one core
to itself, as "per engine core" asks. Three repetitions, interleaved (each level runs direct and every engine,
in an order that rotates per repetition), so machine noise hits all alike; reported as min / median over the
repetitions. CPU per request and per chunk: the engine's process group's utime+stime (/proc/<pid>/stat)
over the 16- and 64-stream levels together and over a calibration level of one-chunk answers, solved
for ``cpu = a * requests + b * chunks`` (the clock ticks at 10 ms, so each window holds many requests).

    uv run python bench/gateway_engine.py [--reps 3] [--backends fake,vllm] [--engines litellm,front]
                                         [--quick]   # fewer requests: ~half the time

Prints, asserts nothing. Everything runs on 127.0.0.1 and is stopped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pulumi_llm.gateway.config import GatewaySpec

ROOT = Path(__file__).resolve().parents[1]
INTEGRATION = ROOT / "tests" / "integration"
sys.path.insert(0, str(INTEGRATION))

GOAL_TTFT_MS = 5.0  # added TTFT p50 at 1 stream, per engine core (issue 15)
GOAL_RATIO = 0.9  # throughput vs direct at 64 streams
FAKE_CHUNKS = 64
FAKE_INTERVAL = 0.020  # 50 tokens/s per stream
CALIBRATION_TOKENS = 1  # one-chunk answers: the request cost without the chunk cost
BACKEND_KEY = "bench-backend-key"  # created here, loopback only
MASTER_KEY = "sk-bench-master"
EDGE_KEY = "sk-bench-edge"
CONSUMER = "bench"
TICK = os.sysconf("SC_CLK_TCK")


# --- the fake backend (runs in its own process: ``--serve-fake PORT``) -----------------------------


async def _fake_handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, chunks: int, interval: float) -> None:
    try:
        while True:
            request_line = await reader.readline()
            if not request_line:
                return
            method, path = request_line.decode("latin-1").split(" ")[:2]
            headers: dict[str, str] = {}
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b"\n", b""):
                    break
                name, _, value = line.decode("latin-1").partition(":")
                headers[name.strip().lower()] = value.strip()
            raw = await reader.readexactly(int(headers.get("content-length") or 0))
            if headers.get("authorization") != f"Bearer {BACKEND_KEY}" and path != "/health":
                _fake_json(writer, 401, {"error": {"message": "bad key", "type": "invalid_request_error"}})
            elif method == "GET":
                models = {"object": "list", "data": [{"id": "fake", "object": "model", "created": 0, "owned_by": "bench"}]}
                _fake_json(writer, 200, models if path.startswith("/v1/models") else {"status": "ok"})
            else:
                body = json.loads(raw or b"{}")
                n = int(body.get("max_tokens") or body.get("max_completion_tokens") or chunks)
                if body.get("stream"):
                    await _fake_stream(
                        writer, str(body.get("model")), n, interval, bool((body.get("stream_options") or {}).get("include_usage"))
                    )
                else:
                    message = {"role": "assistant", "content": " ".join(["tok"] * n)}
                    _fake_json(
                        writer,
                        200,
                        {
                            "id": "fake",
                            "object": "chat.completion",
                            "created": 0,
                            "model": body.get("model"),
                            "choices": [{"index": 0, "message": message, "finish_reason": "length"}],
                            "usage": {"prompt_tokens": 5, "completion_tokens": n, "total_tokens": 5 + n},
                        },
                    )
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError, ValueError):
        pass
    finally:
        writer.close()


def _fake_json(writer: asyncio.StreamWriter, status: int, payload: object) -> None:
    data = json.dumps(payload).encode()
    head = f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n"
    writer.write(head.encode() + data)


async def _fake_stream(writer: asyncio.StreamWriter, model: str, n: int, interval: float, usage: bool) -> None:
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n\r\n")
    started = time.monotonic()
    for i in range(n):
        if i:
            await asyncio.sleep(max(0.0, started + i * interval - time.monotonic()))  # on schedule: 1/interval per s
        delta = {"role": "assistant", "content": "tok"} if i == 0 else {"content": " tok"}
        event = {
            "id": "chatcmpl-fake",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": "length" if i == n - 1 else None}],
        }
        data = b"data: " + json.dumps(event).encode() + b"\n\n"
        writer.write(b"%X\r\n%s\r\n" % (len(data), data))
        await writer.drain()
    if usage:
        event = {
            "id": "chatcmpl-fake",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": model,
            "choices": [],
            "usage": {"prompt_tokens": 5, "completion_tokens": n, "total_tokens": 5 + n},
        }
        data = b"data: " + json.dumps(event).encode() + b"\n\n"
        writer.write(b"%X\r\n%s\r\n" % (len(data), data))
    done = b"data: [DONE]\n\n"
    writer.write(b"%X\r\n%s\r\n0\r\n\r\n" % (len(done), done))


def serve_fake(port: int, chunks: int, interval: float) -> None:
    async def main() -> None:
        server = await asyncio.start_server(lambda r, w: _fake_handle(r, w, chunks, interval), "127.0.0.1", port, backlog=1024)
        async with server:
            await server.serve_forever()

    asyncio.run(main())


# --- the client -----------------------------------------------------------------------------------


@dataclass
class Sample:
    ok: bool
    ttft: float
    total: float
    chunks: int


@dataclass
class Target:
    """One engine in front of one backend, as the client reaches it."""

    name: str
    port: int
    model: str
    headers: Mapping[str, str]
    pgid: int | None  # the engine's process group, for CPU accounting (None: direct)


class Conn:
    """One keep-alive HTTP/1.1 connection; reopened after an error or a ``Connection: close``."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self.reader is None or self.writer is None or self.writer.is_closing():
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port, limit=1 << 20)
        return self.reader, self.writer

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def stream_once(conn: Conn, target: Target, max_tokens: int) -> Sample:
    body = json.dumps(
        {
            "model": target.model,
            "messages": [{"role": "user", "content": "benchmark the gateway engine"}],
            "stream": True,
            "max_tokens": max_tokens,
            "temperature": 0,
            "ignore_eos": True,
        }
    ).encode()
    head = "".join(f"{k}: {v}\r\n" for k, v in target.headers.items())
    request = (
        f"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:{target.port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n{head}\r\n"
    ).encode() + body
    started = time.monotonic()
    ttft: float | None = None
    chunks = 0
    try:
        reader, writer = await conn.open()
        writer.write(request)
        status = int((await reader.readline()).split(b" ")[1])
        headers: dict[bytes, bytes] = {}
        while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip().lower()
        pending = b""
        async for data in _body(reader, headers):
            pending += data
            *events, pending = pending.split(b"\n\n")
            for event in events:
                for line in event.split(b"\n"):
                    if not line.startswith(b"data: ") or line == b"data: [DONE]":
                        continue
                    choices = json.loads(line[6:]).get("choices") or ()
                    if choices and (choices[0].get("delta") or {}).get("content"):
                        chunks += 1
                        if ttft is None:
                            ttft = time.monotonic() - started
        if (
            headers.get(b"connection") == b"close"
            or b"content-length" not in headers
            and b"chunked" not in headers.get(b"transfer-encoding", b"")
        ):
            conn.close()
        total = time.monotonic() - started
        return Sample(status == 200 and ttft is not None, ttft or total, total, chunks)
    except (OSError, ValueError, IndexError, asyncio.IncompleteReadError):
        conn.close()
        return Sample(False, 0.0, time.monotonic() - started, 0)


async def _body(reader: asyncio.StreamReader, headers: Mapping[bytes, bytes]):  # noqa: ANN202 - async generator of bytes
    if b"chunked" in headers.get(b"transfer-encoding", b""):
        while True:
            size = int((await reader.readline()).split(b";")[0], 16)
            if size == 0:
                while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                    pass
                return
            data = await reader.readexactly(size + 2)
            yield data[:-2]
    elif b"content-length" in headers:
        yield await reader.readexactly(int(headers[b"content-length"]))
    else:
        while data := await reader.read(65536):
            yield data


@dataclass
class Run:
    samples: list[Sample]
    wall: float
    cpu: float | None  # engine CPU seconds over the run (None: direct)

    @property
    def ok(self) -> list[Sample]:
        return [s for s in self.samples if s.ok]

    @property
    def failed(self) -> int:
        return len(self.samples) - len(self.ok)

    def ttft_p50(self) -> float:
        values = [s.ttft for s in self.ok]
        return statistics.median(values) if values else float("nan")

    @property
    def chunks(self) -> int:
        return sum(s.chunks for s in self.ok)

    @property
    def tps(self) -> float:
        return self.chunks / self.wall


def cpu_seconds(pgid: int) -> float:
    """utime+stime of every live process in a process group (all threads included), in seconds."""
    ticks = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) == pgid:
                ticks += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15 of stat)
        except (OSError, ValueError, IndexError):
            continue  # gone meanwhile
    return ticks / TICK


async def run_level(target: Target, streams: int, per_stream: int, max_tokens: int) -> Run:
    conns = [Conn(target.port) for _ in range(streams)]

    async def worker(conn: Conn) -> list[Sample]:
        return [await stream_once(conn, target, max_tokens) for _ in range(per_stream)]

    cpu0 = cpu_seconds(target.pgid) if target.pgid else None
    started = time.monotonic()
    batches = await asyncio.gather(*(worker(c) for c in conns))
    wall = time.monotonic() - started
    cpu = cpu_seconds(target.pgid) - cpu0 if target.pgid and cpu0 is not None else None
    for c in conns:
        c.close()
    return Run([s for b in batches for s in b], wall, cpu)


# --- processes ------------------------------------------------------------------------------------


@contextlib.contextmanager
def affinity(cpus: set[int] | None) -> Iterator[None]:
    """Children started inside inherit ``cpus`` (the client's own affinity is restored after)."""
    if not cpus:
        yield
        return
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, cpus)
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def pin_group(pgid: int, cpus: set[int]) -> None:
    """Every thread of every process in a process group onto ``cpus`` (threads started before the pin)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[2]) != pgid:
                continue
            for task in (entry / "task").iterdir():
                os.sched_setaffinity(int(task.name), cpus)
        except (OSError, ValueError, IndexError):
            continue


@contextlib.contextmanager
def process_group(
    command: Sequence[str],
    env: Mapping[str, str],
    log: Path,
    ready_url: str,
    headers: Mapping[str, str] | None = None,
    timeout: float = 180,
) -> Iterator[subprocess.Popen[bytes]]:
    """A server in its own process group, up once ``ready_url`` answers 200; killed (group) on exit."""
    import urllib.request

    with open(log, "ab") as out:
        proc = subprocess.Popen(
            list(command), stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=dict(env), start_new_session=True
        )
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{command[0]} exited {proc.returncode}; log {log}:\n{log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(urllib.request.Request(ready_url, headers=dict(headers or {})), timeout=2) as resp:  # noqa: S310 - loopback
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{command[0]} not ready after {timeout:.0f} s; log {log}")
            time.sleep(0.2)
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return "unknown CPU"


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass(frozen=True)
class Backend:
    name: str  # "fake" | "vllm"
    url: str  # origin
    group: str  # the model group clients ask for
    served: str  # the model name the backend serves


def self_hosted_spec(backends: Sequence[Backend], provider: str = "self-hosted") -> GatewaySpec:
    """One model group per backend, its one route the backend (a self-hosted server, key in BENCH_BACKEND_KEY)."""
    from pulumi_llm.gateway.config import GatewaySpec, ModelGroup, ProviderRoute

    return GatewaySpec(
        model_groups=tuple(
            ModelGroup(
                b.group,
                (ProviderRoute(b.name, provider, b.served, api_base=b.url + "/v1", secret_env="BENCH_BACKEND_KEY", timeout_seconds=300),),
            )
            for b in backends
        )
    )


def litellm_config(backends: Sequence[Backend]) -> tuple[dict[str, object], dict[str, str]]:
    """LiteLLM as the engine was deployed before the front: the config ``render_litellm_config`` gives one
    ``hosted_vllm/`` deployment per backend; client model name per backend group.

    Now that the front streams self-hosted routes itself, the renderer leaves them out (the loopback
    LiteLLM serves providers only); the bench then renders the route as an OpenAI-compatible provider and
    puts LiteLLM's self-hosted prefix back — the same deployment entry as before, from the same renderer."""
    from pulumi_llm.gateway.config import render_litellm_config

    config = render_litellm_config(self_hosted_spec(backends))
    if not config.get("model_list"):
        # The provider rendering of the same route, with LiteLLM's self-hosted prefix put back: the
        # deployment the engine ran for a self-hosted route before the front took those over.
        config = render_litellm_config(self_hosted_spec(backends, "openai"))
        for entry in config["model_list"]:  # type: ignore[union-attr]
            params = entry["litellm_params"]  # type: ignore[index]
            params["model"] = "hosted_vllm/" + str(params["model"]).split("/", 1)[1]  # type: ignore[index]
    names: dict[str, str] = {}
    for entry in config["model_list"]:  # type: ignore[union-attr]
        group = str(entry["model_info"]["id"]).split("/")[0]  # type: ignore[index]
        names[group] = str(entry["model_name"])  # type: ignore[index]
    return config, names


# --- the front ---------------------------------------------------------------------------------------


def front_available() -> bool:
    return (ROOT / "components" / "pulumi_llm" / "gateway" / "front_server.py").is_file()


@contextlib.contextmanager
def start_front(backends: Sequence[Backend], work: Path, python: Path, cpus: set[int] | None) -> Iterator[tuple[int, int, dict[str, str]]]:
    """The front as deployed: the container's command (``engine.boot()``, which writes the shipped package
    and runs it) with the config ``engine.front_config`` renders — edge identity, one self-hosted route
    per backend, one consumer granted every group with request and token limits (so the limiter runs,
    never binding) — on the LiteLLM venv's python (aiohttp and uvloop, as in the engine image). No
    provider route, so no LiteLLM behind it. Yields (port, pgid, client model name per group)."""
    from pulumi_llm.gateway import engine
    from pulumi_llm.gateway import front_contract as fc
    from pulumi_llm.gateway.grants import Grant

    port = free_port()
    big = 1_000_000_000
    grant = Grant(CONSUMER, tuple(b.group for b in backends), 4096, big, big, big, big)
    config = engine.front_config(
        self_hosted_spec(backends), identity=fc.IDENTITY_EDGE, stack="bench", grants={CONSUMER: grant}, host="127.0.0.1", port=port
    )
    env = {
        **os.environ,
        engine.BOOT_DIR_ENV: str(work),
        engine.FRONT_CONFIG_ENV: engine.encode_front_config(config),
        engine.EDGE_KEY_ENV: EDGE_KEY,
        "BENCH_BACKEND_KEY": BACKEND_KEY,
        "PYTHONUNBUFFERED": "1",
    }
    env.pop(engine.CONFIG_ENV, None)
    headers = {"Authorization": f"Bearer {EDGE_KEY}", fc.CONSUMER_HEADER: CONSUMER}
    command = [str(python), "-c", engine.boot()]
    with affinity(cpus), process_group(command, env, work / "front.log", f"http://127.0.0.1:{port}/v1/models", headers) as proc:
        if cpus:
            pin_group(proc.pid, cpus)
        yield port, proc.pid, {b.group: b.group for b in backends}


# --- report ---------------------------------------------------------------------------------------


@dataclass
class Cell:
    """One engine x backend: per repetition, per level."""

    added_ttft: dict[int, list[float]] = field(default_factory=dict)  # level -> [ms per rep]
    ratio64: list[float] = field(default_factory=list)
    cpu_request: list[float] = field(default_factory=list)  # ms
    cpu_chunk: list[float] = field(default_factory=list)  # µs
    failed: int = 0


def solve_cpu(long: Sequence[Run], short: Run) -> tuple[float, float] | None:
    """(seconds per request, seconds per chunk) from cpu = a * requests + b * chunks: the ``long`` runs
    (long answers, summed) against the ``short`` one (one-chunk answers)."""
    if short.cpu is None or any(run.cpu is None for run in long):
        return None
    r1, c1, t1 = sum(len(run.ok) for run in long), sum(run.chunks for run in long), sum(run.cpu or 0.0 for run in long)
    r2, c2, t2 = len(short.ok), short.chunks, short.cpu
    det = r1 * c2 - r2 * c1
    if not det:
        return None
    return (t1 * c2 - t2 * c1) / det, (r1 * t2 - r2 * t1) / det


def span(values: Sequence[float], fmt: str) -> str:
    if not values:
        return "—"
    lo, mid = min(values), statistics.median(values)
    return f"{lo:{fmt}}" if len(values) == 1 else f"{lo:{fmt}}/{mid:{fmt}}"


def table(backend: str, cells: Mapping[str, Cell], levels: Sequence[int]) -> list[str]:
    out = [
        f"\n### backend: {backend} (min/median over repetitions)\n",
        f"| engine | added TTFT p50 ms, {' / '.join(map(str, levels))} streams | throughput vs direct at 64 | CPU per request / per chunk "
        f"| TTFT <= {GOAL_TTFT_MS:g} ms at 1 | >= {GOAL_RATIO}x at 64 | failed |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, cell in cells.items():
        ttft = " / ".join(span(cell.added_ttft.get(level, []), ".1f") for level in levels)
        one = cell.added_ttft.get(1, [])
        ttft_ok = "—" if not one else ("PASS" if statistics.median(one) <= GOAL_TTFT_MS else "MISS")
        ratio_ok = "—" if not cell.ratio64 else ("PASS" if statistics.median(cell.ratio64) >= GOAL_RATIO else "MISS")
        cpu = f"{span(cell.cpu_request, '.2f')} ms / {span(cell.cpu_chunk, '.0f')} µs" if cell.cpu_request else "—"
        out.append(f"| {name} | {ttft} | {span(cell.ratio64, '.2f')}x | {cpu} | {ttft_ok} | {ratio_ok} | {cell.failed} |")
    return out


# --- main -----------------------------------------------------------------------------------------


async def measure(
    backend: Backend,
    targets: Sequence[Target],
    levels: Sequence[int],
    per_stream: Mapping[int, int],
    reps: int,
    max_tokens: int,
    calibration: tuple[int, int],
) -> dict[str, Cell]:
    cells = {t.name: Cell() for t in targets if t.pgid}
    for target in targets:  # warm every path (connection pools, JIT-less caches, first-request imports)
        await run_level(target, 4, 2, 4)
    for rep in range(reps):
        order = list(targets[rep % len(targets) :]) + list(targets[: rep % len(targets)])  # direct too: no one always first
        engines = [t for t in order if t.pgid]
        runs: dict[str, dict[int, Run]] = {t.name: {} for t in targets}
        for level in levels:
            for target in order:
                run = await run_level(target, level, per_stream[level], max_tokens)
                runs[target.name][level] = run
                print(
                    f"  rep {rep + 1} {backend.name:<5} {target.name:<8} {level:>3} streams: TTFT p50 {run.ttft_p50() * 1000:7.1f} ms, "
                    f"{run.tps:7.0f} chunks/s, {len(run.ok)}/{len(run.samples)} ok"
                    + (f", engine CPU {run.cpu:.2f} s" if run.cpu is not None else ""),
                    flush=True,
                )
        shorts = {t.name: await run_level(t, calibration[0], calibration[1], CALIBRATION_TOKENS) for t in engines}
        direct = runs[targets[0].name]
        for target in engines:
            cell, mine = cells[target.name], runs[target.name]
            for level in levels:
                cell.added_ttft.setdefault(level, []).append((mine[level].ttft_p50() - direct[level].ttft_p50()) * 1000)
                cell.failed += mine[level].failed
            top = max(levels)
            cell.ratio64.append(mine[top].tps / direct[top].tps)
            solved = solve_cpu([mine[level] for level in levels if level >= 16], shorts[target.name])
            if solved:
                cell.cpu_request.append(solved[0] * 1000)
                cell.cpu_chunk.append(solved[1] * 1e6)
    return cells


def main() -> int:  # noqa: C901, PLR0915 - one linear script
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--serve-fake", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--backends", default="fake,vllm")
    parser.add_argument("--engines", default="litellm,front", help="besides direct (front: only once front_server.py exists)")
    parser.add_argument("--levels", default="1,16,64")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="fewer requests per level (about half the time)")
    parser.add_argument("--max-tokens", type=int, default=FAKE_CHUNKS, help="tokens per answer (fake: chunks), default 64")
    parser.add_argument(
        "--pin",
        action=argparse.BooleanOptionalAction,
        default=(os.cpu_count() or 1) >= 2,
        help="engines on CPU 1, backends and client on CPU 0 (default: on with 2+ CPUs)",
    )
    args = parser.parse_args()
    if args.serve_fake is not None:
        serve_fake(args.serve_fake, FAKE_CHUNKS, FAKE_INTERVAL)
        return 0

    from pulumi_llm.gateway.config import ENGINE_ENVIRONMENT, to_yaml
    from support.litellm_env import LitellmProxy, ensure_litellm_env
    from support.vllm_env import ensure_vllm_env
    from support.vllm_server import VllmServer

    levels = [int(x) for x in args.levels.split(",")]
    backends_wanted = args.backends.split(",")
    engines_wanted = args.engines.split(",")
    if "front" in engines_wanted and not front_available():
        print("front: gateway/front_server.py not in this tree yet — direct and LiteLLM only", flush=True)
        engines_wanted.remove("front")
    per_stream_fake = {1: 4 if args.quick else 8, 16: 1 if args.quick else 2, 64: 1 if args.quick else 2}
    per_stream_vllm = {1: 3 if args.quick else 6, 16: 1 if args.quick else 3, 64: 1 if args.quick else 3}
    engine_cpus = {1} if args.pin else None
    backend_cpus = {0} if args.pin else None
    litellm_python = ensure_litellm_env()

    with contextlib.ExitStack() as stack, tempfile.TemporaryDirectory(prefix="gateway-engine-bench-") as tmp:
        work = Path(tmp)
        if backend_cpus:
            os.sched_setaffinity(0, backend_cpus)  # the client (this process) and every backend on CPU 0
        backends: list[Backend] = []
        vllm_pgid: int | None = None
        if "vllm" in backends_wanted:
            vllm_python = ensure_vllm_env()
            model = work / "tiny"
            subprocess.run(
                [str(vllm_python), str(INTEGRATION / "support" / "tiny_model.py"), str(model)],
                check=True,
                capture_output=True,
                timeout=600,
                env={**os.environ, "HF_HUB_OFFLINE": "1"},
            )
            vllm_env = {"VLLM_API_KEY": BACKEND_KEY, **({"VLLM_CPU_OMP_THREADS_BIND": "0"} if args.pin else {})}
            vllm = stack.enter_context(
                VllmServer(
                    vllm_python,
                    ["--model", str(model), "--served-model-name", "tiny", "--dtype", "float32", "--max-model-len", "256"],
                    env=vllm_env,
                    log_path=work / "vllm.log",
                )
            )
            assert vllm.proc is not None
            vllm_pgid = vllm.proc.pid
            if backend_cpus:
                pin_group(vllm_pgid, backend_cpus)
            backends.append(Backend("vllm", vllm.url, "tiny", "tiny"))
        if "fake" in backends_wanted:
            port = free_port()
            stack.enter_context(
                process_group(
                    [sys.executable, __file__, "--serve-fake", str(port)], os.environ, work / "fake.log", f"http://127.0.0.1:{port}/health"
                )
            )
            backends.insert(0, Backend("fake", f"http://127.0.0.1:{port}", "fake", "fake"))

        engines: dict[str, tuple[int, int, dict[str, str], dict[str, str]]] = {}  # name -> port, pgid, models, headers
        if "litellm" in engines_wanted:
            config, names = litellm_config(backends)
            (work / "litellm.yaml").write_text(to_yaml(config))
            first = config["model_list"][0]["litellm_params"]["model"]  # type: ignore[index]
            print(f"LiteLLM config: rendered by pulumi_llm.gateway.config, deployments {str(first).split('/')[0]}/…", flush=True)
            env = {**ENGINE_ENVIRONMENT, "LITELLM_MASTER_KEY": MASTER_KEY, "BENCH_BACKEND_KEY": BACKEND_KEY}
            with affinity(engine_cpus):
                proxy = stack.enter_context(LitellmProxy(litellm_python, work / "litellm.yaml", env=env, log_path=work / "litellm.log"))
            assert proxy.proc is not None
            if engine_cpus:
                pin_group(proxy.proc.pid, engine_cpus)
            engines["litellm"] = (proxy.port, proxy.proc.pid, names, {"Authorization": f"Bearer {MASTER_KEY}"})
        if "front" in engines_wanted:
            port, pgid, names = stack.enter_context(start_front(backends, work, litellm_python, engine_cpus))
            engines["front"] = (port, pgid, names, {"Authorization": f"Bearer {EDGE_KEY}", "x-pulumi-llm-consumer": CONSUMER})

        print(
            f"{cpu_model()}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at start; "
            + ("engines on CPU 1, backends and client on CPU 0" if args.pin else "unpinned")
            + f"; {args.reps} repetitions; levels {levels}; fake backend {FAKE_CHUNKS} chunks {FAKE_INTERVAL * 1000:.0f} ms apart",
            flush=True,
        )
        results: dict[str, dict[str, Cell]] = {}
        for backend in backends:
            targets = [
                Target("direct", int(backend.url.rsplit(":", 1)[1]), backend.served, {"Authorization": f"Bearer {BACKEND_KEY}"}, None)
            ]
            for name, (port, pgid, names, headers) in engines.items():
                targets.append(Target(name, port, names[backend.group], headers, pgid))
            per_stream = per_stream_fake if backend.name == "fake" else per_stream_vllm
            max_tokens = args.max_tokens if backend.name == "fake" else min(args.max_tokens, 32)
            calibration = (16, 16 if args.quick else 32) if backend.name == "fake" else (16, 4)
            if vllm_pgid and backend.name == "fake":
                pass  # vLLM idles on CPU 0 meanwhile (its CPU is low when no request runs)
            results[backend.name] = asyncio.run(measure(backend, targets, levels, per_stream, args.reps, max_tokens, calibration))
        print(f"\nload average {os.getloadavg()[0]:.2f} at end (above the bench's own ~2, it is other work sharing the CPUs: noise)")
        for backend, cells in results.items():
            print("\n".join(table(backend, cells, levels)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
