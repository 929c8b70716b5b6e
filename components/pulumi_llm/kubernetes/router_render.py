"""Pure renderers for the vLLM project's router in front of one model's replicas (camelCase dicts).

The router (`vllm-router`, vllm-project/router) receives every request for a model and picks the replica:
`cache_aware` sends a request to the replica whose prefix tree already holds the longest part of its prompt
(so the replica's prefix cache is hit) unless the load is too uneven; `power_of_two` picks the less loaded of
two random replicas; `round_robin` rotates. It finds the replicas by watching the model's pods (its Kubernetes
service discovery), so autoscaled replicas join and leave without a restart.

Upstream facts used here, from vllm-project/router at v0.1.17 (the wheel pinned below):
- flags: py_src/vllm_router/router_args.py (`vllm-router --help` of the wheel): `--policy`, `--service-discovery`,
  `--selector k=v ...`, `--service-discovery-namespace`, `--service-discovery-port`, `--prometheus-host/-port`
  (metrics default 127.0.0.1:29000, so it must be bound to the pod's address), `--health-check-*`,
  `--request-timeout-secs` (default 1800), `--max-tree-size` (per worker, in tree units: `TREE_UNITS_PER_TOKEN`);
- discovery: src/service_discovery.rs watches pods (list + watch) in the namespace, adds a pod only when it
  is Running with condition Ready, at `http://<pod IP>:<port>`, and removes it when it is deleted;
- endpoints: src/server.rs `/liveness` (200 while the process serves), `/readiness` (503 while no worker is
  healthy), and unauthenticated worker-management routes (`/add_worker`, `/remove_worker`, `/workers`) on the
  same port — which is why only the gateway/ingress may reach the router and the Ingress forwards `/v1/` only;
- metrics: src/metrics.rs, `vllm_router_*` (requests, errors, durations, active workers, cache hits/misses);
- shutdown: on SIGTERM it drains with no time limit of its own (`SHUTDOWN`, measured with the wheel's binary), so
  a router pod's grace and a GPU VM's `docker stop --time` are what bound it (`decide_router_drain`).

The image: the project publishes `docker.io/vllm/vllm-router:v0.1.17`, but no digest of that tag could be found
in two public places (pins.py's rule), so the pods run the pinned Python base image (`pins.PYTHON_SLIM`) and an
init container installs exactly the pinned wheel with `pip --require-hashes --no-deps` into an emptyDir. The
trade-off: each router pod downloads ~24 MB from PyPI (or `index_url`'s mirror) when it starts, so its
NetworkPolicy lets HTTPS out; the wheel's hash is checked, so what runs is what was pinned. The Rust router
needs none of the wheel's Python requirements (they serve its debugging MiniLB and `setproctitle` in
`launch_router.py`), so `LAUNCHER` starts the Rust router through `vllm_router.router` alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from ..as_given import as_given
from ..naming import dns_label
from .resilience import INGRESS_STREAM_SECONDS, Drain, decide_drain

ROUTER_VERSION = "0.1.17"
"""vllm-router on PyPI; latest release on 2026-12-07 (`pip index versions vllm-router`)."""
ROUTER_WHEELS: Mapping[str, str] = {
    "vllm_router-0.1.17-cp38-abi3-manylinux_2_28_x86_64.whl": "85c96bea4d573a49b5a8ae4c72ee3dfe733aba26b6f1ff1256e6142f1f42694d",
    "vllm_router-0.1.17-cp38-abi3-manylinux_2_28_aarch64.whl": "1ec4d5ce14c19431cc84e36238507dff89020ab024d99f042f091f5e9f2c895a",
}
"""sha256 of each wheel of the release (`pip download --no-deps vllm-router==0.1.17`, x86_64 and aarch64),
checked 2026-12-07; pip refuses any file whose hash is not listed."""

Policy = Literal["cache_aware", "power_of_two", "round_robin"]
POLICIES: tuple[Policy, ...] = ("cache_aware", "power_of_two", "round_robin")
"""The policies offered (router_args.py also has random, kv_aware, consistent_hash, sticky_least_loaded:
kv_aware needs vLLM's KV events over ZMQ, the others don't use the prefix cache)."""

TOKENIZE_ROUTES = ("/v1/chat/completions/render", "/v1/completions/render")
"""Where `cache_aware` gets a prompt's token ids: it asks a replica's vLLM, whose routes answer only when vLLM runs
with `--enable-scale-out` — which the stack adds to every vLLM model behind a cache_aware router (runtimes/vllm.py
`decide_scale_out`, with vLLM's side of the fact). Refused (vLLM 0.32 answers 403), the router counts every decision
`missing_tokens` (vllm_router_prefix_routing_decisions_total) and routes on load alone. Found with the pinned wheel
(no source of the 0.1.17 tag was at hand): its debug log `Prefix input preparation unavailable …
reason="preparation_rejected"` (src/backend/preprocess.rs:486) and the strings `/v1/chat/completions/render`,
`/v1/completions/render`, `preparation_rejected`, `missing_tokens`, `prefix_hit` in `vllm_router_rs.abi3.so`.
`VLLM_ROUTER_TOKENIZER`/`VLLM_ROUTER_MODEL` (the router's own tokenizer, for gRPC workers) did not help. Proved by
tests/integration/test_vllm_router.py (prefix_hit) and bench/router_prefix.py (bench/README.md)."""

TREE_UNITS_PER_TOKEN = 8
"""What one prompt token costs in the cache-aware tree's size (`--max-tree-size` counts these per replica), when the
router routes on token ids from the render routes (as it does behind `--enable-scale-out`). Measured with the
pinned wheel in front of a vLLM CPU 0.32.0 server (the integration test's tiny model) at `--log-level debug` with
`--eviction-interval-secs 1`: after one completion of 82, 200 and 158 prompt tokens (the render route's
`token_ids`; 480, 200 and 200 characters), src/tree.rs:734 logged a tenant size of 662, 1606 and 1270 — 8 per
token plus 6, not the characters of the text (which the tree counts only when it routes on raw text)."""


@dataclass(frozen=True)
class ShutdownBehaviour:
    """What the router does when it gets SIGTERM with requests in flight."""

    finishes_streams: bool
    """In-flight requests (SSE streams included) run to their end before the process exits."""
    refuses_new_connections: bool
    """The listening socket is closed at SIGTERM: a new connection is refused (not queued, not answered 503)."""
    own_timeout_seconds: int | None
    """When the router gives up on in-flight requests by itself; None: never (only SIGKILL ends the drain)."""
    timeout_flag: str | None
    """The CLI flag that bounds the drain; None: the CLI has none."""
    exits_when_drained: bool
    """The process exits (code 0) as soon as the last in-flight request ends, not after a fixed wait."""
    source: str


SHUTDOWN = ShutdownBehaviour(
    finishes_streams=True,
    refuses_new_connections=True,
    own_timeout_seconds=None,
    timeout_flag=None,
    exits_when_drained=True,
    source=(
        f"vllm-router {ROUTER_VERSION} (the pinned wheel's binary, run as `python -c LAUNCHER`), measured 2026-12-07 in "
        "front of a stub worker streaming SSE chunks: SIGTERM after the first chunk logs `Received terminate signal, "
        "starting graceful shutdown` (src/server.rs:1319); a 5 s stream and a 100 s stream both arrived whole (every "
        "chunk and `data: [DONE]`), a new connection 0.5 s after SIGTERM was refused (ECONNREFUSED), and the process "
        "exited 0 within 0.1 s of the stream's end. `vllm-router --help` has no shutdown, grace or drain flag "
        "(`--request-timeout-secs` bounds a request, `--queue-timeout-secs` the queue). "
        "Held by tests/integration/test_router_shutdown.py."
    ),
)
"""vllm-router's SIGTERM behaviour at the pinned version: it drains in-flight streams for as long as they run and takes
no new connection meanwhile. What the stack builds on it: a router pod's grace covers the preStop sleep plus the
longest stream, and a GPU VM stops its router before its server (`decide_router_drain`, gpu_vm/router_vm.py)."""


def decide_router_drain(longest_stream_seconds: int, behaviour: ShutdownBehaviour = SHUTDOWN) -> Drain:
    """How a router pod stops: the model pods' preStop sleep (kubernetes/resilience.py, the one home of it: endpoints
    and load balancers drop the pod before SIGTERM), then, when the router drains (`behaviour.finishes_streams`),
    the longest stream the stack allows plus resilience's margin as the grace. A router that cut its streams at
    SIGTERM would gain nothing from a longer grace (it would only hold rollouts up), so it would get the preStop and
    the margin alone. `shutdown_timeout_seconds`: what the streams get after SIGTERM (the router's own flag's value
    when it has one, `router_drain_args`)."""
    drain = decide_drain(longest_stream_seconds)
    if behaviour.finishes_streams:
        return drain
    return Drain(
        prestop_seconds=drain.prestop_seconds, shutdown_timeout_seconds=0, grace_seconds=drain.grace_seconds - longest_stream_seconds
    )


def router_drain_args(drain: Drain, behaviour: ShutdownBehaviour = SHUTDOWN) -> list[str]:
    """The router's flag bounding its drain to the longest stream, when its CLI has one (0.1.17's has none:
    `SHUTDOWN`), so the pod's grace, not the router, would otherwise end a stream."""
    if behaviour.timeout_flag is None or not behaviour.finishes_streams:
        return []
    return [behaviour.timeout_flag, str(drain.shutdown_timeout_seconds)]


HTTP_PORT = 8000
METRICS_PORT = 29000
"""router_args.py's default `--prometheus-port`."""
SITE_DIR = "/opt/router"
REQUIREMENTS_DIR = "/etc/router"
REQUIREMENTS_FILE = "requirements.txt"
COMPONENT = "router"
API_SERVER_PORTS = (443, 6443)
"""Where discovery reaches the Kubernetes API: 443 on EKS, GKE and AKS; 6443 on kubeadm-style on-prem clusters."""

LAUNCHER = (
    "import argparse, sys\n"
    "from vllm_router.router import Router\n"
    "from vllm_router.router_args import RouterArgs\n"
    "parser = argparse.ArgumentParser(prog='vllm-router')\n"
    "RouterArgs.add_cli_args(parser, use_router_prefix=False)\n"
    "args = RouterArgs.from_cli_args(parser.parse_args(sys.argv[1:]), use_router_prefix=False)\n"
    "args._validate_router_args()\n"
    "Router.from_args(args).start()\n"
)
"""`python -c LAUNCHER <flags>`: what `vllm_router.launch_router.main` does for the Rust router (same parser,
same validation, `Router.from_args(...).start()`), without the imports only its MiniLB needs."""


@as_given
@dataclass(frozen=True)
class RouterOptions:
    """How one model's router runs (settings `serving.router`)."""

    policy: Policy = "cache_aware"
    """Default cache_aware: a request goes to the replica whose prefix cache holds its prompt's start (measured
    x1.75 round_robin's hit rate, bench/README.md). It needs the model's vLLM to run with `--enable-scale-out`
    (`TOKENIZE_ROUTES`), which the stack adds (runtimes/vllm.py `decide_scale_out`)."""
    replicas: int = 2
    """Router pods; 2 or more so a drain or a node loss doesn't cut the model off."""
    cpu_request: str = "500m"
    cpu_limit: str = "2"
    """A bound on the router (Rust, async): far above what it needs, so no throttling in bursts."""
    memory_request: str = "256Mi"
    memory_limit: str = "1Gi"
    max_tree_size: int = 4_194_304
    """The most the cache-aware tree keeps per replica (upstream default 33,554,432), in tree units: 8 per prompt
    token (`TREE_UNITS_PER_TOKEN`), so ~524k tokens, and the router's memory stays well under `memory_limit`. A
    model whose replicas' KV cache holds fewer tokens gets a tree that size (`decide_max_tree_size`)."""
    request_timeout_seconds: int = 3600
    """Longest request the router waits for: the Ingress's proxy-read-timeout, above upstream's 1800."""
    health_check_interval_seconds: int = 10
    """How often the router checks each replica's /health (upstream 60)."""
    index_url: str | None = None
    """A PyPI mirror the init container installs the pinned wheel from. Default: pypi.org."""
    longest_stream_seconds: int = INGRESS_STREAM_SECONDS
    """The longest stream the stack allows (serving.longest_stream_seconds: the gateway's engine timeout, else the
    ingress's 3600 s): what a router pod's grace lets finish after SIGTERM (`decide_router_drain`)."""

    def __post_init__(self) -> None:
        if self.policy not in POLICIES:
            raise ValueError(f"router policy {self.policy!r}: one of {', '.join(POLICIES)}")
        if self.replicas < 1:
            raise ValueError("router replicas: at least 1")
        if self.longest_stream_seconds < 1:
            raise ValueError(f"router longest stream: at least 1 second, not {self.longest_stream_seconds}")


@as_given
@dataclass(frozen=True)
class KubernetesWorkers:
    """Replicas found by watching pods: the labels that select them, their namespace and API port."""

    selector: Mapping[str, str]
    namespace: str
    port: int


@dataclass(frozen=True)
class StaticWorkers:
    """Replicas at fixed URLs (`http://host:port`): tests and benchmarks outside Kubernetes."""

    urls: Sequence[str] = field(default_factory=tuple[str, ...])


def decide_max_tree_size(kv_tokens: int | None, ceiling: int) -> int:
    """`--max-tree-size` for one model's router: what a replica's KV cache holds (`kv_tokens`, sizing's tokens
    per replica; None when unknown), in tree units (`TREE_UNITS_PER_TOKEN`), at most `ceiling`
    (`RouterOptions.max_tree_size`, the bound its memory limit was set for).

    Why the KV cache: a prefix the tree remembers beyond what the replica can keep cached has been evicted
    there, so routing on it predicts a hit the replica no longer has; a tree that size forgets (LRU) about
    as the replica does."""
    if kv_tokens is None or kv_tokens < 1:
        return ceiling
    return min(ceiling, kv_tokens * TREE_UNITS_PER_TOKEN)


def router_args(
    options: RouterOptions,
    workers: KubernetesWorkers | StaticWorkers,
    *,
    host: str = "0.0.0.0",  # noqa: S104 - the pod's address; NetworkPolicy admits only the gateway/ingress
    port: int = HTTP_PORT,
    metrics_host: str = "0.0.0.0",  # noqa: S104 - the scraper reaches it; NetworkPolicy admits only the scraper
    metrics_port: int = METRICS_PORT,
) -> list[str]:
    """The router's flags (after `python -c LAUNCHER`)."""
    args = [
        "--host",
        host,
        "--port",
        str(port),
        "--policy",
        options.policy,
        "--prometheus-host",
        metrics_host,
        "--prometheus-port",
        str(metrics_port),
        "--health-check-endpoint",
        "/health",
        "--health-check-interval-secs",
        str(options.health_check_interval_seconds),
        "--request-timeout-secs",
        str(options.request_timeout_seconds),
        "--max-tree-size",
        str(options.max_tree_size),
        "--log-level",
        "info",
        *router_drain_args(decide_router_drain(options.longest_stream_seconds)),
    ]
    if isinstance(workers, KubernetesWorkers):
        args += [
            "--service-discovery",
            "--service-discovery-namespace",
            workers.namespace,
            "--service-discovery-port",
            str(workers.port),
            "--selector",
            *(f"{k}={v}" for k, v in sorted(workers.selector.items())),
        ]
    else:
        args += ["--worker-urls", *workers.urls]
    return args


def requirements_text() -> str:
    """The init container's requirements file: the one wheel, by version and hashes."""
    hashes = " ".join(f"--hash=sha256:{digest}" for digest in sorted(ROUTER_WHEELS.values()))
    return f"vllm-router=={ROUTER_VERSION} {hashes}\n"


def install_command(index_url: str | None) -> list[str]:
    """pip, hash-checked, binary only, without dependencies, into the shared emptyDir."""
    command = [
        "python",
        "-m",
        "pip",
        "install",
        "--no-cache-dir",
        "--disable-pip-version-check",
        "--no-deps",
        "--only-binary=:all:",
        "--require-hashes",
        "--target",
        SITE_DIR,
        "-r",
        f"{REQUIREMENTS_DIR}/{REQUIREMENTS_FILE}",
    ]
    if index_url:
        command += ["--index-url", index_url]
    return command


def name(served: str) -> str:
    """The router's Kubernetes object names: `<model>-router`."""
    return dns_label(f"{served}-{COMPONENT}")


def selector_labels(served: str) -> dict[str, str]:
    """The labels that select one model's router pods (never the model's own: its selector says model-server)."""
    return {"app.kubernetes.io/name": served, "app.kubernetes.io/component": COMPONENT}


def peer(served: str) -> dict[str, Any]:
    """The router's pods as a NetworkPolicy peer: the only caller the model's pods admit."""
    return {"podSelector": {"matchLabels": selector_labels(served)}}


def _security_context() -> dict[str, Any]:
    return {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
    }


ENV = [
    {"name": "PYTHONPATH", "value": SITE_DIR},
    {"name": "PYTHONDONTWRITEBYTECODE", "value": "1"},
    {"name": "PYTHONUNBUFFERED", "value": "1"},
    {"name": "HOME", "value": "/tmp"},  # noqa: S108 - an emptyDir: the root filesystem is read-only
]
"""The router's environment (install and run): the wheel's site directory on the path, no bytecode written to the
read-only root, unbuffered logs. GPU VMs pass the same to `docker run` (gpu_vm/router_vm.py)."""


def _http_probe(path: str, period: int, failures: int) -> dict[str, Any]:
    return {
        "httpGet": {"path": path, "port": "http"},
        "periodSeconds": period,
        "failureThreshold": failures,
        "timeoutSeconds": 3,
        "successThreshold": 1,
    }


def containers(options: RouterOptions, workers: KubernetesWorkers, image: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(init container installing the wheel, router container)."""
    mounts = [
        {"name": "site", "mountPath": SITE_DIR},
        {"name": "tmp", "mountPath": "/tmp"},  # noqa: S108 - an emptyDir
    ]
    resources = {
        "requests": {"cpu": options.cpu_request, "memory": options.memory_request},
        "limits": {"cpu": options.cpu_limit, "memory": options.memory_limit},
    }
    install = {
        "name": "install",
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "command": install_command(options.index_url),
        "env": list(ENV),
        "resources": resources,
        "securityContext": _security_context(),
        "volumeMounts": [*mounts, {"name": "requirements", "mountPath": REQUIREMENTS_DIR, "readOnly": True}],
        "terminationMessagePolicy": "FallbackToLogsOnError",
    }
    router = {
        "name": COMPONENT,
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "command": ["python", "-c", LAUNCHER],
        "args": router_args(options, workers),
        "env": list(ENV),
        "ports": [
            {"name": "http", "containerPort": HTTP_PORT, "protocol": "TCP"},
            {"name": "metrics", "containerPort": METRICS_PORT, "protocol": "TCP"},
        ],
        # /liveness answers while the process serves; /readiness fails while no replica is healthy, so a router
        # with nothing behind it takes no traffic (the gateway's fallback or the Ingress's 503 answers instead).
        "startupProbe": _http_probe("/liveness", 2, 30),
        "livenessProbe": _http_probe("/liveness", 10, 3),
        "readinessProbe": _http_probe("/readiness", 5, 2),
        "resources": resources,
        "securityContext": _security_context(),
        "volumeMounts": [*mounts, {"name": "kube-api-access", "mountPath": TOKEN_DIR, "readOnly": True}],
        # New requests stop arriving while endpoints and load balancers drop the pod (the model pods' sleep); then
        # SIGTERM, and the router drains its streams (`SHUTDOWN`) within the pod's grace (`deployment_spec`).
        "lifecycle": {"preStop": {"sleep": {"seconds": decide_router_drain(options.longest_stream_seconds).prestop_seconds}}},
        "terminationMessagePolicy": "FallbackToLogsOnError",
    }
    return install, router


TOKEN_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
"""Where in-cluster clients (kube-rs `Client::try_default`, the router's) read the token, CA and namespace."""
TOKEN_SECONDS = 3607
"""The bound token's lifetime, as the kubelet's own automount projects it (the kubelet refreshes it before expiry)."""


def api_access_volume() -> dict[str, Any]:
    """The service-account token, the cluster CA and the namespace, projected as automount would, for the one
    container that calls the API."""
    return {
        "name": "kube-api-access",
        "projected": {
            "sources": [
                {"serviceAccountToken": {"path": "token", "expirationSeconds": TOKEN_SECONDS}},
                {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}},
            ]
        },
    }


def deployment_spec(
    served: str, options: RouterOptions, workers: KubernetesWorkers, image: str, labels: Mapping[str, str]
) -> dict[str, Any]:
    """The router's Deployment: `options.replicas` pods spread over nodes and zones, restricted Pod Security."""
    install, router = containers(options, workers, image)
    selector = selector_labels(served)
    pod = {
        "serviceAccountName": name(served),
        # The one pod of the namespace that talks to the Kubernetes API (discovery watches the model's pods): its
        # token is mounted explicitly, in the router container only (`api_access_volume`), not automounted.
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": 1000,
            "runAsGroup": 1000,
            "fsGroup": 1000,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        # preStop + the longest stream + margin: the router drains with no limit of its own (`SHUTDOWN`), so SIGKILL
        # at the end of the grace is what would cut a stream.
        "terminationGracePeriodSeconds": decide_router_drain(options.longest_stream_seconds).grace_seconds,
        "initContainers": [install],
        "containers": [router],
        "volumes": [
            {"name": "site", "emptyDir": {"sizeLimit": "256Mi"}},
            {"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}},
            {"name": "requirements", "configMap": {"name": name(served)}},
            api_access_volume(),
        ],
        "topologySpreadConstraints": [
            {"maxSkew": 1, "topologyKey": key, "whenUnsatisfiable": "ScheduleAnyway", "labelSelector": {"matchLabels": selector}}
            for key in ("kubernetes.io/hostname", "topology.kubernetes.io/zone")
        ],
    }
    return {
        "replicas": options.replicas,
        "selector": {"matchLabels": selector},
        # Routers are small: a surge pod always fits, so a rollout never lowers the count.
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
        "revisionHistoryLimit": 3,
        "template": {"metadata": {"labels": {**labels, **selector}}, "spec": pod},
    }


def service_spec(served: str) -> dict[str, Any]:
    return {
        "type": "ClusterIP",
        "selector": selector_labels(served),
        "ports": [
            {"name": "http", "port": HTTP_PORT, "targetPort": "http", "protocol": "TCP"},
            {"name": "metrics", "port": METRICS_PORT, "targetPort": "metrics", "protocol": "TCP"},
        ],
    }


def pdb_spec(served: str) -> dict[str, Any]:
    """At most one router pod drained at a time (with 2 replicas, one always serves)."""
    return {"maxUnavailable": 1, "selector": {"matchLabels": selector_labels(served)}}


def role_rules() -> list[dict[str, Any]]:
    """What discovery needs (a kube-rs watcher: list + watch; get for its re-list), on pods, in this namespace only."""
    return [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]}]


def network_policy_spec(
    served: str,
    *,
    clients: Sequence[Mapping[str, Any]],
    scrapers: Sequence[Mapping[str, Any]],
    model_port: int,
    model_selector: Mapping[str, str],
) -> dict[str, Any]:
    """Only the clients (gateway, ingress) reach the router's API and only the scrapers its metrics; it calls
    the model's pods on their API port, DNS, and HTTPS/the API server port (discovery, and PyPI for the
    init container's pinned wheel)."""
    ingress: list[dict[str, Any]] = []
    # An empty `from` admits every source: with no clients the API port gets no rule at all.
    if clients:
        ingress.append({"from": [dict(p) for p in clients], "ports": [{"port": HTTP_PORT, "protocol": "TCP"}]})
    if scrapers:
        ingress.append({"from": [dict(p) for p in scrapers], "ports": [{"port": METRICS_PORT, "protocol": "TCP"}]})
    egress: list[dict[str, Any]] = [
        {
            "to": [{"namespaceSelector": {}, "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
            "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}],
        },
        {"to": [{"podSelector": {"matchLabels": dict(model_selector)}}], "ports": [{"port": model_port, "protocol": "TCP"}]},
        {"ports": [{"port": p, "protocol": "TCP"} for p in API_SERVER_PORTS]},
    ]
    return {
        "podSelector": {"matchLabels": selector_labels(served)},
        "policyTypes": ["Ingress", "Egress"],
        "ingress": ingress,
        "egress": egress,
    }


def monitor_spec(served: str) -> dict[str, Any]:
    """ServiceMonitor (and, same shape, GMP PodMonitoring) of the router's metrics port."""
    return {
        "selector": {"matchLabels": selector_labels(served)},
        "endpoints": [{"port": "metrics", "path": "/metrics", "interval": "15s"}],
    }
