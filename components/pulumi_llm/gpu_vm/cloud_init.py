"""The GPU-VM boot script: one ContainerSpec → a `#cloud-config` document. Pure; shared by every cloud.

The VM image must already carry the NVIDIA driver, Docker and the NVIDIA container toolkit: the AWS
Deep Learning Base OSS Nvidia Driver GPU AMI, GCP's Deep Learning VM images and Azure's NVIDIA GPU
images all do. Nothing is installed at boot except the cloud's metrics agent where the image lacks it.

What the document does on first boot:

* writes a systemd unit, ``llm-server.service``, whose start runs, in order: mount the data disk at
  ``/opt/models`` (formatting it on first use), sync the weights from object storage onto it (skipped
  when the marker of that source and revision is already there), read the secret environment variables
  from the cloud's secret store into a root-only file on tmpfs, pull the pinned image, and finally
  ``docker run`` it with exactly ``spec.command`` followed by ``spec.args`` — the very tokens the
  Kubernetes container gets (`kubernetes.render.container`), so a model starts the same way on a VM and
  in a pod. ``Restart=always``: systemd, not Docker, restarts the server; a failed sync or secret read is
  retried the same way;
* writes and starts the metrics agent the caller passes (CloudWatch agent on AWS, see `aws_boot`).

Why Docker and not Podman: the GPU images of all three clouds ship Docker with the NVIDIA runtime
already registered, so ``--gpus`` works with nothing to set up; Podman would need the toolkit's CDI spec
generated at boot and is not on those images.

The container is launched as locked down as the Kubernetes pod: non-root user, read-only root,
all capabilities dropped, no new privileges, Docker's default seccomp profile, scratch space on tmpfs,
weights read-only. It sits on Docker's bridge network, so with the instance metadata hop limit at 1
(AWS), or the metadata guard's DOCKER-USER rules in place before it starts (GCP, Azure: `metadata_guard`), it
cannot reach the instance's credentials: only the host-side steps (sync, secrets, agent) can.
No secret value is ever written into the user data: only the secret's id and the command that reads it.
"""

from __future__ import annotations

import hashlib
import math
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from ..runtimes import registry
from ..runtimes.spec import ContainerSpec, HttpCheck, Mount
from . import metadata_guard as guard_mod
from . import router_vm

# Re-exported: the boot script's public names (callers and tests read them here); their home is server_unit.
from .server_unit import STOP_SECONDS as STOP_SECONDS
from .server_unit import UNIT as UNIT
from .server_unit import stop_seconds as stop_seconds

CONTAINER_NAME = "llm-server"
MODEL_ROOT = "/opt/models"
"""Host directory of the model mount: the data disk is mounted here and bound read-only into the
container at the model mount's path (``/models`` for vLLM and Triton)."""
CONFIG_ROOT = "/etc/llm-server"
"""Host directory of the config mounts (e.g. Triton's model repository files): ``<root>/<mount name>``."""
SCRIPT_DIR = "/usr/local/lib/llm-server"
SECRETS_ENV = "/run/llm-server/secrets.env"
"""Secret environment of the server: on tmpfs (gone at power-off), mode 0600, root only."""
SYNC_MARKERS = f"{MODEL_ROOT}/.pulumi-llm-sync"
"""Markers of completed syncs live on the data disk itself, so a fresh or wiped disk always re-syncs."""


LB_DRAIN_MAX_SECONDS = 3600
"""The longest draining a load balancer offers: an ALB target group's deregistration delay and a GCP backend
service's connection draining timeout both range 0-3600 s (the bounds of AwsGpuVmArgs.deregistration_delay_seconds
and GcpGpuVmArgs.connection_draining_seconds)."""


def lb_drain_seconds(spec: ContainerSpec) -> int:
    """How long the load balancer keeps a leaving instance's in-flight requests (scale-in, instance refresh, rolling
    replace) before the group removes it: the seconds the server's drain flag gives them (the longest stream), at
    most `LB_DRAIN_MAX_SECONDS`; `STOP_SECONDS` for a server without one."""
    from ..kubernetes.resilience import drain_seconds

    return min(LB_DRAIN_MAX_SECONDS, drain_seconds(spec.args) or STOP_SECONDS)


# Time before the server process starts on a fresh VM: boot, cloud-init, image pull (vLLM images are
# ~10 GB) and the weights sync. Conservative on purpose: the load balancer's health-check grace and
# the unit's start timeout are built from it.
BOOT_AND_PULL_SECONDS = 600
SYNC_MB_PER_S = 200
"""Assumed object storage → local disk throughput for the provisioning estimate."""
START_TIMEOUT_MB_PER_S = 50
"""Slowest sync the unit's start timeout tolerates before it restarts (a restart resumes the sync)."""


@dataclass(frozen=True)
class WeightsSync:
    """How the boot script copies the weights from object storage onto the data disk.

    `command` is an argv template; ``{source}`` and ``{dest}`` are replaced by `source` and the host
    directory the weights land in. It must be idempotent and resumable (``aws s3 sync``,
    ``gcloud storage rsync``, ``azcopy sync``): a restart re-runs it until it succeeds once.
    """

    source: str
    """Object-storage URI of the weights (s3://bucket/prefix, gs://…, https://<account>.blob…)."""
    command: tuple[str, ...]
    revision: str = ""
    """Changes force a re-sync onto a disk that already holds an older copy. Default: the source alone."""
    path: str | None = None
    """Container path of the weights. Default: the model `vllm serve` is given, else the model mount's path."""

    @property
    def marker(self) -> str:
        digest = hashlib.sha256(f"{self.source}\n{self.revision}".encode()).hexdigest()[:16]
        return f"{SYNC_MARKERS}/{digest}"


@dataclass(frozen=True)
class SecretFetch:
    """How the pre-start script reads secret values from the cloud's secret store.

    `command` is an argv template that prints one secret's value on stdout; ``{secret}`` is replaced by
    the id in `ids`. On a VM the whole secret value is the variable's value (`EnvVar.secret_key` names a
    key of a Kubernetes Secret and has no meaning here).
    """

    command: tuple[str, ...]
    ids: Mapping[str, str] = field(default_factory=dict[str, str])
    """`EnvVar.secret_name` → the secret's id in the store (ARN, resource name or URI)."""


@dataclass(frozen=True)
class DataDisk:
    """The disk the weights live on, found, formatted on first use and mounted at /opt/models."""

    find: str
    """Shell snippet that prints the device path (e.g. /dev/nvme1n1), or nothing while it is absent."""
    label: str = "llm-models"


@dataclass(frozen=True)
class MetricsAgent:
    """The cloud's metrics agent: its config files and the script that installs (if needed) and starts it."""

    name: str
    files: tuple[tuple[str, str], ...]
    """(absolute path, content) pairs written before the script runs."""
    script: str
    """Body of a POSIX shell script run once at first boot, after the server unit is started."""


# ---------------------------------------------------------------------------------------------
# What the load balancer checks
# ---------------------------------------------------------------------------------------------


def health_check(spec: ContainerSpec) -> HttpCheck:
    """The HTTP check a load balancer can run: readiness when it is HTTP, else liveness, else startup.

    vLLM's readiness is an exec check (it asks /v1/models for the served name), which a load balancer
    cannot run, so its balancers use liveness's /health; Triton's readiness is an HTTP check on the
    model's /ready path and is used as is.
    """
    for probe in (spec.readiness, spec.liveness, spec.startup):
        if isinstance(probe.check, HttpCheck):
            return probe.check
    raise ValueError(f"{spec.served_name}: no HTTP probe for a load balancer to use")


def health_check_path(spec: ContainerSpec) -> str:
    """Path of `health_check(spec)`, e.g. ``/health`` for vLLM, ``/v2/models/<name>/ready`` for Triton."""
    return health_check(spec).path


def health_check_port(spec: ContainerSpec) -> int:
    """Port number of `health_check(spec)`."""
    return spec.port(health_check(spec).port).container_port


def provisioning_seconds(spec: ContainerSpec) -> int:
    """Seconds from launch until the server process starts: boot, image pull, weights sync."""
    return BOOT_AND_PULL_SECONDS + math.ceil(spec.weight_bytes / (SYNC_MB_PER_S * 1e6))


def ready_within_seconds(spec: ContainerSpec) -> int:
    """Seconds from launch until a healthy VM serves: provisioning plus the startup-probe budget."""
    return provisioning_seconds(spec) + spec.startup.budget_seconds


def start_timeout_seconds(spec: ContainerSpec) -> int:
    """The unit's TimeoutStartSec (covers every pre-start step, the slow sync included)."""
    return BOOT_AND_PULL_SECONDS + 300 + math.ceil(spec.weight_bytes / (START_TIMEOUT_MB_PER_S * 1e6))


# ---------------------------------------------------------------------------------------------
# Mounts and paths
# ---------------------------------------------------------------------------------------------


def model_mount(spec: ContainerSpec) -> Mount:
    """The container's one weights mount; VMs always read weights from local disk."""
    mounts = [m for m in spec.mounts if m.kind == "model"]
    if len(mounts) != 1:
        raise ValueError(
            f"{spec.served_name}: a GPU VM serves weights from its local disk, so the container needs exactly one "
            f"model mount (volume weights below /models), found {len(mounts)}"
        )
    return mounts[0]


def weights_path(spec: ContainerSpec, sync: WeightsSync | None = None) -> str:
    """Container path the weights are read from: the sync's path, the model the runtime's args name
    (`RuntimeInfo.model_in_args`: the one `vllm serve` is given), or the model mount."""
    if sync is not None and sync.path:
        return sync.path
    model_in_args = registry.get(spec.runtime).model_in_args if spec.runtime in registry.NAMES else None
    if model_in_args is not None:
        return model_in_args(spec.args)
    return model_mount(spec).path


def host_path(spec: ContainerSpec, container_path: str) -> str:
    """Where a path below the model mount lives on the VM: ``/models/<key>`` → ``/opt/models/<key>``."""
    mount = model_mount(spec).path.rstrip("/")
    if container_path == mount:
        return MODEL_ROOT
    if not container_path.startswith(mount + "/"):
        raise ValueError(
            f"{spec.served_name}: weights path {container_path} is not below the model mount {mount}; "
            "a GPU VM syncs weights to local disk (volume weights), it does not stream them"
        )
    return MODEL_ROOT + container_path[len(mount) :]


def _docker_size(quantity: str) -> str:
    """Kubernetes quantity → Docker/tmpfs size: 10Gi → 10g, 512Mi → 512m."""
    match = re.fullmatch(r"(\d+)(Ki|Mi|Gi|Ti)?", quantity)
    if not match:
        raise ValueError(f"size {quantity!r} is not a whole Ki/Mi/Gi/Ti quantity")
    number, unit = match.groups()
    return number + {None: "", "Ki": "k", "Mi": "m", "Gi": "g", "Ti": "t"}[unit]


# ---------------------------------------------------------------------------------------------
# docker run
# ---------------------------------------------------------------------------------------------


def docker_run_groups(spec: ContainerSpec, *, secrets: bool = False, log_args: Sequence[str] = ()) -> list[list[str]]:
    """`docker run`'s tokens, grouped one option (with its value) per group, in a stable order.

    The last groups are the image, then ``spec.command``, then each of ``spec.args``. ``--entrypoint ''``
    clears the image's entrypoint, so the process is exactly ``command + args`` as in Kubernetes, where
    ``command`` replaces the entrypoint and ``args`` the image's CMD.
    """
    groups: list[list[str]] = [["--rm"], ["--name", CONTAINER_NAME]]
    if spec.resources.gpus:
        # Exactly the GPUs the server was sized for (= its tensor-parallel size), never a bigger
        # type's spare ones.
        groups.append(["--gpus", str(spec.resources.gpus)])
    groups.append(["--user", f"{spec.run_as_user}:{spec.run_as_user}"])
    if spec.read_only_root:
        groups.append(["--read-only"])
    groups += [["--cap-drop", "ALL"], ["--security-opt", "no-new-privileges"]]
    for mount in spec.mounts:
        if mount.kind == "scratch":
            # Like an emptyDir: empty at each start. `exec`: torch/Triton compile caches dlopen what
            # they build here, which Docker's default tmpfs options (noexec) would refuse.
            options = ["rw", "exec", "nosuid", "nodev"]
            if mount.size_limit:
                options.append(f"size={_docker_size(mount.size_limit)}")
            options.append("mode=1777")
            groups.append(["--tmpfs", f"{mount.path}:{','.join(options)}"])
        elif mount.kind == "shm":
            if mount.path != "/dev/shm":
                raise ValueError(f"{spec.served_name}: shm mount at {mount.path}; Docker sizes only /dev/shm")
            if mount.size_limit:
                groups.append(["--shm-size", _docker_size(mount.size_limit)])
        elif mount.kind == "model":
            groups.append(["--volume", f"{MODEL_ROOT}:{mount.path}:ro"])
        elif mount.kind == "config":
            groups.append(["--volume", f"{CONFIG_ROOT}/{mount.name}:{mount.path}:ro"])
    for port in spec.ports:
        suffix = "/udp" if port.protocol == "UDP" else ""
        groups.append(["--publish", f"{port.container_port}:{port.container_port}{suffix}"])
    for var in spec.env:
        if var.value is not None:
            groups.append(["--env", f"{var.name}={var.value}"])
    if secrets:
        groups.append(["--env-file", SECRETS_ENV])
    if log_args:
        groups.append(list(log_args))
    groups += [["--entrypoint", ""], [spec.image], list(spec.command)]
    groups += [[arg] for arg in spec.args]
    return groups


def docker_run_argv(spec: ContainerSpec, *, secrets: bool = False, log_args: Sequence[str] = ()) -> list[str]:
    """The full ``docker run …`` argv (without the leading ``docker``)."""
    return ["run", *(token for group in docker_run_groups(spec, secrets=secrets, log_args=log_args) for token in group)]


def _has_secrets(spec: ContainerSpec) -> bool:
    return any(var.secret_name for var in spec.env)


def _run_script(spec: ContainerSpec, log_args: Sequence[str]) -> str:
    groups = docker_run_groups(spec, secrets=_has_secrets(spec), log_args=log_args)
    lines = [
        "#!/bin/sh",
        f"# {spec.served_name} ({spec.runtime}): the same command and args as its Kubernetes container.",
        "exec /usr/bin/docker run \\",
    ]
    body = ["  " + " ".join(shlex.quote(token) for token in group) for group in groups]
    lines += [line + " \\" for line in body[:-1]] + [body[-1]]
    return "\n".join(lines) + "\n"


def _pull_script(spec: ContainerSpec) -> str:
    return "\n".join(
        [
            "#!/bin/sh",
            "# Pinned by digest: a present image is the right one; pull only when it is missing.",
            "set -eu",
            f"image={shlex.quote(spec.image)}",
            '/usr/bin/docker image inspect "$image" >/dev/null 2>&1 || /usr/bin/docker pull --quiet "$image"',
            "",
        ]
    )


def _disk_script(disk: DataDisk) -> str:
    return "\n".join(
        [
            "#!/bin/sh",
            f"# Mounts the weights disk at {MODEL_ROOT}, formatting it the first time it is seen.",
            "set -eu",
            f"mnt={MODEL_ROOT}",
            'if mountpoint -q "$mnt"; then exit 0; fi',
            "find_disk() {",
            *("  " + line for line in disk.find.strip().splitlines()),
            "}",
            "dev=''",
            "for _ in $(seq 60); do",
            "  dev=$(find_disk || true)",
            '  [ -n "$dev" ] && break',
            "  sleep 2",
            "done",
            'if [ -z "$dev" ]; then echo "llm-server: no data disk found" >&2; exit 1; fi',
            f'blkid "$dev" >/dev/null 2>&1 || mkfs.ext4 -q -m 0 -L {shlex.quote(disk.label)} "$dev"',
            'mkdir -p "$mnt"',
            'mount -o noatime,nodev,nosuid,noexec "$dev" "$mnt"',
            "",
        ]
    )


def _sync_script(spec: ContainerSpec, sync: WeightsSync) -> str:
    dest = host_path(spec, weights_path(spec, sync))
    command = [part.replace("{source}", sync.source).replace("{dest}", dest) for part in sync.command]
    return "\n".join(
        [
            "#!/bin/sh",
            f"# Copies the weights of {spec.served_name} to local disk once per source and revision.",
            "set -eu",
            f"marker={shlex.quote(sync.marker)}",
            'if [ -e "$marker" ]; then exit 0; fi',
            f"mkdir -p {shlex.quote(dest)} {shlex.quote(SYNC_MARKERS)}",
            " ".join(shlex.quote(part) for part in command),
            f'printf "%s %s\\n" {shlex.quote(sync.source)} {shlex.quote(sync.revision or "-")} > "$marker"',
            "",
        ]
    )


def _secrets_script(spec: ContainerSpec, secrets: SecretFetch) -> str:
    lines = [
        "#!/bin/sh",
        "# Reads the server's secret environment from the secret store at every start (rotation needs a",
        "# restart, not a redeploy). Values go to a root-only file on tmpfs, never into user data or logs.",
        "set -eu",
        "umask 077",
        f"mkdir -p {shlex.quote(SECRETS_ENV.rsplit('/', 1)[0])}",
        f"tmp=$(mktemp {shlex.quote(SECRETS_ENV)}.XXXXXX)",
        "trap 'rm -f \"$tmp\"' EXIT",
        "fetch() {",
        '  value=$("$@")',
        '  if [ "$(printf "%s" "$value" | wc -l)" -ne 0 ]; then',
        '    echo "llm-server: a secret value spans several lines; an env file holds one line per variable" >&2',
        "    exit 1",
        "  fi",
        "}",
    ]
    for var in spec.env:
        if not var.secret_name:
            continue
        secret_id = secrets.ids[var.secret_name]
        command = [part.replace("{secret}", secret_id) for part in secrets.command]
        lines.append("fetch " + " ".join(shlex.quote(part) for part in command))
        lines.append(f'printf "%s=%s\\n" {shlex.quote(var.name)} "$value" >> "$tmp"')
    lines += [f'mv "$tmp" {shlex.quote(SECRETS_ENV)}', "trap - EXIT", ""]
    return "\n".join(lines)


def _unit(spec: ContainerSpec, steps: Sequence[str]) -> str:
    lines = [
        "[Unit]",
        f"Description=pulumi-llm model server {spec.served_name} ({spec.runtime})",
        "Wants=network-online.target",
        "After=network-online.target docker.service",
        "Requires=docker.service",
        # Never give up: a server that cannot start yet (capacity, a sync error) keeps trying, and the
        # load balancer's health check replaces a VM that never becomes healthy.
        "StartLimitIntervalSec=0",
        "",
        "[Service]",
        "Type=simple",
        f"TimeoutStartSec={start_timeout_seconds(spec)}",
        *(f"ExecStartPre={SCRIPT_DIR}/{step}" for step in steps),
        f"ExecStartPre=-/usr/bin/docker rm --force {CONTAINER_NAME}",
        f"ExecStart={SCRIPT_DIR}/run",
        # Streams finish before SIGKILL: the server's drain flag gives them the longest stream (stop_seconds).
        f"ExecStop=/usr/bin/docker stop --time {stop_seconds(spec)} {CONTAINER_NAME}",
        f"TimeoutStopSec={stop_seconds(spec) + 30}",
        "Restart=always",
        "RestartSec=10",
        "",
        "[Install]",
        "WantedBy=multi-user.target",
        "",
    ]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# The document
# ---------------------------------------------------------------------------------------------


class _Dumper(yaml.SafeDumper):
    """Multi-line strings as literal blocks, so scripts read as scripts in the user data."""


class _Argv(list):  # type: ignore[type-arg]
    """A command's argv, written on one line: ``[systemctl, daemon-reload]``."""


def _represent_str(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)  # pyright: ignore[reportUnknownMemberType] - PyYAML ships no type hints


def _represent_argv(dumper: yaml.SafeDumper, data: _Argv) -> yaml.SequenceNode:
    return dumper.represent_sequence("tag:yaml.org,2002:seq", list(data), flow_style=True)


_Dumper.add_representer(str, _represent_str)
_Dumper.add_representer(_Argv, _represent_argv)


def _file(path: str, content: str, permissions: str) -> dict[str, Any]:
    return {"path": path, "owner": "root:root", "permissions": permissions, "content": content}


def render_cloud_init(
    spec: ContainerSpec,
    *,
    weights_sync: WeightsSync | None,
    metrics: MetricsAgent,
    data_disk: DataDisk | None = None,
    secrets: SecretFetch | None = None,
    log_args: Sequence[str] = (),
    router: router_vm.VmRouter | None = None,
    metadata_guard: guard_mod.MetadataGuard | None = None,
) -> str:
    """The ``#cloud-config`` document that boots `spec` on a GPU-ready VM image.

    `weights_sync`: copies the weights onto the disk (None when the disk already holds them, e.g. a
    snapshot). `metrics`: the cloud's agent. `data_disk`: the weights disk (None: /opt/models on the
    root disk). `secrets`: how to read the spec's secret env vars (required when it has any).
    `log_args`: Docker logging options, e.g. ``--log-driver=awslogs …``. `router`: the vLLM router and its
    worker reconciler beside the server (`router_vm`), or None. `metadata_guard`: the DOCKER-USER rules that keep
    bridged containers from the metadata service where it has no hop limit (GCP, Azure); every unit that starts one
    (the server's, the router's) requires the guard's unit and starts after it (`metadata_guard`).
    """
    mount = model_mount(spec)
    if not mount.read_only:
        raise ValueError(f"{spec.served_name}: the model mount must be read-only")
    secret_vars = [var for var in spec.env if var.secret_name]
    if secret_vars:
        if secrets is None:
            raise ValueError(f"{spec.served_name}: the server reads secrets but no SecretFetch was given")
        missing = sorted({name for v in secret_vars if (name := v.secret_name) and name not in secrets.ids})
        if missing:
            raise ValueError(f"{spec.served_name}: no secret-store id for {', '.join(missing)}")
    if weights_sync is not None:
        host_path(spec, weights_path(spec, weights_sync))  # fails early when the path is not below the mount

    steps: list[str] = []
    files: list[dict[str, Any]] = []
    if data_disk is not None:
        steps.append("data-disk")
        files.append(_file(f"{SCRIPT_DIR}/data-disk", _disk_script(data_disk), "0755"))
    if weights_sync is not None:
        steps.append("sync-weights")
        files.append(_file(f"{SCRIPT_DIR}/sync-weights", _sync_script(spec, weights_sync), "0755"))
    if secret_vars:
        assert secrets is not None
        steps.append("fetch-secrets")
        files.append(_file(f"{SCRIPT_DIR}/fetch-secrets", _secrets_script(spec, secrets), "0700"))
    steps.append("pull-image")
    files.append(_file(f"{SCRIPT_DIR}/pull-image", _pull_script(spec), "0755"))
    files.append(_file(f"{SCRIPT_DIR}/run", _run_script(spec, log_args), "0755"))
    files.append(_file(f"/etc/systemd/system/{UNIT}", _unit(spec, steps), "0644"))
    for config in (m for m in spec.mounts if m.kind == "config"):
        for relative, text in config.files:
            files.append(_file(f"{CONFIG_ROOT}/{config.name}/{relative}", text, "0644"))
    if router is not None:
        files += [_file(path, text, mode) for path, text, mode in router_vm.boot_files(spec, router)]
    if metadata_guard is not None:
        guarded = [UNIT, *(router_vm.CONTAINER_UNITS if router is not None else ())]
        files += [_file(path, text, "0644") for path, text in guard_mod.files(metadata_guard, guarded)]
    for path, text in metrics.files:
        files.append(_file(path, text, "0644"))
    files.append(_file(f"{SCRIPT_DIR}/metrics-agent", "#!/bin/sh\nset -eu\n" + metrics.script.strip() + "\n", "0755"))

    units = [UNIT, *(router_vm.UNITS if router is not None else ())]
    document = {
        "write_files": files,
        "runcmd": [
            _Argv(["systemctl", "daemon-reload"]),
            # --no-block: cloud-init finishes while the units sync and start; boot is never held up.
            _Argv(["systemctl", "enable", "--now", "--no-block", *units]),
            _Argv([f"{SCRIPT_DIR}/metrics-agent"]),
        ],
    }
    header = (
        "#cloud-config\n"
        f"# pulumi-llm GPU VM: {spec.served_name} ({spec.runtime}), image {spec.image}\n"
        "# Needs an image with the NVIDIA driver, Docker and the NVIDIA container toolkit.\n"
        f"# Metrics agent: {metrics.name}.\n"
        + (
            f"# Router: vllm-router {router.options.policy} on port {router_vm.ROUTER_PORT}, workers from: {router.lister.description}.\n"
            if router
            else ""
        )
    )
    return header + yaml.dump(document, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=1 << 16)
