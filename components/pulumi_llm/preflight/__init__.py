"""`pulumi-llm preflight STACK`: what must exist before `pulumi up`, checked against the live cluster or account.

`verify` proves the plan is consistent with itself; what it cannot see are the named preconditions — the
objects the plan reads but does not create. preflight looks them up, read-only:

- on-prem stacks, through the stack's kubeconfig context (the API server's REST API): a CNI that enforces
  NetworkPolicy (a calico-node, cilium, antrea-agent, kube-router, canal or weave-net DaemonSet), the
  IngressClass and the CRDs of operators the stack leaves to the cluster, nodes with allocatable
  nvidia.com/gpu when the GPU Operator is not installed, and the model namespace: the user's
  (`onprem.namespace_exists`, required whenever the servers read the user's claims or Secrets: it must
  exist), or the stack's — absent before the first `pulumi up`, refused if someone else's (the provider
  does not adopt) — then the models' claims (Bound) with their StorageClass and the Secrets the settings
  name (TLS, Hugging Face token, API keys);
- AWS stacks, with the caller's AWS credentials (boto3): the ACM certificates and the Route 53 zone the
  settings reference, and the IAM principals given cluster-admin access entries.

One line per missing item and exit 2; otherwise a short table of what was found and exit 0.
Wiring: `add_parsers(subparsers)` registers the sub-command; `kube_factory`/`session_factory` let tests
aim it at a fake API server and moto.
"""

from __future__ import annotations

import argparse
import functools
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TextIO

from .checks import Check, aws_checks, onprem_checks

KubeFactory = Callable[[dict[str, Any]], Any]
SessionFactory = Callable[[str | None], Any]


def default_kube(settings: dict[str, Any]) -> Any:
    from .kube import KubeClient, kubeconfig_path

    onprem: dict[str, Any] = settings.get("onprem") or {}
    return KubeClient.from_kubeconfig(kubeconfig_path(onprem.get("kubeconfig")), onprem["kube_context"])


def default_session(region: str | None) -> Any:
    import boto3  # pyright: ignore[reportMissingTypeStubs] - boto3 ships no type stubs

    return boto3.Session(region_name=region)


def add_parsers(subparsers: Any, *, kube_factory: KubeFactory = default_kube, session_factory: SessionFactory = default_session) -> None:
    preflight = subparsers.add_parser(
        "preflight",
        help="check what must exist before `pulumi up` (claims, Secrets, CNI, certificates) against the live cluster or account",
    )
    preflight.add_argument("stack", help="stack name: stacks/Pulumi.STACK.yaml")
    preflight.set_defaults(handler=functools.partial(handle, kube_factory=kube_factory, session_factory=session_factory))


def run_checks(settings: dict[str, Any], *, kube_factory: KubeFactory, session_factory: SessionFactory) -> list[Check]:
    cloud = settings.get("cloud")
    if cloud == "onprem":
        return list(onprem_checks(settings, kube_factory(settings)))
    if cloud == "aws":
        return list(aws_checks(settings, session_factory(settings.get("region"))))
    return []


def report(stack: str, checks: Iterable[Check], out: TextIO) -> int:
    checks = list(checks)
    missing = [c for c in checks if not c.ok]
    for check in missing:
        print(f"{stack}: {check.item}: {check.detail}", file=out)
    if missing:
        return 2
    if not checks:
        print(f"{stack}: ok (nothing the settings reference must exist before `pulumi up`)", file=out)
        return 0
    width = max(len(c.item) for c in checks)
    print(f"{stack}: ok", file=out)
    for check in checks:
        print(f"  {check.item:<{width}}  {check.detail}", file=out)
    return 0


def handle(args: argparse.Namespace, *, kube_factory: KubeFactory, session_factory: SessionFactory, out: TextIO | None = None) -> int:
    from ..offline.plan import Project, load_settings

    project = Project.find((getattr(args, "project_dir", None) or Path.cwd()).resolve())
    settings = load_settings(project, args.stack).model_dump(mode="json")
    return report(args.stack, run_checks(settings, kube_factory=kube_factory, session_factory=session_factory), out or sys.stdout)
