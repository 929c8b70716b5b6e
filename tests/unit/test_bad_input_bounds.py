"""Issue 16, family 4 — silently accepted: counts and sizes without an upper bound (replicas 10^10), a context
no server can use, a GPU cap below what the plan itself sizes, a CPU-only machine in a GPU pool, host names with
a scheme, an underscore or a double dot, Kubernetes names and label keys the API server refuses, a URL without a
scheme, a cron with hour 99, and CLI numbers (compare --tokens-per-month 1e30).

Stack cases drive `pulumi-llm plan` in-process on a scratch project (tests/bad_input.py): exit 2, one line naming
the stack file, the key as written, the value and what is allowed, nothing registered, no plan written. The CLI
cases drive `pulumi-llm size|compare` the same way. The name rules are tested pure below.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import bad_input
import pytest
import yaml
from bad_input import assert_one_line_refusal
from helpers import shipped_stack
from pulumi_llm.schedules import cron_problem
from pulumi_llm.settings.names import host_name_problem, http_url_problem, kube_name_problem, label_key_problem

MODEL = "llama-3-1-8b-instruct"


def refused(project: Path, base: str, path: tuple[Any, ...], value: Any, *parts: str) -> str:
    """Plan shipped stack `base` with `value` set at `path` (config key first); the one line it is refused with."""
    stack = shipped_stack(base)
    node: Any = stack["config"]
    for part in path[:-1]:
        node = node.setdefault(part, {}) if isinstance(part, str) else node[part]
    node[path[-1]] = value
    name = f"{base}-edited"
    bad_input.write_stack(project, name, yaml.safe_dump(stack, sort_keys=False))
    return assert_one_line_refusal(bad_input.plan(project, name), name, *parts)


SERVING, MODELS, ONPREM = "pulumi-llm:serving", "pulumi-llm:models", "pulumi-llm:onprem"


@pytest.mark.parametrize(
    ("base", "path", "value", "parts"),
    [
        # Before: planned, rounded into the Auto Scaling group / NodePool.
        ("onprem", (SERVING, "replicas", "max"), 10**10, ("pulumi-llm:serving.replicas.max = 10000000000", "must be <= 1000")),
        ("onprem", (SERVING, "replicas", "max"), 10**25, ("serving.replicas.max = 1e+25", "far too large")),
        ("onprem", (MODELS, MODEL, "replicas"), {"min": 1, "max": 10**10}, (f"models.{MODEL}.replicas.max", "<= 1000")),
        ("onprem", (SERVING, "autoscaling", "polling_seconds"), 10**12, ("serving.autoscaling.polling_seconds", "<= 3600")),
        ("onprem", (MODELS, MODEL, "gpus"), 10**6, (f"models.{MODEL}.gpus = 1000000", "<= 64")),
        ("onprem", (ONPREM, "gpus", "per_node"), 10**10, ("onprem.gpus.per_node", "<= 16")),
        ("prod", ("pulumi-llm:gateway", "consumers", "search", "rate_limit_rps"), 1e9, ("rate_limit_rps", "<= 10000")),
        # A consumer's token grant (issue 15): bounded, and a capped request fits its windows.
        (
            "prod",
            ("pulumi-llm:gateway", "consumers", "search", "max_tokens"),
            10**9,
            ("consumers.search.max_tokens = 1000000000", "<= 10000000"),
        ),
        (
            "prod",
            ("pulumi-llm:gateway", "consumers", "search", "tokens_per_minute"),
            100,
            ("consumers.search.max_tokens = 1024", "must be <= tokens_per_minute (100)"),
        ),
        (
            "gcp-prod",
            ("pulumi-llm:gateway", "consumers", "search", "tokens_per_day"),
            10**13,
            ("consumers.search.tokens_per_day = 10000000000000", "<= 1000000000000"),
        ),
        (
            "prod",
            ("pulumi-llm:gateway", "models", "chat-large", "fallback_alert", "window_minutes"),
            10**6,
            ("models.chat-large.fallback_alert.window_minutes = 1000000", "<= 1440"),
        ),
        # A context no server can use.
        ("onprem", (MODELS, MODEL, "context"), 1, (f"pulumi-llm:models.{MODEL}.context = 1", "allowed: 256 to 131072 tokens")),
        # A GPU cap below what the plan sizes (NodePool limit), and model replicas above it.
        (
            "staging",
            ("pulumi-llm:aws", "cluster", "max_gpus"),
            1,
            ("pulumi-llm:serving.replicas.max = 2", "cap of 1 (aws.cluster.max_gpus)"),
        ),
        # min 1: replicas.min above the on-demand capacity is refused first, by its own rule (test_resilience.py).
        (
            "prod",
            (SERVING, "replicas"),
            {"min": 1, "max": 10},
            ("pulumi-llm:serving.replicas.max = 10", "cap of 38 (aws.cluster.max_gpus)"),
        ),
        (
            "gcp-prod",
            ("pulumi-llm:gcp", "cluster", "gpu_pool"),
            {"machine_type": "g2-standard-24", "spot_max_nodes": 0, "on_demand_max_nodes": 2},
            ("serving.replicas.max = 6", "(gcp.cluster.gpu_pool)"),
        ),
        # A CPU-only machine type in a GPU pool.
        (
            "gcp-prod",
            ("pulumi-llm:gcp", "cluster", "gpu_pool", "machine_type"),
            "n2-standard-8",
            ("gcp.cluster.gpu_pool.machine_type = n2-standard-8",),
        ),
        (
            "prod",
            ("pulumi-llm:aws", "cluster", "gpu_instance_families"),
            ["m7i"],
            ("aws.cluster.gpu_instance_families[0] = m7i", "not a GPU"),
        ),
        # Hosts with a scheme, an underscore or a double dot.
        ("onprem", (ONPREM, "ingress", "host"), "https://llm.example.com", ("onprem.ingress.host = https://llm.example.com", "no scheme")),
        ("onprem", (ONPREM, "ingress", "host"), "llm_api.example.com", ("onprem.ingress.host = llm_api.example.com", "underscore")),
        ("onprem", (ONPREM, "ingress", "host"), "llm..example.com", ("onprem.ingress.host = llm..example.com", "single dots")),
        ("gcp-prod", ("pulumi-llm:gcp", "gateway", "domains"), ["llm..example.com"], ("gcp.gateway.domains[0] = llm..example.com",)),
        # Kubernetes names and label keys.
        ("onprem", (ONPREM, "ingress", "tls_secret"), "Bad_Secret", ("onprem.ingress.tls_secret = Bad_Secret", "a Kubernetes name")),
        ("onprem", (ONPREM, "hf_token_secret"), "hf token", ("onprem.hf_token_secret = hf token", "a Kubernetes name")),
        ("onprem", (MODELS, MODEL, "api_key_secret"), "API-KEY", (f"models.{MODEL}.api_key_secret = API-KEY", "a Kubernetes name")),
        ("edge", ("pulumi-llm:edge", "node_selector"), {"bad key!": "x"}, ("pulumi-llm:edge.node_selector", "label key")),
        (
            "edge",
            ("pulumi-llm:edge", "node_selector"),
            {"pulumi-llm.dev/edge": "not ok!"},
            ("edge.node_selector.pulumi-llm.dev/edge", "label value"),
        ),
        ("onprem", ("pulumi-llm:tags",), {"Cost Center": "x"}, ("pulumi-llm:tags", "label key")),
        # A Prometheus URL without a scheme.
        (
            "onprem-triton",
            (ONPREM, "prometheus", "url"),
            "prometheus-operated.observability.svc.cluster.local:9090",
            ("onprem.prometheus.url = prometheus-operated.observability.svc.cluster.local:9090", "http://"),
        ),
        # A cron with hour 99.
        (
            "dev",
            ("pulumi-llm:aws", "gpu_vm", "schedule", "stop"),
            "0 99 * * MON-FRI",
            ("aws.gpu_vm.schedule.stop = 0 99 * * MON-FRI", "hour '99'"),
        ),
        ("edge", ("pulumi-llm:edge", "host_model_dir"), "models", ("edge.host_model_dir = models", "absolute")),
        ("onprem", (ONPREM, "kubeconfig"), " ", ("onprem.kubeconfig", "must not be blank")),
        # Empty lists a component refused after 75 resources, and repeats.
        ("prod", ("pulumi-llm:aws", "cluster", "capacity_types"), [], ("aws.cluster.capacity_types = []", "at least one")),
        ("prod", ("pulumi-llm:aws", "cluster", "gpu_instance_families"), [], ("aws.cluster.gpu_instance_families = []", "at least one")),
        (
            "prod",
            ("pulumi-llm:gateway", "models", "chat", "fallbacks"),
            ["provider-small", "provider-small"],
            ("gateway.models.chat.fallbacks[1] = provider-small", "listed twice"),
        ),
        ("prod", ("pulumi-llm:gateway", "consumers", "search", "models"), ["chat", "chat"], ("gateway.consumers.search.models[1] = chat",)),
        ("azure-prod", ("pulumi-llm:azure", "gateway", "tokens_per_minute"), 10**15, ("azure.gateway.tokens_per_minute", "<= 1000000000")),
        (
            "dev",
            ("pulumi-llm:aws", "model_tls"),
            {"domain": "models.example.com", "certificate_arn": "arn:aws:acm:us-east-1:123456789012:certificate/abc", "zone_id": "my zone"},
            ("aws.model_tls.zone_id = my zone", "Route 53 hosted zone id"),
        ),
        ("gcp-dev", ("pulumi-llm:environment",), "prod", ("pulumi-llm:gcp.gpu_vm.spot = true", "prod can't run on spot")),
        # A replica bigger than a node, and repeats the cloud refuses.
        (
            "onprem-triton",
            (ONPREM, "gpus", "per_node"),
            2,
            ("models.llama-3-3-70b-instruct.gpus = 4", "allowed: 1 to 2", "only vllm spans"),
        ),
        # vLLM spans nodes (a LeaderWorkerSet) in whole nodes only.
        ("onprem", (MODELS, MODEL, "gpus"), 12, (f"models.{MODEL}.gpus = 12", "a multiple of 8")),
        ("azure-dev", ("pulumi-llm:azure", "gpu_vm", "zones"), ["1", "1"], ("azure.gpu_vm.zones[1] = 1", "listed twice")),
        ("prod", ("pulumi-llm:aws", "cluster", "gpu_instance_families"), ["g6e", "g6e"], ("aws.cluster.gpu_instance_families[1] = g6e",)),
        (
            "azure-dev",
            ("pulumi-llm:azure", "gpu_vm", "schedule"),
            {"start": "07:00", "stop": "07:00"},
            ("azure.gpu_vm.schedule.stop = 07:00", "never run"),
        ),
    ],
)
def test_refused_with_its_bound(scratch_project: Path, base: str, path: tuple[Any, ...], value: Any, parts: tuple[str, ...]) -> None:
    refused(scratch_project, base, path, value, *parts)


def test_every_number_in_the_settings_has_an_upper_bound() -> None:
    """Family 4 as a rule, not a list: every int/float field of the stack-file schema has a maximum."""
    from pulumi_llm.settings import stack_file_schema

    unbounded: list[str] = []

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            types = {node.get("type")} | {branch.get("type") for branch in node.get("anyOf", [])}
            if types & {"integer", "number"} and "maximum" not in node and "exclusiveMaximum" not in node:
                bounded = [b for b in node.get("anyOf", []) if "maximum" in b or "exclusiveMaximum" in b]
                if not bounded:
                    unbounded.append(path)
            for key, value in node.items():
                walk(value, f"{path}.{key}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, f"{path}[{i}]")

    walk(stack_file_schema(), "")
    assert unbounded == []


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        (
            ["compare", "--model", "llama-3.1-8b-instruct", "--tokens-per-month", "1e30"],
            "pulumi-llm: --tokens-per-month must be at most 1e+15 tokens, not '1e30'",
        ),
        (
            ["compare", "--model", "llama-3.1-8b-instruct", "--tokens-per-month", "1B", "--context", "99999999999"],
            "--context must be at most",
        ),
        (
            ["compare", "--model", "llama-3.1-8b-instruct", "--tokens-per-month", "1B", "--replicas", "1:10000000000"],
            "--replicas must be at most 1000",
        ),
        (["size", "llama-3.1-8b-instruct", "--gpu", "L4", "--count", "100000"], "--count must be at most 64"),
    ],
)
def test_cli_numbers_are_bounded(argv: list[str], line: str) -> None:
    outcome = bad_input.main(argv)
    assert outcome.code == 2, outcome
    assert len(outcome.stderr) == 1 and line in outcome.stderr[0], outcome.stderr
    assert outcome.stdout == []


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("llm.example.com", True),
        ("*.models.example.com", True),
        ("LLM.example.com", False),
        ("llm.example.com:443", False),
        ("localhost", False),
    ],
)
def test_host_names(value: str, ok: bool) -> None:
    assert (host_name_problem(value) is None) == ok


@pytest.mark.parametrize(
    ("value", "ok"),
    [("hf-token", True), ("tls.example-1", True), ("-bad", False), ("a" * 254, False), ("Upper", False)],
)
def test_kubernetes_names(value: str, ok: bool) -> None:
    assert (kube_name_problem(value) is None) == ok


@pytest.mark.parametrize(
    ("value", "ok"),
    [("pulumi-llm.dev/edge", True), ("edge", True), ("a/b/c", False), ("Example.com/x", False), ("/x", False), ("x" * 64, False)],
)
def test_label_keys(value: str, ok: bool) -> None:
    assert (label_key_problem(value) is None) == ok


@pytest.mark.parametrize(
    ("value", "ok"),
    [("http://prom.monitoring.svc:9090", True), ("https://prom.example.com/api", True), ("prom:9090", False), ("http://x:70000", False)],
)
def test_urls(value: str, ok: bool) -> None:
    assert (http_url_problem(value) is None) == ok


@pytest.mark.parametrize(
    ("cron", "problem"),
    [
        ("0 20 * * MON-FRI", None),
        ("*/15 7-19 1,15 JAN-DEC 0", None),
        ("0 99 * * *", "hour '99': allowed 0 to 23"),
        ("61 1 * * *", "minute '61': allowed 0 to 59"),
        ("0 1 32 * *", "day of month '32': allowed 1 to 31"),
        ("0 1 * * FUNDAY", "day of week 'FUNDAY': allowed 0 to 7 or SUN-SAT"),
        ("0 1 * *", "a 5-field cron, e.g. '0 20 * * MON-FRI'"),
        ("0 1/0 * * *", "hour step /0: allowed 1 to 23"),
    ],
)
def test_cron_fields_are_range_checked(cron: str, problem: str | None) -> None:
    assert cron_problem(cron) == problem


@pytest.mark.parametrize(
    ("base", "path", "value", "written"),
    [
        # Before: true read as 1, refused as "below the shortest context worth serving".
        ("onprem", (MODELS, MODEL, "context"), True, f"models.{MODEL}.context = true"),
        ("onprem", (SERVING, "replicas", "max"), True, "serving.replicas.max = true"),
        ("onprem", (ONPREM, "gpus", "per_node"), False, "onprem.gpus.per_node = false"),
        ("staging", ("pulumi-llm:aws", "cluster", "max_gpus"), True, "aws.cluster.max_gpus = true"),
    ],
)
def test_a_boolean_where_a_whole_number_belongs_is_refused_as_such(
    scratch_project: Path, base: str, path: tuple[Any, ...], value: bool, written: str
) -> None:
    # context also takes `max`, so its line says so before "not true or false" (models.py _context_value).
    refused(scratch_project, base, path, value, written, "must be a whole number", "not true or false")


def test_the_boolean_rule_covers_every_whole_number_field_and_only_those() -> None:
    from typing import Annotated

    from pulumi_llm.settings.core import takes_whole_number

    assert takes_whole_number(int) and takes_whole_number(int | None) and takes_whole_number(Annotated[int, "x"])
    assert not takes_whole_number(bool) and not takes_whole_number(float) and not takes_whole_number(int | str)


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        # Before: argparse's "expected one argument" — a value starting with '-' read as an option.
        (["compare", "--model", "llama-3.1-8b-instruct", "--tokens-per-month", "-5M"], "--tokens-per-month must be a number of tokens"),
        (["size", "llama-3.1-8b-instruct", "--context", "-5k"], "--context"),
    ],
)
def test_a_negative_cli_value_after_a_space_reaches_the_options_own_check(argv: list[str], says: str) -> None:
    outcome = bad_input.main(argv)
    assert outcome.code == 2
    [line] = outcome.stderr
    assert says in line and "expected one argument" not in line


def test_only_a_dash_and_a_digit_after_an_option_is_attached() -> None:
    from pulumi_llm.cli import attach_negative_values

    assert attach_negative_values(["compare", "--mix", "-3:1"]) == ["compare", "--mix=-3:1"]
    assert attach_negative_values(["plan", "dev", "--quiet", "--out", "x"]) == ["plan", "dev", "--quiet", "--out", "x"]
    assert attach_negative_values(["--x=1", "-5", "--", "-5"]) == ["--x=1", "-5", "--", "-5"]
