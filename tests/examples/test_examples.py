"""Every example in examples/ plans, as its own user's project, under the offline mock runtime.

Each example is a consumer program: its own Pulumi.yaml, a __main__.py that imports pulumi_llm
directly (never this repository's settings), explicit providers, a stack file with its config. The
test runs that __main__.py with the stack file's config exactly as `pulumi-llm plan` runs a stack
(default providers disabled when the stack file says so) and checks what it builds.
"""

from __future__ import annotations

import base64
import gzip
import json
import runpy
from pathlib import Path
from typing import Any

import pytest
import yaml
from pulumi_llm import pins
from pulumi_llm.offline.plan import engine_config, execute
from pulumi_llm.offline.recorder import Record

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


def plan_example(name: str, stack: str, monkeypatch: pytest.MonkeyPatch) -> list[Record]:
    directory = EXAMPLES / name
    project = yaml.safe_load((directory / "Pulumi.yaml").read_text())["name"]
    config, secret_keys = engine_config(directory / f"Pulumi.{stack}.yaml", f"examples/{name}/Pulumi.{stack}.yaml")
    monkeypatch.chdir(directory)  # the engine runs a Python program in its project directory
    return execute(
        lambda: runpy.run_path(str(directory / "__main__.py"), run_name="__main__"),
        project=project,
        stack=stack,
        config=config,
        secret_keys=secret_keys,
        region=config.get(f"{project}:region", ""),
    )


def top_level(records: list[Record]) -> list[tuple[str, str]]:
    [stack] = [r for r in records if r.type == "pulumi:pulumi:Stack"]
    return sorted((r.type, r.name) for r in records if r.parent == stack.urn)


def named(records: list[Record], name: str) -> Record:
    [record] = [r for r in records if r.name == name]
    return record


def of_type(records: list[Record], type_: str) -> list[Record]:
    return [r for r in records if r.type == type_]


def uses(record: Record, provider: Record) -> bool:
    """The record's provider reference (`<urn>::<id>`, or the bare URN while the id is unknown) is `provider`."""
    return record.provider is not None and (record.provider == provider.urn or record.provider.startswith(provider.urn + "::"))


def descendants(records: list[Record], root: Record) -> list[Record]:
    children: dict[str | None, list[Record]] = {}
    for r in records:
        children.setdefault(r.parent, []).append(r)
    out, todo = [], [root.urn]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child.urn)
    return out


def test_every_example_has_a_project_a_program_a_stack_and_pins_the_library() -> None:
    examples = sorted(p.name for p in EXAMPLES.iterdir() if p.is_dir() and not p.name.startswith("yaml-"))
    assert examples == ["cluster-eks", "edge", "gateway-aws", "gpu-vm-aws", "onprem"]
    for name in examples:
        directory = EXAMPLES / name
        project = yaml.safe_load((directory / "Pulumi.yaml").read_text())
        assert project["runtime"]["name"] == "python", name
        assert (directory / "__main__.py").is_file(), name
        stacks = list(directory.glob("Pulumi.*.yaml"))
        assert len(stacks) == 1, name
        stack_config = yaml.safe_load(stacks[0].read_text())["config"]
        assert stack_config["pulumi:disable-default-providers"] == ["*"], name
        # Installed from git at a release tag, as another repository would.
        assert (directory / "requirements.txt").read_text().strip() == (
            "pulumi-llm @ git+https://github.com/<org>/pulumi-llm@v" + __import__("pulumi_llm").__version__
        ), name
        program = (directory / "__main__.py").read_text()
        assert "pulumi_llm.settings" not in program and "LlmPlatform" not in program, name


def test_onprem(monkeypatch: pytest.MonkeyPatch) -> None:
    records = plan_example("onprem", "lab", monkeypatch)
    assert top_level(records) == [
        ("pulumi-llm:index:OnPremCluster", "lab"),
        ("pulumi:providers:kubernetes", "gpu-lab"),
    ]
    provider = named(records, "gpu-lab")
    assert provider.inputs["context"] == "gpu-lab"
    # Every Kubernetes object goes through the explicit provider.
    assert all(uses(r, provider) for r in records if r.custom and r.type.startswith("kubernetes:"))
    releases = sorted(r.name for r in of_type(records, "kubernetes:helm.sh/v3:Release"))
    assert releases == ["lab-gpu-operator", "lab-ingress-nginx", "lab-keda", "lab-prometheus"]
    [deployment] = of_type(records, "kubernetes:apps/v1:Deployment")
    [server] = deployment.inputs["spec"]["template"]["spec"]["containers"]
    # The model server's image is pinned by digest, and reads the weights from the claim.
    assert server["image"] == pins.VLLM_OPENAI.ref and "@sha256:" in server["image"]
    # `vllm serve MODEL …`: the model is the first argument.
    assert server["args"][0] == "/models/meta-llama/Llama-3.1-8B-Instruct/0e9e39f249a16976918f6564b8830bc894c89659"
    assert "--served-model-name=llama-8b" in server["args"]
    volumes = {v["name"]: v for v in deployment.inputs["spec"]["template"]["spec"]["volumes"]}
    assert volumes["model"]["persistentVolumeClaim"] == {"claimName": "model-weights", "readOnly": True}
    [scaled] = of_type(records, "kubernetes:keda.sh/v1alpha1:ScaledObject")
    assert (scaled.inputs["spec"]["minReplicaCount"], scaled.inputs["spec"]["maxReplicaCount"]) == (1, 3)
    [ingress] = of_type(records, "kubernetes:networking.k8s.io/v1:Ingress")
    assert ingress.inputs["spec"]["rules"][0]["host"] == "llm.lab.example.com"


def containers(task: Record) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in json.loads(task.inputs["containerDefinitions"])}


def test_gateway_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    records = plan_example("gateway-aws", "dev", monkeypatch)
    assert top_level(records) == [
        ("pulumi-llm:index:AwsGateway", "llm-gateway"),
        ("pulumi-llm:index:StackKey", "llm-key"),
        ("pulumi:providers:aws", "aws"),
    ]
    provider = named(records, "aws")
    assert provider.inputs["region"] == "eu-west-1"
    assert all(uses(r, provider) for r in records if r.custom and r.type.startswith("aws:"))
    # Secret containers only, encrypted with the stack key: no value in config, program or state.
    secrets = {r.name: r.inputs for r in of_type(records, "aws:secretsmanager/secret:Secret")}
    assert sorted(secrets) == ["llm-gateway-secret-anthropic", "llm-gateway-secret-litellm-master", "llm-gateway-secret-openai"]
    assert {s["name"] for s in secrets.values()} == {"pulumi-llm/dev/anthropic", "pulumi-llm/dev/litellm-master", "pulumi-llm/dev/openai"}
    assert {s["kmsKeyId"] for s in secrets.values()} == {"arn:aws:kms:eu-west-1:123456789012:llm-key-key"}  # the AwsStackKey (mock ARN)
    assert of_type(records, "aws:secretsmanager/secretVersion:SecretVersion") == []
    assert not any("secretString" in r.inputs or "secretBinary" in r.inputs for r in records)
    # The engine reads each key from Secrets Manager by reference and runs the pinned LiteLLM image.
    [task] = of_type(records, "aws:ecs/taskDefinition:TaskDefinition")
    engine = [c for c in containers(task).values() if c["image"] == pins.LITELLM.ref]
    assert len(engine) >= 1 and "@sha256:" in pins.LITELLM.ref
    injected = {s["name"] for c in containers(task).values() for s in c.get("secrets", [])}
    assert injected == {"OPENAI_API_KEY", "ANTHROPIC_API_KEY", "PULUMI_LLM_EDGE_KEY"}  # litellm-master: the front's edge key
    environment = {e["name"]: e["value"] for c in engine for e in c.get("environment", [])}
    rendered = yaml.safe_load(base64.b64decode(environment["LITELLM_CONFIG_B64"]))
    # LiteLLM serves the provider deployments by id; the front owns the chain (chat, then its fallback).
    assert [m["model_name"] for m in rendered["model_list"]] == ["chat/openai-0", "chat-fallback/anthropic-0"]
    assert rendered["model_list"][0]["litellm_params"]["api_key"] == "os.environ/OPENAI_API_KEY"
    front = json.loads(base64.b64decode(environment["PULUMI_LLM_FRONT_CONFIG_B64"]))
    assert [c["deployment"] for c in front["routing"]["chains"]["chat"]] == ["chat/openai-0", "chat-fallback/anthropic-0"]
    assert sorted(front["grants"]["consumers"]) == ["batch-jobs", "web-app"]
    # Each consumer: its own API key and usage plan with the stack file's limits.
    plans = {r.name: r.inputs for r in of_type(records, "aws:apigateway/usagePlan:UsagePlan")}
    assert plans["llm-gateway-usage-plan-web-app"]["quotaSettings"] == {"limit": 20000, "period": "DAY"}
    assert plans["llm-gateway-usage-plan-batch-jobs"]["quotaSettings"] == {"limit": 500000, "period": "MONTH"}
    assert plans["llm-gateway-usage-plan-batch-jobs"]["throttleSettings"] == {"burstLimit": 4, "rateLimit": 2}
    assert sorted(r.name for r in of_type(records, "aws:apigateway/apiKey:ApiKey")) == [
        "llm-gateway-api-key-batch-jobs",
        "llm-gateway-api-key-web-app",
    ]
    assert named(records, "llm-gateway-vpc-link").type == "aws:apigateway/vpcLink:VpcLink"
    nlb = named(records, "llm-gateway-nlb").inputs
    assert nlb["internal"] is True and nlb["subnets"] == ["subnet-0a1b2c3d4e5f60001", "subnet-0a1b2c3d4e5f60002"]


def test_gpu_vm_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    records = plan_example("gpu-vm-aws", "dev", monkeypatch)
    assert top_level(records) == [
        ("pulumi-llm:index:AwsGpuVm", "llama-8b"),
        ("pulumi-llm:index:AwsMonitoring", "llm-alarms"),
        ("pulumi-llm:index:AwsNetwork", "llm-net"),
        ("pulumi-llm:index:ModelStore", "llm-models"),
        ("pulumi-llm:index:StackKey", "llm-key"),
        ("pulumi:providers:aws", "aws"),
    ]
    provider = named(records, "aws")
    assert provider.inputs["region"] == "us-east-1"
    assert all(uses(r, provider) for r in records if r.custom and r.type.startswith("aws:"))
    key_arn = "arn:aws:kms:us-east-1:123456789012:llm-key-key"
    template = named(records, "llama-8b-launch-template").inputs
    assert template["metadataOptions"]["httpTokens"] == "required" and template["metadataOptions"]["httpPutResponseHopLimit"] == 1
    assert template["networkInterfaces"][0]["associatePublicIpAddress"] == "false"
    assert {(d["ebs"]["encrypted"], d["ebs"]["kmsKeyId"]) for d in template["blockDeviceMappings"]} == {("true", key_arn)}
    # The boot script runs the sized vLLM server from the digest-pinned image on the synced weights.
    boot = gzip.decompress(base64.b64decode(template["userData"])).decode()  # gzipped: EC2's 16 KB limit
    assert pins.VLLM_OPENAI.ref in boot and "@sha256:" in pins.VLLM_OPENAI.ref
    assert "/models/llama-3.1-8b-instruct/0e9e39f249a16976918f6564b8830bc894c89659" in boot
    group = named(records, "llama-8b-asg").inputs
    assert (group["minSize"], group["maxSize"]) == (1, 2)
    policy = group["mixedInstancesPolicy"]
    assert policy["launchTemplate"]["overrides"] == [{"instanceType": "g6.xlarge"}]
    assert policy["instancesDistribution"]["onDemandPercentageAboveBaseCapacity"] == 0  # all spot
    schedules = {r.name: r.inputs for r in of_type(records, "aws:autoscaling/schedule:Schedule")}
    assert (schedules["llama-8b-stop"]["recurrence"], schedules["llama-8b-stop"]["maxSize"]) == ("0 20 * * MON-FRI", 0)
    assert (schedules["llama-8b-start"]["recurrence"], schedules["llama-8b-start"]["minSize"]) == ("0 7 * * MON-FRI", 1)
    assert {s["timeZone"] for s in schedules.values()} == {"Europe/Berlin"}
    alb = named(records, "llama-8b-alb").inputs
    assert alb["internal"] is True and alb["loadBalancerType"] == "application"
    # The weights' bucket and the network are the example's own components.
    assert named(records, "llm-net-vpc").inputs["cidrBlock"] == "10.40.0.0/16"
    assert named(records, "llm-models-key-alias").inputs["name"] == "alias/llm-gpu-vm/dev/models"
    # The instance role decrypts the weights with the key the store's bucket encrypts with (finding 2).
    bucket_key = named(records, "llm-models-encryption").inputs["rules"][0]["applyServerSideEncryptionByDefault"]["kmsMasterKeyId"]
    read = {s["Sid"]: s for s in json.loads(named(records, "llama-8b-model-read").inputs["policy"])["Statement"]}
    assert read["DecryptModelThroughS3"]["Resource"] == bucket_key == "arn:aws:kms:us-east-1:123456789012:llm-models-key"


def test_cluster_eks(monkeypatch: pytest.MonkeyPatch) -> None:
    records = plan_example("cluster-eks", "staging", monkeypatch)
    assert top_level(records) == [
        ("pulumi-llm:index:AwsNetwork", "llm-net"),
        ("pulumi-llm:index:EksCluster", "llm"),
        ("pulumi-llm:index:ModelServing", "llm-serving"),
        ("pulumi-llm:index:ModelStore", "llm-models"),
        ("pulumi-llm:index:StackKey", "llm-key"),
        ("pulumi:providers:aws", "aws"),
    ]
    aws_provider = named(records, "aws")
    assert all(uses(r, aws_provider) for r in records if r.custom and r.type.startswith("aws:"))
    # The model servers go through the provider EksCluster builds, never an ambient kubeconfig.
    cluster_provider = named(records, "llm-k8s")
    assert cluster_provider.type == "pulumi:providers:kubernetes"
    serving = named(records, "llm-serving")
    served = [r for r in descendants(records, serving) if r.custom]
    assert served and all(uses(r, cluster_provider) for r in served)
    cluster = named(records, "llm-cluster").inputs
    assert cluster["vpcConfig"]["endpointPublicAccess"] is False
    assert cluster["encryptionConfig"]["provider"]["keyArn"] == "arn:aws:kms:us-east-1:123456789012:llm-key-key"
    assert named(records, "llm-admin-platform-team").inputs["principalArn"] == "arn:aws:iam::123456789012:role/platform-admin"
    [pool] = of_type(records, "kubernetes:karpenter.sh/v1:NodePool")
    requirements = {r["key"]: r["values"] for r in pool.inputs["spec"]["template"]["spec"]["requirements"] if "values" in r}
    assert requirements["karpenter.k8s.aws/instance-family"] == ["g6e"]
    assert pool.inputs["spec"]["limits"] == {"nvidia.com/gpu": "4"}
    # vLLM streams its prefix of the store, read-only through the server's own pod identity.
    [deployment] = of_type(records, "kubernetes:apps/v1:Deployment")
    [server] = deployment.inputs["spec"]["template"]["spec"]["containers"]
    assert server["image"] == pins.VLLM_OPENAI.ref
    assert server["args"][0] == "s3://$(MODEL_BUCKET)/meta-llama/Llama-3.1-8B-Instruct/0e9e39f249a16976918f6564b8830bc894c89659"
    assert {"name": "MODEL_BUCKET", "value": "llm-models-bucket-8e9d71e"} in server["env"]
    association = named(records, "llm-llm-llama-8b-pod-identity").inputs
    assert (association["namespace"], association["serviceAccount"]) == ("llm", "llama-8b")
    policy = json.loads(named(records, "llm-llm-llama-8b-policy").inputs["policy"])
    assert {s["Sid"]: s["Action"] for s in policy["Statement"]} == {
        "ReadModel": ["s3:GetObject"],
        "ListModel": ["s3:ListBucket"],
        "DecryptModel": ["kms:Decrypt"],
    }
    [ingress] = of_type(records, "kubernetes:networking.k8s.io/v1:Ingress")
    assert ingress.inputs["metadata"]["annotations"]["alb.ingress.kubernetes.io/scheme"] == "internal"
    assert ingress.inputs["spec"]["rules"][0]["host"] == "llama-8b.llm.staging.internal.example.com"


def test_edge(monkeypatch: pytest.MonkeyPatch) -> None:
    records = plan_example("edge", "fleet", monkeypatch)
    assert top_level(records) == [
        ("pulumi-llm:index:EdgeImage", "llama-server"),
        ("pulumi-llm:index:EdgeRollout", "edge"),
        ("pulumi:providers:aws", "aws"),
        ("pulumi:providers:docker-build", "docker-build"),
        ("pulumi:providers:kubernetes", "edge-fleet"),
    ]
    registry, builder, fleet = named(records, "aws"), named(records, "docker-build"), named(records, "edge-fleet")
    assert all(uses(r, registry) for r in records if r.custom and r.type.startswith("aws:"))
    assert all(uses(r, builder) for r in records if r.custom and r.type.startswith("docker-build:"))
    assert all(uses(r, fleet) for r in records if r.custom and r.type.startswith("kubernetes:"))
    repository = named(records, "llama-server-repo").inputs
    assert repository["name"] == "edge/llama-server"
    assert repository["imageTagMutability"] == "IMMUTABLE" and repository["imageScanningConfiguration"] == {"scanOnPush": True}
    # One build per platform (arm64 on its native builder), the verified llama.cpp source, one index.
    builds = {r.name: r.inputs for r in of_type(records, "docker-build:index:Image")}
    assert sorted(builds) == ["llama-server-amd64", "llama-server-arm64"]
    assert builds["llama-server-arm64"]["builder"] == {"name": "graviton"} and "builder" not in builds["llama-server-amd64"]
    assert {b["buildArgs"]["LLAMA_CPP_SHA256"] for b in builds.values()} == {
        "832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e"
    }
    assert {b["context"]["location"] for b in builds.values()} == {"../../images/edge-llamacpp"}
    assert (EXAMPLES / "edge" / "../../images/edge-llamacpp/Dockerfile").resolve().is_file()
    [index] = of_type(records, "docker-build:index:Index")
    assert index.inputs["tag"].endswith("/edge/llama-server:llama-0c1e570-r1")
    # The fleet runs the built image by digest, on the labelled nodes, sized for 16 GiB CPU boxes.
    [daemon_set] = of_type(records, "kubernetes:apps/v1:DaemonSet")
    pod = daemon_set.inputs["spec"]["template"]["spec"]
    [server] = pod["containers"]
    assert server["image"].startswith(index.inputs["tag"] + "@sha256:")
    assert pod["nodeSelector"] == {"pulumi-llm.dev/edge": "cpu"}
    env = {e["name"]: e.get("value") for e in server["env"]}
    assert env["LLAMA_ARG_MODEL"] == "/models/llama-3-2-3b-q4_k_m.gguf" and env["LLAMA_ARG_N_GPU_LAYERS"] == "0"
    assert env["LLAMA_ARG_OFFLINE"] == "1"  # never fetches a model at start
