"""identity.gcp-one-grant: one IAM member resource per (resource, role, member, condition) in a GCP plan.

gcp-prod with a model copied from the hub has both Secret Manager users of the model store's key: the hub token's
secret (security/gcp.GcpHubTokenSecret) and the gateway's secrets. Each used to grant Secret Manager's service
agent the key itself — two resources for one IAM member, so destroying either (e.g. the copy going away) removed
the binding the gateway's secrets still needed. platform/gcp.py now makes that grant once and both wait for it.
"""

from __future__ import annotations

import copy

import pytest
from helpers import scratch_project, shipped_stack
from pulumi_llm import cli
from pulumi_llm.offline.plan import Project, load_settings
from pulumi_llm.verify import PlanView
from pulumi_llm.verify.rules import identity_gcp

from .conftest import fired

MODEL = "llama-3-1-8b-instruct"
STACK = "gcp-prod-copy"
SECRET_MANAGER_AGENT = "@gcp-sa-secretmanager.iam.gserviceaccount.com"


@pytest.fixture(scope="module")
def planned(tmp_path_factory: pytest.TempPathFactory) -> PlanView:
    stack = shipped_stack("gcp-prod")
    stack["config"]["pulumi-llm:models"][MODEL]["copy_from_hub"] = True
    project = scratch_project(tmp_path_factory.mktemp("one-grant"), {STACK: stack})
    out = tmp_path_factory.mktemp("one-grant-plan") / STACK
    assert cli.main(["--project-dir", str(project), "plan", STACK, "--quiet", "--no-verify", "--out", str(out)]) == 0
    settings = load_settings(Project.find(project), STACK).model_dump(mode="json")
    return PlanView.from_dir(out, settings)


def key_grants_to_secret_manager(view: PlanView) -> list[dict]:
    return [g for g in view.of_type(identity_gcp.KEY_MEMBER) if g["inputs"]["member"].endswith(SECRET_MANAGER_AGENT)]


def test_the_hub_token_and_the_gateway_share_one_secret_manager_grant_on_the_key(planned: PlanView) -> None:
    [grant] = key_grants_to_secret_manager(planned)
    secrets = planned.of_type(identity_gcp.SECRET)
    hub = [s for s in secrets if s["inputs"]["secretId"].endswith("-huggingface")]
    assert hub and len(secrets) > len(hub)  # the hub token's and the gateway's secrets
    # Every secret under the key waits for that grant (Secret Manager refuses a CMEK secret until the agent may use it).
    assert all(planned.depends(s, grant) for s in secrets)
    assert not fired(planned)


def test_seed_a_second_resource_granting_the_same_member_the_same_role_on_the_key(planned: PlanView) -> None:
    view = copy.deepcopy(planned)
    [grant] = key_grants_to_secret_manager(view)
    twin = copy.deepcopy(grant)
    twin["name"], twin["urn"] = "llm-hub-token-key-secretmanager", grant["urn"].replace(grant["name"], "llm-hub-token-key-secretmanager")
    view.resources.append(twin)
    assert fired(view) == {identity_gcp.ONE_GRANT}
    # The same member on another role, or another member on the same role, is another grant.
    twin["inputs"]["role"] = "roles/cloudkms.cryptoKeyDecrypter"
    assert identity_gcp.ONE_GRANT not in fired(view)


def test_every_google_iam_member_type_counts_and_nothing_else() -> None:
    assert all(
        identity_gcp.is_iam_member(t)
        for t in (
            identity_gcp.KEY_MEMBER,
            identity_gcp.SECRET_MEMBER,
            identity_gcp.PROJECT_MEMBER,
            identity_gcp.BUCKET_MEMBER,
            identity_gcp.SA_MEMBER,
        )
    )
    assert not identity_gcp.is_iam_member("gcp:kms/cryptoKeyIAMBinding:CryptoKeyIAMBinding")
    assert not identity_gcp.is_iam_member("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
    assert not identity_gcp.is_iam_member(identity_gcp.SECRET)
