"""The vLLM router on a GPU-VM group: one router on every VM, beside the model server. Pure: no Pulumi.

Why on every VM: the load balancer sends a request to any VM's router, and each router sends it on to the VM
whose prefix cache holds its prompt (`serving.router.policy`, as on Kubernetes), so no extra machine and no
single router to lose. Each router builds the same prefix tree from the requests it routes; with N routers a
conversation's turns may reach different routers (the load balancer does not know prefixes), so each router's
tree sees 1/N of the traffic — still far better than no prefix routing at all, and exact with one VM.

What `cloud_init.render_cloud_init(..., router=VmRouter)` adds to the boot script:

* ``llm-router.service``: installs the pinned, hash-checked vllm-router wheel with the pinned Python image
  (exactly `kubernetes.router_render`'s requirements and pip command) into ``/opt/llm-router/site`` once, then
  runs the router in that image as the Kubernetes pod runs it (``python -c LAUNCHER <router_args>``): non-root,
  read-only root, all capabilities dropped, no new privileges, the wheel mounted read-only, on Docker's bridge
  network (so, with AWS's metadata hop limit of 1, or after GCP's and Azure's metadata guard, `CONTAINER_UNITS`,
  it cannot reach the instance's credentials). It starts with no
  worker: vllm-router 0.1.17's only discovery is Kubernetes' (router_render's docstring);
* ``llm-router-workers.service``: `router_workers.py` (standard library, shipped verbatim) every
  `RECONCILE_SECONDS`: runs the cloud's `InstanceLister` (a host command printing the group's in-service
  instances' private IPv4 addresses) and makes the router's worker list equal to it through the router's own
  ``/workers``, ``/add_worker?url=``, ``/remove_worker?url=`` routes (router_render's docstring: unauthenticated,
  on the router port — hence `FORWARDED_PREFIX`).

Upstream behaviour relied on (vllm-router 0.1.17, the pinned wheel, observed with its binary and proved by
tests/integration/test_vm_router.py): it starts and serves with no worker (``/readiness`` 503 "no healthy
workers available"); ``POST /add_worker?url=`` blocks until the worker's ``/health`` answers (so the reconciler
probes first); ``GET /workers`` answers ``{"workers": [{"url": …, "is_healthy": …}, …]}``; the ``Authorization``
header is passed on to the worker (the servers' API key keeps working through it); on SIGTERM it drains its streams
with no limit of its own (``router_render.SHUTDOWN``), which is why its unit stops before the server's
(`router_unit_order`) and `docker stop --time` gives it the longest stream.
"""

from __future__ import annotations

import dataclasses
import hashlib
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .. import pins
from ..kubernetes import router_render as rr
from ..runtimes.spec import ContainerSpec
from .server_unit import UNIT as SERVER_UNIT
from .server_unit import stop_seconds

if TYPE_CHECKING:
    from ..settings import Settings

ROUTER_PORT = 8080
"""The router's port on the VM (host = container port): the load balancer's traffic port. Not the router's
Kubernetes port (`router_render.HTTP_PORT`, 8000): the model server publishes that one on the same host."""
METRICS_PORT = rr.METRICS_PORT
"""The router's Prometheus port, published on the VM's loopback only: the host's metrics agent scrapes it."""
METRICS_TARGET = f"127.0.0.1:{METRICS_PORT}"
METRIC_NAMES = (
    "vllm_router_requests_total",
    "vllm_router_processed_requests_total",
    "vllm_router_running_requests",
    "vllm_router_active_workers",
    "vllm_router_worker_health",
    "vllm_router_prefix_routing_decisions_total",
    "vllm_router_policy_decisions_total",
    "vllm_router_cb_outcomes_total",
)
"""The router's gauges and counters worth exporting (names from the pinned wheel's /metrics; histograms are
left out, as for the server)."""
ACTIVE_WORKERS = "vllm_router_active_workers"
"""The router's gauge of the workers it routes to: each cloud's no-worker alert reads it (`decide_no_worker_window`)."""
METRIC_KINDS = {
    "vllm_router_requests_total": "counter",
    "vllm_router_processed_requests_total": "counter",
    "vllm_router_running_requests": "gauge",
    ACTIVE_WORKERS: "gauge",
    "vllm_router_worker_health": "gauge",
    "vllm_router_prefix_routing_decisions_total": "counter",
    "vllm_router_policy_decisions_total": "counter",
    "vllm_router_cb_outcomes_total": "counter",
}
"""The Prometheus kind of each of `METRIC_NAMES` (vllm-router 0.1.17's /metrics: `# TYPE vllm_router_active_workers
gauge` was read from the pinned wheel started with one worker; the `_total` series are its counters, the others its
gauges). GCP's Ops Agent writes a series as ``prometheus.googleapis.com/<name>/<kind>`` (`gcp_boot.prometheus_metric_type`)."""
NO_WORKER_PERIOD_SECONDS = 300
"""The period of the no-worker alerts' samples (AWS: the alarm's period; GCP and Azure: the window's unit)."""
READINESS_PATH = "/readiness"
"""503 while the router has no healthy worker (router_render's docstring)."""
FORWARDED_PREFIX = "/v1/"
"""What an L7 load balancer forwards to the routers: the OpenAI API only. The worker-management routes on the
same port are unauthenticated, so they must never be reachable through the load balancer."""
RECONCILE_SECONDS = 15
"""How often each VM's reconciler compares the group with its router's workers."""

UNIT = "llm-router.service"
WORKERS_UNIT = "llm-router-workers.service"
CONTAINER_NAME = "llm-router"
ROUTER_DIR = "/usr/local/lib/llm-router"
SITE_HOST_DIR = "/opt/llm-router/site"
"""Host directory the wheel is installed into (root disk: installed once per VM and pin)."""
REQUIREMENTS_HOST_DIR = "/etc/llm-router"
LISTER = f"{ROUTER_DIR}/list-instances"
RECONCILER = f"{ROUTER_DIR}/workers"
USER = "1000:1000"
INSTALL_SECONDS = 900
"""Start timeout: image pull and wheel download from PyPI (or the mirror) on a fresh VM."""
_RECONCILER_SOURCE = Path(__file__).with_name("router_workers.py")


@dataclass(frozen=True)
class InstanceLister:
    """How a VM lists its group: a host command printing the private IPv4 address of each in-service instance of
    this group (the VM itself included), one a line.

    Runs as root on the host (host network: it can reach the metadata server and the instance's credentials).
    Exit 0 with no output: the group has no instance in service. Exit ≠ 0: unknown, the router is left as is.
    Must list this group only (never another deployment's instances: the router would send them prompts)."""

    command: tuple[str, ...]
    """argv of the command (e.g. ``("/bin/sh", "-c", script)``)."""
    description: str
    """One line for the script's comment, e.g. "Auto Scaling group InService+Healthy → EC2 private IPs"."""


@dataclass(frozen=True)
class VmRouter:
    """One model's router on each VM of its group."""

    options: rr.RouterOptions
    """Policy, timeouts, prefix-tree size and PyPI mirror (`serving.router`); `replicas` has no meaning here."""
    lister: InstanceLister
    log_args: tuple[str, ...] = ()
    """Docker log options of the router container (the server's, e.g. awslogs)."""
    image: str = pins.PYTHON_SLIM.ref
    """The pinned Python image the wheel is installed with and the router runs in (as on Kubernetes)."""


def vm_router(
    spec: ContainerSpec, options: rr.RouterOptions | None, lister: InstanceLister, *, log_args: Sequence[str] = ()
) -> VmRouter | None:
    """The router of `spec`'s group, or None: no router when `serving.router` is off (`options` None) or the server is
    not one the router fronts (`kubernetes.router.ROUTED_RUNTIMES`: vLLM)."""
    # Imported here: kubernetes.router is a Pulumi module; this one and cloud_init stay importable without it.
    from ..kubernetes.router import ROUTED_RUNTIMES

    if options is None or spec.runtime not in ROUTED_RUNTIMES:
        return None
    return VmRouter(options=options, lister=lister, log_args=tuple(log_args))


def router_options(settings: Settings, kv_tokens: int | None = None) -> rr.RouterOptions | None:
    """`serving.router` as a VM group's router options, or None when it is off. (gcp.cluster.router picks GKE's
    router only: a VM group always gets the vLLM router.) `kv_tokens`: what one server's KV cache holds (sizing's
    `kv_tokens`), which sizes the prefix tree as on Kubernetes (`router_render.decide_max_tree_size`); None: the
    options' bound."""
    router = settings.serving.router
    if not router.enabled:
        return None
    assert router.policy != "off"
    options = rr.RouterOptions(policy=router.policy, index_url=router.index_url)
    return dataclasses.replace(options, max_tree_size=rr.decide_max_tree_size(kv_tokens, options.max_tree_size))


def traffic_port(spec: ContainerSpec, router: VmRouter | None) -> int:
    """The port the load balancer forwards requests to: the router's, else the server's HTTP port."""
    return ROUTER_PORT if router is not None else spec.port(spec.http_port).container_port


def _cpus(quantity: str) -> str:
    """Kubernetes CPU quantity → docker --cpus: "2" → "2", "500m" → "0.5"."""
    return str(int(quantity[:-1]) / 1000) if quantity.endswith("m") else quantity


def _memory(quantity: str) -> str:
    """Kubernetes memory quantity (Mi/Gi) → docker --memory: "1Gi" → "1g"."""
    for suffix, unit in (("Gi", "g"), ("Mi", "m")):
        if quantity.endswith(suffix):
            return quantity[: -len(suffix)] + unit
    raise ValueError(f"router memory {quantity!r}: give Mi or Gi")


def _hardened() -> list[str]:
    """The options both router containers share: as locked down as the model server's."""
    return [
        "--user",
        USER,
        "--read-only",
        "--cap-drop",
        "ALL",
        "--security-opt",
        "no-new-privileges",
        "--tmpfs",
        "/tmp:rw,nosuid,nodev,size=256m",  # noqa: S108 - the container's own tmpfs (HOME, pip's build dir)
        *(token for var in rr.ENV for token in ("--env", f"{var['name']}={var['value']}")),
    ]


def requirements_marker() -> str:
    """Marks a completed install of exactly these requirements (a new pin reinstalls)."""
    return f"{SITE_HOST_DIR}/.installed-{hashlib.sha256(rr.requirements_text().encode()).hexdigest()[:16]}"


def install_script(router: VmRouter) -> str:
    """ExecStartPre: pip-install the pinned wheel, hash-checked, into the host's site directory, once."""
    run = [
        "/usr/bin/docker",
        "run",
        "--rm",
        *_hardened(),
        "--volume",
        f"{SITE_HOST_DIR}:{rr.SITE_DIR}",
        "--volume",
        f"{REQUIREMENTS_HOST_DIR}:{rr.REQUIREMENTS_DIR}:ro",
        router.image,
        *rr.install_command(router.options.index_url),
    ]
    marker = requirements_marker()
    return "\n".join(
        [
            "#!/bin/sh",
            "# The pinned vllm-router wheel (sha256-checked by pip) into the site directory the router mounts read-only.",
            "set -eu",
            f"[ -e {marker} ] && exit 0",
            f"rm -rf {SITE_HOST_DIR}",
            f"install -d -o {USER.split(':')[0]} -g {USER.split(':')[1]} {SITE_HOST_DIR}",
            f"image={shlex.quote(router.image)}",
            '/usr/bin/docker image inspect "$image" >/dev/null 2>&1 || /usr/bin/docker pull --quiet "$image"',
            " ".join(shlex.quote(token) for token in run),
            f"touch {marker}",
            "",
        ]
    )


def run_argv(spec: ContainerSpec, router: VmRouter) -> list[str]:
    """`docker run …` of the router (without the leading ``docker``)."""
    options = router.options
    args = rr.router_args(options, rr.StaticWorkers(()), port=ROUTER_PORT, metrics_port=METRICS_PORT)
    return [
        "run",
        "--rm",
        "--name",
        CONTAINER_NAME,
        *_hardened(),
        "--volume",
        f"{SITE_HOST_DIR}:{rr.SITE_DIR}:ro",
        "--memory",
        _memory(options.memory_limit),
        "--cpus",
        _cpus(options.cpu_limit),
        "--publish",
        f"{ROUTER_PORT}:{ROUTER_PORT}",
        "--publish",
        f"{METRICS_TARGET}:{METRICS_PORT}",
        *router.log_args,
        "--entrypoint",
        "",
        router.image,
        "python",
        "-c",
        rr.LAUNCHER,
        *args,
    ]


def _run_script(spec: ContainerSpec, router: VmRouter) -> str:
    argv = run_argv(spec, router)
    return (
        "#!/bin/sh\n"
        f"# vllm-router {rr.ROUTER_VERSION} ({router.options.policy}) in front of {spec.served_name} on every VM of the group.\n"
        "exec /usr/bin/docker " + " ".join(shlex.quote(token) for token in argv) + "\n"
    )


def _lister_script(router: VmRouter) -> str:
    return (
        "#!/bin/sh\n"
        f"# {router.lister.description}: one private IPv4 address a line.\n"
        "exec " + " ".join(shlex.quote(token) for token in router.lister.command) + "\n"
    )


def reconciler_argv(spec: ContainerSpec) -> list[str]:
    """How the reconciler service runs `router_workers.py` against this VM's router."""
    return [
        "/usr/bin/python3",
        RECONCILER,
        "--lister",
        LISTER,
        "--router",
        f"http://127.0.0.1:{ROUTER_PORT}",
        "--port",
        str(spec.port(spec.http_port).container_port),
        "--interval",
        str(RECONCILE_SECONDS),
    ]


def router_unit_order(server_unit: str) -> tuple[str, ...]:
    """The router unit's `After=`: the network, Docker, and the model server's unit.

    After the server's unit, so that at shutdown systemd (which stops units in the reverse of their start order)
    stops the router first: it refuses new connections and lets its streams finish (`router_render.SHUTDOWN`,
    measured), which the local server is still serving, and only then does the server get its SIGTERM. Ordering
    only, never `Requires=`/`BindsTo=`: the router must start, and keep running, while the local server is down or
    restarting, since it routes to the group's other VMs too. (A start waits for the server's start job, i.e. its
    pre-start steps, or their failure: a new VM's router comes up after its weights sync, when the VM has something
    of its own to serve.)"""
    return ("network-online.target", "docker.service", server_unit)


def _router_unit(spec: ContainerSpec, router: VmRouter) -> str:
    return "\n".join(
        [
            "[Unit]",
            f"Description=pulumi-llm vllm-router {rr.ROUTER_VERSION} of {spec.served_name} ({router.options.policy})",
            "Wants=network-online.target",
            f"After={' '.join(router_unit_order(SERVER_UNIT))}",
            "Requires=docker.service",
            "StartLimitIntervalSec=0",
            "",
            "[Service]",
            "Type=simple",
            f"TimeoutStartSec={INSTALL_SECONDS}",
            f"ExecStartPre={ROUTER_DIR}/install",
            f"ExecStartPre=-/usr/bin/docker rm --force {CONTAINER_NAME}",
            f"ExecStart={ROUTER_DIR}/run",
            # The router drains its streams on SIGTERM with no limit of its own (router_render.SHUTDOWN): docker's
            # SIGKILL bounds it, so it gets as long as the server (server_unit.stop_seconds: the longest stream + 15 s).
            f"ExecStop=/usr/bin/docker stop --time {stop_seconds(spec)} {CONTAINER_NAME}",
            f"TimeoutStopSec={stop_seconds(spec) + 30}",
            "Restart=always",
            "RestartSec=5",
            "",
            "[Install]",
            "WantedBy=multi-user.target",
            "",
        ]
    )


def _workers_unit(spec: ContainerSpec) -> str:
    return "\n".join(
        [
            "[Unit]",
            f"Description=pulumi-llm: the router's workers = the group's in-service instances ({spec.served_name})",
            f"After={UNIT}",
            f"Wants={UNIT}",
            "StartLimitIntervalSec=0",
            "",
            "[Service]",
            "Type=simple",
            f"ExecStart={' '.join(reconciler_argv(spec))}",
            "Restart=always",
            f"RestartSec={RECONCILE_SECONDS}",
            "NoNewPrivileges=yes",
            "PrivateTmp=yes",
            "",
            "[Install]",
            "WantedBy=multi-user.target",
            "",
        ]
    )


def boot_files(spec: ContainerSpec, router: VmRouter) -> list[tuple[str, str, str]]:
    """(path, content, permissions) of every file the router needs on the VM."""
    return [
        (f"{REQUIREMENTS_HOST_DIR}/{rr.REQUIREMENTS_FILE}", rr.requirements_text(), "0644"),
        (f"{ROUTER_DIR}/install", install_script(router), "0755"),
        (f"{ROUTER_DIR}/run", _run_script(spec, router), "0755"),
        (LISTER, _lister_script(router), "0755"),
        (RECONCILER, reconciler_source(), "0755"),
        (f"/etc/systemd/system/{UNIT}", _router_unit(spec, router), "0644"),
        (f"/etc/systemd/system/{WORKERS_UNIT}", _workers_unit(spec), "0644"),
    ]


def reconciler_source() -> str:
    """`router_workers.py` as shipped: the one copy of the reconciler (its tests import the same file)."""
    return _RECONCILER_SOURCE.read_text(encoding="utf-8")


UNITS = (UNIT, WORKERS_UNIT)
"""Started (enabled, no-block) by the boot script after the model server's unit."""
CONTAINER_UNITS = (UNIT,)
"""The units that start containers on Docker's bridge (the pip install and the router; the reconciler and its lister
run on the host): where the cloud has a metadata guard (`metadata_guard`), they start after it."""


def decide_no_worker_window(grace_seconds: int, period: int = NO_WORKER_PERIOD_SECONDS) -> int:
    """How long (seconds, a whole number of `period`s) the routers must see no worker before any cloud alerts.

    Longer than a VM takes to serve (`grace_seconds`, the group's health-check or repair grace) by one period: a
    group of one VM, booting, has no worker until its own server is up, and that is no page. At most one day
    (CloudWatch's bound on evaluation periods × period; GCP's condition duration and Azure's largest window too).
    """
    if grace_seconds < 0 or period <= 0:
        raise ValueError(f"grace_seconds {grace_seconds} and period {period}: a grace of 0 or more and a positive period")
    periods = min(-(-grace_seconds // period) + 1, 86400 // period)
    return periods * period
