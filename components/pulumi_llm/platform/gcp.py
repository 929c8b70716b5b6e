"""The GCP target of LlmPlatform: model store, network, GPU VMs or GKE, and the gateway on Cloud Run (the
contract: context.py).

Imported only by a GCP stack (docs/ARCHITECTURE.md, convention 5).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import pulumi
import pulumi_gcp as gcp

from .. import serving
from ..component_args import gateway_spec, model_serving_args
from .context import Foundation, Outputs, PlatformContext, SelfHosted

if TYPE_CHECKING:
    from ..cluster.gke import GkeCluster
    from ..kubernetes.model_serving import ServedModel
    from ..kubernetes.router_render import RouterOptions
    from ..runtimes.spec import ContainerSpec
    from ..security.gcp import GcpHubTokenSecret
    from ..settings import Settings

NAMESPACE = "llm"
"""The GKE namespace the models are served in."""


def foundation(ctx: PlatformContext, built: Mapping[str, Foundation]) -> Foundation:
    """The provider, the model store (with models), for self-hosting the network, and the stack's alert channel
    (`Foundation.monitoring`: the ids of its e-mail notification channels, which every alert policy notifies)."""
    from ..monitoring.gcp import alert_channels
    from ..settings.gcp import ALERTING
    from ..storage.gcp import GcpModelStore, GcpModelStoreArgs

    settings, labels = ctx.settings, ctx.labels
    cfg = settings.gcp
    assert cfg is not None
    region = settings.region or ""
    provider = gcp.Provider(ctx.child("gcp"), project=cfg.project, region=region, opts=ctx.opts())
    on_gcp = ctx.opts([provider])
    store = None
    # "key_grants": service agent → its grant on the store's key, made once on first need (_key_grant).
    extra: dict[str, Any] = {"key_grants": {}}
    outputs: dict[str, pulumi.Input[str]] = {}
    if settings.models:
        # A name known at plan time: workload identity grants name the bucket.
        extra["bucket"] = f"{cfg.project}-{labels.stack}-models"
        store = GcpModelStore(
            ctx.child("models"),
            GcpModelStoreArgs(labels=labels, region=region, bucket_name=extra["bucket"]),
            opts=on_gcp,
        )
        outputs["model_bucket"] = store.bucket_name
    network = _network(ctx, on_gcp) if ctx.methods & {"gpu-vm", "cluster"} else None
    # Once per stack, as AWS's alarm topic and Azure's action group: the gateway's and the GPU VMs' alert policies
    # all notify these channels (a stack with neither makes no alert policy, and settings refuse its addresses).
    channels = (
        alert_channels(ctx.child("alerts"), project=cfg.project, labels=labels, emails=cfg.alert_emails, opts=on_gcp)
        if ctx.methods & set(ALERTING)
        else ()
    )
    return Foundation(
        providers=(provider,),
        network=network,
        store=store,
        monitoring=channels,
        extra=extra,
        model_bucket=store.bucket_name if store is not None else None,
        outputs=outputs,
    )


def _vm_server(settings: Settings, served: str) -> tuple[RouterOptions | None, ContainerSpec]:
    """A GPU-VM group's router (`serving.router`, its prefix tree sized from one server's KV cache as on Kubernetes)
    and its server, from the same fit: behind a cache_aware router, vLLM gets --enable-scale-out (serving.container)."""
    from ..gpu_vm import router_vm

    sized = serving.size(settings, served)
    router = router_vm.router_options(settings, sized.kv_tokens)
    return router, serving.vm_container(settings, served, sized, router_policy=router.policy if router is not None else None)


def _server_ports(ctx: PlatformContext) -> tuple[int, ...]:
    """The ports GcpNetwork's rules open to the load balancers' proxies and health checkers: each GPU-VM group's
    load-balancer port (its routers', else its servers'), plus the network's default when GKE shares the VPC (its
    gateway rule) or there is no GPU VM."""
    from ..gpu_vm.gcp import load_balancer_port
    from ..network.gcp import GcpNetworkArgs

    default: tuple[int, ...] = GcpNetworkArgs.model_fields["server_ports"].default
    if "gpu-vm" not in ctx.methods:
        return default
    ports = {load_balancer_port(spec, router) for router, spec in (_vm_server(ctx.settings, s) for s in ctx.settings.models)}
    if "cluster" in ctx.methods or not ports:
        ports |= set(default)
    return tuple(sorted(ports))


def _network(ctx: PlatformContext, on_gcp: pulumi.ResourceOptions):
    from ..network.gcp import GcpNetwork, GcpNetworkArgs

    settings, methods = ctx.settings, ctx.methods
    cfg = settings.gcp
    assert cfg is not None
    hybrid = "gateway" in methods and settings.routes_self_hosted()
    # Hybrid routing: the gateway's Cloud Run egress subnet, and (GKE, whose passthrough load
    # balancers keep the client address) a firewall rule admitting only it to the GPU nodes.
    egress_cidr: str | None = None
    target_tags: tuple[str, ...] = ()
    if hybrid:
        from ..cluster.gke_render import GPU_NODE_TAG, SYSTEM_NODE_TAG

        egress_cidr = cfg.gateway.subnet_cidr
        if "cluster" in methods:
            # GPU nodes run the servers; Standard's system nodes the routers (Autopilot tags every node GPU_NODE_TAG).
            target_tags = (GPU_NODE_TAG, SYSTEM_NODE_TAG)
    return GcpNetwork(
        ctx.child("network"),
        GcpNetworkArgs(
            labels=ctx.labels,
            region=settings.region or "",
            subnet_cidr=cfg.network.subnet_cidr,
            gateway_egress_cidr=egress_cidr,
            gateway_target_tags=target_tags,
            server_ports=_server_ports(ctx),
        ),
        opts=on_gcp,
    )


def self_hosted(ctx: PlatformContext, foundation: Foundation) -> SelfHosted:
    """The GPU VMs (one managed group behind an internal ALB per model) and/or GKE."""
    result = SelfHosted()
    if "gpu-vm" in ctx.methods:
        result = _gpu_vms(ctx, foundation)
    if "cluster" in ctx.methods:
        result = _gke(ctx, foundation, result)
    return result


def _gpu_vms(ctx: PlatformContext, foundation: Foundation) -> SelfHosted:
    from ..gpu_vm.gcp import GcpGpuVm, GcpGpuVmArgs

    settings, store, network = ctx.settings, foundation.store, foundation.network
    cfg = settings.gcp
    assert cfg is not None and store is not None and network is not None
    outputs: dict[str, pulumi.Input[str]] = {}
    urls: dict[str, pulumi.Output[str]] = {}
    for served in sorted(settings.models):
        router, container = _vm_server(settings, served)
        bounds = serving.replicas(settings, served)
        _, key = serving.store_key(settings, served)
        vm = GcpGpuVm(
            ctx.child(f"vm-{served}"),
            GcpGpuVmArgs(
                labels=ctx.labels,
                container=container,
                region=settings.region or "",
                machine_type=serving.instance_type(settings, served).name,
                network_id=network.network_id,
                subnet_id=network.subnet_id,
                proxy_subnet_id=network.proxy_subnet_id,
                network_tags=[network.server_tag],
                model_bucket=store.bucket_name,
                model_prefix=key,
                weights_revision=settings.models[served].revision or "",
                kms_key_id=store.key_id,
                min_size=max(1, bounds.min),
                max_size=bounds.max,
                spot=cfg.gpu_vm.spot,
                notification_channels=list(foundation.monitoring),
                router=router,
                config_path=f"pulumi-llm:models.{served}",
            ),
            opts=ctx.opts(foundation.providers),
        )
        outputs[f"url_{served}"] = vm.url
        # The internal Application Load Balancer's address, reached through the gateway's VPC egress.
        urls[served] = vm.url.apply(lambda u: f"{u}/v1")
    return SelfHosted(urls=urls, outputs=outputs)


def _router_widgets(ctx: PlatformContext) -> tuple[dict[str, Any], ...]:
    """The stack dashboard's charts of the vLLM routers on the GPU VMs (none without gpu-vm or a routed model); each
    model's `deployment` label as its GcpGpuVm (named as in `_gpu_vms`) has its Ops Agent write it."""
    from ..gpu_vm import router_vm

    settings = ctx.settings
    if "gpu-vm" not in ctx.methods or router_vm.router_options(settings) is None:
        return ()
    from ..gpu_vm import gcp_boot
    from ..gpu_vm.gcp import deployment_label
    from ..kubernetes.router import ROUTED_RUNTIMES

    routed = {
        served: deployment_label(ctx.labels.stack, ctx.child(f"vm-{served}"))
        for served, model in settings.models.items()
        if model.runtime in ROUTED_RUNTIMES
    }
    return gcp_boot.router_widgets(routed) if routed else ()


def _gke(ctx: PlatformContext, foundation: Foundation, so_far: SelfHosted) -> SelfHosted:
    from ..kubernetes import credential_endpoints
    from ..kubernetes import router_render as rr
    from ..kubernetes.inference_gateway_render import decide_inference_gateway
    from ..kubernetes.model_serving import ModelServing
    from ..kubernetes.router import decide_router, router_http_port

    settings, network, store = ctx.settings, foundation.network, foundation.store
    cfg = settings.gcp
    assert cfg is not None
    gke = _gke_cluster(ctx, foundation)
    models: list[ServedModel] = []
    waits: list[pulumi.Resource] = []
    hub_token = None
    for model in serving.served_models(settings):
        served = model.container.served_name
        identity = gke.workload_identity(NAMESPACE, served, bucket_roles={foundation.extra["bucket"]: ["roles/storage.objectViewer"]})
        waits += identity.parts
        env = {serving.MODEL_BUCKET_ENV: store.bucket_name}
        model = dataclasses.replace(model, env=env, service_account_annotations=identity.annotations)
        if model.copy is not None:
            hub_token = hub_token or _hub_token(ctx, foundation)
            model = _gke_copy(gke, model, hub_token, cfg.project, foundation.extra["bucket"])
        models.append(model)
    # vLLM models behind the Gateway API Inference Extension (gcp.cluster.router), the others as before.
    pooled = {m.container.served_name: m for m in models if decide_inference_gateway(cfg.cluster.router, m.container.runtime)}
    layer = ModelServing(
        ctx.child("serving"),
        model_serving_args(
            settings,
            ctx.labels.with_method("cluster"),
            namespace=NAMESPACE,
            models=models,
            placement=gke.gpu_placement,
            prometheus_url=gke.prometheus_url,
            # Managed Service for Prometheus: PodMonitoring and Rules, scraped from gmp-system, and KEDA
            # signs its queries as its Google service account.
            **(
                {"metrics_api": "gmp", "monitoring_namespace": "gmp-system", "trigger_authentication": gke.keda_authentication}
                if cfg.cluster.prometheus == "managed"
                else {}
            ),
            server_depends_on=waits,
            # The servers' Workload Identity credentials come from the node's GKE metadata server.
            credential_endpoints=credential_endpoints.GKE_METADATA_SERVER,
            # The gateway's Cloud Run instances, through the internal passthrough load balancers below (and, with the
            # inference extension, the Gateway's proxies, health checkers and endpoint pickers).
            extra_clients=(
                *(
                    ({"ipBlock": {"cidr": network.gateway_egress_cidr}},)
                    if network.gateway_egress_cidr and len(pooled) < len(models)
                    else ()
                ),
                *(_pool_clients(network) if pooled else ()),
            ),
        ),
        opts=ctx.opts([gke.provider], depends_on=list(gke.addons)),
    )
    urls = dict(so_far.urls)
    if pooled:
        urls.update(_inference_gateway(ctx, foundation, gke, layer, pooled))
    if network.gateway_egress_cidr:
        for model in models:
            spec = model.container
            if spec.served_name in pooled:
                continue
            # The gateway calls the model's router when it has one (kubernetes/router.py), else its servers.
            routed = decide_router(serving.router_options(settings), spec) is not None
            url = gke.internal_endpoint(
                NAMESPACE,
                spec.served_name,
                router_http_port() if routed else spec.port(spec.http_port).container_port,
                [network.gateway_egress_cidr],
                depends_on=[layer],
                selector=rr.selector_labels(spec.served_name) if routed else None,
            )
            urls[spec.served_name] = url.apply(lambda u: f"{u}/v1")
    return dataclasses.replace(
        so_far,
        urls=urls,
        namespace=layer.namespace,
        outputs={**so_far.outputs, "cluster_name": gke.cluster_name, "namespace": layer.namespace},
    )


def _pool_clients(network: Any) -> list[dict[str, Any]]:
    from ..kubernetes.inference_gateway_render import model_clients

    return model_clients(network.proxy_only_cidr)


def _inference_gateway(
    ctx: PlatformContext, foundation: Foundation, gke: GkeCluster, layer: pulumi.Resource, pooled: dict[str, ServedModel]
) -> dict[str, pulumi.Output[str]]:
    """The Gateway API Inference Extension in front of the pooled models: a reserved internal address in the nodes'
    subnet, which the Gateway takes, and per model its pool, endpoint picker and route; the gateway's URL of a
    model is `http://<address>/<model>/v1`."""
    from ..cluster.gke_render import GPU_NODE_TAG, SYSTEM_NODE_TAG
    from ..kubernetes import render
    from ..kubernetes.inference_gateway import InferenceGateway, InferenceGatewayArgs, PooledModel
    from ..kubernetes.inference_gateway_render import EPP_PORTS
    from ..labels import gcp_labels, kubernetes_labels
    from ..naming import dns_label
    from ..verify.facts.gcp import GOOGLE_HEALTH_CHECK_RANGES

    settings, network = ctx.settings, foundation.network
    pooled_models = [
        PooledModel(
            served_name=served, selector=render.selector_labels(served), port=m.container.port(m.container.http_port).container_port
        )
        for served, m in sorted(pooled.items())
    ]
    # Looked up by name (the Gateway's NamedAddress), so named explicitly: stack and component keep it unique.
    address_name = dns_label(f"{ctx.labels.stack}-{ctx.name}-inference")
    address = gcp.compute.Address(
        ctx.child("inference-gateway-address"),
        name=address_name,
        region=settings.region,
        subnetwork=network.subnet_id,
        address_type="INTERNAL",
        description="The GKE inference Gateway's regional internal Application Load Balancer",
        labels=gcp_labels(ctx.labels.with_method("cluster")),
        opts=ctx.opts(foundation.providers),
    )
    # The load balancer's proxies (and Google's health checkers) to the model pods on the GPU nodes and to the
    # endpoint pickers on the system nodes (Autopilot tags every node GPU_NODE_TAG); no other source, no other port.
    gcp.compute.Firewall(
        ctx.child("inference-gateway-backends"),
        description="The GKE inference Gateway's proxies and health checks to the model servers and endpoint pickers",
        network=network.network_id,
        direction="INGRESS",
        priority=1000,
        source_ranges=[network.proxy_only_cidr, *GOOGLE_HEALTH_CHECK_RANGES],
        target_tags=[GPU_NODE_TAG, SYSTEM_NODE_TAG],
        allows=[{"protocol": "tcp", "ports": sorted({str(m.port) for m in pooled_models} | {str(p) for p in EPP_PORTS})}],
        log_config={"metadata": "INCLUDE_ALL_METADATA"},
        opts=ctx.opts(foundation.providers),
    )
    gateway = InferenceGateway(
        ctx.child("inference-gateway"),
        InferenceGatewayArgs(
            namespace=NAMESPACE,
            labels=kubernetes_labels(ctx.labels.with_method("cluster"), component="inference-gateway"),
            models=pooled_models,
            address_name=address_name,
            address=address.address,
            proxy_only_cidr=network.proxy_only_cidr,
            backend_timeout_seconds=serving.longest_stream_seconds(settings),
        ),
        opts=ctx.opts([gke.provider], depends_on=[layer]),
    )
    return dict(gateway.urls)


def _key_grant(ctx: PlatformContext, foundation: Foundation, agent: str) -> pulumi.Resource:
    """The grant letting `agent`'s service agent use the model store's key, made on first need and shared: the hub
    token's secret and the gateway's secrets both need Secret Manager's, and two resources managing one IAM member
    would each remove it for both when destroyed (verify: identity.gcp-one-grant)."""
    from ..security.gcp import secret_manager_key_grant

    assert agent == "secretmanager", agent  # the only agent two components share a key grant for
    made: dict[str, pulumi.Resource] = foundation.extra["key_grants"]
    if agent not in made:
        settings = ctx.settings
        assert settings.gcp is not None
        # Stacks before this grant moved here had it as the gateway's child: aliased, so the move changes nothing.
        gateway = ctx.child("gateway")
        was = (gateway, pulumi.create_urn(gateway, "pulumi-llm:index:GcpGateway", parent=ctx.parent)) if "gateway" in ctx.methods else None
        made[agent] = secret_manager_key_grant(
            ctx.child("store"),
            project=settings.gcp.project,
            kms_key=foundation.store.key_id,
            parent=ctx.parent,
            provider=foundation.providers[0],
            moved_from=was,
        )
    return made[agent]


def _hub_token(ctx: PlatformContext, foundation: Foundation) -> GcpHubTokenSecret:
    """The Secret Manager secret the GKE copy Jobs read the Hugging Face token from (once per stack)."""
    from ..labels import gcp_labels
    from ..security.gcp import GcpHubTokenSecret as HubToken

    settings = ctx.settings
    assert settings.gcp is not None
    return HubToken(
        ctx.child("hub-token"),
        project=settings.gcp.project,
        region=settings.region or "",
        stack=ctx.labels.stack,
        kms_key=foundation.store.key_id,
        key_grant=_key_grant(ctx, foundation, "secretmanager"),
        labels=gcp_labels(ctx.labels),
        deletion_protection=settings.environment == "prod",
        opts=ctx.opts(foundation.providers),
    )


def _gke_copy(gke: GkeCluster, model: ServedModel, hub_token: GcpHubTokenSecret, project: str, bucket: str) -> ServedModel:
    """`model` with its hub copy Job running as its own Workload Identity: it writes the stack's bucket with
    `gcloud storage rsync` and reads the token secret (only that one) with `gcloud secrets` — kubernetes/model_copy.py."""
    served = model.container.served_name
    assert model.copy is not None
    # Object User: create, overwrite and list objects of the bucket (rsync lists the destination), no bucket admin.
    writer = gke.workload_identity(NAMESPACE, f"copy-{served}", bucket_roles={bucket: ["roles/storage.objectUser"]})
    accessor = hub_token.grant(f"copy-{served}", writer.email.apply(lambda e: f"serviceAccount:{e}"))
    copy = dataclasses.replace(model.copy, token_secret=hub_token.secret_id, token_project=project)
    return dataclasses.replace(
        model, copy=copy, copy_depends_on=(*writer.parts, accessor), copy_service_account_annotations=writer.annotations
    )


def _gke_cluster(ctx: PlatformContext, foundation: Foundation) -> GkeCluster:
    from ..cluster.gke import GkeCluster, GkeClusterArgs, GpuPool, NodeRange

    settings, network = ctx.settings, foundation.network
    cfg = settings.gcp
    assert cfg is not None
    pool = cfg.cluster.gpu_pool
    machine = serving.instance_type(settings, sorted(settings.models)[0])
    return GkeCluster(
        ctx.child("gke"),
        GkeClusterArgs(
            labels=ctx.labels.with_method("cluster"),
            project=cfg.project,
            region=settings.region or "",
            network=network.network_id,
            subnetwork=network.subnet_id,
            pods_range_name=network.pods_range_name,
            services_range_name=network.services_range_name,
            kms_key=foundation.store.key_id,
            mode=cfg.cluster.mode,
            deletion_protection=settings.environment == "prod",
            gpu_pools={
                "gpu": GpuPool(
                    machine_type=machine.name,
                    spot=NodeRange(min=0, max=pool.spot_max_nodes) if pool.spot_max_nodes else None,
                    on_demand=NodeRange(min=0, max=pool.on_demand_max_nodes) if pool.on_demand_max_nodes else None,
                )
            },
            prometheus=cfg.cluster.prometheus,
            # On-demand pool first in the ComputeClass: the models' replicas.min stay off spot (serving.all_spot: spot first).
            on_demand_first=not settings.serving.all_spot,
            gateway_api=cfg.cluster.router == "gateway-inference-extension",
        ),
        opts=ctx.opts(foundation.providers),
    )


def gateway(ctx: PlatformContext, foundation: Foundation, self_hosted: SelfHosted) -> Outputs:
    """LiteLLM on Cloud Run, routing to the self-hosted models first when the stack serves them."""
    if "gateway" not in ctx.methods:
        return {}
    from ..gateway import config as engine
    from ..gateway.engine import front_config
    from ..gateway.fallback_alarms import decide_fallback_alarms
    from ..gateway.front_contract import IDENTITY_KEYS
    from ..gateway.gcp import DRAIN_SECONDS, GcpGateway, GcpGatewayArgs, VpcEgress, consumer_key_files
    from ..gateway.sizing import stack_gateway_sizing

    settings, store, network = ctx.settings, foundation.store, foundation.network
    cfg, timeouts = settings.gcp, settings.gateway.timeouts if settings.gateway else None
    assert cfg is not None and timeouts is not None
    spec, urls = gateway_spec(settings, dict(self_hosted.urls))
    # Instances and the maximum concurrency Cloud Run scales on, from the measured engine cost (gateway/sizing.py).
    sizing = stack_gateway_sizing(settings)
    assert sizing is not None  # a gateway on gcp
    gateway = GcpGateway(
        ctx.child("gateway"),
        GcpGatewayArgs(
            labels=ctx.labels.with_method("gateway"),
            project=cfg.project,
            region=settings.region or "",
            # The model store's key when the stack has one; a gateway-only stack has no store, and the gateway
            # then makes its own key (GcpGateway._own_key) rather than the foundation making a stack key for
            # both: the store keeps owning its key ring and key, so the URNs of stacks with models stay as
            # they are. Adding models later moves the gateway to the store's key, which replaces its
            # secrets (their replication is immutable): put their values again.
            kms_key=store.key_id if store is not None else None,
            # Secret Manager's agent on the store's key is the stack's one grant (the hub token's secret needs it too).
            key_grants={"secretmanager": _key_grant(ctx, foundation, "secretmanager")} if store is not None else {},
            engine_config_yaml=engine.to_yaml(engine.render_litellm_config(spec, where="pulumi-llm:gateway")),
            front_config=front_config(
                spec,
                identity=IDENTITY_KEYS,
                stack=ctx.labels.stack,
                consumer_key_files=consumer_key_files([c.name for c in spec.consumers]),
                # Cloud Run kills an instance 10 s after SIGTERM: open requests get 8 of them.
                drain_seconds=DRAIN_SECONDS,
                where="pulumi-llm:gateway",
            ),
            fallback_alarms=decide_fallback_alarms(spec, where="pulumi-llm:gateway"),
            provider_secrets=engine.secret_envs(spec),
            environment={**engine.ENGINE_ENVIRONMENT, **urls},
            vpc_egress=VpcEgress(network=network.network_id, subnetwork=network.gateway_subnet_id)
            if network is not None and network.gateway_subnet_id is not None
            else None,
            domains=tuple(cfg.gateway.domains),
            notification_channels=tuple(foundation.monitoring),
            dashboard_widgets=_router_widgets(ctx),
            client_timeout_seconds=timeouts.client_seconds,
            request_timeout_seconds=timeouts.edge_seconds,
            engine_timeout_seconds=timeouts.engine_seconds,
            min_instances=sizing.instances_min,
            max_instances=sizing.instances_max,
            concurrency=sizing.scale_target,
            config_path="pulumi-llm:gateway",
        ),
        opts=ctx.opts(foundation.providers),
    )
    return {"gateway_url": gateway.url}
