"""AwsGpuVm: GPU instances in an Auto Scaling group behind an ALB, under the mock runtime with default
providers disabled (every child must get the stack's provider through its parent)."""

from __future__ import annotations

import base64
import gzip
import json
from typing import Any

import pulumi
import pulumi_aws as aws
import pytest
import yaml
from helpers import by_name, children, of_type, only, run
from pulumi_llm import pins
from pulumi_llm.errors import UserError
from pulumi_llm.gpu_vm import aws_boot
from pulumi_llm.gpu_vm.aws import TLS_POLICY, AwsGpuVm, AwsGpuVmArgs, ScaleToZeroSchedule, data_volume_size_gib
from pulumi_llm.gpu_vm.cloud_init import ready_within_seconds
from pulumi_llm.kubernetes import render
from pulumi_llm.kubernetes.router_render import RouterOptions
from pulumi_llm.labels import CommonLabels
from pulumi_llm.offline import invokes
from pulumi_llm.runtimes import vllm
from pulumi_llm.sizing import fit, get_instance_type

REGION = "eu-west-1"
BUCKET_ARN = "arn:aws:s3:::acme-llm-models"
KEY_ARN = "arn:aws:kms:eu-west-1:123456789012:key/0b4f7c2e-1111-2222-3333-444455556666"
SECRET_ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/chat-api-key-AbCdEf"
TOPIC_ARN = "arn:aws:sns:eu-west-1:123456789012:llm-alarms"
CERT_ARN = "arn:aws:acm:eu-west-1:123456789012:certificate/9f8e7d6c"
PREFIX = "llama-3.1-8b/0e9e39f"


def spec_8b(secret: bool = True):
    the_fit = fit("llama-3.1-8b-instruct", get_instance_type("g6e.xlarge"), context=8192)
    options = vllm.VllmOptions(image=pins.VLLM_OPENAI.ref, api_key_secret="chat-api-key" if secret else None)
    return vllm.vllm_container("chat", the_fit, vllm.Weights("volume", "/models/llama-3.1-8b"), options)


def spec_70b():
    the_fit = fit("llama-3.1-70b-instruct", get_instance_type("g6e.12xlarge"), quantization="fp8", context=8192)
    return vllm.vllm_container("big", the_fit, vllm.Weights("volume", "/models/llama-70b"), vllm.VllmOptions(image=pins.VLLM_OPENAI.ref))


SPEC = spec_8b()


def make_args(**overrides: Any) -> AwsGpuVmArgs:
    values: dict[str, Any] = {
        "labels": CommonLabels("prod", "prod"),
        "container": SPEC,
        "region": REGION,
        "instance_types": ["g6e.xlarge", "g6e.2xlarge"],
        "vpc_id": "vpc-0123",
        "private_subnet_ids": ["subnet-a", "subnet-b"],
        "allowed_cidrs": ["10.0.0.0/16"],
        "model_bucket_arn": BUCKET_ARN,
        "model_key_prefix": PREFIX,
        "weights_revision": "0e9e39f",
        "kms_key_arn": KEY_ARN,
        "secret_arns": {"chat-api-key": SECRET_ARN},
        "min_size": 1,
        "max_size": 4,
        "on_demand_base_capacity": 1,
        "spot_percentage_above_base": 50,
        "certificate_arn": CERT_ARN,
        "alarm_topic_arn": TOPIC_ARN,
        "schedule": ScaleToZeroSchedule(stop_cron="0 20 * * MON-FRI", start_cron="0 7 * * MON-FRI", time_zone="Europe/Paris"),
    }
    values.update(overrides)
    return AwsGpuVmArgs(**values)


def plan(**overrides: Any):
    args = make_args(**overrides)

    def program() -> None:
        provider = aws.Provider("aws", region=REGION)
        AwsGpuVm("llm", args, opts=pulumi.ResourceOptions(providers=[provider]))

    return run(program, region=REGION)


@pytest.fixture(scope="module")
def records():
    return plan()


@pytest.fixture(scope="module")
def named(records):
    return by_name(records)


def error(**overrides: Any) -> str:
    with pytest.raises(UserError) as caught:
        make_args(**overrides)
    message = str(caught.value)
    assert "\n" not in message
    return message


# --- structure ------------------------------------------------------------------------------


def test_children_are_exactly_these_and_use_the_stack_provider(records) -> None:
    component = only(records, "pulumi-llm:index:AwsGpuVm")
    assert children(records, component) == [
        ("aws:autoscaling/group:Group", "llm-asg"),
        ("aws:autoscaling/policy:Policy", "llm-requests-per-target"),
        ("aws:autoscaling/schedule:Schedule", "llm-start"),
        ("aws:autoscaling/schedule:Schedule", "llm-stop"),
        ("aws:cloudwatch/logGroup:LogGroup", "llm-logs"),
        ("aws:cloudwatch/metricAlarm:MetricAlarm", "llm-alarm-elb-5xx"),
        ("aws:cloudwatch/metricAlarm:MetricAlarm", "llm-alarm-gpu-idle"),
        ("aws:cloudwatch/metricAlarm:MetricAlarm", "llm-alarm-gpu-memory"),
        ("aws:cloudwatch/metricAlarm:MetricAlarm", "llm-alarm-latency-p99"),
        ("aws:cloudwatch/metricAlarm:MetricAlarm", "llm-alarm-target-5xx"),
        ("aws:cloudwatch/metricAlarm:MetricAlarm", "llm-alarm-unhealthy-hosts"),
        ("aws:ec2/launchTemplate:LaunchTemplate", "llm-launch-template"),
        ("aws:ec2/securityGroup:SecurityGroup", "llm-alb-sg"),
        ("aws:ec2/securityGroup:SecurityGroup", "llm-instance-sg"),
        ("aws:iam/instanceProfile:InstanceProfile", "llm-profile"),
        ("aws:iam/role:Role", "llm-role"),
        ("aws:iam/rolePolicy:RolePolicy", "llm-model-read"),
        ("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "llm-cloudwatch-agent"),
        ("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "llm-ssm"),
        ("aws:kms/grant:Grant", "llm-ebs-grant"),
        ("aws:lb/listener:Listener", "llm-http"),
        ("aws:lb/listener:Listener", "llm-https"),
        ("aws:lb/loadBalancer:LoadBalancer", "llm-alb"),
        ("aws:lb/targetGroup:TargetGroup", "llm-tg"),
        ("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule", "llm-alb-out-8000"),
        ("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule", "llm-instance-out-https"),
        ("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "llm-alb-in-443-10-0-0-0-16"),
        ("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "llm-alb-in-80-10-0-0-0-16"),
        ("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "llm-instance-in-8000"),
    ]
    provider = only(records, "pulumi:providers:aws")
    assert all(r.provider == provider.urn for r in records if r.custom and r.type.startswith("aws:"))


# --- instances ------------------------------------------------------------------------------


def test_launch_template_requires_imdsv2_with_hop_limit_1_and_has_no_ssh(named) -> None:
    template = named["llm-launch-template"].inputs
    assert template["metadataOptions"] == {
        "httpEndpoint": "enabled",
        "httpTokens": "required",
        "httpPutResponseHopLimit": 1,
        "instanceMetadataTags": "disabled",
    }
    assert "keyName" not in template
    [interface] = template["networkInterfaces"]
    assert (interface["associatePublicIpAddress"], interface["deviceIndex"]) == ("false", 0)
    assert [sg.split("-")[:3] for sg in interface["securityGroups"]] == [["llm", "instance", "sg"]]
    assert template["monitoring"] == {"enabled": True} and template["ebsOptimized"] == "true"


def test_ami_comes_from_the_dlami_public_ssm_parameter(named) -> None:
    expected = invokes.answer("aws:ssm/getParameter:getParameter", {"name": aws_boot.DLAMI_SSM_PARAMETER}, REGION)["value"]
    assert aws_boot.DLAMI_SSM_PARAMETER == "/aws/service/deeplearning/ami/x86_64/base-oss-nvidia-driver-gpu-ubuntu-22.04/latest/ami-id"
    assert named["llm-launch-template"].inputs["imageId"] == expected


def test_a_pinned_ami_wins_over_the_parameter() -> None:
    template = by_name(plan(ami_id="ami-0123456789abcdef0"))["llm-launch-template"].inputs
    assert template["imageId"] == "ami-0123456789abcdef0"


def test_every_ebs_volume_is_encrypted_gp3_with_the_customer_key(named) -> None:
    volumes = {m["deviceName"]: m["ebs"] for m in named["llm-launch-template"].inputs["blockDeviceMappings"]}
    assert set(volumes) == {"/dev/sda1", "/dev/sdf"}
    for ebs in volumes.values():
        assert (ebs["encrypted"], ebs["kmsKeyId"], ebs["volumeType"], ebs["deleteOnTermination"]) == ("true", KEY_ARN, "gp3", "true")
    assert volumes["/dev/sdf"]["volumeSize"] == data_volume_size_gib(SPEC.weight_bytes) >= SPEC.weight_bytes * 1.5 / 2**30
    assert (volumes["/dev/sdf"]["iops"], volumes["/dev/sdf"]["throughput"]) == (6000, 500)
    grant = named["llm-ebs-grant"].inputs
    assert grant["keyId"] == KEY_ARN
    assert grant["granteePrincipal"] == (
        "arn:aws:iam::123456789012:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"
    )
    assert {"CreateGrant", "Decrypt", "GenerateDataKeyWithoutPlaintext"} <= set(grant["operations"])


def test_a_bigger_model_gets_a_bigger_model_cache() -> None:
    big = spec_70b()
    template = by_name(plan(container=big, instance_types=["g6e.12xlarge"], secret_arns={}))["llm-launch-template"].inputs
    data = next(m["ebs"] for m in template["blockDeviceMappings"] if m["deviceName"] == "/dev/sdf")
    assert data["volumeSize"] == data_volume_size_gib(big.weight_bytes) > data_volume_size_gib(SPEC.weight_bytes)


def boot_script(named) -> str:
    """The launch template's user data: base64 of the gzipped #cloud-config (cloud-init unpacks gzip)."""
    return gzip.decompress(base64.b64decode(named["llm-launch-template"].inputs["userData"])).decode()


def test_user_data_is_the_boot_script_running_the_kubernetes_command(named) -> None:
    document = boot_script(named)
    assert document.startswith("#cloud-config\n")
    written = {f["path"]: f["content"] for f in yaml.safe_load(document)["write_files"]}
    run_script = written["/usr/local/lib/llm-server/run"]
    k8s = render.container(SPEC)
    assert " \\\n  ".join(k8s["args"]) in run_script and " ".join(k8s["command"]) in run_script
    assert f"s3 sync s3://acme-llm-models/{PREFIX} /opt/models/llama-3.1-8b" in written["/usr/local/lib/llm-server/sync-weights"]
    assert f"--secret-id {SECRET_ARN}" in written["/usr/local/lib/llm-server/fetch-secrets"]
    assert "VLLM_API_KEY=" not in run_script


# --- network --------------------------------------------------------------------------------


def ingress(records) -> list[dict[str, Any]]:
    return [r.inputs for r in of_type(records, "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")]


def test_instances_admit_only_the_load_balancer_on_the_server_port(named, records) -> None:
    rule = named["llm-instance-in-8000"].inputs
    assert (rule["fromPort"], rule["toPort"], rule["ipProtocol"]) == (8000, 8000, "tcp")
    assert "cidrIpv4" not in rule and rule["referencedSecurityGroupId"].startswith("llm-alb-sg-")
    assert rule["securityGroupId"].startswith("llm-instance-sg-")
    assert not any(r["fromPort"] <= 22 <= r["toPort"] for r in ingress(records))
    out = named["llm-instance-out-https"].inputs
    assert (out["fromPort"], out["toPort"], out["cidrIpv4"]) == (443, 443, "0.0.0.0/0")
    alb_out = named["llm-alb-out-8000"].inputs
    assert alb_out["referencedSecurityGroupId"].startswith("llm-instance-sg-")


def test_internal_load_balancer_admits_only_the_allowed_cidrs(named, records) -> None:
    assert named["llm-alb"].inputs["internal"] is True
    assert named["llm-alb"].inputs["subnets"] == ["subnet-a", "subnet-b"]
    cidrs = {(r["fromPort"], r.get("cidrIpv4")) for r in ingress(records) if r["securityGroupId"].startswith("llm-alb-sg-")}
    assert cidrs == {(443, "10.0.0.0/16"), (80, "10.0.0.0/16")}


def test_internet_facing_load_balancer_opens_only_80_and_443_to_the_internet() -> None:
    records = plan(internal=False, public_subnet_ids=["subnet-pa", "subnet-pb"], allowed_cidrs=["0.0.0.0/0", "::/0"])
    assert by_name(records)["llm-alb"].inputs["internal"] is False
    assert by_name(records)["llm-alb"].inputs["subnets"] == ["subnet-pa", "subnet-pb"]
    open_rules = [r for r in ingress(records) if r.get("cidrIpv4") == "0.0.0.0/0" or r.get("cidrIpv6") == "::/0"]
    assert sorted((r["fromPort"], r["toPort"]) for r in open_rules) == [(80, 80), (80, 80), (443, 443), (443, 443)]
    assert all(r["securityGroupId"].startswith("llm-alb-sg-") for r in open_rules)


# --- identity -------------------------------------------------------------------------------


def test_instance_role_reads_only_its_prefix_key_and_secrets(named) -> None:
    policy = json.loads(named["llm-model-read"].inputs["policy"])
    statements = {s["Sid"]: s for s in policy["Statement"]}
    assert statements["ListModelPrefix"]["Action"] == "s3:ListBucket"
    assert statements["ListModelPrefix"]["Resource"] == BUCKET_ARN
    assert statements["ListModelPrefix"]["Condition"] == {"StringLike": {"s3:prefix": [PREFIX, f"{PREFIX}/*"]}}
    assert statements["ReadModelObjects"] == {
        "Sid": "ReadModelObjects",
        "Effect": "Allow",
        "Action": "s3:GetObject",
        "Resource": f"{BUCKET_ARN}/{PREFIX}/*",
    }
    # No model key given: the weights are decrypted with kms_key_arn, through S3 only.
    assert statements["DecryptModelThroughS3"]["Resource"] == KEY_ARN
    assert statements["DecryptModelThroughS3"]["Condition"] == {"StringEquals": {"kms:ViaService": "s3.eu-west-1.amazonaws.com"}}
    assert statements["ReadServerSecrets"]["Resource"] == [SECRET_ARN]
    assert statements["DecryptSecretsThroughSecretsManager"]["Resource"] == KEY_ARN
    assert statements["DecryptSecretsThroughSecretsManager"]["Condition"] == {
        "StringEquals": {"kms:ViaService": "secretsmanager.eu-west-1.amazonaws.com"}
    }
    for statement in policy["Statement"]:
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        assert statement["Effect"] == "Allow" and "*" not in resources and all(r.startswith("arn:aws:") for r in resources)
        assert "*" not in str(statement["Action"])


def test_instance_role_decrypts_the_weights_with_the_buckets_own_key() -> None:
    """Finding 2: the bucket encrypts with the model store's key, not the stack key; a role that may only
    use the stack key gets AccessDenied from `s3 sync` and the model never starts."""
    model_key = "arn:aws:kms:eu-west-1:123456789012:key/models-0000"
    by = {r.name: r for r in plan(model_kms_key_arn=model_key)}
    statements = {s["Sid"]: s for s in json.loads(by["llm-model-read"].inputs["policy"])["Statement"]}
    assert statements["DecryptModelThroughS3"]["Resource"] == model_key
    # The stack key still encrypts the volumes and decrypts the server's secrets.
    assert statements["DecryptSecretsThroughSecretsManager"]["Resource"] == KEY_ARN
    assert by["llm-launch-template"].inputs["blockDeviceMappings"][0]["ebs"]["kmsKeyId"] == KEY_ARN


def test_instance_role_is_ec2_only_with_ssm_and_cloudwatch_agent(named) -> None:
    trust = json.loads(named["llm-role"].inputs["assumeRolePolicy"])["Statement"]
    assert trust == [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]
    assert named["llm-ssm"].inputs["policyArn"] == "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"
    assert named["llm-cloudwatch-agent"].inputs["policyArn"] == "arn:aws:iam::aws:policy/CloudWatchAgentServerPolicy"
    assert named["llm-launch-template"].inputs["iamInstanceProfile"] == {"arn": "arn:aws:iam:eu-west-1:123456789012:llm-profile"}


# --- the group ------------------------------------------------------------------------------


def test_group_mixes_on_demand_base_and_spot_across_the_types(named) -> None:
    group = named["llm-asg"].inputs
    policy = group["mixedInstancesPolicy"]
    assert policy["instancesDistribution"] == {
        "onDemandAllocationStrategy": "prioritized",
        "onDemandBaseCapacity": 1,
        "onDemandPercentageAboveBaseCapacity": 50,
        "spotAllocationStrategy": "price-capacity-optimized",
    }
    assert policy["launchTemplate"]["overrides"] == [{"instanceType": "g6e.xlarge"}, {"instanceType": "g6e.2xlarge"}]
    assert policy["launchTemplate"]["launchTemplateSpecification"]["launchTemplateId"].startswith("llm-launch-template-")
    assert group["capacityRebalance"] is True
    assert group["vpcZoneIdentifiers"] == ["subnet-a", "subnet-b"]
    assert (group["minSize"], group["maxSize"], group["desiredCapacity"]) == (1, 4, 1)
    assert group["instanceRefresh"]["preferences"]["minHealthyPercentage"] == 100
    assert {"key": "pulumi-llm:method", "value": "gpu-vm", "propagateAtLaunch": True} in group["tags"]


def test_health_checks_use_the_servers_path_with_grace_beyond_the_startup_budget(named) -> None:
    group = named["llm-asg"].inputs
    assert group["healthCheckType"] == "ELB"
    assert group["healthCheckGracePeriod"] == ready_within_seconds(SPEC) >= SPEC.startup.budget_seconds
    assert group["targetGroupArns"] == ["arn:aws:lb:eu-west-1:123456789012:llm-tg"]
    target = named["llm-tg"].inputs
    assert (target["port"], target["protocol"], target["targetType"], target["deregistrationDelay"]) == (8000, "HTTP", "instance", 60)
    check = target["healthCheck"]
    assert (check["path"], check["matcher"], check["port"], check["protocol"]) == ("/health", "200", "traffic-port", "HTTP")
    assert (check["healthyThreshold"], check["interval"]) == (2, 15)
    assert named["llm-alb"].inputs["idleTimeout"] == 3600
    assert named["llm-alb"].inputs["dropInvalidHeaderFields"] is True


def test_explicit_grace_below_the_startup_budget_is_refused() -> None:
    budget = SPEC.startup.budget_seconds
    assert error(health_check_grace_seconds=budget - 1) == (
        f"gpu_vm.health_check_grace_seconds = {budget - 1}: allowed from the server's startup budget ({budget} s) to 7200"
    )


def test_https_listener_uses_the_tls12_13_policy_and_http_redirects(named) -> None:
    https = named["llm-https"].inputs
    assert (https["port"], https["protocol"], https["sslPolicy"], https["certificateArn"]) == (443, "HTTPS", TLS_POLICY, CERT_ARN)
    assert TLS_POLICY == "ELBSecurityPolicy-TLS13-1-2-2021-06"
    assert https["defaultActions"] == [{"type": "forward", "targetGroupArn": "arn:aws:lb:eu-west-1:123456789012:llm-tg"}]
    http = named["llm-http"].inputs
    assert http["defaultActions"] == [{"type": "redirect", "redirect": {"protocol": "HTTPS", "port": "443", "statusCode": "HTTP_301"}}]


def test_without_a_certificate_only_http_on_80_is_served() -> None:
    records = plan(certificate_arn=None)
    listeners = of_type(records, "aws:lb/listener:Listener")
    assert [(r.name, r.inputs["port"], r.inputs["protocol"]) for r in listeners] == [("llm-http", 80, "HTTP")]
    assert listeners[0].inputs["defaultActions"][0]["type"] == "forward"
    assert sorted(r["fromPort"] for r in ingress(records) if r["securityGroupId"].startswith("llm-alb-sg-")) == [80]


def test_target_tracking_on_requests_per_target(named) -> None:
    policy = named["llm-requests-per-target"].inputs
    assert policy["policyType"] == "TargetTrackingScaling"
    assert policy["autoscalingGroupName"].startswith("llm-asg-")
    config = policy["targetTrackingConfiguration"]
    assert config["targetValue"] == 60
    assert config["predefinedMetricSpecification"] == {
        "predefinedMetricType": "ALBRequestCountPerTarget",
        "resourceLabel": "llm-alb/llm-tg",  # <alb arn suffix>/<target group arn suffix>
    }


def test_schedules_scale_to_zero_and_back(named) -> None:
    stop, start = named["llm-stop"].inputs, named["llm-start"].inputs
    assert (stop["recurrence"], stop["minSize"], stop["maxSize"], stop["desiredCapacity"]) == ("0 20 * * MON-FRI", 0, 0, 0)
    assert (start["recurrence"], start["minSize"], start["maxSize"], start["desiredCapacity"]) == ("0 7 * * MON-FRI", 1, 4, 1)
    assert stop["timeZone"] == start["timeZone"] == "Europe/Paris"
    assert stop["autoscalingGroupName"] == start["autoscalingGroupName"] == named["llm-requests-per-target"].inputs["autoscalingGroupName"]


def test_no_schedule_means_always_on() -> None:
    assert of_type(plan(schedule=None), "aws:autoscaling/schedule:Schedule") == []


def test_alarms_notify_the_topic(records, named) -> None:
    alarms = of_type(records, "aws:cloudwatch/metricAlarm:MetricAlarm")
    assert len(alarms) == 6
    for alarm in alarms:
        assert alarm.inputs["alarmActions"] == [TOPIC_ARN] and alarm.inputs["okActions"] == [TOPIC_ARN]
    unhealthy = named["llm-alarm-unhealthy-hosts"].inputs
    assert unhealthy["dimensions"] == {"LoadBalancer": "llm-alb", "TargetGroup": "llm-tg"}
    assert named["llm-alarm-latency-p99"].inputs["extendedStatistic"] == "p99"
    memory = named["llm-alarm-gpu-memory"].inputs["metricQueries"][0]["metric"]
    assert memory["dimensions"] == {"AutoScalingGroupName": named["llm-requests-per-target"].inputs["autoscalingGroupName"]}
    assert memory["metricName"] == "nvidia_smi_memory_used"


# --- bad input ------------------------------------------------------------------------------


def test_a_non_gpu_instance_type_is_refused() -> None:
    assert error(instance_types=["m7i.xlarge"]) == (
        "gpu_vm.instance_types = m7i.xlarge: not a GPU instance type; AWS GPU families: g4dn, g5, g6, g6e, p4d, p4de, "
        "p5, p5e, p5en (e.g. g6e.xlarge)"
    )


def test_a_type_with_too_few_gpus_is_refused() -> None:
    assert error(container=spec_70b(), secret_arns={}, instance_types=["g6e.12xlarge", "g6e.xlarge"]) == (
        "gpu_vm.instance_types = g6e.xlarge: 1 GPU, but the server needs 4 (its tensor-parallel size); "
        "choose a type with at least 4 GPUs, e.g. g6e.12xlarge"
    )


def test_an_unknown_type_is_refused() -> None:
    assert error(instance_types=["g6e.xlarg"]) == (
        "gpu_vm.instance_types = g6e.xlarg: unknown instance type 'g6e.xlarg'; did you mean g6e.xlarge or g6e.8xlarge or g6e.4xlarge?"
    )


def test_another_clouds_type_is_refused() -> None:
    assert error(instance_types=["g2-standard-8"]) == (
        "gpu_vm.instance_types = g2-standard-8: a gcp instance type; AwsGpuVm takes AWS GPU types (e.g. g6e.xlarge)"
    )


def test_the_internet_on_an_internal_load_balancer_is_refused() -> None:
    assert error(allowed_cidrs=["0.0.0.0/0"]) == (
        "gpu_vm.allowed_cidrs = 0.0.0.0/0: the whole internet is allowed only on an internet-facing load balancer "
        "(internal: false); give the CIDRs of your clients"
    )


def test_an_unmapped_secret_is_refused() -> None:
    assert error(secret_arns={}) == "gpu_vm.secret_arns: the server reads secret 'chat-api-key'; map it to its Secrets Manager ARN"


def test_streamed_weights_are_refused() -> None:
    the_fit = fit("llama-3.1-8b-instruct", get_instance_type("g6e.xlarge"), context=8192)
    streamed = vllm.vllm_container("m", the_fit, vllm.Weights("object-store", "s3://b/m"), vllm.VllmOptions(image=pins.VLLM_OPENAI.ref))
    assert error(container=streamed, secret_arns={}).startswith("gpu_vm.container: m: a GPU VM serves weights from its local disk")


def test_capacity_bounds_are_checked() -> None:
    assert error(min_size=3, max_size=2) == (
        "gpu_vm: min_size 3, desired_capacity 3, max_size 2; allowed: min_size ≤ desired_capacity ≤ max_size"
    )
    assert error(schedule=ScaleToZeroSchedule(stop_cron="0 20 * *", start_cron="0 7 * * *")) == (
        "gpu_vm.schedule.stop_cron = '0 20 * *': a 5-field cron, e.g. '0 20 * * MON-FRI'"
    )


def test_alarm_thresholds_is_the_deprecated_name_of_alert_thresholds() -> None:
    from pulumi_llm.gpu_vm.aws import GpuVmAlertThresholds

    chosen = GpuVmAlertThresholds(gpu_idle_minutes=30)
    assert make_args(alert_thresholds=chosen).alert_thresholds == chosen
    with pytest.warns(DeprecationWarning, match=r"AwsGpuVmArgs\.alarm_thresholds is deprecated: use AwsGpuVmArgs\.alert_thresholds"):
        old = make_args(alarm_thresholds=chosen)
    assert old.alert_thresholds == chosen and old == make_args(alert_thresholds=chosen)
    with pytest.warns(DeprecationWarning), pytest.raises(ValueError, match="give alert_thresholds only"):
        make_args(alarm_thresholds=chosen, alert_thresholds=chosen)


# --- the vLLM router on every VM -----------------------------------------------------------------


@pytest.fixture(scope="module")
def routed():
    return by_name(plan(router=RouterOptions(policy="cache_aware")))


def test_without_a_router_the_load_balancer_sends_to_the_server(named) -> None:
    assert named["llm-tg"].inputs["port"] == 8000
    assert named["llm-tg"].inputs["healthCheck"]["port"] == "traffic-port"
    assert "llm-router-list" not in named and "llm-api" not in named and "llm-router-in-8000" not in named
    assert "llm-router" not in boot_script(named)


def test_with_a_router_the_load_balancer_sends_to_it_and_checks_the_server(routed) -> None:
    group = routed["llm-tg"].inputs
    assert group["port"] == 8080
    # Auto Scaling's health is the target group's: it keeps following the model server (vLLM /health on 8000).
    assert (group["healthCheck"]["path"], group["healthCheck"]["port"]) == ("/health", "8000")


def test_with_a_router_only_the_openai_api_is_forwarded(routed) -> None:
    https = routed["llm-https"].inputs
    assert https["defaultActions"] == [{"type": "fixed-response", "fixedResponse": {"contentType": "text/plain", "statusCode": "404"}}]
    rule = routed["llm-api"].inputs
    assert rule["listenerArn"].endswith(":llm-https")
    assert rule["conditions"] == [{"pathPattern": {"values": ["/v1/*"]}}]
    assert [a["type"] for a in rule["actions"]] == ["forward"] and rule["actions"][0]["targetGroupArn"].endswith(":llm-tg")


def test_with_a_router_the_server_port_admits_the_group_and_the_load_balancer_health_checks(routed) -> None:
    router_in = routed["llm-instance-in-8080"].inputs
    assert router_in["referencedSecurityGroupId"].startswith("llm-alb-sg-") and router_in["securityGroupId"].startswith("llm-instance-sg-")
    health = routed["llm-instance-in-8000"].inputs
    assert health["referencedSecurityGroupId"].startswith("llm-alb-sg-") and "health checks" in health["description"]
    peers = routed["llm-router-in-8000"].inputs
    assert peers["referencedSecurityGroupId"] == peers["securityGroupId"] and peers["securityGroupId"].startswith("llm-instance-sg-")
    out = routed["llm-router-out-8000"].inputs
    assert out["referencedSecurityGroupId"] == out["securityGroupId"] and (out["fromPort"], out["toPort"]) == (8000, 8000)


def test_with_a_router_the_role_may_list_the_group_and_nothing_more(routed) -> None:
    policy = json.loads(routed["llm-router-list"].inputs["policy"])
    assert policy["Statement"] == [
        {
            "Sid": "ListGroupInstances",
            "Effect": "Allow",
            "Action": ["autoscaling:DescribeAutoScalingGroups", "ec2:DescribeInstances"],
            "Resource": "*",
        }
    ]


def test_with_a_router_the_boot_script_runs_it_and_lists_this_group_only(routed) -> None:
    document = yaml.safe_load(boot_script(routed))
    written = {f["path"]: f["content"] for f in document["write_files"]}
    assert "llm-router.service" in document["runcmd"][1] and "llm-router-workers.service" in document["runcmd"][1]
    lister = written["/usr/local/lib/llm-router/list-instances"]
    # The group by its tags, its instances by the group's own security group (the mock's id of llm-instance-sg).
    assert "Name=tag:pulumi-llm:model,Values=chat" in lister and "Name=tag:pulumi-llm:stack,Values=prod" in lister
    assert "Name=instance.group-id,Values=llm-instance-sg" in lister
    prometheus = yaml.safe_load(written[aws_boot.PROMETHEUS_CONFIG])
    assert {job["job_name"]: job["static_configs"][0]["targets"] for job in prometheus["scrape_configs"]} == {
        "llm-server": ["127.0.0.1:8000"],
        "llm-router": ["127.0.0.1:29000"],
    }


def test_a_triton_server_gets_no_router() -> None:
    from pulumi_llm.runtimes import triton

    the_fit = fit("llama-3.1-8b-instruct", get_instance_type("g6e.xlarge"), runtime="triton")
    spec = triton.triton_container("chat", the_fit, image=pins.TRITON_VLLM.ref)
    named = by_name(plan(container=spec, secret_arns={}, router=RouterOptions(policy="cache_aware")))
    assert named["llm-tg"].inputs["port"] != 8080 and "llm-router-list" not in named
