"""A private EKS cluster (KMS-encrypted, Karpenter GPU capacity on spot then on-demand, the NVIDIA
device plugin, KEDA, Prometheus) serving Llama 3.1 8B Instruct on vLLM, streamed from the model store.

The model servers reach the cluster through the provider EksCluster builds (its exec-auth kubeconfig),
after the cluster's add-ons are in.
"""

import pulumi
import pulumi_aws as aws
from pulumi_llm import (
    AwsModelStore,
    AwsModelStoreArgs,
    AwsNetwork,
    AwsNetworkArgs,
    AwsStackKey,
    AwsStackKeyArgs,
    CommonLabels,
    EksCluster,
    EksClusterArgs,
    IngressOptions,
    ModelServing,
    ModelServingArgs,
    ServedModel,
    VllmOptions,
    Weights,
    fit,
    get_instance_type,
    pins,
    vllm_container,
)
from pulumi_llm.kubernetes.credential_endpoints import EKS_POD_IDENTITY_AGENT
from pulumi_llm.storage.aws import read_policy

config = pulumi.Config()
region = config.require("region")
stack = pulumi.get_stack()
labels = CommonLabels(stack=stack, environment="staging", method="cluster")

VPC_CIDR = "10.40.0.0/16"
"""The VPC: the model's callers (no gateway in this example). Nothing outside it may reach the model."""

aws_provider = aws.Provider("aws", region=region)
on_aws = pulumi.ResourceOptions(providers=[aws_provider])

key = AwsStackKey("llm-key", AwsStackKeyArgs(labels=labels, region=region), opts=on_aws)
network = AwsNetwork(
    "llm-net",
    AwsNetworkArgs(labels=labels, region=region, log_key_arn=key.arn, cidr=VPC_CIDR, az_count=2),
    opts=on_aws,
)
store = AwsModelStore("llm-models", AwsModelStoreArgs(labels=labels, alias=f"alias/llm-eks/{stack}/models"), opts=on_aws)

eks = EksCluster(
    "llm",
    EksClusterArgs(
        labels=labels,
        region=region,
        vpc_id=network.vpc_id,
        private_subnet_ids=tuple(network.private_subnet_id_list),
        kms_key_arn=key.arn,
        admin_principal_arns=config.require_object("admins"),
        gpu_capacity="karpenter",
        gpu_instances=tuple(config.require_object("gpu-families")),
        max_gpus=config.require_int("max-gpus"),
        deletion_protection=False,  # staging; keep the default (true) for prod
    ),
    opts=on_aws,
)

served, namespace, prefix = "llama-8b", "llm", config.require("weights-prefix")
# Size for the smallest type Karpenter may pick from the families (g6e.xlarge: one L40S).
sized = fit("llama-3.1-8b-instruct", get_instance_type("g6e.xlarge"), context=16384, region=region)
server = vllm_container(
    served,
    sized,
    # Kubernetes expands $(MODEL_BUCKET) from the pod's env: the bucket's name is known at deploy time.
    Weights("object-store", f"s3://$(MODEL_BUCKET)/{prefix}"),
    VllmOptions(image=pins.VLLM_OPENAI.ref),
)
# The server's service account may read this model's prefix and nothing else.
eks.pod_identity(namespace, served, read_policy(store.bucket_arn, prefix, store.key_arn))

serving = ModelServing(
    "llm-serving",
    ModelServingArgs(
        namespace=namespace,
        labels=labels,
        models=[
            ServedModel(
                container=server,
                replicas_min=1,
                replicas_max=2,
                revision=config.require("revision"),
                object_store=True,
                env={"MODEL_BUCKET": store.bucket_name},
            )
        ],
        placement=eks.gpu_placement,
        prometheus_url=eks.prometheus_url,
        # One internal ALB (AWS Load Balancer Controller) per model, host llama-8b.<host>; only the VPC may call:
        # without inbound-cidrs the controller opens the ALB's listener to 0.0.0.0/0 (verify: network.aws-closed).
        ingress=IngressOptions(
            class_name="alb",
            style="alb",
            host=config.require("host"),
            annotations={
                "alb.ingress.kubernetes.io/scheme": "internal",
                "alb.ingress.kubernetes.io/target-type": "ip",
                "alb.ingress.kubernetes.io/load-balancer-attributes": "idle_timeout.timeout_seconds=3600",  # long streams
                "alb.ingress.kubernetes.io/healthcheck-path": "/health",
                "alb.ingress.kubernetes.io/inbound-cidrs": VPC_CIDR,
            },
            # Target type ip: the ALB's own interfaces, in the internal load-balancer subnets, reach the pods. Not the
            # whole VPC: with the VPC CNI every pod has a VPC address and could call the model around the ALB.
            peers=tuple({"ipBlock": {"cidr": cidr}} for cidr in network.internal_lb_cidrs),
        ),
        server_depends_on=eks.workload_identities[f"{namespace}/{served}"],
        # The server's Pod Identity credentials come from the node's agent, which its NetworkPolicy must let it reach
        # (without it: no credentials, no weights; verify: network.k8s-egress).
        credential_endpoints=EKS_POD_IDENTITY_AGENT,
    ),
    opts=pulumi.ResourceOptions(providers=[eks.provider], depends_on=list(eks.addons)),
)

pulumi.export("cluster_name", eks.cluster_name)
pulumi.export("namespace", serving.namespace)
pulumi.export("model_bucket", store.bucket_name)
