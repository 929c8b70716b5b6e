"""The component package: the schema `pulumi package add` gets, and the adapters run as the engine runs them.

The schema is the one the plugin's GetSchema returns (`LlmComponentProvider.schema`, inferred by the
SDK's analyzer from the adapters' annotations). The end-to-end tests go through the provider's
`construct`, with camelCase inputs as a TypeScript/Go/YAML SDK sends them, under the plan's
recording mock runtime.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, cast

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
import pytest
import yaml
from helpers import by_name, children, of_type, only, run
from pulumi.errors import InputPropertiesError, InputPropertyError
from pulumi_llm import sizing
from pulumi_llm.errors import UserError
from pulumi_llm.platform import LlmPlatform, LlmPlatformArgs
from pulumi_llm.provider import components
from pulumi_llm.runtimes import registry
from pulumi_llm.settings import load

ROOT = Path(__file__).resolve().parents[2]
PROVIDER = components.provider()
SCHEMA = json.loads(cast(str, PROVIDER.schema))
RESOURCES = SCHEMA["resources"]
TYPES = SCHEMA["types"]

KEY_ARN = "arn:aws:kms:us-east-1:111122223333:key/0f3c"
MODEL = {
    "catalog": "llama-3.1-8b-instruct",
    "source": "pvc://weights/llama/0e9e39f249a16976918f6564b8830bc894c89659",
    "revision": "0e9e39f249a16976918f6564b8830bc894c89659",
    "context": 8192,
}
ONPREM = {
    "environment": "lab",
    "kubeContext": "gpu-lab",
    "namespace": "models",
    "gpus": {"accelerator": "L4", "perNode": 4},
    "serving": {"replicas": {"min": 1, "max": 3}},
    "models": {"llama-8b": MODEL},
}
GATEWAY = {
    "environment": "dev",
    "region": "us-east-1",
    "vpcId": "vpc-0abc",
    "privateSubnetIds": ["subnet-a", "subnet-b"],
    "kmsKeyArn": KEY_ARN,
    "models": {
        "chat": {
            "routes": [
                {"provider": "openai", "model": "gpt-4o-mini"},
                {"provider": "bedrock", "model": "anthropic.claude-3-5-sonnet-20240620-v1:0"},
            ]
        }
    },
    "consumers": {"team-a": {"models": ["chat"], "requestsPerDay": 1000}},
    "bedrockModels": ["anthropic.claude-3-5-sonnet-20240620-v1:0"],
}
GPU_VM = {
    "environment": "dev",
    "region": "us-east-1",
    "servedName": "llama-8b",
    "vpcId": "vpc-0abc",
    "vpcCidr": "10.40.0.0/16",
    "privateSubnetIds": ["subnet-a", "subnet-b"],
    "kmsKeyArn": KEY_ARN,
    "model": {
        "catalog": "llama-3.1-8b-instruct",
        "source": "s3://weights-bucket/llama/0e9e39f249a16976918f6564b8830bc894c89659",
        "revision": "0e9e39f249a16976918f6564b8830bc894c89659",
        "replicas": {"min": 1, "max": 2},
    },
}


def construct(kind: str, name: str, inputs: dict, *, aws_provider: bool = False, k8s_provider: str | None = None):
    """Run one adapter through the provider's construct; return (records, its state with resolved values)."""
    state: dict = {}

    def program() -> None:
        providers = []
        if aws_provider:
            providers.append(aws.Provider("consumer-aws", region="us-east-1"))
        if k8s_provider:
            providers.append(k8s.Provider("consumer-k8s", context=k8s_provider))
        opts = pulumi.ResourceOptions(providers=providers) if providers else None
        result = PROVIDER.construct(name, f"pulumi-llm:index:{kind}", inputs, opts)
        for key, value in result.state.items():
            pulumi.Output.from_input(value).apply(lambda v, key=key: state.__setitem__(key, v))

    records = run(program, region="us-east-1" if aws_provider else "")
    return records, state


def error_of(kind: str, inputs: dict, **kwargs) -> str:
    with pytest.raises(InputPropertiesError) as raised:
        construct(kind, "x", inputs, **kwargs)
    message = raised.value.message
    assert "\n" not in message and "Traceback" not in message
    return message


# --------------------------------------------------------------------------------------------
# Schema


def test_schema_names_the_package_and_exactly_the_three_components() -> None:
    assert SCHEMA["name"] == "pulumi-llm" and SCHEMA["version"] == components.__version__
    assert sorted(RESOURCES) == [
        "pulumi-llm:index:AwsGpuVmServing",
        "pulumi-llm:index:AwsLlmGateway",
        "pulumi-llm:index:OnPremServing",
    ]
    assert all(r["isComponent"] for r in RESOURCES.values())


def test_onprem_serving_inputs_outputs_and_required() -> None:
    r = RESOURCES["pulumi-llm:index:OnPremServing"]
    assert list(r["inputProperties"]) == [
        "environment",
        "stack",
        "tags",
        "kubeContext",
        "kubeconfig",
        "namespace",
        "models",
        "serving",
        "gpus",
        "gpuOperator",
        "ingress",
        "keda",
        "prometheus",
        "hfTokenSecret",
    ]
    assert r["requiredInputs"] == ["environment", "models"]
    inputs = r["inputProperties"]
    assert inputs["environment"] == {"description": inputs["environment"]["description"], "type": "string", "plain": True}
    assert inputs["models"]["type"] == "object"
    assert inputs["models"]["additionalProperties"]["$ref"] == "#/types/pulumi-llm:index:Model"
    assert inputs["gpuOperator"]["$ref"] == "#/types/pulumi-llm:index:GpuOperator"
    assert {k: v.get("type") for k, v in r["properties"].items()} == {"namespace": "string", "models": "array"}
    assert r["properties"]["models"]["items"]["type"] == "string"
    assert r["required"] == ["models", "namespace"]


def test_aws_gateway_inputs_take_other_resources_outputs_where_they_come_from_resources() -> None:
    r = RESOURCES["pulumi-llm:index:AwsLlmGateway"]
    inputs = r["inputProperties"]
    assert list(inputs) == [
        "environment",
        "stack",
        "tags",
        "region",
        "vpcId",
        "privateSubnetIds",
        "kmsKeyArn",
        "alarmTopicArn",
        "models",
        "consumers",
        "timeouts",
        "retries",
        "secrets",
        "bedrockModels",
        "highAvailability",
    ]
    assert r["requiredInputs"] == ["consumers", "environment", "kmsKeyArn", "models", "privateSubnetIds", "region", "vpcId"]
    # Values from other resources are Inputs (not plain); settings are plain values.
    for key in ("vpcId", "privateSubnetIds", "kmsKeyArn", "alarmTopicArn"):
        assert "plain" not in inputs[key], key
    assert inputs["privateSubnetIds"]["type"] == "array" and inputs["privateSubnetIds"]["items"]["type"] == "string"
    assert inputs["region"]["plain"] is True and inputs["retries"] == {**inputs["retries"], "type": "integer", "plain": True}
    assert inputs["consumers"]["additionalProperties"]["$ref"] == "#/types/pulumi-llm:index:GatewayConsumer"
    assert sorted(r["properties"]) == ["apiId", "apiKeyIds", "clusterName", "invokeUrl", "secretArns", "serviceName", "stageName"]
    assert r["properties"]["secretArns"]["additionalProperties"]["type"] == "string"
    assert r["required"] == sorted(r["properties"])


def test_gpu_vm_serving_inputs_and_outputs() -> None:
    r = RESOURCES["pulumi-llm:index:AwsGpuVmServing"]
    assert list(r["inputProperties"]) == [
        "environment",
        "stack",
        "tags",
        "region",
        "servedName",
        "model",
        "instanceType",
        "gpuMemoryUtilization",
        "vpcId",
        "vpcCidr",
        "privateSubnetIds",
        "publicSubnetIds",
        "kmsKeyArn",
        "alarmTopicArn",
        "gpuVm",
    ]
    assert r["requiredInputs"] == [
        "environment",
        "kmsKeyArn",
        "model",
        "privateSubnetIds",
        "region",
        "servedName",
        "vpcCidr",
        "vpcId",
    ]
    assert r["inputProperties"]["gpuMemoryUtilization"]["type"] == "number"
    assert r["inputProperties"]["gpuVm"]["$ref"] == "#/types/pulumi-llm:index:GpuVmOptions"
    assert sorted(r["properties"]) == ["albDnsName", "asgName", "instanceType", "url"]


def test_types_fields_required_and_enums() -> None:
    model = TYPES["pulumi-llm:index:Model"]
    assert list(model["properties"]) == [
        "catalog",
        "custom",
        "source",
        "revision",
        "runtime",
        "quantization",
        "context",
        "gpus",
        "replicas",
        "copyFromHub",
        "hubRepo",
        "loraAdapters",
        "loraMaxRank",
        "loraRuntimeLoading",
        "apiKeySecret",
        "extraArgs",
    ]
    assert model["required"] == ["source"]
    assert model["properties"]["runtime"]["$ref"] == "#/types/pulumi-llm:index:Runtime"
    assert model["properties"]["extraArgs"]["items"]["type"] == "string"
    assert (model["properties"]["loraMaxRank"]["type"], model["properties"]["loraRuntimeLoading"]["type"]) == ("integer", "boolean")
    assert TYPES["pulumi-llm:index:CustomModel"]["required"] == [
        "hiddenSize",
        "maxContext",
        "numAttentionHeads",
        "numKvHeads",
        "numLayers",
        "totalParamsB",
        "vocabSize",
    ]
    assert TYPES["pulumi-llm:index:GatewayRoute"]["required"] == ["model", "provider"]
    assert TYPES["pulumi-llm:index:GatewayConsumer"]["required"] == ["models", "requestsPerDay"]
    assert TYPES["pulumi-llm:index:ScaleSchedule"]["required"] == ["start", "stop"]
    enums = {name: [v["value"] for v in t["enum"]] for name, t in TYPES.items() if "enum" in t}
    assert enums == {
        "pulumi-llm:index:Runtime": list(registry.names_where("server")),
        "pulumi-llm:index:AutoscalingEngine": ["keda", "hpa", "none"],
        "pulumi-llm:index:ApiProvider": ["openai", "anthropic", "gemini", "cohere", "bedrock", "azure-openai"],
    }


def test_every_component_input_output_and_type_field_is_documented() -> None:
    undocumented = []
    for token, resource in RESOURCES.items():
        if not resource.get("description"):
            undocumented.append(token)
        for section in ("inputProperties", "properties"):
            undocumented += [f"{token}.{k}" for k, v in resource[section].items() if not v.get("description")]
    for token, t in TYPES.items():
        if not t.get("description"):
            undocumented.append(token)
        undocumented += [f"{token}.{k}" for k, v in (t.get("properties") or {}).items() if not v.get("description")]
        undocumented += [f"{token}.{v['name']}" for v in t.get("enum", []) if not v.get("description")]
    assert undocumented == []


def test_enum_values_are_the_settings_literals() -> None:
    """The enums list exactly what the stack settings accept, so nothing valid is unreachable."""
    from typing import get_args

    from pulumi_llm import settings

    # edge runtimes (llamacpp, onnx) run on edge nodes only (edge.runtime), which the package components don't build
    assert [e.value for e in components.Runtime] == [r for r in get_args(settings.Runtime) if r not in registry.names_where("edge")]
    assert [e.value for e in components.AutoscalingEngine] == list(get_args(settings.AutoscalingSettings.model_fields["engine"].annotation))
    assert [e.value for e in components.ApiProvider] == [p for p in get_args(settings.Provider) if p != "self-hosted"]


def test_plugin_manifest_sits_next_to_the_host_entry_point() -> None:
    plugin_dir = ROOT / "components" / "pulumi_llm" / "provider"
    manifest = yaml.safe_load((plugin_dir / "PulumiPlugin.yaml").read_text())
    assert manifest == {"runtime": {"name": "python", "options": {"toolchain": "uv"}}}
    assert "host()" in (plugin_dir / "__main__.py").read_text()


# --------------------------------------------------------------------------------------------
# End to end under the mock runtime


def test_onprem_serving_builds_what_the_platform_builds_for_the_same_settings() -> None:
    records, state = construct("OnPremServing", "lab", ONPREM)
    top = only(records, "pulumi-llm:index:OnPremServing")
    assert children(records, top) == [
        ("pulumi-llm:index:OnPremCluster", "lab-cluster"),
        ("pulumi:providers:kubernetes", "lab-k8s"),
    ]
    provider = by_name(records)["lab-k8s"]
    assert provider.inputs["context"] == "gpu-lab" and provider.inputs["enableServerSideApply"] == "true"
    assert all(r.provider == provider.urn for r in records if r.custom and r.type.startswith("kubernetes:"))
    assert state["namespace"] == "models"
    assert state["models"] == ["llama-8b"]

    # The same settings as a stack file, through LlmPlatform: the same resources with the same inputs.
    settings = load(
        {
            "pulumi-llm:environment": "lab",
            "pulumi-llm:cloud": "onprem",
            "pulumi-llm:methods": '["onprem"]',
            "pulumi-llm:onprem": json.dumps(
                {"kube_context": "gpu-lab", "namespace": "models", "gpus": {"accelerator": "L4", "per_node": 4}}
            ),
            "pulumi-llm:serving": json.dumps({"replicas": {"min": 1, "max": 3}}),
            "pulumi-llm:models": json.dumps({"llama-8b": MODEL}),
        },
        "stacks/Pulumi.lab.yaml",
    )
    platform = run(lambda: LlmPlatform("llm", LlmPlatformArgs(settings=settings, stack="test")), region="")

    def under_cluster(recs, prefix):
        return {(r.type, r.name.removeprefix(prefix)): r.inputs for r in recs if r.name.startswith(prefix)}

    ours, theirs = under_cluster(records, "lab-cluster"), under_cluster(platform, "llm-onprem")
    theirs.pop(("pulumi:providers:kubernetes", "-k8s"))
    assert len(ours) > 20 and ours == theirs


def test_onprem_serving_uses_the_consumers_kubernetes_provider_without_kube_context() -> None:
    inputs = {k: v for k, v in ONPREM.items() if k != "kubeContext"}
    records, _ = construct("OnPremServing", "lab", inputs, k8s_provider="their-cluster")
    assert of_type(records, "pulumi:providers:kubernetes") == [by_name(records)["consumer-k8s"]]
    consumer = by_name(records)["consumer-k8s"]
    k8s_records = [r for r in records if r.custom and r.type.startswith("kubernetes:")]
    assert k8s_records and all(r.provider == consumer.urn for r in k8s_records)
    # The model server's Deployment (its router has its own, named <model>-router).
    deployment = by_name(records)["lab-cluster-serving-llama-8b-deployment"]
    assert deployment.inputs["metadata"]["labels"]["pulumi-llm.dev/stack"] == "test"  # the consumer's stack
    assert deployment.inputs["metadata"]["labels"]["pulumi-llm.dev/environment"] == "lab"


def test_onprem_serving_passes_the_lora_keys_a_stack_file_can_set() -> None:
    """loraMaxRank and loraRuntimeLoading reach the server as the stack file's lora_max_rank and lora_runtime_loading."""
    inputs = json.loads(json.dumps(ONPREM))
    inputs["models"]["llama-8b"].update(loraAdapters={"sql": "lora/sql"}, loraMaxRank=64, loraRuntimeLoading=True)
    records, _ = construct("OnPremServing", "lab", inputs)
    server = by_name(records)["lab-cluster-serving-llama-8b-deployment"].inputs["spec"]["template"]["spec"]["containers"][0]
    args = server["args"]
    assert "--max-lora-rank=64" in args and args[args.index("--lora-modules") + 1].startswith("sql=/models/")
    assert {"name": "VLLM_ALLOW_RUNTIME_LORA_UPDATING", "value": "True"} in server["env"]
    # Without the keys: rank 16 and no runtime loading, as in a stack file.
    del inputs["models"]["llama-8b"]["loraMaxRank"], inputs["models"]["llama-8b"]["loraRuntimeLoading"]
    records, _ = construct("OnPremServing", "lab", inputs)
    server = by_name(records)["lab-cluster-serving-llama-8b-deployment"].inputs["spec"]["template"]["spec"]["containers"][0]
    assert "--max-lora-rank=16" in server["args"]
    assert all(e["name"] != "VLLM_ALLOW_RUNTIME_LORA_UPDATING" for e in server["env"])


def test_model_context_takes_max_as_the_stack_file_does() -> None:
    """`context: "max"` (the stack file's default, settings/models.py) is accepted by the schema and the adapter, and
    serves what the same model without a context serves; a whole number still sets --max-model-len."""
    assert TYPES["pulumi-llm:index:Model"]["properties"]["context"]["$ref"] == "pulumi.json#/Any"

    def server_args(context: object) -> list[str]:
        inputs = json.loads(json.dumps(ONPREM))
        if context is None:
            del inputs["models"]["llama-8b"]["context"]
        else:
            inputs["models"]["llama-8b"]["context"] = context
        records, _ = construct("OnPremServing", "lab", inputs)
        deployment = by_name(records)["lab-cluster-serving-llama-8b-deployment"]
        return deployment.inputs["spec"]["template"]["spec"]["containers"][0]["args"]

    as_max = server_args("max")
    assert as_max == server_args(None)
    assert "--max-model-len=8192" in server_args(8192)
    assert "--max-model-len=8192" not in as_max and any(a.startswith("--max-model-len=") for a in as_max)
    message = error_of("OnPremServing", {**ONPREM, "models": {"llama-8b": {**MODEL, "context": "maximum"}}})
    assert message.startswith("OnPremServing x: args.models.llama-8b.context = maximum: ")
    assert "or max" in message


def test_aws_gateway_builds_the_gateway_with_secret_containers_consumer_keys_and_scoped_bedrock() -> None:
    records, state = construct("AwsLlmGateway", "gw", {**GATEWAY, "stack": "shared"}, aws_provider=True)
    top = only(records, "pulumi-llm:index:AwsLlmGateway")
    assert children(records, top) == [("pulumi-llm:index:AwsGateway", "gw-gateway")]
    consumer = by_name(records)["consumer-aws"]
    assert all(r.provider == consumer.urn for r in records if r.custom and r.type.startswith("aws:"))
    secrets = sorted(r.inputs["name"] for r in of_type(records, "aws:secretsmanager/secret:Secret"))
    assert secrets == ["pulumi-llm/shared/litellm-master", "pulumi-llm/shared/openai"]
    assert not of_type(records, "aws:secretsmanager/secretVersion:SecretVersion")  # no values in state
    keys = of_type(records, "aws:apigateway/apiKey:ApiKey")
    assert [(r.name, r.inputs["name"]) for r in keys] == [("gw-gateway-api-key-team-a", "pulumi-llm-shared-gw-gateway-team-a")]
    policies = " ".join(json.dumps(r.inputs) for r in of_type(records, "aws:iam/rolePolicy:RolePolicy"))
    assert "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-5-sonnet-20240620-v1:0" in policies
    assert "bedrock:*" not in policies
    assert set(state) == {"invokeUrl", "apiId", "stageName", "serviceName", "clusterName", "secretArns", "apiKeyIds"}
    assert sorted(state["secretArns"]) == ["litellm-master", "openai"]
    assert state["apiKeyIds"].keys() == {"team-a"}


def test_gpu_vm_serving_sizes_the_instance_and_reads_the_given_bucket() -> None:
    records, state = construct("AwsGpuVmServing", "vm", GPU_VM, aws_provider=True)
    top = only(records, "pulumi-llm:index:AwsGpuVmServing")
    assert children(records, top) == [("pulumi-llm:index:AwsGpuVm", "vm-vm")]
    expected = cast(
        sizing.InstanceType,
        sizing.choose_instance(
            sizing.get_model("llama-3.1-8b-instruct"), cloud="aws", region="us-east-1", gpu_memory_utilization=0.9
        ).hardware.instance,
    ).name
    assert state["instanceType"] == expected
    group = only(records, "aws:autoscaling/group:Group")
    assert (group.inputs["minSize"], group.inputs["maxSize"]) == (1, 2)
    template = json.dumps(only(records, "aws:ec2/launchTemplate:LaunchTemplate").inputs)
    assert expected in template or expected in json.dumps(group.inputs)
    policies = " ".join(json.dumps(r.inputs) for r in of_type(records, "aws:iam/rolePolicy:RolePolicy"))
    assert "arn:aws:s3:::weights-bucket" in policies
    assert only(records, "aws:lb/loadBalancer:LoadBalancer").inputs["internal"] is True


def test_yaml_example_is_a_valid_use_of_the_schema_and_builds() -> None:
    program = yaml.safe_load((ROOT / "examples" / "yaml-onprem" / "Pulumi.yaml").read_text())
    assert program["runtime"] == "yaml"
    assert program["packages"]["pulumi-llm"].endswith("/components/pulumi_llm/provider@" + components.__version__)
    llm = program["resources"]["llm"]
    token = llm["type"]
    schema = RESOURCES[token]

    def check(value, spec, where):
        ref = spec.get("$ref", "")
        if ref.startswith("#/types/"):
            spec = TYPES[ref.removeprefix("#/types/")]
            if "enum" in spec:
                assert value in [e["value"] for e in spec["enum"]], where
                return
        if spec.get("type") == "object" and "properties" in spec:
            assert set(spec.get("required", [])) <= set(value), where
            for key, item in value.items():
                assert key in spec["properties"], f"{where}.{key}"
                check(item, spec["properties"][key], f"{where}.{key}")
        elif "additionalProperties" in spec:
            for key, item in value.items():
                check(item, spec["additionalProperties"], f"{where}.{key}")

    check(llm["properties"], {"type": "object", "properties": schema["inputProperties"], "required": schema["requiredInputs"]}, "llm")
    assert llm["options"]["providers"] == {"kubernetes": "${gpu-lab}"}
    assert {v.strip("${}").split(".")[1] for v in program["outputs"].values()} <= set(schema["properties"])

    records, _ = construct("OnPremServing", "llm", llm["properties"], k8s_provider="gpu-lab")
    ingress = only(records, "kubernetes:networking.k8s.io/v1:Ingress")
    assert ingress.inputs["spec"]["rules"][0]["host"] == "llm.lab.example.com"
    assert {d.inputs["metadata"]["namespace"] for d in of_type(records, "kubernetes:apps/v1:Deployment")} == {"llm"}


# --------------------------------------------------------------------------------------------
# Bad arguments: one line, the caller's spelling


@pytest.mark.parametrize(
    ("kind", "change", "expected"),
    [
        (
            "OnPremServing",
            lambda a: a["models"]["llama-8b"].update(catalog="llama-9"),
            "OnPremServing x: args.models.llama-8b.catalog = llama-9: unknown model 'llama-9'",
        ),
        (
            "OnPremServing",
            lambda a: a.update(serving={"replicas": {"min": 3, "max": 1}}),
            "OnPremServing x: args.serving.replicas.max = 1: must be >= replicas.min (3)",
        ),
        (
            "OnPremServing",
            lambda a: a.update(gpuOperator={"install": "maybe"}),
            "OnPremServing x: args.gpuOperator.install = maybe: must be true or false",
        ),
        (
            "OnPremServing",
            lambda a: a["models"]["llama-8b"].update(loraAdapters={"sql": "lora/sql"}, loraMaxRank=12),
            "OnPremServing x: args.models.llama-8b.loraMaxRank = 12: vLLM accepts 1, 8, 16, 32, 64, 128, 256, 320, 512",
        ),
        (
            "AwsLlmGateway",
            lambda a: a["consumers"]["team-a"].update(models=["chatt"]),
            'AwsLlmGateway x: args.consumers.team-a.models = ["chatt"]: chatt is not a gateway model; did you mean chat? defined: chat',
        ),
        (
            "AwsLlmGateway",
            lambda a: a.update(privateSubnetIds=["subnet-a"]),
            "AwsLlmGateway x: args.privateSubnetIds: 1 subnet; high availability needs subnets in at least 2 zones",
        ),
        (
            "AwsGpuVmServing",
            lambda a: a["model"].update(source="store://llama"),
            "AwsGpuVmServing x: args.model.source = store://llama: store:// is a stack's own model store",
        ),
        (
            "AwsGpuVmServing",
            lambda a: a.update(gpuVm={"spotPercentage": 140}),
            "AwsGpuVmServing x: args.gpuVm.spotPercentage = 140: must be <= 100",
        ),
        (
            "AwsGpuVmServing",
            lambda a: a.update(instanceType="g5.xlarge", model={**a["model"], "catalog": "llama-3.1-70b-instruct"}),
            "AwsGpuVmServing x: args.model: llama-3.1-70b-instruct in bf16 needs",
        ),
    ],
)
def test_bad_args_fail_with_one_line_naming_the_arg(kind, change, expected) -> None:
    inputs = json.loads(json.dumps({"OnPremServing": ONPREM, "AwsLlmGateway": GATEWAY, "AwsGpuVmServing": GPU_VM}[kind]))
    change(inputs)
    assert error_of(kind, inputs, aws_provider=kind != "OnPremServing").startswith(expected)


def test_missing_required_input_and_unknown_enum_value_are_reported_by_property() -> None:
    with pytest.raises(InputPropertyError) as missing:
        construct("OnPremServing", "x", {k: v for k, v in ONPREM.items() if k != "models"})
    assert missing.value.property_path == "models"
    bad_runtime = json.loads(json.dumps(ONPREM))
    bad_runtime["models"]["llama-8b"]["runtime"] = "tgi"
    with pytest.raises(InputPropertyError) as enum:
        construct("OnPremServing", "x", bad_runtime)
    assert enum.value.property_path == "models.llama-8b.runtime"


def test_python_callers_get_the_same_user_error() -> None:
    args = {
        "environment": "lab",
        "kube_context": "gpu-lab",
        "gpus": {"accelerator": "L4", "per_node": 4},
        "models": {"llama-8b": {"catalog": "llama-3.1-8b-instruct", "source": "pvc://weights/llama", "copy_from_hub": True}},
    }
    with pytest.raises(UserError) as raised:
        run(lambda: components.OnPremServing("py", cast(Any, args)), region="")  # a plain dict, as a program passes
    assert str(raised.value) == (
        "OnPremServing py: args.models.llama-8b.copyFromHub = true: needs models.llama-8b.revision: a pinned commit, never a moving branch"
    )
