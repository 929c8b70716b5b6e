"""Where a model's weights may come from on each cloud and method, and what a pinned revision looks like.

One table, read from the wiring (platform/<target>.py, serving.weights and store_key):

* AWS reads the stack's store (store://) and other S3 buckets (s3://: the instance role or Pod Identity
  is granted that bucket); EKS also mounts claims (pvc://).
* GCP and Azure GPU VMs sync the stack's own bucket/container only (their args carry no other bucket), and
  GKE's workload identity is granted only that bucket: store:// there, and pvc:// on GKE. An s3:// or gs://
  URI would be replaced by the stack's store without a word, so it is refused.
* AKS servers read claims (pvc://); on-prem clusters claims; edge nodes their own cache (node://).

Paths below a scheme are given, relative and normalised (no `..`, `.`, empty segment or leading `/`): servers join
them under /models and copy Jobs write there, so `..` would leave the model directory.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from ..errors import FieldProblem
from ..validation import HF_REPO_ID, OBJECT_PREFIX, S3_BUCKET
from .cloud_registry import RULES as CLOUD_RULES
from .names import kube_name_problem

if TYPE_CHECKING:  # root.py imports this module; the checks only read the settings they are given
    from .models import ModelSettings

SCHEMES: dict[tuple[str, str], tuple[str, ...]] = {
    **{(rules.cloud, method): schemes for rules in CLOUD_RULES for method, schemes in rules.source_schemes.items()},
    ("onprem", "onprem"): ("pvc",),
}
"""(cloud, self-hosting method) → the source schemes its servers read (each cloud's rows in settings/<cloud>.py)."""

FORMS = {
    "store": "store://<key>",
    "s3": "s3://<bucket>/<prefix>",
    "gs": "gs://<bucket>/<prefix>",
    "pvc": "pvc://<claim>/<path>",
    "node": "node://<file>",
}
"""How each scheme is written, for messages."""

REVISION = re.compile(r"[0-9a-f]{40}")
"""A Hugging Face revision pinned as the full commit SHA: 40 lower-case hex digits (a branch or tag moves)."""
_SHA_SEGMENT = re.compile(r"[0-9a-fA-F]{7,40}")


def allowed_schemes(cloud: str, methods: list[str]) -> tuple[str, ...]:
    """The schemes every self-hosting method of the stack reads (the first such method decides)."""
    for method in methods:
        if (cloud, method) in SCHEMES:
            return SCHEMES[(cloud, method)]
    return ()


def path_problem(path: str) -> str | None:
    """Why `path` (below a scheme's bucket, claim or store) isn't a relative normalised path, or None."""
    if not path:
        # Servers read a directory below /models (runtimes/vllm.Weights), never the mount point itself.
        return "is empty: name the directory of the weights below the bucket, claim or store"
    if path.startswith("/"):
        return "is absolute (starts with /); write it relative to the bucket, claim or store"
    parts = path.split("/")
    if any(p in ("..", ".") for p in parts):
        return "has a '.' or '..' segment; servers read below the model directory only"
    if any(p == "" for p in parts):
        return "has an empty segment ('//' or a trailing '/')"
    return None


def check_source(cloud: str, methods: list[str], name: str, model: ModelSettings) -> None:
    """The source's scheme belongs to the stack's cloud and method, its path is normalised, and its revision
    is a full commit SHA that agrees with the one in the path."""
    where = f"models.{name}.source"
    source = model.source or ""
    scheme, _, rest = source.partition("://")
    allowed = allowed_schemes(cloud, methods)
    if allowed and scheme not in allowed:
        method = next(m for m in methods if (cloud, m) in SCHEMES)
        forms = " or ".join(FORMS[s] for s in allowed)
        raise FieldProblem(where, f"{scheme}:// is not read on cloud {cloud} with {method}: use {forms}")
    # The bucket or claim is the first segment (store:// and node:// have none); the path follows it.
    container, _, below = rest.partition("/")
    if scheme == "s3" and not S3_BUCKET.match(container):
        raise FieldProblem(where, f"{container!r} is not an S3 bucket name: 3-63 lower-case letters, digits, '.' and '-', no '..'")
    if scheme == "pvc" and (claim_problem := kube_name_problem(container)):
        raise FieldProblem(where, f"the claim (before the first /) is not {claim_problem}")
    path = rest if scheme in ("store", "node") else below
    problem = path_problem(path)
    if problem is None and scheme in ("store", "s3", "gs") and not OBJECT_PREFIX.match(path):
        # The GPU VMs grant and sync the weights by this prefix; a quote or wildcard would break or widen it.
        problem = "holds a character an object prefix can't: letters, digits, !_.()'- and / only"
    if problem is not None:
        raise FieldProblem(where, f"the path {problem}")
    for adapter, adapter_path in model.lora_adapters.items():
        problem = path_problem(adapter_path)
        if problem is None and scheme in ("store", "s3", "gs") and not OBJECT_PREFIX.match(adapter_path):
            # A cluster copies the adapter by this prefix (kubernetes/adapter_sync.py), as the VMs sync weights.
            problem = "holds a character an object prefix can't: letters, digits, !_.()'- and / only"
        if problem is None and ("=" in adapter_path or "," in adapter_path):
            # vLLM's --lora-modules item is name=path, read as JSON once it holds a ',' (runtimes/vllm.py).
            problem = "holds '=' or ',', which vLLM's --lora-modules item can't"
        if problem is not None:
            raise FieldProblem(f"models.{name}.lora_adapters.{adapter}", f"the path below the model source {problem}")
    check_revision(name, model)
    if model.hub_repo is not None and not HF_REPO_ID.match(model.hub_repo):
        raise FieldProblem(
            f"models.{name}.hub_repo", "must be a Hugging Face repository id, owner/name (e.g. meta-llama/Llama-3.1-8B-Instruct), not a URL"
        )


def check_revision(name: str, model: ModelSettings) -> None:
    """A set revision is a full commit SHA, and a SHA-like segment of the source is that same revision."""
    if model.revision is None:
        return
    if not REVISION.fullmatch(model.revision):
        raise FieldProblem(
            f"models.{name}.revision",
            "must be the full 40-character lower-case commit SHA of the weights (a branch, tag or short SHA moves or is ambiguous)",
        )
    for segment in (model.source or "").partition("://")[2].split("/"):
        looks_pinned = _SHA_SEGMENT.fullmatch(segment) and re.search(r"[0-9]", segment) and re.search(r"[a-fA-F]", segment)
        if looks_pinned and not model.revision.startswith(segment):
            raise FieldProblem(f"models.{name}.revision", f"differs from the revision in models.{name}.source ({segment})")
