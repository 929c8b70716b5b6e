"""Copy what a model server must read locally (LoRA adapters of streamed weights) into its pod before it starts.

vLLM streams weights from s3:// or gs:// (the Run:ai streamer) but loads a LoRA adapter only from a local
directory (runtimes/vllm.py, the LoRA facts). So a pod whose weights are streamed gets one init container per
`Fetch` of its ContainerSpec: it copies the adapter's prefix into the scratch volume the server mounts
read-only at /adapters, and the server starts once every copy has succeeded (a failed copy fails the pod
before vLLM starts, instead of vLLM failing on a missing path).

Each copy runs the cloud's own CLI as the pod's service account — the identity the server already streams
the weights with (EKS Pod Identity, GKE Workload Identity), through the egress the server's NetworkPolicy
already allows (HTTPS, the node's credential endpoint): no key, no extra grant, since adapters live below
the model's prefix. The AWS CLI image is the one the hub copy Job uploads with (kubernetes/model_copy.py);
the copy commands are the ones the GPU VMs sync weights with (gpu_vm/aws_boot.py, gpu_vm/gcp_boot.py).
Adapters below volume weights (a claim) are already in the pod: they get no copy.
"""

from __future__ import annotations

import copy
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .. import pins
from ..runtimes.spec import ContainerSpec, Fetch
from .model_copy import UPLOAD_RESOURCES

TMP_DIR = "/tmp"  # noqa: S108 - an emptyDir of the pod, not the node's /tmp
ADAPTER_CONFIG = "adapter_config.json"
"""The file every PEFT LoRA adapter directory holds (vLLM reads it first: vllm/lora/peft_helper.py). A sync of a
prefix that doesn't exist succeeds with nothing copied (`aws s3 sync`), so the copy checks for it and fails the
pod with a message instead of letting vLLM fail on an empty directory."""


@dataclass(frozen=True)
class Copier:
    """How one object store's prefixes are copied to a local directory."""

    image: str
    command: tuple[str, ...]
    """The argv, with ``{source}`` and ``{dest}`` placeholders; idempotent, so a restarted pod resumes."""
    env: tuple[tuple[str, str], ...]
    """What the CLI needs to run as a non-root user on a read-only root filesystem (a writable home)."""


COPIERS: Mapping[str, Copier] = {
    "s3": Copier(
        image=pins.AWS_CLI.ref,
        command=("aws", "s3", "sync", "{source}", "{dest}", "--only-show-errors", "--no-progress"),
        env=(("HOME", TMP_DIR),),
    ),
    "gs": Copier(
        image=pins.GOOGLE_CLOUD_CLI.ref,
        command=("gcloud", "storage", "rsync", "--recursive", "--quiet", "{source}", "{dest}"),
        env=(("HOME", TMP_DIR), ("CLOUDSDK_CONFIG", f"{TMP_DIR}/gcloud")),
    ),
}
"""URI scheme → copier. Azure clusters read claims only (settings/checks_sources.py), so Blob has none here."""


def decide_copier(source: str) -> Copier:
    """The copier of `source`'s scheme; a scheme without one is a programming error (settings refuse it first)."""
    scheme = source.partition("://")[0]
    if scheme not in COPIERS:
        raise ValueError(f"no copier for {source}: adapters are copied from {', '.join(f'{s}://' for s in COPIERS)}")
    return COPIERS[scheme]


def _container_name(fetch: Fetch) -> str:
    """`adapter-<last path segment>`, a DNS label (adapter names are labels of at most 40 characters)."""
    base = re.sub(r"[^a-z0-9-]", "-", fetch.dest.rstrip("/").rsplit("/", 1)[-1].lower()).strip("-")
    return f"adapter-{base}"[:63].rstrip("-")


def copy_command(fetch: Fetch) -> list[str]:
    """`sh -c 'mkdir -p <dest> && <sync> && <dest>/adapter_config.json exists'`, failing with a line that names
    the source when the copy brought no adapter."""
    copier = decide_copier(fetch.source)
    sync = " ".join(shlex.quote(part.replace("{source}", fetch.source).replace("{dest}", fetch.dest)) for part in copier.command)
    check = shlex.quote(f"{fetch.dest}/{ADAPTER_CONFIG}")
    missing = shlex.quote(f"no {ADAPTER_CONFIG} below {fetch.source}: not a LoRA adapter (or the path is wrong)")
    dest = shlex.quote(fetch.dest)
    return ["/bin/sh", "-c", f"mkdir -p {dest} && {sync} && if [ ! -f {check} ]; then echo {missing} >&2; exit 1; fi"]


def init_containers(spec: ContainerSpec, env: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """One init container per fetch of `spec`, in order (pure). `env` (e.g. MODEL_BUCKET, which a source's
    `$(MODEL_BUCKET)` names and Kubernetes expands in the command) comes first in each container's env."""
    mounts = {m.name: m for m in spec.mounts}
    out: list[dict[str, Any]] = []
    for fetch in spec.fetches:
        mount = mounts.get(fetch.mount)
        if mount is None or mount.kind != "scratch" or not fetch.dest.startswith(mount.path.rstrip("/") + "/"):
            raise ValueError(f"{spec.served_name}: fetch {fetch.dest} is not below a scratch mount named {fetch.mount}")
        command = copy_command(fetch)
        volume_mounts: list[dict[str, Any]] = [{"name": mount.name, "mountPath": mount.path}]
        if "tmp" in mounts and mounts["tmp"].path == TMP_DIR:
            volume_mounts.append({"name": "tmp", "mountPath": TMP_DIR})
        out.append(
            {
                "name": _container_name(fetch),
                "image": decide_copier(fetch.source).image,
                "imagePullPolicy": "IfNotPresent",
                "command": command,
                "env": [
                    *({"name": k, "value": v} for k, v in sorted((env or {}).items())),
                    *({"name": k, "value": v} for k, v in decide_copier(fetch.source).env),
                ],
                "volumeMounts": volume_mounts,
                "securityContext": {
                    "allowPrivilegeEscalation": False,
                    "capabilities": {"drop": ["ALL"]},
                    "readOnlyRootFilesystem": True,
                    "runAsNonRoot": True,
                },
                "resources": copy.deepcopy(UPLOAD_RESOURCES),
                "terminationMessagePolicy": "FallbackToLogsOnError",
            }
        )
    return out


def attach(pod: dict[str, Any], spec: ContainerSpec, env: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """`pod` (a rendered pod spec) with `spec`'s copies as init containers ahead of any it has; returned for chaining."""
    copies = init_containers(spec, env)
    if copies:
        pod["initContainers"] = [*copies, *pod.get("initContainers", [])]
    return pod
