"""decide_ci_runner: which runner can preview and deploy a stack (finding 9), and the setting it reads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pulumi_llm.ci_runner import GITHUB_HOSTED, decide_ci_runner, kubernetes_endpoint
from pulumi_llm.errors import UserError
from pulumi_llm.offline.plan import Project, engine_config, load_settings
from pulumi_llm.settings import load
from pulumi_llm.verify.facts.control_plane_access import admits_any_address

ROOT = Path(__file__).resolve().parents[2]
LABELS = ["self-hosted", "linux", "x64", "pulumi-llm-prod"]


def settings_of(stack: str, runner_labels: list[str] | None = None) -> dict[str, Any]:
    """A committed stack's settings as JSON (what PlanView.settings holds), runner labels replaced if given."""
    settings = load_settings(Project.find(ROOT), stack).model_dump(mode="json")
    if runner_labels is not None:
        settings["ci"]["runner_labels"] = runner_labels
    return settings


@pytest.mark.parametrize("stack", ["dev", "gcp-dev", "azure-dev"])
def test_a_stack_without_a_kubernetes_api_runs_on_a_github_hosted_runner(stack):
    runner = decide_ci_runner(settings_of(stack))
    assert runner.endpoint is None and runner.reachable_from_github_hosted
    assert runner.runs_on == GITHUB_HOSTED == ("ubuntu-latest",) and not runner.self_hosted and runner.problem is None


@pytest.mark.parametrize(
    ("stack", "what"),
    [
        ("staging", "the EKS API server"),
        ("prod", "the EKS API server"),
        ("gcp-prod", "the GKE API server"),
        ("azure-prod", "the AKS API server"),
        ("onprem", "kube context gpu-cluster"),
        ("onprem-triton", "kube context h100-cluster"),
        ("edge", "kube context edge-fleet"),
    ],
)
def test_a_private_kubernetes_api_needs_the_stacks_self_hosted_runner(stack, what):
    runner = decide_ci_runner(settings_of(stack))
    assert runner.endpoint is not None and runner.endpoint.what == what
    assert not runner.reachable_from_github_hosted
    assert runner.runs_on == ("self-hosted", "linux", "x64", f"pulumi-llm-{stack}") and runner.self_hosted

    # The stack file as it was before the fix: no runner anyone can use, and why.
    bare = decide_ci_runner(settings_of(stack, runner_labels=[]))
    assert bare.runs_on is None and not bare.self_hosted
    assert bare.problem == (
        f"{what} is private (reachable only from its network); no GitHub-hosted runner reaches it: set "
        "pulumi-llm:ci.runner_labels to the labels of a self-hosted runner inside its network"
    )


def test_an_eks_endpoint_public_to_an_allow_list_is_not_reachable_from_github_hosted_runners():
    settings = settings_of("staging", runner_labels=[])
    settings["aws"]["cluster"].update(endpoint_public=True, public_access_cidrs=["203.0.113.0/24"])
    runner = decide_ci_runner(settings)
    assert runner.runs_on is None
    assert "is public only to 203.0.113.0/24, and GitHub-hosted runners take their addresses" in (runner.problem or "")


def test_an_eks_endpoint_public_without_an_allow_list_admits_every_address():
    # EKS fills in 0.0.0.0/0 when publicAccessCidrs is empty (settings refuse this; the decision does not rely on it).
    settings = settings_of("staging", runner_labels=[])
    settings["aws"]["cluster"].update(endpoint_public=True, public_access_cidrs=[])
    runner = decide_ci_runner(settings)
    assert runner.reachable_from_github_hosted and runner.runs_on == GITHUB_HOSTED


def test_an_aks_api_server_public_to_authorized_ranges_is_not_reachable_from_github_hosted_runners():
    settings = settings_of("azure-prod", runner_labels=[])
    settings["azure"]["cluster"].update(private_cluster=False, authorized_ip_ranges=["198.51.100.0/24"])
    endpoint = kubernetes_endpoint(settings)
    assert endpoint is not None and endpoint.public and endpoint.allowed == ("198.51.100.0/24",)
    assert decide_ci_runner(settings).runs_on is None


def test_the_gke_endpoint_is_the_cluster_components_default_private_one():
    endpoint = kubernetes_endpoint(settings_of("gcp-prod"))
    assert endpoint is not None and not endpoint.public and endpoint.allowed == ()


@pytest.mark.parametrize(
    ("public", "allowed", "admits"),
    [
        (False, None, False),
        (True, None, True),
        (True, ("0.0.0.0/0",), True),
        (True, ("::/0",), True),
        (True, ("203.0.113.0/24", "198.51.100.7/32"), False),
        (True, (), False),
    ],
)
def test_only_an_endpoint_open_to_every_address_admits_github_hosted_runners(public, allowed, admits):
    assert admits_any_address(public, allowed) is admits


def stack_with_labels(tmp_path: Path, labels: str) -> str:
    text = (ROOT / "stacks" / "Pulumi.prod.yaml").read_text()
    text = text.replace("runner_labels: [self-hosted, linux, x64, pulumi-llm-prod]", f"runner_labels: {labels}")
    path = tmp_path / "Pulumi.prod.yaml"
    path.write_text(text)
    with pytest.raises(UserError) as err:
        load(engine_config(path, "stacks/Pulumi.prod.yaml")[0], "stacks/Pulumi.prod.yaml")
    return str(err.value)


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        ("[ubuntu-latest]", "must include self-hosted, so the jobs never land on a GitHub-hosted runner"),
        ("[self-hosted, linux, linux]", "must not repeat a label"),
    ],
)
def test_runner_labels_name_a_self_hosted_runner(tmp_path, labels, message):
    assert stack_with_labels(tmp_path, labels).startswith("stacks/Pulumi.prod.yaml: pulumi-llm:ci.runner_labels")
    assert message in stack_with_labels(tmp_path, labels)


def test_a_runner_label_is_a_plain_word(tmp_path):
    # Labels land in a workflow's runs-on: nothing but letters, digits, '.', '_' and '-'.
    problem = stack_with_labels(tmp_path, '[self-hosted, "x ${{ github.token }}"]')
    assert problem.startswith("stacks/Pulumi.prod.yaml: pulumi-llm:ci.runner_labels[1]")
