"""Issue 16, family 6 — a secret value where a secret's *name* belongs: refused before the schema, the value
masked (at most its first 4 characters), and the line says where the value goes instead.

Each case edits a shipped stack and drives `pulumi-llm plan` in-process (tests/bad_input.py): exit 2, one line
naming the stack file and the key path as written, nothing registered, no plan written, and the pasted value
nowhere in the output.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import bad_input
import pytest
import yaml
from bad_input import assert_one_line_refusal
from helpers import shipped_stack

OPENAI = "sk-proj-T3BlbkFJx9Yq2Lm4Np6Rs8Tu0Vw2Xy4Za6Bc8De"
ANTHROPIC = "sk-ant-api03-Qm9vYmFyYmF6cXV4cXV1eDEyMzQ1Njc4OTBhYmNk"
GOOGLE = "AIzaSyD-3xK9mQ2vL7pR4tW8nB5cJ1hF6gY0sZa"
AWS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"
AZURE = "3f8a9c2e7b1d4f6a8c0e2b4d6f8a0c2e"
HF = "hf_QwErTyUiOpAsDfGhJkLzXcVbNm0123456789"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
RANDOM = "Xk9fQ2mP7vR4tL8wZ3nB6yH1jD5sA0cE"
MODEL = "llama-3-1-8b-instruct"


def _set(path: list[str], value: Any) -> Callable[[dict[str, Any]], None]:
    def edit(config: dict[str, Any]) -> None:
        node = config
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value

    return edit


CASES = [
    # (shipped stack, edit of its config, key path as written, value, where the value goes)
    ("dev", _set(["pulumi-llm:gateway", "secrets"], {"openai": OPENAI}), "pulumi-llm:gateway.secrets.openai", OPENAI, "secrets put"),
    (
        "dev",
        _set(["pulumi-llm:gateway", "secrets"], {"anthropic": ANTHROPIC}),
        "pulumi-llm:gateway.secrets.anthropic",
        ANTHROPIC,
        "secrets put",
    ),
    ("onprem", _set(["pulumi-llm:onprem", "hf_token_secret"], HF), "pulumi-llm:onprem.hf_token_secret", HF, "kubectl create secret"),
    ("onprem", _set(["pulumi-llm:onprem", "ingress", "tls_secret"], RANDOM), "pulumi-llm:onprem.ingress.tls_secret", RANDOM, "kubectl"),
    (
        "onprem",
        _set(["pulumi-llm:models", MODEL, "api_key_secret"], AWS_KEY_ID),
        f"pulumi-llm:models.{MODEL}.api_key_secret",
        AWS_KEY_ID,
        "kubectl",
    ),
    ("dev", _set(["pulumi-llm:tags"], {"team": GOOGLE}), "pulumi-llm:tags.team", GOOGLE, "secrets put"),
    ("dev", _set(["pulumi-llm:tags"], {JWT: "x"}), "pulumi-llm:tags", JWT, "secrets put"),
    ("dev", _set(["pulumi-llm:gateway", "secrets"], {ANTHROPIC: "anthropic"}), "pulumi-llm:gateway.secrets", ANTHROPIC, "secrets put"),
    ("edge", _set(["pulumi-llm:edge", "node_selector"], {"fleet": AZURE}), "pulumi-llm:edge.node_selector.fleet", AZURE, "secrets put"),
    ("prod", _set(["pulumi-llm:ci", "runner_labels"], ["self-hosted", RANDOM]), "pulumi-llm:ci.runner_labels[1]", RANDOM, "secrets put"),
]


@pytest.mark.parametrize(("base", "edit", "key", "value", "goes"), CASES, ids=[c[2] + "=" + c[3][:6] for c in CASES])
def test_a_secret_value_in_a_name_field_is_refused_masked(
    scratch_project: Path, base: str, edit: Callable[[dict[str, Any]], None], key: str, value: str, goes: str
) -> None:
    stack = shipped_stack(base)
    edit(stack["config"])
    name = f"{base}-secret"
    bad_input.write_stack(scratch_project, name, yaml.safe_dump(stack, sort_keys=False))
    outcome = bad_input.plan(scratch_project, name)
    line = assert_one_line_refusal(outcome, name, key, value[:4] + "…", "looks like", goes)
    assert value not in "\n".join(outcome.stdout + outcome.stderr)
    assert value[:5] not in line  # at most the first 4 characters


@pytest.mark.parametrize(
    ("key", "value", "path"),
    [
        # A pasted key in fields that are no secret names is still never printed whole, whatever check speaks.
        ("pulumi-llm:environment", OPENAI, "pulumi-llm:environment"),
        ("pulumi-llm:region", GOOGLE, "pulumi-llm:region"),
        ("pulumi-llm:owner", HF, "pulumi-llm:owner"),
    ],
)
def test_no_message_prints_a_secret_value_whole(scratch_project: Path, key: str, value: str, path: str) -> None:
    stack = shipped_stack("dev")
    stack["config"][key] = value
    bad_input.write_stack(scratch_project, "leak", yaml.safe_dump(stack, sort_keys=False))
    outcome = bad_input.plan(scratch_project, "leak")
    assert_one_line_refusal(outcome, "leak", path, value[:4] + "…")
    assert value not in "\n".join(outcome.stdout + outcome.stderr)


def test_secret_names_of_the_shipped_stacks_pass(scratch_project: Path) -> None:
    # A real name beside a pasted key: the check reads values, not the fields' presence.
    stack = shipped_stack("dev")
    stack["config"]["pulumi-llm:gateway"]["secrets"] = {"openai": "team-openai"}
    stack["config"]["pulumi-llm:tags"] = {"team": "ml-platform", "cost-center": "cc-4711"}
    stack["config"]["pulumi-llm:region"] = "nowhere-1"  # stop at the schema: nothing needs planning
    bad_input.write_stack(scratch_project, "names", yaml.safe_dump(stack, sort_keys=False))
    assert_one_line_refusal(bad_input.plan(scratch_project, "names"), "names", "pulumi-llm:region = nowhere-1")


@pytest.mark.parametrize(
    "argv",
    [
        ["plan", OPENAI],  # a key pasted as the stack name
        ["plan", "dev", "--bogus", OPENAI],  # argparse's own error
        ["secrets", "check", "--stack", HF],
    ],
)
def test_a_key_pasted_into_a_cli_argument_is_never_printed_whole(scratch_project: Path, argv: list[str]) -> None:
    outcome = bad_input.main(["--project-dir", str(scratch_project), *argv])
    assert outcome.code == 2
    assert len(outcome.stderr) == 1, outcome.stderr
    value = argv[-1]
    assert value[:4] + "…" in outcome.stderr[0]
    assert value not in "\n".join(outcome.stdout + outcome.stderr)


GITHUB = "ghp_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"

ANY_STRING_CASES = [
    # Issue 16 follow-up: a secret in any name, path, context, URL or argument — the value would be written in the
    # clear into the provider, the DaemonSets or the pod spec. A secret *inside* the value counts (a path segment).
    ("onprem", ["pulumi-llm:onprem", "kube_context"], HF, "pulumi-llm:onprem.kube_context"),
    ("onprem", ["pulumi-llm:onprem", "kube_context"], ANTHROPIC, "pulumi-llm:onprem.kube_context"),
    ("edge", ["pulumi-llm:edge", "kube_context"], HF, "pulumi-llm:edge.kube_context"),
    ("onprem", ["pulumi-llm:onprem", "kubeconfig"], GITHUB, "pulumi-llm:onprem.kubeconfig"),
    ("edge", ["pulumi-llm:edge", "host_model_dir"], f"/var/lib/{GITHUB}", "pulumi-llm:edge.host_model_dir"),
    ("onprem", ["pulumi-llm:onprem", "prometheus", "url"], f"https://admin:{HF}@prom.internal:9090", "pulumi-llm:onprem.prometheus.url"),
    ("onprem", ["pulumi-llm:models", MODEL, "extra_args"], [f"--api-key={OPENAI}"], f"pulumi-llm:models.{MODEL}.extra_args[0]"),
]


@pytest.mark.parametrize(("base", "path", "value", "key"), ANY_STRING_CASES, ids=[c[3] for c in ANY_STRING_CASES])
def test_a_secret_in_any_string_field_is_refused_masked(scratch_project: Path, base: str, path: list[str], value: Any, key: str) -> None:
    stack = shipped_stack(base)
    _set(path, value)(stack["config"])
    bad_input.write_stack(scratch_project, "anywhere", yaml.safe_dump(stack, sort_keys=False))
    outcome = bad_input.plan(scratch_project, "anywhere")
    secret = HF if HF in str(value) else OPENAI if OPENAI in str(value) else ANTHROPIC if ANTHROPIC in str(value) else GITHUB
    line = assert_one_line_refusal(outcome, "anywhere", key, "looks like", "secrets put")
    assert secret not in "\n".join(outcome.stdout + outcome.stderr)
    assert secret[:5] not in line  # at most the first 4 characters


@pytest.mark.parametrize(
    ("base", "route", "value"),
    [
        ("dev", {"provider": "openai", "model": OPENAI}, OPENAI),
        ("gcp-dev", {"provider": "gemini", "model": GOOGLE}, GOOGLE),
        # An Azure OpenAI deployment name is not judged by the engine's model map: the detector is what refuses it.
        ("azure-dev", {"provider": "azure-openai", "model": AZURE}, AZURE),
    ],
)
def test_a_key_pasted_as_a_route_model_is_refused_masked(scratch_project: Path, base: str, route: dict[str, str], value: str) -> None:
    # Before (R16 item 2): the verify pass after the plan printed the key whole on stderr, and the plan was written.
    stack = shipped_stack(base)
    group = next(iter(stack["config"]["pulumi-llm:gateway"]["models"]))
    stack["config"]["pulumi-llm:gateway"]["models"][group]["routes"] = [route]
    bad_input.write_stack(scratch_project, "route", yaml.safe_dump(stack, sort_keys=False))
    outcome = bad_input.plan(scratch_project, "route")
    line = assert_one_line_refusal(outcome, "route", f"pulumi-llm:gateway.models.{group}.routes[0].model = {value[:4]}…", "looks like")
    assert value not in "\n".join(outcome.stdout + outcome.stderr)
    assert value[:5] not in line
