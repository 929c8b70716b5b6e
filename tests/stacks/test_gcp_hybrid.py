"""gcp-prod's hybrid routing, read from its offline plan: the gateway's front on Cloud Run reaches the GKE
model through Direct VPC egress and an internal passthrough load balancer, then falls back to providers."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
EGRESS = "10.40.18.0/26"
MODEL = "llama-3-1-8b-instruct"
URL_ENV = "SELF_HOSTED_LLAMA_3_1_8B_INSTRUCT_URL"


@pytest.fixture(scope="module")
def plan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("gcp-prod")
    result = subprocess.run(
        [sys.executable, "-m", "pulumi_llm.cli", "plan", "gcp-prod", "--quiet", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    return out


@pytest.fixture(scope="module")
def resources(plan: Path) -> dict[str, dict]:
    return {r["name"]: r for r in json.loads((plan / "resources.json").read_text())}


def test_cloud_run_egresses_private_ranges_into_the_gateway_subnet(resources: dict[str, dict]) -> None:
    template = resources["llm-gateway-service"]["inputs"]["template"]
    [interface] = template["vpcAccess"]["networkInterfaces"]
    assert template["vpcAccess"]["egress"] == "PRIVATE_RANGES_ONLY"
    assert interface["subnetwork"].startswith("llm-network-gateway-subnet-")
    assert interface["network"].startswith("llm-network-vpc-")
    assert resources["llm-network-gateway-subnet"]["inputs"]["ipCidrRange"] == EGRESS


def test_only_the_gateway_subnet_may_reach_the_gpu_nodes_model_port(resources: dict[str, dict]) -> None:
    rule = resources["llm-network-allow-gateway"]["inputs"]
    # GPU nodes run the servers, the system nodes the models' routers (which the gateway calls).
    assert (rule["direction"], rule["sourceRanges"], rule["targetTags"]) == (
        "INGRESS",
        [EGRESS],
        ["pulumi-llm-gke-gpu", "pulumi-llm-gke-system"],
    )
    assert rule["allows"] == [{"protocol": "tcp", "ports": ["8000"]}]
    pools = [r for r in resources.values() if r["type"] == "gcp:container/nodePool:NodePool"]
    gpu = [p for p in pools if p["inputs"]["nodeConfig"].get("guestAccelerators")]
    assert gpu and all(p["inputs"]["nodeConfig"]["tags"] == ["pulumi-llm-gke-gpu"] for p in gpu)
    assert all(p["inputs"]["nodeConfig"]["tags"] == ["pulumi-llm-gke-system"] for p in pools if p not in gpu)


def test_the_front_routes_the_model_first_through_the_url_in_its_environment(resources: dict[str, dict]) -> None:
    [container] = resources["llm-gateway-service"]["inputs"]["template"]["containers"]
    envs = {e["name"]: e["value"] for e in container["envs"]}
    # The load balancer's address exists only after deploy; the plan shows where it goes.
    assert envs[URL_ENV] == "http://pending:8000/v1"
    # The front streams the self-hosted route itself (from the URL in its environment), then falls back to the
    # provider group through LiteLLM, whose config holds the provider deployments only.
    front = json.loads(base64.b64decode(envs["PULUMI_LLM_FRONT_CONFIG_B64"]))
    chat = front["routing"]["chains"]["chat"]
    assert [(c["kind"], c["served_by"], c["fallback"]) for c in chat] == [
        ("direct", "self-hosted", False),
        ("litellm", "provider", True),
        ("litellm", "provider", True),
    ]
    assert (chat[0]["model"], chat[0]["url"]) == (MODEL, f"os.environ/{URL_ENV}")
    config = yaml.safe_load(base64.b64decode(envs["LITELLM_CONFIG_B64"]))
    assert [m["model_name"] for m in config["model_list"]] == [c["deployment"] for c in chat[1:]]
    providers = sorted(m["litellm_params"]["model"].split("/")[0] for m in config["model_list"])
    assert providers == ["anthropic", "gemini"]


def test_model_has_an_internal_passthrough_load_balancer_and_admits_only_the_gateway_subnet(plan: Path) -> None:
    manifests = plan / "manifests"
    service = yaml.safe_load((manifests / f"service-llm-{MODEL}-internal.yaml").read_text())
    assert service["metadata"]["annotations"] == {"networking.gke.io/load-balancer-type": "Internal"}
    assert service["spec"]["type"] == "LoadBalancer" and service["spec"]["externalTrafficPolicy"] == "Local"
    assert service["spec"]["loadBalancerSourceRanges"] == [EGRESS]
    # The load balancer leads to the model's router, which admits the gateway subnet; the servers admit the router.
    router = {"app.kubernetes.io/name": MODEL, "app.kubernetes.io/component": "router"}
    assert service["spec"]["selector"] == router
    policy = yaml.safe_load((manifests / f"networkpolicy-llm-{MODEL}-router.yaml").read_text())
    api = [rule for rule in policy["spec"]["ingress"] if rule["ports"] == [{"port": 8000, "protocol": "TCP"}]]
    assert {"ipBlock": {"cidr": EGRESS}} in api[0]["from"]
    server = yaml.safe_load((manifests / f"networkpolicy-llm-{MODEL}.yaml").read_text())
    served = [rule for rule in server["spec"]["ingress"] if rule["ports"] == [{"port": 8000, "protocol": "TCP"}]]
    assert served[0]["from"] == [{"podSelector": {"matchLabels": router}}]
