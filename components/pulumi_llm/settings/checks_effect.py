"""Keys that would have no effect: refused, because a key that changes nothing is almost always a misplaced one.

Each case is decided here, from what the platform targets read (platform/<target>.py):

* a namespace close to ours (`pulumi-lm:cloud`, `pulumi_llm:…`, `pulumi:methods`): the program reads
  `pulumi-llm:` keys only, so the key would be dropped silently; refused with the key it was meant to be.
  Other namespaces (aws:, kubernetes:, pulumi:disable-default-providers, …) belong to their providers.
* no method, or an empty `methods` list: the stack would deploy nothing.
* a cloud block of another cloud (`azure` on an aws stack), or a method block (`gateway`, `edge`, `onprem`,
  `aws.cluster`, `gcp.gpu_vm`, …) whose method the stack doesn't enable: nothing reads it.

Refused, not warned: a stack file is checked in CI and by `pulumi up` alike, where a warning scrolls past,
and removing the block (or enabling its method) is always possible. The checks are pure: one reads the config
map's keys, the other the raw settings beside the cloud and methods (before the schema when those two are valid
values, so a block nothing reads is reported as such, not for its own mistakes).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from typing import Any, cast, get_args

from ..clouds import NAMES as CLOUD_NAMES
from ..errors import FieldProblem
from .cloud_registry import RULES as CLOUD_RULES
from .core import NAMESPACE, SELF_HOSTING, Cloud, Method

_KUBERNETES = ("cluster", "onprem")
"""The methods whose models run in ModelServing on Kubernetes."""

READ_BY: dict[str, tuple[str, ...]] = {
    "gateway": ("gateway",),
    "edge": ("edge",),
    "onprem": ("onprem",),
    "models": SELF_HOSTING,
    "serving": SELF_HOSTING,
    # The Kubernetes serving layer's autoscaler and alert rules (component_args.model_serving_args); GPU VMs
    # scale on their load balancer's requests per target and edge DaemonSets don't scale.
    "serving.autoscaling": _KUBERNETES,
    "serving.alerts": _KUBERNETES,
    # The router runs in front of the replicas on Kubernetes and on every VM of a GPU-VM group (gpu_vm/router_vm.py).
    "serving.router": (*_KUBERNETES, "gpu-vm"),
    **{key: readers for rules in CLOUD_RULES for key, readers in rules.read_by.items()},
}
"""Stack-file key (under `pulumi-llm:`) → the methods whose wiring reads it; with none of them it does nothing."""

CLOUD_BLOCKS = CLOUD_NAMES
"""Per-cloud subtrees (one per cloud of clouds.py), read only on a stack of that cloud."""
CLOUD_ONLY: dict[str, str] = {"gateway.bedrock_models": "aws"}
"""Keys outside the cloud blocks that one cloud's wiring reads (Bedrock model ARNs scope the AWS gateway's role)."""

READ_IN_MODE: dict[str, tuple[str, str, tuple[str, ...]]] = {
    # EKS (platform/aws._eks): Karpenter's NodePool picks from families on spot and on-demand; a managed node
    # group takes exact types and is always on-demand, so each mode ignores the other's keys.
    "aws.cluster.gpu_instance_families": ("aws.cluster.gpu_capacity", "karpenter", ("karpenter",)),
    "aws.cluster.capacity_types": ("aws.cluster.gpu_capacity", "karpenter", ("karpenter",)),
    "aws.cluster.gpu_instance_types": ("aws.cluster.gpu_capacity", "karpenter", ("node-group",)),
}
"""Key → (the key choosing the mode, that key's default, the modes whose wiring reads the key). GKE Standard
and Autopilot both read gcp.cluster.gpu_pool, and AKS pools and the GPU VMs' spot keys have no mode to depend on,
so EKS's GPU capacity is the only mode-dependent case. tests/unit/test_bad_input_no_effect.py checks the
defaults against the schema."""

EARLY_BLOCKS = ("gateway", "edge", "onprem")
"""Method blocks refused before the schema (check_blocks_early); the rest of READ_BY waits for it, whose own
cross-field messages (a self-hosted route without a self-hosting method, …) say more."""


def _normal(namespace: str) -> str:
    return re.sub(r"[^a-z0-9]", "", namespace.lower())


def misspelt_namespace(key: str, fields: Iterable[str]) -> str | None:
    """For a config key (`namespace:name`) that was meant for pulumi-llm, the key it should be; else None.

    Meant for us: the namespace reads like ours (difflib ratio >= 0.8, or the same letters without
    separators, `pulumi_llm`), or the name is one of our top-level settings `fields` under a namespace
    that is a prefix of ours (`pulumi:methods`). pulumi's own keys (`pulumi:disable-default-providers`)
    are not settings fields, so they pass."""
    namespace, sep, name = key.partition(":")
    if not sep or namespace == NAMESPACE:
        return None
    top = re.split(r"[.\[]", name, maxsplit=1)[0]
    close = difflib.SequenceMatcher(None, namespace.lower(), NAMESPACE).ratio() >= 0.8 or _normal(namespace) == _normal(NAMESPACE)
    if close or (NAMESPACE.startswith(namespace) and top in fields):
        return f"{NAMESPACE}:{name}"
    return None


def nested_key_hint(key: str, allowed: Iterable[str]) -> str | None:
    """For a dotted key written flat (`serving.replicas.max: 4` where `serving:` nests), the message saying how to
    write it; None for any other key. Pulumi stores `config set --path` values nested, so a flat key is never read."""
    head, dot, rest = key.partition(".")
    if not dot or head not in allowed:
        return None
    return f"unknown key: a dotted key is not a path; nest it ({head}: {{{rest}: …}}) or run pulumi config set --path {NAMESPACE}:{key}"


def check_blocks_early(raw: Mapping[str, Any]) -> None:
    """Before the schema, when cloud and methods are valid values already: a whole block of another cloud or of a
    method the stack doesn't enable (EARLY_BLOCKS) is reported as such, not for the mistakes inside it."""
    cloud, methods = raw.get("cloud"), raw.get("methods")
    if not isinstance(cloud, str) or cloud not in get_args(Cloud) or not isinstance(methods, list) or not methods:
        return
    listed = cast("list[Any]", methods)
    if not all(m in get_args(Method) for m in listed):
        return
    _check_blocks(raw, cloud, cast("list[str]", listed), [b for b in CLOUD_BLOCKS if b != cloud], EARLY_BLOCKS)


def _is_set(raw: Mapping[str, Any], path: str) -> bool:
    return _written(raw, path) is not _UNSET


_UNSET = object()


def _written(raw: Mapping[str, Any], path: str) -> Any:
    """The value the stack file gives `path`, or _UNSET when it doesn't write it."""
    node: Any = raw
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return _UNSET
        node = cast("Mapping[str, Any]", node)[part]
    return node


def decide_unread_in_mode(raw: Mapping[str, Any]) -> tuple[str, str] | None:
    """(key, why) for the first key of READ_IN_MODE that the stack writes but whose mode doesn't read it; else None."""
    for path, (mode_key, default, readers) in READ_IN_MODE.items():
        mode = _written(raw, mode_key)
        mode = default if mode is _UNSET else mode
        if _is_set(raw, path) and mode not in readers:
            name = mode_key.rsplit(".", 1)[-1]
            return path, f"has no effect with {mode_key} {mode}: read only with {name} {' or '.join(readers)}; remove it"
    return None


def _check_blocks(raw: Mapping[str, Any], cloud: str, methods: list[str], other_clouds: list[str], blocks: Iterable[str]) -> None:
    for block in other_clouds:
        if block in raw:
            raise FieldProblem(block, f"has no effect on cloud {cloud}: the {block} block configures cloud {block} stacks; remove it")
    for block in blocks:
        readers = READ_BY[block]
        if block in raw and not set(readers) & set(methods):
            raise FieldProblem(block, _unread(readers, methods))


def _unread(readers: Iterable[str], methods: list[str]) -> str:
    return f"has no effect: read only with method {' or '.join(readers)} (methods: {', '.join(methods)}); remove it"


def check_effect(raw: Mapping[str, Any], cloud: str, methods: list[str]) -> None:
    """Raise FieldProblem for the first key of `raw` (the stack's settings) that the stack would never read."""
    if not methods:
        raise FieldProblem("methods", f"at least one method is required ({', '.join(get_args(Method))}): a stack with none deploys nothing")
    _check_blocks(raw, cloud, methods, [b for b in CLOUD_BLOCKS if b != cloud], ())
    for path, only in CLOUD_ONLY.items():
        if only != cloud and _is_set(raw, path):
            raise FieldProblem(path, f"has no effect on cloud {cloud}: read only on cloud {only}; remove it")
    for path, readers in READ_BY.items():
        if not _is_set(raw, path) or set(readers) & set(methods):
            continue
        raise FieldProblem(path, _unread(readers, methods))
    unread = decide_unread_in_mode(raw)
    if unread is not None:
        raise FieldProblem(*unread)
