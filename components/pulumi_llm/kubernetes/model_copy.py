"""ModelCopy: a one-shot Kubernetes Job that puts a pinned Hugging Face revision where servers read it.

Servers never download from a hub at start (docs/ARCHITECTURE.md, convention 11 "Weights"); this Job
does it once per revision: into
the stack's object store (cloud clusters: the token comes from the cloud secret store through the
Job's pod identity) or into the weights claim (on-prem: the token comes from a Kubernetes Secret the
operator created). The Job's name carries the revision, so a new revision is a new Job (Jobs are
immutable) and model servers are created after the copy completes.

An object-store copy talks to its own cloud with that cloud's pinned CLI (`UPLOADERS`): the token from the
cloud's secret store and the upload to its object store, both as the Job's pod identity (EKS Pod Identity,
GKE Workload Identity) — never another cloud's tool pointed at the wrong store.
"""

from __future__ import annotations

import copy
import hashlib
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast

import pulumi
import pulumi_kubernetes as k8s
from pydantic import BaseModel, ConfigDict, Field

from .. import pins
from ..as_given import as_given
from ..naming import child, dns_label
from . import credential_endpoints, render
from .credential_endpoints import CredentialEndpoint

WORK_DIR = "/work"
TOKEN_DIR = "/secrets"
HF_TOKEN_SECRET_KEY = "token"
# A batch Job, so hard CPU limits cost nothing but time; they keep a copy from starving the node's servers.
DOWNLOAD_RESOURCES = {"requests": {"cpu": "1", "memory": "2Gi"}, "limits": {"cpu": "2", "memory": "4Gi"}}
UPLOAD_RESOURCES = {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"cpu": "2", "memory": "2Gi"}}
TOKEN_RESOURCES = {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "500m", "memory": "256Mi"}}
TMP_DIR = "/tmp"  # noqa: S108 - the Job's emptyDir, not the node's /tmp


@dataclass(frozen=True)
class Uploader:
    """How a copy Job reaches one cloud: its CLI image, the token fetch and the upload (shell templates)."""

    image: str
    token: str
    """Writes the Hugging Face token to ``{out}``; ``{secret}`` (quoted) and ``{project}`` are filled in."""
    sync: str
    """Uploads ``{source}`` (the downloaded directory) to ``{dest}`` (the store prefix), skipping hf's .cache."""
    env: tuple[tuple[str, str], ...]
    """What the CLI needs on a read-only root filesystem: a writable home (and gcloud's configuration dir)."""


UPLOADERS: dict[str, Uploader] = {
    "s3": Uploader(
        image=pins.AWS_CLI.ref,
        token="aws secretsmanager get-secret-value --secret-id {secret} --query SecretString --output text > {out}",
        sync="exec aws s3 sync {source} {dest} --only-show-errors --exclude '.cache/*'",
        env=(("HOME", TMP_DIR),),
    ),
    # gcloud storage rsync: --exclude takes Python regexes matched against the path below the source; secrets
    # versions access prints the payload alone (cloud.google.com/sdk/gcloud/reference/storage/rsync and
    # /secrets/versions/access). The same commands the GCP GPU VMs and the adapter copies run (gpu_vm/gcp_boot.py,
    # kubernetes/adapter_sync.py).
    "gs": Uploader(
        image=pins.GOOGLE_CLOUD_CLI.ref,
        token="gcloud secrets versions access latest --secret={secret} --project={project} --quiet > {out}",
        sync="exec gcloud storage rsync --recursive --quiet --exclude='\\.cache/.*' {source} {dest}",
        env=(("HOME", TMP_DIR), ("CLOUDSDK_CONFIG", f"{TMP_DIR}/gcloud")),
    ),
}
"""Store scheme → its uploader. Azure clusters copy into a claim only (settings/checks_sources.py): no Blob entry."""


def decide_uploader(scheme: str) -> Uploader:
    """The uploader of an object store's scheme; another scheme is a programming error (settings refuse it first)."""
    if scheme not in UPLOADERS:
        raise ValueError(f"no copy uploader for {scheme}://: object-store copies go to {', '.join(f'{s}://' for s in UPLOADERS)}")
    return UPLOADERS[scheme]


@as_given
@dataclass(frozen=True)
class CopySpec:
    """What to copy and where."""

    served_name: str
    hf_repo: str
    revision: str
    destination: Literal["object-store", "volume"]
    key: str
    """object-store: key prefix in the bucket; volume: path inside the claim."""
    downloader_image: str
    """An image with the `hf` CLI (huggingface_hub) — the vLLM image carries it."""
    uploader_image: str = ""
    """object-store: an image with the cloud's CLI. Default: the pinned CLI of `store_scheme` (`UPLOADERS`)."""
    claim: str | None = None
    token_secret: str = ""
    """object-store: the cloud secret id of the Hugging Face token; volume: the Kubernetes Secret name."""
    scratch_gib: int = 100
    store_scheme: str = "s3"
    """object-store: the store's URI scheme, which picks the uploader (s3: AWS CLI, gs: Google Cloud CLI)."""
    token_project: str = ""
    """object-store on gs: the project of the token's Secret Manager secret."""


def job_name(spec: CopySpec) -> str:
    digest = hashlib.sha256(f"{spec.hf_repo}@{spec.revision}".encode()).hexdigest()[:8]
    return dns_label(f"copy-{spec.served_name}-{digest}", max_len=63)


def _download(spec: CopySpec, dest: str) -> dict[str, Any]:
    script = (
        f'HF_TOKEN="$(cat {TOKEN_DIR}/{HF_TOKEN_SECRET_KEY})" exec hf download {shlex.quote(spec.hf_repo)} '
        f"--revision {shlex.quote(spec.revision)} --local-dir {shlex.quote(dest)}"
    )
    return {
        "name": "download",
        "image": spec.downloader_image,
        "imagePullPolicy": "IfNotPresent",
        "command": ["/bin/sh", "-c", script],
        # The one place that talks to the hub, once per revision; servers run with HF_HUB_OFFLINE=1.
        "env": [{"name": "HF_HOME", "value": f"{WORK_DIR}/.hf"}, {"name": "HF_HUB_DISABLE_TELEMETRY", "value": "1"}],
        "volumeMounts": [{"name": "work", "mountPath": WORK_DIR}, {"name": "token", "mountPath": TOKEN_DIR, "readOnly": True}],
        "securityContext": _container_security(),
        "resources": copy.deepcopy(DOWNLOAD_RESOURCES),
    }


def _container_security() -> dict[str, Any]:
    return {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}, "readOnlyRootFilesystem": True, "runAsNonRoot": True}


def job_spec(spec: CopySpec, *, service_account: str, env: dict[str, Any] | None = None) -> dict[str, Any]:
    """The batch/v1 Job spec (pure)."""
    volumes: list[dict[str, Any]] = [{"name": "token", "emptyDir": {"medium": "Memory", "sizeLimit": "1Mi"}}]
    init: list[dict[str, Any]] = []
    containers: list[dict[str, Any]]
    if spec.destination == "object-store":
        uploader = decide_uploader(spec.store_scheme)
        image = spec.uploader_image or uploader.image
        cli_env = [{"name": k, "value": v} for k, v in uploader.env]
        volumes.append({"name": "work", "emptyDir": {"sizeLimit": f"{spec.scratch_gib}Gi"}})
        fetch = uploader.token.format(
            secret=shlex.quote(spec.token_secret), project=shlex.quote(spec.token_project), out=f"{TOKEN_DIR}/{HF_TOKEN_SECRET_KEY}"
        )
        init.append(
            {
                "name": "token",
                "image": image,
                "imagePullPolicy": "IfNotPresent",
                "command": ["/bin/sh", "-c", fetch],
                "env": copy.deepcopy(cli_env),
                "volumeMounts": [{"name": "token", "mountPath": TOKEN_DIR}, {"name": "tmp", "mountPath": TMP_DIR}],
                "securityContext": _container_security(),
                "resources": copy.deepcopy(TOKEN_RESOURCES),
            }
        )
        init.append(_download(spec, f"{WORK_DIR}/model"))
        # $(MODEL_BUCKET) is Kubernetes' expansion from the container's env (before the shell), hence "…" not shlex.
        sync = uploader.sync.format(source=f"{WORK_DIR}/model", dest=f'"{spec.store_scheme}://$(MODEL_BUCKET)/{spec.key}"')
        containers = [
            {
                "name": "upload",
                "image": image,
                "imagePullPolicy": "IfNotPresent",
                "command": ["/bin/sh", "-c", sync],
                "env": copy.deepcopy(cli_env),
                "volumeMounts": [{"name": "work", "mountPath": WORK_DIR, "readOnly": True}, {"name": "tmp", "mountPath": TMP_DIR}],
                "securityContext": _container_security(),
                "resources": copy.deepcopy(UPLOAD_RESOURCES),
            }
        ]
        volumes.append({"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}})
    else:
        if spec.claim is None:
            raise ValueError(f"{spec.served_name}: a volume copy needs the weights claim")
        volumes += [
            {"name": "work", "persistentVolumeClaim": {"claimName": spec.claim}},
            {
                "name": "token",
                "secret": {"secretName": spec.token_secret, "items": [{"key": HF_TOKEN_SECRET_KEY, "path": HF_TOKEN_SECRET_KEY}]},
            },
        ]
        volumes = [v for v in volumes if not (v["name"] == "token" and "emptyDir" in v)]
        containers = [_download(spec, f"{WORK_DIR}/{spec.key}")]
    for container in init + containers:
        container["env"] = [*({"name": k, "value": v} for k, v in sorted((env or {}).items())), *container.get("env", [])]
    return {
        "backoffLimit": 2,
        "ttlSecondsAfterFinished": 7 * 24 * 3600,
        "activeDeadlineSeconds": 4 * 3600,
        "template": {
            "metadata": {"labels": {"app.kubernetes.io/name": spec.served_name, "app.kubernetes.io/component": "model-copy"}},
            "spec": {
                "restartPolicy": "Never",
                "serviceAccountName": service_account,
                "automountServiceAccountToken": False,
                "securityContext": render.pod_security(),
                "initContainers": init,
                "containers": containers,
                "volumes": volumes,
            },
        },
    }


def network_policy_spec(spec: CopySpec, endpoints: Sequence[CredentialEndpoint] = ()) -> dict[str, Any]:
    """DNS, HTTPS (the hub, the object store) and the node's credential endpoints; nothing in."""
    return {
        "podSelector": {"matchLabels": {"app.kubernetes.io/name": spec.served_name, "app.kubernetes.io/component": "model-copy"}},
        "policyTypes": ["Ingress", "Egress"],
        "ingress": [],
        "egress": [
            {
                "to": [{"namespaceSelector": {}, "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
                "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}],
            },
            {"ports": [{"port": 443, "protocol": "TCP"}]},
            *credential_endpoints.egress_rules(endpoints),
        ],
    }


class ModelCopyArgs(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    spec: CopySpec = Field(description="What to copy and where.")
    namespace: str = Field(description="Namespace of the Job.")
    labels: dict[str, str] = Field(default_factory=dict, description="Labels of the Job.")
    env: dict[str, Any] = Field(default_factory=dict, description="Env valued from other resources (e.g. MODEL_BUCKET).")
    service_account: str = Field(description="Service account of the Job (bound to the cloud identity that may write).")
    service_account_annotations: dict[str, Any] = Field(
        default_factory=dict, description="Annotations of that service account (GKE: iam.gke.io/gcp-service-account). Default none."
    )
    credential_endpoints: tuple[CredentialEndpoint, ...] = Field(
        default=(), description="Node-local credential endpoints its cloud identity needs. Default none."
    )


class ModelCopy(pulumi.ComponentResource):
    job: k8s.batch.v1.Job

    def __init__(self, name: str, args: ModelCopyArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("pulumi-llm:index:ModelCopy", name, None, opts)
        here = pulumi.ResourceOptions(parent=self)
        account = k8s.core.v1.ServiceAccount(
            child(name, "sa"),
            metadata=cast(
                k8s.meta.v1.ObjectMetaArgsDict,
                {
                    "name": args.service_account,
                    "namespace": args.namespace,
                    "labels": args.labels,
                    **({"annotations": args.service_account_annotations} if args.service_account_annotations else {}),
                },
            ),
            automount_service_account_token=False,
            opts=here,
        )
        # The namespace denies all traffic by default; the copy reaches DNS and HTTPS (the hub, the
        # object store) and accepts nothing.
        # Specs are rendered as Kubernetes JSON (camelCase keys, plain dicts the tests read) and cast to the
        # SDK's snake_case *ArgsDict types: the provider sends a dict's keys as written.
        k8s.networking.v1.NetworkPolicy(
            child(name, "netpol"),
            metadata={"name": job_name(args.spec), "namespace": args.namespace, "labels": args.labels},
            spec=cast(k8s.networking.v1.NetworkPolicySpecArgsDict, network_policy_spec(args.spec, args.credential_endpoints)),
            opts=here,
        )
        self.job = k8s.batch.v1.Job(
            child(name, "job"),
            metadata={"name": job_name(args.spec), "namespace": args.namespace, "labels": args.labels},
            spec=cast(k8s.batch.v1.JobSpecArgsDict, job_spec(args.spec, service_account=args.service_account, env=args.env)),
            # Pulumi waits for the Job to complete, so servers created after it find the weights.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[account], custom_timeouts=pulumi.CustomTimeouts(create="240m")),
        )
        self.register_outputs({})
