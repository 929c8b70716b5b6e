"""Llama 3.1 8B Instruct on vLLM on one spot GPU VM (an Auto Scaling group of 1–2) behind an internal
ALB, in its own private VPC, stopped at night and on weekends.

Sizing picks the instance's vLLM settings; the boot script syncs the weights from the model store
(KMS-encrypted S3) and runs the same container a cluster would.
"""

import pulumi
import pulumi_aws as aws
from pulumi_llm import (
    AwsGpuVm,
    AwsGpuVmArgs,
    AwsModelStore,
    AwsModelStoreArgs,
    AwsMonitoring,
    AwsMonitoringArgs,
    AwsNetwork,
    AwsNetworkArgs,
    AwsStackKey,
    AwsStackKeyArgs,
    CommonLabels,
    VllmOptions,
    Weights,
    fit,
    get_instance_type,
    pins,
    vllm_container,
)
from pulumi_llm.gpu_vm.aws import ScaleToZeroSchedule

config = pulumi.Config()
region = config.require("region")
stack = pulumi.get_stack()
labels = CommonLabels(stack=stack, environment="dev", method="gpu-vm")

aws_provider = aws.Provider("aws", region=region)
on_aws = pulumi.ResourceOptions(providers=[aws_provider])

key = AwsStackKey("llm-key", AwsStackKeyArgs(labels=labels, region=region), opts=on_aws)
network = AwsNetwork(
    "llm-net",
    AwsNetworkArgs(labels=labels, region=region, log_key_arn=key.arn, cidr="10.40.0.0/16", az_count=2),
    opts=on_aws,
)
store = AwsModelStore("llm-models", AwsModelStoreArgs(labels=labels, alias=f"alias/llm-gpu-vm/{stack}/models"), opts=on_aws)
alarms = AwsMonitoring(
    "llm-alarms",
    AwsMonitoringArgs(labels=labels, region=region, key_arn=key.arn, alert_emails=(config.require("alert-email"),)),
    opts=on_aws,
)

instance = get_instance_type(config.require("instance-type"))
prefix = config.require("weights-prefix")
server = vllm_container(
    "llama-8b",
    fit("llama-3.1-8b-instruct", instance, context=16384, region=region),
    Weights("volume", f"/models/{prefix}"),  # synced from the store to the instance's data volume
    VllmOptions(image=pins.VLLM_OPENAI.ref),
)

vm = AwsGpuVm(
    "llama-8b",
    AwsGpuVmArgs(
        labels=labels.with_model("llama-8b"),
        container=server,
        region=region,
        instance_types=[instance.name],
        vpc_id=network.vpc_id,
        private_subnet_ids=network.private_subnet_ids,
        allowed_cidrs=["10.40.0.0/16"],  # only the VPC reaches the internal load balancer
        model_bucket_arn=store.bucket_arn,
        model_kms_key_arn=store.key_arn,  # the bucket's own key decrypts the weights, not the stack key
        model_key_prefix=prefix,
        weights_revision=config.require("revision"),
        kms_key_arn=key.arn,
        min_size=1,
        max_size=2,
        spot_percentage_above_base=100,
        schedule=ScaleToZeroSchedule(stop_cron="0 20 * * MON-FRI", start_cron="0 7 * * MON-FRI", time_zone="Europe/Berlin"),
        alarm_topic_arn=alarms.topic_arn,
    ),
    opts=on_aws,
)

pulumi.export("url", vm.url)
pulumi.export("model_bucket", store.bucket_name)
