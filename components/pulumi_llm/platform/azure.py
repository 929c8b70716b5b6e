"""The Azure target of LlmPlatform: what an Azure stack builds, from its validated settings (the contract:
context.py).

Imported only by an Azure stack, so other clouds' stacks never load the Azure SDK (docs/ARCHITECTURE.md,
convention 5).

What it composes, every child under one explicit azure-native provider (stacks disable default providers):

* foundation: a resource group, the VNet (`AzureNetwork`, with the gateway's apim/engine subnets when the
  stack has a gateway), Key Vault (`AzureKeyVault`) and, for self-hosting, the private model store
  (`AzureModelStore`);
* self_hosted — gpu-vm: one `AzureGpuVm` per model (scale set behind an internal load balancer); cluster:
  `AksCluster` with ingress-nginx on an internal load balancer, then `ModelServing` on it through a Kubernetes
  provider built from the cluster's kubeconfig (and the hub copy Jobs, into the model claim);
* gateway: `AzureGateway` — API Management v2 with the Azure OpenAI pool (managed identity) and the shared
  LiteLLM engine on Container Apps, whose config (`component_args.gateway_spec`) routes to the self-hosted
  models first when the stack serves them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING

import pulumi
import pulumi_azure_native.resources as resources
from pulumi_azure_native.provider import Provider

from .. import serving
from ..component_args import gateway_spec, model_serving_args
from ..labels import azure_tags
from ..naming import child
from .context import Foundation, Outputs, PlatformContext, SelfHosted

if TYPE_CHECKING:
    from ..kubernetes.router_render import RouterOptions
    from ..labels import CommonLabels
    from ..network.azure import AzureNetwork
    from ..runtimes.spec import ContainerSpec
    from ..security.azure import AzureKeyVault
    from ..settings import Settings
    from ..storage.azure import AzureModelStore

NAMESPACE = "llm"
HF_TOKEN_SECRET = "hf-token"
"""Kubernetes Secret (key `token`) in the model namespace that the hub copy Jobs read on AKS."""


def global_name(prefix: str, stack: str, region: str, max_len: int = 24) -> str:
    """A name Azure wants unique worldwide (storage account, Key Vault): lower-case letters and digits,
    the stack in it for people, a short hash of stack and region for uniqueness."""
    digest = hashlib.sha256(f"{stack}/{region}".encode()).hexdigest()[:6]
    core = re.sub(r"[^a-z0-9]", "", f"{prefix}{stack}".lower())
    return f"{core[: max_len - len(digest)]}{digest}"


def location(settings: Settings) -> str:
    """The stack's Azure location as azure-native spells it (the settings have checked it is there)."""
    return (settings.region or "").strip().lower()


def foundation(ctx: PlatformContext, built: Mapping[str, Foundation]) -> Foundation:
    """The provider, resource group, VNet and Key Vault; for self-hosting the model store."""
    from ..network.azure import AzureNetwork, AzureNetworkArgs
    from ..security.azure import AzureKeyVault, AzureKeyVaultArgs
    from ..storage.azure import AzureModelStore, AzureModelStoreArgs

    name, settings, labels, methods = ctx.name, ctx.settings, ctx.labels, ctx.methods
    cfg = settings.azure
    region = location(settings)
    provider = Provider(child(name, "azure"), location=region, opts=ctx.opts())
    on_azure = ctx.opts([provider])
    group = resources.ResourceGroup(
        child(name, "rg"),
        resource_group_name=f"llm-{labels.stack}",
        location=region,
        tags=azure_tags(labels),
        opts=on_azure,
    )
    rg = group.name
    compute_ports, peer_ports = _compute_ports(settings, methods)
    network = AzureNetwork(
        child(name, "network"),
        AzureNetworkArgs(
            labels=labels,
            resource_group_name=rg,
            location=region,
            cidr=cfg.network.cidr,
            internal_client_cidrs=tuple(cfg.network.internal_client_cidrs),
            gateway_subnets="gateway" in methods,
            # The AKS cluster runs Azure CNI Overlay with AksClusterArgs' pod range: its subnet's NSG must admit it.
            aks_pod_cidrs=(_aks_pod_cidr(),) if "cluster" in methods else (),
            compute_ports=compute_ports,
            compute_peer_ports=peer_ports,
        ),
        opts=on_azure,
    )
    vault = AzureKeyVault(
        child(name, "vault"),
        AzureKeyVaultArgs(
            labels=labels,
            resource_group_name=rg,
            location=region,
            vault_name=global_name("kv", labels.stack, region),
            private_endpoint_subnet_id=network.subnet_ids["private-endpoints"],
            vault_private_dns_zone_id=network.private_dns_zone_ids["vault"],
        ),
        opts=on_azure,
    )
    outputs: dict[str, pulumi.Input[str]] = {"resource_group": rg, "key_vault_uri": vault.vault_uri}
    store = None
    if methods & {"gpu-vm", "cluster"}:
        store = AzureModelStore(
            child(name, "models"),
            AzureModelStoreArgs(
                labels=labels,
                resource_group_name=rg,
                location=region,
                account_name=global_name("llm", labels.stack, region),
                private_endpoint_subnet_id=network.subnet_ids["private-endpoints"],
                blob_private_dns_zone_id=network.private_dns_zone_ids["blob"],
            ),
            opts=on_azure,
        )
        outputs["model_container_url"] = store.container_url
    return Foundation(
        providers=(provider,),
        network=network,
        key=vault,
        store=store,
        extra={"resource_group": rg},
        model_bucket=store.container_url if store is not None else None,
        outputs=outputs,
    )


def self_hosted(ctx: PlatformContext, foundation: Foundation) -> SelfHosted:
    """The GPU VMs and/or AKS, and the URLs the gateway's engine calls them at."""
    if foundation.store is None:
        return SelfHosted()
    name, settings, labels = ctx.name, ctx.settings, ctx.labels
    rg, network, on_azure = foundation.extra["resource_group"], foundation.network, ctx.opts(foundation.providers)
    urls: dict[str, pulumi.Output[str]] = {}
    outputs: dict[str, pulumi.Input[str]] = {}
    namespace = None
    if "gpu-vm" in ctx.methods:
        outputs.update(_gpu_vms(name, settings, labels, rg, network, foundation.store, on_azure, urls))
    if "cluster" in ctx.methods:
        aks_outputs, namespace = _aks(ctx, rg, network, on_azure, urls)
        outputs.update(aks_outputs)
    return SelfHosted(urls=urls, namespace=namespace, outputs=outputs)


def gateway(ctx: PlatformContext, foundation: Foundation, self_hosted: SelfHosted) -> Outputs:
    """API Management and the LiteLLM engine on Container Apps."""
    if "gateway" not in ctx.methods:
        return {}
    return _gateway(
        ctx.name,
        ctx.settings,
        ctx.labels,
        foundation.extra["resource_group"],
        foundation.network,
        foundation.key,
        ctx.opts(foundation.providers),
        dict(self_hosted.urls),
    )


def _vm_server(settings: Settings, served: str) -> tuple[RouterOptions | None, ContainerSpec]:
    """A GPU-VM group's router (`serving.router`, its prefix tree sized from one server's KV cache as on Kubernetes)
    and its server, from the same fit: behind a cache_aware router, vLLM gets --enable-scale-out (serving.container)."""
    from ..gpu_vm import router_vm

    sized = serving.size(settings, served)
    router = router_vm.router_options(settings, sized.kv_tokens)
    return router, serving.vm_container(settings, served, sized, router_policy=router.policy if router is not None else None)


def _compute_ports(settings: Settings, methods: frozenset[str] | set[str]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The compute subnet's NSG ports: what the clients reach (each GPU-VM group's routers, else its servers; the
    network's default without GPU VMs) and what the VMs reach on each other only (the servers behind routers)."""
    from ..gpu_vm.azure import subnet_ports
    from ..network.azure import AzureNetworkArgs

    default: tuple[int, ...] = AzureNetworkArgs.model_fields["compute_ports"].default
    if "gpu-vm" not in methods:
        return default, ()
    pairs = [subnet_ports(spec, router) for router, spec in (_vm_server(settings, s) for s in settings.models)]
    clients = tuple(sorted({client for client, _ in pairs})) or default
    return clients, tuple(sorted({peer for _, peer in pairs if peer is not None}))


def _gpu_vms(
    name: str,
    settings: Settings,
    labels: CommonLabels,
    rg: pulumi.Output[str],
    network: AzureNetwork,
    store: AzureModelStore,
    on_azure: pulumi.ResourceOptions,
    self_hosted: dict[str, pulumi.Output[str]],
) -> dict[str, pulumi.Input[str]]:
    from ..gpu_vm.azure import AzureGpuVm, AzureGpuVmArgs, AzureScaleSchedule

    cfg = settings.azure
    schedule = cfg.gpu_vm.schedule
    outputs: dict[str, pulumi.Input[str]] = {}
    for served in sorted(settings.models):
        router, container = _vm_server(settings, served)
        bounds = serving.replicas(settings, served)
        _, key = serving.store_key(settings, served)
        vm = AzureGpuVm(
            child(name, f"vm-{served}"),
            AzureGpuVmArgs(
                labels=labels.with_method("gpu-vm"),
                container=container,
                location=location(settings),
                resource_group_name=rg,
                vm_size=serving.instance_type(settings, served).name,
                subnet_id=network.subnet_ids["compute"],
                lb_subnet_id=network.subnet_ids["lb"],
                model_container_id=store.container_id,
                model_container_url=store.container_url,
                model_key_prefix=key,
                weights_revision=settings.models[served].revision or "",
                min_count=bounds.min,
                max_count=bounds.max,
                spot=cfg.gpu_vm.spot,
                zones=tuple(cfg.gpu_vm.zones),
                schedule=AzureScaleSchedule(
                    days=tuple(schedule.days), start=schedule.start, stop=schedule.stop, time_zone=schedule.time_zone
                )
                if schedule
                else None,
                alert_emails=tuple(cfg.alert_emails),
                router=router,
                config_path=f"pulumi-llm:models.{served}",
            ),
            opts=on_azure,
        )
        outputs[f"url_{served}"] = vm.url
        self_hosted[served] = vm.url.apply(lambda u: f"{u}/v1")
    return outputs


def _aks_pod_cidr() -> str:
    from ..cluster.aks import AksClusterArgs

    return str(AksClusterArgs.model_fields["pod_cidr"].default)


def _aks(
    ctx: PlatformContext,
    rg: pulumi.Output[str],
    network: AzureNetwork,
    on_azure: pulumi.ResourceOptions,
    self_hosted: dict[str, pulumi.Output[str]],
) -> tuple[dict[str, pulumi.Input[str]], pulumi.Output[str]]:
    """AKS and the models served on it; its outputs and the models' namespace."""
    from ..cluster.aks import AksCluster, AksClusterArgs, GpuPool, PoolScale
    from ..kubernetes.model_serving import IngressOptions, ModelServing, ServedModel

    name, settings, labels = ctx.name, ctx.settings, ctx.labels
    cfg = settings.azure.cluster
    aks = AksCluster(
        child(name, "aks"),
        AksClusterArgs(
            labels=labels.with_method("cluster"),
            location=location(settings),
            resource_group_name=rg,
            subnet_id=network.subnet_ids["aks"],
            private_cluster=cfg.private_cluster,
            authorized_ip_ranges=tuple(cfg.authorized_ip_ranges),
            admin_group_object_ids=tuple(cfg.admin_group_object_ids),
            deployer_principal_type=cfg.deployer_principal_type,
            # The aks subnet egresses through the VNet's NAT gateway: no public IP on a cluster load balancer.
            outbound_type="userAssignedNATGateway",
            system_vm_size=cfg.system_vm_size,
            system_nodes=PoolScale(min=cfg.system_min, max=cfg.system_max),
            gpu_pools={
                pool_name: GpuPool(
                    vm_size=pool.vm_size, priority="Spot" if pool.spot else "Regular", min_count=pool.min_count, max_count=pool.max_count
                )
                for pool_name, pool in cfg.gpu_pools.items()
            },
            prometheus="azure-monitor" if cfg.prometheus == "managed" else "kube-prometheus-stack",
            sku_tier="Standard" if settings.environment == "prod" else "Free",
            internal_ingress=True,
            # The same callers the aks subnet's NSG admits (the gateway engine's subnet with the gateway).
            ingress_source_ranges=network.client_cidrs,
            # Regular GPU pools grow before Spot ones: the models' replicas.min stay off Spot (serving.all_spot: Spot first).
            on_demand_first=not settings.serving.all_spot,
            config_path="pulumi-llm:azure.cluster",
        ),
        opts=on_azure,
    )
    models: list[ServedModel] = []
    for model in serving.served_models(settings):
        copy = model.copy
        if copy is not None:
            copy = dataclasses.replace(copy, token_secret=HF_TOKEN_SECRET)
        models.append(dataclasses.replace(model, copy=copy))
    layer = ModelServing(
        child(name, "serving"),
        model_serving_args(
            settings,
            labels.with_method("cluster"),
            namespace=NAMESPACE,
            models=models,
            placement=aks.gpu_placement,
            prometheus_url=aks.prometheus_url,
            ingress=IngressOptions(class_name=aks.ingress_class or "nginx"),
            # No credential_endpoints: AKS workload identity exchanges a projected token with Entra
            # over HTTPS (443), which the servers' object-store egress already lets out.
        ),
        opts=ctx.opts([aks.provider], depends_on=list(aks.addons)),
    )
    # ingress-nginx routes /<model>/v1/… on its internal address to each model's server.
    for served, address in layer.ingress_addresses.items():
        self_hosted[served] = address.apply(lambda a, s=served: f"http://{a or 'pending'}/{s}/v1")
    return {"cluster_name": aks.cluster_name, "namespace": layer.namespace}, layer.namespace


def _gateway(
    name: str,
    settings: Settings,
    labels: CommonLabels,
    rg: pulumi.Output[str],
    network: AzureNetwork,
    vault: AzureKeyVault,
    on_azure: pulumi.ResourceOptions,
    self_hosted: dict[str, pulumi.Output[str]],
) -> dict[str, pulumi.Input[str]]:
    from ..gateway import config as engine
    from ..gateway.azure import ApimConsumer, AzureGateway, AzureGatewayArgs, AzureOpenAIBackend, termination_grace_seconds
    from ..gateway.engine import MASTER_KEY_ENV, decide_drain_seconds, encode_front_config, front_config
    from ..gateway.fallback_alarms import decide_fallback_alarms
    from ..gateway.front_contract import IDENTITY_EDGE
    from ..gateway.sizing import stack_gateway_sizing

    cfg = settings.azure
    gw = cfg.gateway
    # The settings require both with the gateway (settings.azure: publisher_email).
    assert settings.gateway is not None and gw.publisher_email is not None
    timeouts = settings.gateway.timeouts
    spec, urls = gateway_spec(settings, self_hosted)
    secrets = settings.gateway.secret_names()
    # Replicas and the concurrent requests per replica the http rule scales on, from the measured engine cost.
    sizing = stack_gateway_sizing(settings)
    assert sizing is not None  # a gateway on azure
    gateway = AzureGateway(
        child(name, "gateway"),
        AzureGatewayArgs(
            labels=labels.with_method("gateway"),
            location=location(settings),
            resource_group_name=rg,
            publisher_email=gw.publisher_email,
            tier=gw.apim_sku,
            capacity=gw.capacity,
            network="vnet-outbound",
            apim_subnet_id=network.subnet_ids["apim"],
            engine_subnet_id=network.subnet_ids["engine"],
            vnet_id=network.vnet_id,
            key_vault_id=vault.vault_id,
            key_vault_uri=vault.vault_uri,
            azure_openai=[
                AzureOpenAIBackend(
                    name=backend_name,
                    endpoint=b.endpoint,
                    resource_id=b.resource_id,
                    priority=b.priority,
                    weight=b.weight,
                    fallback=b.fallback,
                )
                for backend_name, b in sorted(gw.azure_openai.items())
            ],
            engine_config_yaml=engine.to_yaml(engine.render_litellm_config(spec, where="pulumi-llm:gateway")),
            # APIM authenticates the consumer and names it; the front applies its grant (identity mode edge).
            front_config_b64=encode_front_config(
                front_config(
                    spec,
                    identity=IDENTITY_EDGE,
                    stack=labels.stack,
                    # Streams finish within the replica's grace (min(engine timeout, 600 s)), not the default 25 s.
                    drain_seconds=decide_drain_seconds(termination_grace_seconds(timeouts.engine_seconds)),
                    where="pulumi-llm:gateway",
                ),
                where="pulumi-llm:gateway",
            ),
            fallback_alarms=list(decide_fallback_alarms(spec, where="pulumi-llm:gateway")),
            # Key Vault secret names: the provider's, or the one gateway.secrets gives it.
            provider_secrets={
                env: secrets.get(provider, provider) for env, provider in engine.secret_envs(spec).items() if env != MASTER_KEY_ENV
            },
            # The component sets LITELLM_MODE itself; the self-hosted URLs are Outputs known at deploy time.
            environment={**{k: v for k, v in engine.ENGINE_ENVIRONMENT.items() if k != "LITELLM_MODE"}, **urls},
            engine_min_replicas=sizing.instances_min,
            engine_max_replicas=sizing.instances_max,
            engine_concurrency=sizing.scale_target,
            # llm-token-limit per subscription: the consumer's own tokens per minute/day, else the stack-wide rate.
            consumers=[
                ApimConsumer(
                    name=n,
                    tokens_per_minute=c.tokens_per_minute or gw.tokens_per_minute,
                    token_quota=c.tokens_per_day,
                    token_quota_period="Daily" if c.tokens_per_day is not None else None,
                    requests_per_day=c.requests_per_day,
                    rate_limit_rps=c.rate_limit_rps,
                    burst=c.burst,
                    # /openai skips the front: there a consumer's granted groups, by name, are its deployments.
                    openai_deployments=list(c.models) if gw.azure_openai else [],
                    max_tokens=c.max_tokens if gw.azure_openai else None,
                )
                for n, c in sorted(settings.gateway.consumers.items())
            ],
            client_timeout_seconds=timeouts.client_seconds,
            forward_timeout_seconds=timeouts.edge_seconds,
            engine_timeout_seconds=timeouts.engine_seconds,
            alert_emails=list(cfg.alert_emails),
            action_group_id=cfg.action_group_id,
            config_path="pulumi-llm:gateway",
        ),
        opts=on_azure,
    )
    return {"gateway_url": gateway.gateway_url}
