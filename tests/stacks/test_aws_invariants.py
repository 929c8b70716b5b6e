"""Security and sizing invariants of every AWS stack, read from the resources its plan records."""

from __future__ import annotations

import json
import re
from urllib.parse import urlparse

import pytest
from pulumi_llm.gateway.front_contract import EDGE_KEY_ENV, INFERENCE_ROUTES
from pulumi_llm.sizing import fit, get_instance_type, get_model

AWS_STACKS = ["dev", "staging", "prod"]
# Read-only calls IAM can't scope to a resource; nothing else may name "Resource": "*".
UNSCOPABLE = re.compile(
    r"^[a-z0-9-]+:(Describe|List|Get)[A-Za-z]*\*?$|^pricing:GetProducts$|^ec2:GetSecurityGroupsForVpc$|"
    r"^ecr:GetAuthorizationToken$|^sts:GetCallerIdentity$|^cloudwatch:PutMetricData$|^ssm:UpdateInstanceInformation$|"
    r"^ssmmessages:[A-Za-z]+$|^ec2messages:[A-Za-z]+$|^logs:(CreateLogGroup|CreateLogStream|PutLogEvents|DescribeLogStreams)$|"
    r"^xray:PutTraceSegments$|^aps:RemoteWrite$|^eks-auth:AssumeRoleForPodIdentity$|^ec2:(Create|Delete)Tags$"
)


def of(resources: list[dict], type_: str) -> list[dict]:
    return [r for r in resources if r["type"] == type_]


@pytest.mark.parametrize("stack", AWS_STACKS)
def test_every_launch_template_requires_imdsv2_and_encrypts_volumes(resources: dict, stack: str) -> None:
    templates = of(resources[stack], "aws:ec2/launchTemplate:LaunchTemplate")
    assert templates
    for template in templates:
        inputs = template["inputs"]
        assert inputs["metadataOptions"]["httpTokens"] == "required", template["name"]
        for mapping in inputs.get("blockDeviceMappings", []):
            assert mapping["ebs"]["encrypted"] == "true" or mapping["ebs"]["encrypted"] is True, template["name"]
            assert mapping["ebs"].get("kmsKeyId"), template["name"]


@pytest.mark.parametrize("stack", AWS_STACKS)
def test_stores_logs_topics_and_secrets_are_encrypted(resources: dict, stack: str) -> None:
    r = resources[stack]
    buckets = of(r, "aws:s3/bucket:Bucket")
    encryption = of(r, "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")
    assert len(encryption) == len(buckets) >= 1
    assert all(e["inputs"]["rules"][0]["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "aws:kms" for e in encryption)
    for group in of(r, "aws:cloudwatch/logGroup:LogGroup"):
        assert group["inputs"].get("kmsKeyId"), group["name"]
        assert group["inputs"].get("retentionInDays"), group["name"]
    for topic in of(r, "aws:sns/topic:Topic"):
        assert topic["inputs"].get("kmsMasterKeyId"), topic["name"]
    for secret in of(r, "aws:secretsmanager/secret:Secret"):
        assert secret["inputs"].get("kmsKeyId"), secret["name"]
    for key in of(r, "aws:kms/key:Key"):
        assert key["inputs"]["enableKeyRotation"] is True, key["name"]
    for block in of(r, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"):
        assert all(
            block["inputs"][k] is True for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
        )


def _ingress_rules(r: list[dict]) -> list[tuple[str, dict]]:
    rules = []
    for sg in of(r, "aws:ec2/securityGroup:SecurityGroup"):
        rules += [(sg["name"], rule) for rule in sg["inputs"].get("ingress", [])]
    for rule in of(r, "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"):
        rules.append((rule["name"], {"cidrBlocks": [rule["inputs"].get("cidrIpv4")], **rule["inputs"]}))
    for rule in of(r, "aws:ec2/securityGroupRule:SecurityGroupRule"):
        if rule["inputs"].get("type") == "ingress":
            rules.append((rule["name"], rule["inputs"]))
    return rules


@pytest.mark.parametrize("stack", AWS_STACKS)
def test_no_open_ingress_except_http_and_https_on_load_balancers(resources: dict, stack: str) -> None:
    for name, rule in _ingress_rules(resources[stack]):
        if "0.0.0.0/0" in (rule.get("cidrBlocks") or []) or rule.get("cidrIpv4") == "0.0.0.0/0":
            assert (rule.get("fromPort"), rule.get("toPort")) in ((80, 80), (443, 443)), name
            assert "alb" in name or "lb" in name, name
    for default in of(resources[stack], "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"):
        assert not default["inputs"].get("ingress") and not default["inputs"].get("egress")


def _policies(r: list[dict]) -> list[tuple[str, dict]]:
    out = []
    for res in r:
        if res["type"] in ("aws:iam/rolePolicy:RolePolicy", "aws:iam/policy:Policy") and isinstance(res["inputs"].get("policy"), str):
            out.append((res["name"], json.loads(res["inputs"]["policy"])))
    return out


@pytest.mark.parametrize("stack", AWS_STACKS)
def test_iam_data_actions_are_scoped_to_arns(resources: dict, stack: str) -> None:
    policies = _policies(resources[stack])
    assert policies
    for name, doc in policies:
        for statement in doc["Statement"]:
            if statement["Effect"] != "Allow":
                continue
            targets = statement.get("Resource")
            targets = [targets] if isinstance(targets, str) else (targets or [])
            if "*" in targets:
                actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                unscoped = [a for a in actions if not UNSCOPABLE.match(a)]
                # Actions AWS only allows on "*" must be guarded by a condition instead.
                assert not unscoped or statement.get("Condition"), f"{name}: {unscoped} on *"


@pytest.mark.parametrize("stack", AWS_STACKS)
def test_each_model_fits_its_instance_type_with_tp_equal_to_its_gpus(plans, stack: str) -> None:
    summary = json.loads((plans / stack / "summary.json").read_text())
    assert summary["sizing"]
    for model in summary["sizing"]:
        itype = get_instance_type(model["hardware"]["instance_type"], "aws")
        assert itype.offered_in(summary["region"])
        assert model["tensor_parallel_size"] <= itype.hardware.count
        fitted = fit(get_model(model["model"]["key"]), itype, quantization=model["precision"], context=model["max_model_len"])
        assert fitted.max_model_len == model["max_model_len"]


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_vllm_tensor_parallel_equals_gpus_per_pod(plans, stack: str) -> None:
    import yaml

    for path in (plans / stack / "manifests").glob("deployment-llm-*.yaml"):
        if path.name.endswith("-router.yaml"):
            continue  # the model's router (tests/stacks/test_router_plan.py), not a GPU server
        container = yaml.safe_load(path.read_text())["spec"]["template"]["spec"]["containers"][0]
        tp = next(int(a.split("=")[1]) for a in container["args"] if a.startswith("--tensor-parallel-size="))
        assert int(container["resources"]["limits"]["nvidia.com/gpu"]) == tp


def test_prod_spreads_over_three_zones_with_a_nat_each_and_no_spot_only(resources: dict, stack_configs: dict) -> None:
    r = resources["prod"]
    assert len(of(r, "aws:ec2/natGateway:NatGateway")) == 3
    assert len([s for s in of(r, "aws:ec2/subnet:Subnet") if "private" in s["name"]]) == 3
    assert "on-demand" in stack_configs["prod"]["pulumi-llm:aws"]["cluster"]["capacity_types"]
    [cluster] = of(r, "aws:eks/cluster:Cluster")
    assert cluster["inputs"]["vpcConfig"]["endpointPublicAccess"] is False
    assert cluster["inputs"]["encryptionConfig"]["resources"] == ["secrets"]


def test_dev_is_one_spot_vm_that_sleeps_at_night(resources: dict) -> None:
    r = resources["dev"]
    [group] = of(r, "aws:autoscaling/group:Group")
    distribution = group["inputs"]["mixedInstancesPolicy"]["instancesDistribution"]
    assert distribution["onDemandBaseCapacity"] == 0 and distribution["onDemandPercentageAboveBaseCapacity"] == 0
    assert (group["inputs"]["minSize"], group["inputs"]["maxSize"]) == (1, 1)
    schedules = sorted((s["inputs"]["recurrence"], s["inputs"]["desiredCapacity"]) for s in of(r, "aws:autoscaling/schedule:Schedule"))
    assert schedules == [("0 20 * * MON-FRI", 0), ("0 7 * * MON-FRI", 1)]


def test_staging_copies_the_pinned_revision_into_the_store_with_a_scoped_identity(plans, resources: dict) -> None:
    import yaml

    [job_file] = (plans / "staging" / "manifests").glob("job-llm-copy-*.yaml")
    spec = yaml.safe_load(job_file.read_text())["spec"]["template"]["spec"]
    assert [c["name"] for c in spec["initContainers"]] == ["token", "download"]
    assert "--revision 0e9e39f249a16976918f6564b8830bc894c89659" in spec["initContainers"][1]["command"][-1]
    assert spec["containers"][0]["command"][-1].startswith('exec aws s3 sync /work/model "s3://$(MODEL_BUCKET)/meta-llama/')
    secrets = of(resources["staging"], "aws:secretsmanager/secret:Secret")
    assert [s["inputs"]["name"] for s in secrets] == ["pulumi-llm/staging/huggingface"]
    assert not of(resources["staging"], "aws:secretsmanager/secretVersion:SecretVersion")  # values never in state
    writer = [p for n, p in _policies(resources["staging"]) if any(s.get("Sid") == "WriteModel" for s in p["Statement"])]
    assert len(writer) == 1
    [write] = [s for s in writer[0]["Statement"] if s["Sid"] == "WriteModel"]
    assert write["Resource"][0].endswith("/meta-llama/Llama-3.1-8B-Instruct/0e9e39f249a16976918f6564b8830bc894c89659/*")


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_gateway_keeps_secret_values_out_of_state_and_streams(resources: dict, stack: str) -> None:
    r = resources[stack]
    assert not of(r, "aws:secretsmanager/secretVersion:SecretVersion")
    names = sorted(s["inputs"]["name"] for s in of(r, "aws:secretsmanager/secret:Secret"))
    # dev's GPU VM also requires the API key the gateway sends (self-hosted); prod's EKS servers get none yet.
    expected = {"dev": ["anthropic", "litellm-master", "openai", "self-hosted"], "prod": ["anthropic", "litellm-master", "openai"]}[stack]
    assert names == [f"pulumi-llm/{stack}/{p}" for p in expected]
    for secret in of(r, "aws:secretsmanager/secret:Secret"):
        assert secret["inputs"]["kmsKeyId"] and secret["inputs"]["recoveryWindowInDays"] > 0
    # One integration per inference route of the front's contract (no proxy+), each streamed with the 600 s timeout.
    integrations = of(r, "aws:apigateway/integration:Integration")
    routes = {(i["inputs"]["httpMethod"], urlparse(i["inputs"]["uri"]).path) for i in integrations}
    assert routes == set(INFERENCE_ROUTES) and len(integrations) == len(INFERENCE_ROUTES)
    for integration in integrations:
        assert integration["inputs"]["responseTransferMode"] == "STREAM"
        assert integration["inputs"]["timeoutMilliseconds"] == 600_000
    methods = of(r, "aws:apigateway/method:Method")
    assert len(methods) == len(INFERENCE_ROUTES)
    for method in methods:
        assert method["inputs"]["apiKeyRequired"] is True
    text = json.dumps(r)
    assert not re.search(r"sk-[A-Za-z0-9_-]{20,}", text)  # no key-shaped literal anywhere
    [task] = of(r, "aws:ecs/taskDefinition:TaskDefinition")
    containers = json.loads(task["inputs"]["containerDefinitions"])
    engine = next(c for c in containers if c.get("secrets"))
    # The front takes the edge key (the litellm-master secret) by reference; LiteLLM, behind it on loopback, gets a
    # per-boot key from the front, so no LITELLM_MASTER_KEY reaches the task.
    names = {s["name"] for s in engine["secrets"]}
    assert names >= {"OPENAI_API_KEY", EDGE_KEY_ENV} and "LITELLM_MASTER_KEY" not in names
    assert all("value" not in s for s in engine["secrets"])
    assert {e["name"] for e in engine.get("environment", [])}.isdisjoint(names)  # no secret also as a plain value
