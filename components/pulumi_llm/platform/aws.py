"""The AWS target of LlmPlatform: the model store for self-hosting, the key, network and alarms for it or the
gateway, GPU VMs or EKS, and the gateway on ECS in front of them (the contract: context.py).

Imported only by an AWS stack (docs/ARCHITECTURE.md, convention 5).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Set
from typing import TYPE_CHECKING, Any

import pulumi
import pulumi_aws as aws

from ..component_args import aws_gateway_args, aws_gpu_vm_args, gateway_self_hosted, model_serving_args
from ..labels import aws_tags
from .context import NO_OUTPUTS, NOTHING_SELF_HOSTED, Foundation, Outputs, PlatformContext, SelfHosted

if TYPE_CHECKING:
    from ..cluster.eks import EksCluster
    from ..kubernetes.model_serving import IngressOptions, ServedModel

SELF_HOSTING = frozenset({"gpu-vm", "cluster"})
NAMESPACE = "llm"
"""The EKS namespace the models are served in."""


@dataclasses.dataclass(frozen=True)
class FoundationParts:
    """Which shared parts an AWS stack builds before its methods."""

    store: bool
    """The model store: weights for self-hosted servers."""
    shared: bool
    """The stack key, the network and the alarm topic."""


def decide_foundation(methods: Set[str], has_models: bool) -> FoundationParts:
    """The store with self-hosted models; the key, network and alarms with them or with a gateway, which runs
    its tasks in the VPC, encrypts its secrets and logs with the key and alarms to the topic (a gateway-only
    stack in front of API providers too). Neither for an edge-only stack: edge nodes load weights from each
    node's cache (node://), so it would carry an unused key, bucket and VPC."""
    store = has_models and bool(methods & SELF_HOSTING)
    return FoundationParts(store=store, shared=store or "gateway" in methods)


def foundation(ctx: PlatformContext, built: Mapping[str, Foundation]) -> Foundation:
    """The provider, then the parts `decide_foundation` picks, in this order: model store, stack key,
    network, alarms."""
    from ..storage.aws import AwsModelStore, AwsModelStoreArgs

    settings, labels = ctx.settings, ctx.labels
    provider = aws.Provider(ctx.child("aws"), region=settings.region, opts=ctx.opts())
    on_aws = ctx.opts([provider])
    parts = decide_foundation(ctx.methods, bool(settings.models))
    if not parts.shared:
        return Foundation(providers=(provider,))
    store = (
        AwsModelStore(
            ctx.child("models"),
            AwsModelStoreArgs(labels=labels, alias=f"alias/pulumi-llm/{labels.stack}/models"),
            opts=on_aws,
        )
        if parts.store
        else None
    )

    from ..monitoring.aws import AwsMonitoring, AwsMonitoringArgs
    from ..network.aws import AwsNetwork, AwsNetworkArgs
    from ..security.aws import AwsStackKey, AwsStackKeyArgs

    region = settings.region or ""
    cfg = settings.aws
    key = AwsStackKey(ctx.child("key"), AwsStackKeyArgs(labels=labels, region=region), opts=on_aws)
    network = AwsNetwork(
        ctx.child("network"),
        AwsNetworkArgs(
            labels=labels,
            region=region,
            log_key_arn=key.arn,
            cidr=cfg.network.cidr,
            az_count=cfg.network.az_count,
            nat_per_az=cfg.network.nat_per_az,
            flow_logs_retention_days=cfg.network.flow_logs_retention_days,
        ),
        opts=on_aws,
    )
    monitoring = AwsMonitoring(
        ctx.child("alarms"),
        AwsMonitoringArgs(labels=labels, region=region, key_arn=key.arn, alert_emails=tuple(cfg.alert_emails), panels=_router_panels(ctx)),
        opts=on_aws,
    )
    return Foundation(
        providers=(provider,),
        network=network,
        key=key,
        store=store,
        monitoring=monitoring,
        model_bucket=store.bucket_name if store is not None else None,
        outputs={**({"model_bucket": store.bucket_name} if store is not None else {}), "alarm_topic": monitoring.topic_arn},
    )


def self_hosted(ctx: PlatformContext, foundation: Foundation) -> SelfHosted:
    """The GPU VMs and/or the EKS cluster, and the key the gateway sends them."""
    if foundation.store is None:
        return NOTHING_SELF_HOSTED
    methods = ctx.methods
    # vLLM has no key of its own: with a gateway in front, the GPU VMs' servers require one that only the
    # gateway's tasks and the servers can read (EKS servers don't yet: nothing syncs it into the cluster).
    key = _self_hosted_key(ctx, foundation) if "gpu-vm" in methods and gateway_self_hosted(ctx.settings) else None
    result = SelfHosted(key=key)
    if "gpu-vm" in methods:
        result = _gpu_vms(ctx, foundation, result)
    if "cluster" in methods:
        result = _cluster(ctx, foundation, result)
    return result


def gateway(ctx: PlatformContext, foundation: Foundation, self_hosted: SelfHosted) -> Outputs:
    """The gateway on ECS behind API Gateway, and who may read the self-hosted key."""
    if "gateway" not in ctx.methods:
        return NO_OUTPUTS
    from ..gateway.aws import AwsGateway

    settings = ctx.settings
    on_aws = ctx.opts(foundation.providers)
    gateway = AwsGateway(
        ctx.child("gateway"),
        aws_gateway_args(
            settings,
            ctx.labels,
            vpc_id=foundation.network.vpc_id,
            private_subnet_ids=foundation.network.private_subnet_ids,
            kms_key_arn=foundation.key.arn,
            alarm_topic_arn=foundation.monitoring.topic_arn,
            self_hosted_urls=dict(self_hosted.urls),
            self_hosted_endpoints=dict(self_hosted.endpoints),
            self_hosted_key_arn=self_hosted.key.arn if self_hosted.key is not None else None,
            high_availability=settings.environment == "prod",
            where="pulumi-llm:gateway",
            config_path="pulumi-llm:gateway",
        ),
        opts=on_aws,
    )
    if self_hosted.key is not None:
        from ..gateway.aws import secret_resource_policy

        # Only the gateway's ECS execution role and the servers' instance roles read the key.
        aws.secretsmanager.SecretPolicy(
            ctx.child("self-hosted-key-policy"),
            secret_arn=self_hosted.key.arn,
            policy=pulumi.Output.all(gateway.execution_role_arn, *self_hosted.key_readers).apply(
                lambda arns: secret_resource_policy(*arns)
            ),
            block_public_policy=True,
            opts=on_aws,
        )
    return {"gateway_url": gateway.invoke_url}


def _self_hosted_key(ctx: PlatformContext, foundation: Foundation) -> aws.secretsmanager.Secret:
    """The self-hosted servers' API key: a Secrets Manager secret with no value (set out of band with
    `pulumi-llm secrets put self-hosted`, so it never passes Pulumi), encrypted with the stack key."""
    from ..gateway import SELF_HOSTED_KEY_SECRET
    from ..gateway.aws import secret_name

    stack = ctx.labels.stack
    return aws.secretsmanager.Secret(
        ctx.child("self-hosted-key"),
        name=secret_name(stack, SELF_HOSTED_KEY_SECRET),
        description=f"pulumi-llm {stack}: API key the self-hosted model servers require and the gateway sends. "
        f"Value set with `pulumi-llm secrets put {SELF_HOSTED_KEY_SECRET} --stack {stack}`.",
        kms_key_id=foundation.key.arn,
        recovery_window_in_days=30,
        tags=aws_tags(ctx.labels.with_method("gateway")),
        opts=ctx.opts(foundation.providers),
    )


def _vm_name(ctx: PlatformContext, served: str) -> str:
    """The AwsGpuVm component of model `served`; its metrics carry the dimension `<stack>/<this name>`."""
    return ctx.child(f"vm-{served}")


def _router_panels(ctx: PlatformContext) -> tuple[dict[str, Any], ...]:
    """The dashboard's graphs of the vLLM routers on the GPU VMs (none without gpu-vm, a router or a vLLM model)."""
    from ..gpu_vm import aws_boot, router_vm
    from ..kubernetes.router import ROUTED_RUNTIMES

    settings = ctx.settings
    if "gpu-vm" not in ctx.methods or router_vm.router_options(settings) is None:
        return ()
    routed = {
        served: f"{ctx.labels.stack}/{_vm_name(ctx, served)}"
        for served, model in settings.models.items()
        if model.runtime in ROUTED_RUNTIMES
    }
    return aws_boot.router_panels(routed) if routed else ()


def _gpu_vms(ctx: PlatformContext, foundation: Foundation, so_far: SelfHosted) -> SelfHosted:
    from ..gpu_vm.aws import AwsGpuVm

    settings, network, key, store = ctx.settings, foundation.network, so_far.key, foundation.store
    outputs: dict[str, pulumi.Input[str]] = {}
    urls = dict(so_far.urls)
    endpoints = dict(so_far.endpoints)
    readers = list(so_far.key_readers)
    for served in sorted(settings.models):
        calls = served in gateway_self_hosted(settings)
        vm = AwsGpuVm(
            _vm_name(ctx, served),
            aws_gpu_vm_args(
                settings,
                ctx.labels,
                served,
                vpc_id=network.vpc_id,
                private_subnet_ids=network.private_subnet_ids,
                public_subnet_ids=network.public_subnet_ids,
                kms_key_arn=foundation.key.arn,
                store_bucket_arn=store.bucket_arn,
                store_key_arn=store.key_arn,
                alarm_topic_arn=foundation.monitoring.topic_arn,
                config_path=f"pulumi-llm:models.{served}",
                gateway_calls=calls,
                api_key_secret_arn=key.arn if key is not None and calls else None,
            ),
            opts=ctx.opts(foundation.providers),
        )
        if key is not None and calls:
            readers.append(vm.role_arn)
        url = _model_url(ctx, foundation, served, vm.alb_dns_name, vm.url)
        outputs[f"url_{served}"] = url
        urls[served] = url.apply(lambda u: f"{u}/v1")
        # The URL's scheme picks the listener: HTTPS 443 under aws.model_tls, HTTP 80 without. (A
        # gpu_vm.certificate_arn alone doesn't serve the gateway: no certificate covers the ALB's own
        # name, and the settings refuse it with a gateway.)
        endpoints[served] = (vm.alb_security_group_id, 443 if settings.aws.model_tls else 80)
    return dataclasses.replace(so_far, urls=urls, endpoints=endpoints, key_readers=tuple(readers), outputs={**so_far.outputs, **outputs})


def _cluster(ctx: PlatformContext, foundation: Foundation, so_far: SelfHosted) -> SelfHosted:
    """EKS, the models served on it behind one internal ALB each, and the URLs the gateway calls them at."""
    from ..kubernetes import credential_endpoints
    from ..kubernetes.model_serving import ModelServing

    settings = ctx.settings
    eks = _eks(ctx, foundation)
    tls = settings.aws.model_tls
    model_alb_sg, access = _model_alb_access(ctx, foundation)
    models, identities = _served_models(ctx, foundation, eks)
    serving_layer = ModelServing(
        ctx.child("serving"),
        model_serving_args(
            settings,
            ctx.labels.with_method("cluster"),
            namespace=NAMESPACE,
            models=models,
            placement=eks.gpu_placement,
            prometheus_url=eks.prometheus_url,
            ingress=_ingress(ctx, foundation, access),
            server_depends_on=identities,
            # Servers and copy Jobs get their Pod Identity credentials from the node's agent.
            credential_endpoints=credential_endpoints.EKS_POD_IDENTITY_AGENT,
        ),
        opts=ctx.opts([eks.provider], depends_on=list(eks.addons)),
    )
    # One internal ALB per model (an ALB can't rewrite paths): the gateway calls each by its name,
    # https://<model>.<domain> under aws.model_tls, else the controller's default listener (HTTP 80).
    urls: dict[str, pulumi.Output[str]] = {}
    for served, address in serving_layer.ingress_addresses.items():
        plain = address.apply(lambda a: f"http://{a or 'pending'}")
        urls[served] = _model_url(ctx, foundation, served, address, plain).apply(lambda u: f"{u}/v1")
    endpoints = so_far.endpoints
    if model_alb_sg is not None:
        # One group fronts every model ALB: one pair of rules (AWS refuses a duplicate rule).
        endpoints = {"model-albs": (model_alb_sg.id, 443 if tls else 80)}
    return dataclasses.replace(
        so_far,
        urls=urls,
        endpoints=endpoints,
        namespace=serving_layer.namespace,
        outputs={**so_far.outputs, "cluster_name": eks.cluster_name, "namespace": serving_layer.namespace},
    )


def _eks(ctx: PlatformContext, foundation: Foundation) -> EksCluster:
    from .. import pins, serving
    from ..cluster.eks import EksCluster, EksClusterArgs

    settings, network = ctx.settings, foundation.network
    cfg = settings.aws.cluster
    gpu_types = (
        tuple(cfg.gpu_instance_families)
        if cfg.gpu_capacity == "karpenter"
        else tuple(cfg.gpu_instance_types or sorted({serving.instance_type(settings, m).name for m in settings.models}))
    )
    return EksCluster(
        ctx.child("eks"),
        EksClusterArgs(
            labels=ctx.labels.with_method("cluster"),
            region=settings.region or "",
            vpc_id=network.vpc_id,
            private_subnet_ids=tuple(network.private_subnet_id_list),
            kms_key_arn=foundation.key.arn,
            kubernetes_version=cfg.kubernetes_version or pins.EKS_KUBERNETES_VERSION,
            endpoint_public_access=cfg.endpoint_public,
            public_access_cidrs=tuple(cfg.public_access_cidrs),
            admin_principal_arns={f"admin-{i}": arn for i, arn in enumerate(cfg.admin_principals)},
            gpu_capacity=cfg.gpu_capacity,
            gpu_instances=gpu_types,
            capacity_types=tuple(cfg.capacity_types) if cfg.gpu_capacity == "karpenter" else ("on-demand",),
            max_gpus=cfg.max_gpus,
            # The models' fewest replicas on an on-demand NodePool Karpenter fills first (0 under serving.all_spot).
            on_demand_gpus=serving.on_demand_floor(settings) if cfg.gpu_capacity == "karpenter" else 0,
            prometheus=cfg.prometheus,
            deletion_protection=settings.environment == "prod",
        ),
        opts=ctx.opts(foundation.providers),
    )


def _served_models(ctx: PlatformContext, foundation: Foundation, eks: EksCluster) -> tuple[list[ServedModel], list[pulumi.Resource]]:
    """The served models with their Pod Identities (read their prefix; the hub copy writes it), and the
    identities the servers wait for."""
    from .. import serving
    from ..security.aws import AwsHubTokenSecret, AwsHubTokenSecretArgs
    from ..storage.aws import read_policy, write_policy

    settings, store, key = ctx.settings, foundation.store, foundation.key
    models: list[ServedModel] = []
    identities: list[pulumi.Resource] = []
    hub_token = None
    for model in serving.served_models(settings):
        served = model.container.served_name
        bucket, key_prefix = serving.store_key(settings, served)
        bucket_arn = store.bucket_arn if bucket is None else f"arn:aws:s3:::{bucket}"
        eks.pod_identity(NAMESPACE, served, read_policy(bucket_arn, key_prefix, store.key_arn))
        identities += eks.workload_identities[f"{NAMESPACE}/{served}"]
        env = {serving.MODEL_BUCKET_ENV: store.bucket_name} if bucket is None else {}
        copy = model.copy
        copy_waits: list[pulumi.Resource] = []
        if copy is not None:
            # The copy writes one model's prefix and reads the token; values never pass Pulumi.
            hub_token = hub_token or AwsHubTokenSecret(
                ctx.child("hub-token"),
                AwsHubTokenSecretArgs(labels=ctx.labels, key_arn=key.arn),
                opts=ctx.opts(foundation.providers),
            )
            copy = dataclasses.replace(copy, token_secret=hub_token.secret_name)
            eks.pod_identity(NAMESPACE, f"copy-{served}", write_policy(store.bucket_arn, key_prefix, store.key_arn, hub_token.arn, key.arn))
            copy_waits = eks.workload_identities[f"{NAMESPACE}/copy-{served}"]
        models.append(dataclasses.replace(model, env=env, copy=copy, copy_depends_on=tuple(copy_waits)))
    return models, identities


def _ingress(ctx: PlatformContext, foundation: Foundation, access: Mapping[str, str | pulumi.Output[str]]) -> IngressOptions:
    """The model ALBs' ingress: internal (or as aws.cluster.ingress says), target-type ip, TLS under aws.model_tls."""
    from ..kubernetes.model_serving import IngressOptions as Options

    tls = ctx.settings.aws.model_tls
    return Options(
        class_name="alb",
        style="alb",
        # Under aws.model_tls each ALB routes <model>.<domain>, the name its certificate covers.
        host=tls.domain if tls else None,
        annotations={
            "alb.ingress.kubernetes.io/scheme": ctx.settings.aws.cluster.ingress,
            "alb.ingress.kubernetes.io/target-type": "ip",
            # Streams outlast the default 60 s idle timeout.
            "alb.ingress.kubernetes.io/load-balancer-attributes": "idle_timeout.timeout_seconds=3600",
            "alb.ingress.kubernetes.io/healthcheck-path": "/health",
            "alb.ingress.kubernetes.io/ssl-policy": "ELBSecurityPolicy-TLS13-1-2-2021-06",
            **access,
            # HTTPS 443 only (no plain listener to fall back to); without it the controller's
            # default listener, HTTP 80.
            **(
                {
                    "alb.ingress.kubernetes.io/certificate-arn": tls.certificate_arn,
                    "alb.ingress.kubernetes.io/listen-ports": '[{"HTTPS": 443}]',
                }
                if tls
                else {}
            ),
        },
        # With target-type ip the ALB's own ENIs reach the pods, from the internal
        # load-balancer subnets where no pod has an address (not the whole VPC: with the
        # VPC CNI every pod has a VPC address and would skip the ALB and the gateway).
        peers=tuple({"ipBlock": {"cidr": cidr}} for cidr in foundation.network.internal_lb_cidrs),
    )


def _model_url(
    ctx: PlatformContext, foundation: Foundation, served: str, lb_dns_name: pulumi.Input[str], plain_url: pulumi.Input[str]
) -> pulumi.Output[str]:
    """The base URL the gateway calls a model at: https://<model>.<domain> under aws.model_tls (a CNAME
    in its zone to the load balancer, so the name the certificate covers leads there), else the load
    balancer's own `plain_url`."""
    tls = ctx.settings.aws.model_tls
    if tls is None:
        return pulumi.Output.from_input(plain_url)
    host = f"{served}.{tls.domain}"
    record = aws.route53.Record(
        ctx.child(f"dns-{served}"),
        zone_id=tls.zone_id,
        name=host,
        type="CNAME",
        ttl=60,
        records=[lb_dns_name],
        opts=ctx.opts(foundation.providers),
    )
    return record.fqdn.apply(lambda _: f"https://{host}")


def _model_alb_access(
    ctx: PlatformContext, foundation: Foundation
) -> tuple[aws.ec2.SecurityGroup | None, dict[str, str | pulumi.Output[str]]]:
    """Who may reach the model ALBs, as AWS Load Balancer Controller annotations (v2.17, see
    verify.facts.aws_network), and the security group that fronts them if any. Without them the controller's
    own frontend group opens the listener to 0.0.0.0/0, so every workload in the VPC could skip the gateway's
    keys and quotas.

    With a gateway that routes to the models: one security group for every model ALB, admitting only
    the gateway's tasks (the gateway adds that rule, `AwsGatewayArgs.self_hosted_endpoints`); the
    controller still opens the pods to the ALB (manage-backend-security-group-rules). Without one: the
    VPC, the documented callers of a cluster-only stack."""
    settings = ctx.settings
    if not gateway_self_hosted(settings):
        return None, {"alb.ingress.kubernetes.io/inbound-cidrs": settings.aws.network.cidr}
    group = aws.ec2.SecurityGroup(
        ctx.child("model-alb-sg"),
        description="pulumi-llm model ALBs: reached only from the gateway tasks",
        vpc_id=foundation.network.vpc_id,
        # To the pods (target-type ip): their addresses are in the VPC's subnets.
        egress=[
            {
                "protocol": "tcp",
                "from_port": 0,
                "to_port": 65535,
                "cidr_blocks": [settings.aws.network.cidr],
                "description": "to the model pods",
            }
        ],
        tags={**aws_tags(ctx.labels.with_method("cluster")), "Name": ctx.child("model-alb")},
        opts=ctx.opts(foundation.providers),
    )
    return group, {
        "alb.ingress.kubernetes.io/security-groups": group.id,
        "alb.ingress.kubernetes.io/manage-backend-security-group-rules": "true",
    }
