"""`aws.model_tls` under the offline plan, on edited copies of stacks/Pulumi.dev.yaml (gpu-vm) and
stacks/Pulumi.prod.yaml (EKS): the gateway calls each self-hosted model at https://<model>.<domain> on 443,
the load balancers answer there with the certificate, a CNAME leads the name to them, exactly that path is
open, and the network.aws rules find nothing (finding 1: HTTPS where a certificate is configured)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
import yaml
from helpers import scratch_project, shipped_stack
from pulumi_llm.cli import main
from pulumi_llm.errors import UserError
from pulumi_llm.settings import load
from pulumi_llm.verify import PlanView, run_rules

ROOT = Path(__file__).resolve().parents[2]
TLS = {
    "domain": "models.internal.example.com",
    "certificate_arn": "arn:aws:acm:us-east-1:123456789012:certificate/0f1e2d3c-4b5a-6978-8899-aabbccddeeff",
    "zone_id": "Z0123456789ABCDEFGHIJ",
}
NETWORK_AWS = ["network.aws-edge", "network.aws-self-hosted", "network.aws-closed", "network.aws-netpol"]


def with_tls(stack: str) -> dict:
    config = shipped_stack(stack)
    config["config"].setdefault("pulumi-llm:aws", {})["model_tls"] = dict(TLS)
    return config


@pytest.fixture(scope="module", params=["dev", "prod"])
def planned(request, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path, dict]:
    stack = request.param
    config = with_tls(stack)
    base = scratch_project(tmp_path_factory.mktemp(f"tls-{stack}"), {stack: config})
    out = tmp_path_factory.mktemp(f"tls-{stack}-plan")
    assert main(["--project-dir", str(base), "plan", stack, "--out", str(out), "--quiet", "--no-verify"]) == 0
    return stack, out, config


def _view(stack: str, out: Path, config: dict) -> PlanView:
    flat = {k: v if isinstance(v, str) else json.dumps(v) for k, v in config["config"].items() if k.startswith("pulumi-llm:")}
    settings = load(flat, f"stacks/Pulumi.{stack}.yaml").model_dump(mode="json")
    return PlanView.from_dir(out, settings)


def _engine_env(view: PlanView) -> dict[str, str]:
    task = view.of_type("aws:ecs/taskDefinition:TaskDefinition")[0]
    return {e["name"]: e["value"] for c in json.loads(task["inputs"]["containerDefinitions"]) for e in c.get("environment", [])}


def test_the_gateway_calls_each_model_by_name_over_https(planned):
    stack, out, config = planned
    view = _view(stack, out, config)
    env = _engine_env(view)
    urls = {k: v for k, v in env.items() if k.startswith("SELF_HOSTED_")}
    assert urls and all(
        v == f"https://{k.removeprefix('SELF_HOSTED_').removesuffix('_URL').lower().replace('_', '-')}.{TLS['domain']}/v1"
        for k, v in urls.items()
    )
    records = {r["inputs"]["name"]: r["inputs"] for r in view.of_type("aws:route53/record:Record")}
    assert set(records) == {v.removeprefix("https://").removesuffix("/v1") for v in urls.values()}
    assert all(r["zoneId"] == TLS["zone_id"] and r["type"] == "CNAME" for r in records.values())
    assert "model_list" in yaml.safe_load(base64.b64decode(env["LITELLM_CONFIG_B64"]))


def test_the_load_balancers_answer_on_443_and_only_443_is_opened(planned):
    stack, out, config = planned
    view = _view(stack, out, config)
    opened = [
        r["inputs"]
        for r in view.of_type("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule")
        if r["inputs"].get("referencedSecurityGroupId")
        and r["name"].startswith("llm-gateway-tasks-out-")
        and not r["name"].endswith("https")
    ]
    assert opened and all((r["fromPort"], r["toPort"]) == (443, 443) for r in opened)
    if stack == "dev":
        https = [r["inputs"] for r in view.of_type("aws:lb/listener:Listener") if r["inputs"].get("protocol") == "HTTPS"]
        assert [(r["port"], r["certificateArn"]) for r in https] == [(443, TLS["certificate_arn"])]
    else:
        for ingress in view.objects("Ingress"):
            notes = ingress["metadata"]["annotations"]
            assert notes["alb.ingress.kubernetes.io/certificate-arn"] == TLS["certificate_arn"]
            assert json.loads(notes["alb.ingress.kubernetes.io/listen-ports"]) == [{"HTTPS": 443}]
            assert ingress["spec"]["rules"][0]["host"] == f"{ingress['metadata']['name']}.{TLS['domain']}"


def test_network_aws_rules_find_nothing(planned):
    stack, out, config = planned
    assert run_rules(_view(stack, out, config), NETWORK_AWS) == []


def test_the_https_url_needs_its_record(planned):
    stack, out, config = planned
    view = _view(stack, out, config)
    view.resources = [r for r in view.resources if r["type"] != "aws:route53/record:Record"]
    assert {v.rule for v in run_rules(view, NETWORK_AWS)} == {"network.aws-self-hosted"}


def _aws_settings(aws: dict, methods=("gateway", "gpu-vm")) -> dict[str, str]:
    config = yaml.safe_load((ROOT / "stacks" / "Pulumi.dev.yaml").read_text())["config"]
    config["pulumi-llm:aws"] = {**config.get("pulumi-llm:aws", {}), **aws}
    config["pulumi-llm:methods"] = list(methods)
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in config.items() if k.startswith("pulumi-llm:")}


@pytest.mark.parametrize(
    ("aws", "expected"),
    [
        (
            {"gpu_vm": {"certificate_arn": TLS["certificate_arn"]}},
            "aws.gpu_vm.certificate_arn = arn:aws:acm:us-east-1:123456789012:certificate/0f1e2d3c-4b5a-6978-8899-aabbccddeeff: the gateway "
            "would call https://<load balancer DNS name>, which no ACM certificate covers; set aws.model_tls (domain, certificate_arn, zone_id) instead",
        ),
        (
            {"model_tls": {**TLS, "certificate_arn": TLS["certificate_arn"].replace("us-east-1", "eu-west-1")}},
            "is in eu-west-1; the load balancers need one in us-east-1",
        ),
        ({"model_tls": {**TLS, "domain": "Models_Internal"}}, "is not a DNS name"),
    ],
)
def test_bad_model_tls_is_one_line(aws, expected):
    with pytest.raises(UserError) as caught:
        load(_aws_settings(aws), "stacks/Pulumi.dev.yaml")
    assert "\n" not in str(caught.value) and expected in str(caught.value)
