"""serving.router-scale-out: a cache_aware router fronts vLLM servers that serve the routes it tokenizes through.

vllm-router's `cache_aware` gets a prompt's token ids from a replica's `/v1/chat/completions/render` (or
`/v1/completions/render`); vLLM serves those only when it runs with `--enable-scale-out`
(`runtimes/vllm.py` SCALE_OUT_FLAG, with vLLM's side of the fact; `kubernetes/router_render.py`
TOKENIZE_ROUTES, the router's). Without it every decision is `missing_tokens` and the router routes on load
alone: nothing fails, the prefix cache just stops being hit — so only a check of the plan finds it. The stack
adds the flag (`decide_scale_out`); this rule reads both sides as rendered:

* the router side: every pod template whose container runs vllm-router with Kubernetes discovery
  (`--service-discovery`) and a policy in SCALE_OUT_POLICIES, its `--selector k=v ...`,
  `--service-discovery-namespace` (default: its own namespace) and `--service-discovery-port`;
* the server side: every pod template of the plan in that namespace whose labels the selector matches (a
  LeaderWorkerSet's leader pods carry `leaderworkerset.sigs.k8s.io/worker-index: "0"`, which its controller
  adds), and the container serving the discovery port: `vllm serve` with the flag among its arguments (also
  inside a `sh -c` command line, as a LeaderWorkerSet leader starts it after Ray).

A router that selects no pod of the plan, or a non-vLLM server, is an error too: its cache_aware can't work.
Routers given static `--worker-urls` (tests and benchmarks, never a stack) have no pods to read and are left out.

GPU-VM groups (AWS launch template, GCP instance template, Azure scale set; `verify/boot_scripts.py` decodes
each cloud's encoding): every VM runs the router beside its server, and the router's workers are the group's
servers, so the rule reads both from the group's boot script — a file that runs vllm-router (its module
`vllm_router` or its `vllm-router` binary) with a policy in SCALE_OUT_POLICIES, and the files that run
`vllm serve` (the `docker run` line of the server), each of which must carry the flag.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterator, Sequence
from typing import Any

from ...runtimes.vllm import SCALE_OUT_FLAG, SCALE_OUT_POLICIES, SERVE_COMMAND
from ..boot_scripts import boot_files, boot_scripts
from ..plain import array_at, dig, is_object, object_at
from ..report import Violation
from ..view import PlanView
from .registry import rule, violation

NAME = "serving.router-scale-out"

LWS_LEADER_LABELS = {"leaderworkerset.sigs.k8s.io/worker-index": "0"}
"""Labels the LeaderWorkerSet controller gives each group's leader pod (kubernetes-sigs/lws, the worker index
label; the router selects group leaders by it: kubernetes/router.py router_workers)."""

Template = tuple[dict[str, Any], str, dict[str, str], dict[str, Any]]
"""(workload, namespace, pod labels, pod spec) of one pod template."""


def _templates(view: PlanView) -> Iterator[Template]:
    """Every pod template of the plan's workloads, a LeaderWorkerSet's leader with its controller's label."""
    for obj in view.objects("Deployment", "StatefulSet", "DaemonSet", "LeaderWorkerSet"):
        ns = str(object_at(obj, "metadata").get("namespace") or "default")
        if obj.get("kind") == "LeaderWorkerSet":
            leader = dig(obj, ("spec", "leaderWorkerTemplate", "leaderTemplate"))
            if is_object(leader):
                yield obj, ns, {**object_at(object_at(leader, "metadata"), "labels"), **LWS_LEADER_LABELS}, object_at(leader, "spec")
            continue
        template = dig(obj, ("spec", "template"))
        if is_object(template):
            yield obj, ns, dict(object_at(object_at(template, "metadata"), "labels")), object_at(template, "spec")


def _values(args: Sequence[str], flag: str) -> list[str] | None:
    """The values after `flag` up to the next `--flag`; None when `flag` is absent."""
    if flag not in args:
        return None
    out: list[str] = []
    for token in args[args.index(flag) + 1 :]:
        if token.startswith("--"):
            break
        out.append(token)
    return out


def _one(args: Sequence[str], flag: str) -> str | None:
    values = _values(args, flag)
    return values[0] if values else None


def vllm_serve_args(container: dict[str, Any]) -> list[str] | None:
    """The arguments a container gives `vllm serve` (its command and args, or the `sh -c` line that runs it);
    None when it doesn't run vLLM's server."""
    tokens = [str(t) for t in [*array_at(container, "command"), *array_at(container, "args")]]
    candidates = [tokens, *(shlex.split(t) for t in tokens if " ".join(SERVE_COMMAND) in t)]
    return _after_serve(candidates)


def _after_serve(candidates: Sequence[Sequence[str]]) -> list[str] | None:
    """The words after `vllm serve` in the first word list that has it."""
    head = list(SERVE_COMMAND)
    for words in candidates:
        for i in range(len(words) - len(head) + 1):
            if list(words[i : i + len(head)]) == head:
                return list(words[i + len(head) :])
    return None


def _script_words(script: str) -> list[str]:
    """A shell script's words (line continuations joined, comments dropped); [] when it isn't shell-parsable."""
    try:
        return shlex.split(script.replace("\\\n", " "), comments=True)
    except ValueError:
        return []


VM_ROUTER_MARKERS = ("vllm_router", "vllm-router")
"""How a boot-script file runs vllm-router: its Python module (`python -c 'from vllm_router...'`, the GPU VMs'
pinned wheel) or its binary."""


def vm_groups(view: PlanView) -> Iterator[tuple[dict[str, Any], str, list[list[str]]]]:
    """(VM group resource, its router's policy, the `vllm serve` arguments of each server file) of every boot
    script that runs vllm-router with a policy."""
    for resource, script in boot_scripts(view):
        if "--policy" not in script:
            continue
        policy: str | None = None
        servers: list[list[str]] = []
        for content in boot_files(script).values():
            # Only the files that can be either side are split into words (shlex is slow on the others).
            if "--policy" not in content and " ".join(SERVE_COMMAND) not in content:
                continue
            words = _script_words(content)
            found = _one(words, "--policy")
            if found is not None and any(m in content for m in VM_ROUTER_MARKERS):
                policy = found
            args = _after_serve([words]) if " ".join(SERVE_COMMAND) in content else None
            if args is not None:
                servers.append(args)
        if policy is not None:
            yield resource, policy, servers


def _router(container: dict[str, Any]) -> tuple[str, dict[str, str], int | None, str | None] | None:
    """(policy, selector, discovery port, discovery namespace) of a vllm-router container with Kubernetes
    discovery; None for any other container."""
    args = [str(a) for a in array_at(container, "args")]
    policy = _one(args, "--policy")
    if policy is None or "--service-discovery" not in args:
        return None
    selector = dict(pair.split("=", 1) for pair in _values(args, "--selector") or [] if "=" in pair)
    port = _one(args, "--service-discovery-port")
    return policy, selector, int(port) if port and port.isdigit() else None, _one(args, "--service-discovery-namespace")


def _enables_scale_out(token: str) -> bool:
    """`--enable-scale-out` in either spelling vLLM's parser reads (`--enable_scale_out`); not `--no-enable-scale-out`."""
    name = token.split("=", 1)[0]
    return name.startswith("--") and "--" + name[2:].replace("_", "-") == SCALE_OUT_FLAG


def _serving(spec: dict[str, Any], port: int | None) -> list[dict[str, Any]]:
    """The containers of a pod spec that serve `port` (all of them when the router names no port)."""
    containers: list[dict[str, Any]] = [c for c in array_at(spec, "containers") if is_object(c)]
    if port is None:
        return containers
    return [c for c in containers if any(is_object(p) and p.get("containerPort") == port for p in array_at(c, "ports"))]


@rule(NAME)
def cache_aware_routers_front_scale_out_servers(view: PlanView) -> Iterator[Violation]:
    """Every vllm-router with a cache_aware policy fronts model pods whose vLLM container runs with `--enable-scale-out` (the render routes it gets token ids from); it selects at least one pod of the plan, and each serves vLLM on the discovery port. On a GPU-VM group, the server of the router's own boot script carries the flag."""
    templates = list(_templates(view))
    for workload, ns, _labels, spec in templates:
        for container in array_at(spec, "containers"):
            found = _router(container) if is_object(container) else None
            if found is None or found[0] not in SCALE_OUT_POLICIES:
                continue
            policy, selector, port, namespace = found
            where = f"{workload['kind']} {ns}/{workload['metadata']['name']}"
            fronted = [
                t for t in templates if t[1] == (namespace or ns) and selector and all(t[2].get(k) == v for k, v in selector.items())
            ]
            if not fronted:
                yield violation(view, where, NAME, f"policy {policy} selects {selector} in namespace {namespace or ns}: no pod of the plan")
                continue
            for server, server_ns, _l, server_spec in fronted:
                server_where = f"{server['kind']} {server_ns}/{server['metadata']['name']}"
                serving = [a for c in _serving(server_spec, port) if (a := vllm_serve_args(c)) is not None]
                fault = _scale_out_fault(
                    serving, f"{where} routes to it with policy {policy}", f"no container runs vLLM's server on port {port}: its"
                )
                if fault is not None:
                    yield violation(view, server_where, NAME, fault)
    yield from _vm_groups_front_scale_out_servers(view)


def _vm_groups_front_scale_out_servers(view: PlanView) -> Iterator[Violation]:
    """The GPU-VM side: a group's cache_aware router and its own boot script's vLLM servers."""
    for resource, policy, servers in vm_groups(view):
        if policy not in SCALE_OUT_POLICIES:
            continue
        fault = _scale_out_fault(servers, f"its router runs with policy {policy}", "its boot script runs no vLLM server: the")
        if fault is not None:
            yield violation(view, f"{resource['type']} {resource['name']}", NAME, fault)


def _scale_out_fault(servers: Sequence[Sequence[str]], routed: str, no_server: str) -> str | None:
    """What is wrong with the vLLM servers (their `vllm serve` args) a cache_aware router fronts, or None: there must
    be one, and each must run with the flag. `routed` says who routes with which policy, `no_server` begins the
    message for none."""
    if not servers:
        return f"{routed}, but {no_server} render routes are what cache_aware tokenizes through"
    if not all(any(_enables_scale_out(a) for a in args) for args in servers):
        return (
            f"{routed}, but its vLLM runs without {SCALE_OUT_FLAG}: the router can't get token ids (render routes "
            "refused) and routes on load alone"
        )
    return None
