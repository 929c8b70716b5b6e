"""LlmPlatform: the component that composes the methods a stack enables.

Per-cloud code is imported inside the branch that needs it, so an on-prem stack never imports a
cloud SDK and an AWS stack never imports pulumi_gcp or pulumi_azure_native (docs/ARCHITECTURE.md, convention 5).
Every provider is created here, explicitly, and handed down through `opts`; stacks set
`pulumi:disable-default-providers: ["*"]`, so a child that misses its provider fails the plan.
"""

from __future__ import annotations

import dataclasses

import pulumi
from pydantic import BaseModel, ConfigDict, Field

from ..component_args import aws_gateway_args, aws_gpu_vm_args, gateway_self_hosted, gateway_spec, model_serving_args, onprem_cluster_args
from ..labels import CommonLabels
from ..naming import child
from ..settings import Settings


class LlmPlatformArgs(BaseModel):
    """What the platform needs: the validated settings and the stack it runs in."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    settings: Settings = Field(description="The validated stack settings.")
    stack: str = Field(description="The Pulumi stack name, for labels and globally unique names.")


class LlmPlatform(pulumi.ComponentResource):
    """Everything one stack deploys."""

    model_bucket: pulumi.Output[str] | None
    namespace: pulumi.Output[str] | None
    edge_images: dict[str, tuple[pulumi.Output[str], pulumi.Output[str]]]
    """Edge stacks: fleet (cpu/cuda/jetson) → (image index ref by digest, its sha256 digest)."""

    def __init__(self, name: str, args: LlmPlatformArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("pulumi-llm:index:LlmPlatform", name, None, opts)
        settings = args.settings
        labels = CommonLabels(stack=args.stack, environment=settings.environment, extra=dict(settings.tags))
        self.model_bucket = None
        self.namespace = None
        self.edge_images = {}
        outputs: dict[str, pulumi.Input[str]] = {}

        if settings.cloud == "aws":
            outputs.update(self._aws(name, settings, labels))
        if settings.cloud == "gcp":
            outputs.update(self._gcp(name, settings, labels))
        if settings.cloud == "azure":
            from . import azure

            outputs.update(azure.build(self, name, settings, labels))
        if "edge" in settings.methods:
            outputs.update(self._edge(name, settings, labels))

        if "onprem" in settings.methods and settings.onprem is not None:
            import pulumi_kubernetes as k8s

            from ..onprem import OnPremCluster

            onprem = settings.onprem
            provider = k8s.Provider(
                child(name, "onprem-k8s"),
                context=onprem.kube_context,
                kubeconfig=onprem.kubeconfig,
                # Server-side apply: field ownership is tracked by the API server, as kubectl does.
                enable_server_side_apply=True,
                opts=pulumi.ResourceOptions(parent=self),
            )
            cluster = OnPremCluster(
                child(name, "onprem"),
                onprem_cluster_args(settings, labels),
                opts=pulumi.ResourceOptions(parent=self, providers=[provider]),
            )
            self.namespace = cluster.namespace
            outputs["namespace"] = cluster.namespace

        self.register_outputs(outputs)

    def _aws(self, name: str, settings: Settings, labels: CommonLabels) -> dict[str, pulumi.Input[str]]:
        """The AWS methods: model store, and for self-hosting the key, network, alarms and servers."""
        import pulumi_aws as aws

        from ..storage.aws import ModelStore, ModelStoreArgs

        outputs: dict[str, pulumi.Input[str]] = {}
        provider = aws.Provider(child(name, "aws"), region=settings.region, opts=pulumi.ResourceOptions(parent=self))
        self._aws_providers = [provider]
        on_aws = pulumi.ResourceOptions(parent=self, providers=[provider])
        store = None
        # Only the self-hosting methods read weights from the store; edge nodes load theirs from each
        # node's cache (node://), so an edge-only stack would carry an unused key and bucket.
        if settings.models and set(settings.methods) & {"gpu-vm", "cluster"}:
            store = ModelStore(
                child(name, "models"),
                ModelStoreArgs(labels=labels, alias=f"alias/pulumi-llm/{labels.stack}/models"),
                opts=on_aws,
            )
            self.model_bucket = store.bucket_name
            outputs["model_bucket"] = store.bucket_name
        methods = set(settings.methods)
        if not methods & {"gpu-vm", "cluster"}:
            return outputs
        assert store is not None  # self-hosting methods require models (settings)

        from ..monitoring.aws import AwsMonitoring, AwsMonitoringArgs
        from ..network.aws import AwsNetwork, AwsNetworkArgs
        from ..security.aws import StackKey, StackKeyArgs

        region = settings.region or ""
        cfg = settings.aws
        key = StackKey(child(name, "key"), StackKeyArgs(labels=labels, region=region), opts=on_aws)
        network = AwsNetwork(
            child(name, "network"),
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
            child(name, "alarms"),
            AwsMonitoringArgs(labels=labels, region=region, key_arn=key.arn, alarm_email=cfg.alarm_email),
            opts=on_aws,
        )
        outputs["alarm_topic"] = monitoring.topic_arn
        self._self_hosted_urls: dict[str, pulumi.Output[str]] = {}
        # The served models' load balancers as the gateway reaches them: a name → (their security group,
        # the port of the URLs), one entry per group.
        self._self_hosted_endpoints: dict[str, tuple[pulumi.Output[str], int]] = {}
        # vLLM has no key of its own: with a gateway in front, the GPU VMs' servers require one that only the
        # gateway's tasks and the servers can read (EKS servers don't yet: nothing syncs it into the cluster).
        self._self_hosted_key = None
        self._self_hosted_key_readers: list[pulumi.Output[str]] = []
        if "gpu-vm" in methods and gateway_self_hosted(settings):
            self._self_hosted_key = self._aws_self_hosted_key(name, labels, key, on_aws)
        if "gpu-vm" in methods:
            outputs.update(self._aws_gpu_vms(name, settings, labels, network, key, store, monitoring, on_aws))
        if "cluster" in methods:
            outputs.update(self._aws_cluster(name, settings, labels, network, key, store, on_aws))
        if "gateway" in methods:
            outputs.update(self._aws_gateway(name, settings, labels, network, key, monitoring, on_aws))
        return outputs

    def _gcp(self, name: str, settings: Settings, labels: CommonLabels) -> dict[str, pulumi.Input[str]]:
        """The GCP methods: model store, network, GPU VMs or GKE, and the gateway on Cloud Run."""
        import pulumi_gcp as gcp

        from .. import serving
        from ..storage.gcp import GcpModelStore, GcpModelStoreArgs

        cfg = settings.gcp
        assert cfg is not None
        region = settings.region or ""
        provider = gcp.Provider(child(name, "gcp"), project=cfg.project, region=region, opts=pulumi.ResourceOptions(parent=self))
        on_gcp = pulumi.ResourceOptions(parent=self, providers=[provider])
        outputs: dict[str, pulumi.Input[str]] = {}
        methods = set(settings.methods)
        store = None
        if settings.models:
            # A name known at plan time: workload identity grants name the bucket.
            self._gcp_bucket = f"{cfg.project}-{labels.stack}-models"
            store = GcpModelStore(
                child(name, "models"),
                GcpModelStoreArgs(labels=labels, region=region, bucket_name=self._gcp_bucket),
                opts=on_gcp,
            )
            self.model_bucket = store.bucket_name
            outputs["model_bucket"] = store.bucket_name
        network = None
        if methods & {"gpu-vm", "cluster"}:
            from ..network.gcp import GcpNetwork, GcpNetworkArgs

            hybrid = "gateway" in methods and settings.routes_self_hosted()
            # Hybrid routing: the gateway's Cloud Run egress subnet, and (GKE, whose passthrough load
            # balancers keep the client address) a firewall rule admitting only it to the GPU nodes.
            gateway_net: dict = {}
            if hybrid:
                from ..cluster.gke_render import GPU_NODE_TAG

                gateway_net["gateway_egress_cidr"] = cfg.gateway_subnet_cidr
                if "cluster" in methods:
                    gateway_net["gateway_target_tags"] = (GPU_NODE_TAG,)
            network = GcpNetwork(
                child(name, "network"),
                GcpNetworkArgs(labels=labels, region=region, subnet_cidr=cfg.subnet_cidr, **gateway_net),
                opts=on_gcp,
            )
        self._self_hosted_urls = {}
        if "gpu-vm" in methods:
            from ..gpu_vm.gcp import GcpGpuVm, GcpGpuVmArgs

            assert store is not None and network is not None
            for served in sorted(settings.models):
                bounds = serving.replicas(settings, served)
                _, key = serving.store_key(settings, served)
                vm = GcpGpuVm(
                    child(name, f"vm-{served}"),
                    GcpGpuVmArgs(
                        labels=labels,
                        container=serving.container(settings, served),
                        region=region,
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
                        spot=cfg.spot,
                        config_path=f"pulumi-llm:models.{served}",
                    ),
                    opts=on_gcp,
                )
                outputs[f"url_{served}"] = vm.url
                # The internal Application Load Balancer's address, reached through the gateway's VPC egress.
                self._self_hosted_urls[served] = vm.url.apply(lambda u: f"{u}/v1")
        if "cluster" in methods:
            outputs.update(self._gke(name, settings, labels, network, store, on_gcp))
        if "gateway" in methods:
            from ..gateway import config as engine
            from ..gateway.gcp import GcpGateway, GcpGatewayArgs, VpcEgress

            spec, urls = gateway_spec(settings, self._self_hosted_urls)
            gateway = GcpGateway(
                child(name, "gateway"),
                GcpGatewayArgs(
                    labels=labels.with_method("gateway"),
                    project=cfg.project,
                    region=region,
                    kms_key=store.key_id if store is not None else None,
                    engine_config_yaml=engine.to_yaml(engine.render_litellm_config(spec, where="pulumi-llm:gateway")),
                    provider_secrets=engine.secret_envs(spec),
                    environment={**engine.ENGINE_ENVIRONMENT, **urls},
                    vpc_egress=VpcEgress(network=network.network_id, subnetwork=network.gateway_subnet_id)
                    if network is not None and network.gateway_subnet_id is not None
                    else None,
                    domains=tuple(cfg.gateway_domains),
                    client_timeout_seconds=settings.gateway.timeouts.client_seconds,
                    request_timeout_seconds=settings.gateway.timeouts.edge_seconds,
                    engine_timeout_seconds=settings.gateway.timeouts.engine_seconds,
                    config_path="pulumi-llm:gateway",
                ),
                opts=on_gcp,
            )
            outputs["gateway_url"] = gateway.url
        return outputs

    def _gke(self, name, settings, labels, network, store, on_gcp) -> dict[str, pulumi.Input[str]]:
        from .. import serving
        from ..cluster.gke import GkeCluster, GkeClusterArgs, GpuPool, NodeRange
        from ..kubernetes import credential_endpoints
        from ..kubernetes.model_serving import ModelServing

        cfg = settings.gcp
        machine = serving.instance_type(settings, sorted(settings.models)[0])
        gke = GkeCluster(
            child(name, "gke"),
            GkeClusterArgs(
                labels=labels.with_method("cluster"),
                project=cfg.project,
                region=settings.region,
                network=network.network_id,
                subnetwork=network.subnet_id,
                pods_range_name=network.pods_range_name,
                services_range_name=network.services_range_name,
                kms_key=store.key_id,
                mode=cfg.gke_mode,
                deletion_protection=settings.environment == "prod",
                gpu_pools={
                    "gpu": GpuPool(
                        machine_type=machine.name,
                        spot=NodeRange(min=0, max=cfg.gpu_pool.spot_max_nodes) if cfg.gpu_pool.spot_max_nodes else None,
                        on_demand=NodeRange(min=0, max=cfg.gpu_pool.on_demand_max_nodes) if cfg.gpu_pool.on_demand_max_nodes else None,
                    )
                },
                prometheus=cfg.prometheus,
            ),
            opts=on_gcp,
        )
        namespace = "llm"
        models = []
        waits: list[pulumi.Resource] = []
        for model in serving.served_models(settings):
            served = model.container.served_name
            _, key = serving.store_key(settings, served)
            identity = gke.workload_identity(namespace, served, bucket_roles={self._gcp_bucket: ["roles/storage.objectViewer"]})
            waits += identity.parts
            env = {serving.MODEL_BUCKET_ENV: store.bucket_name}
            models.append(dataclasses.replace(model, env=env, service_account_annotations=identity.annotations))
        layer = ModelServing(
            child(name, "serving"),
            model_serving_args(
                settings,
                labels.with_method("cluster"),
                namespace=namespace,
                models=models,
                placement=gke.gpu_placement,
                prometheus_url=gke.prometheus_url,
                # Managed Service for Prometheus: PodMonitoring and Rules, scraped from gmp-system, and KEDA
                # signs its queries as its Google service account.
                **(
                    {"metrics_api": "gmp", "monitoring_namespace": "gmp-system", "trigger_authentication": gke.keda_authentication}
                    if cfg.prometheus == "managed"
                    else {}
                ),
                server_depends_on=waits,
                # The servers' Workload Identity credentials come from the node's GKE metadata server.
                credential_endpoints=credential_endpoints.GKE_METADATA_SERVER,
                # The gateway's Cloud Run instances, through the internal passthrough load balancers below.
                extra_clients=({"ipBlock": {"cidr": network.gateway_egress_cidr}},) if network.gateway_egress_cidr else (),
            ),
            opts=pulumi.ResourceOptions(parent=self, providers=[gke.provider], depends_on=list(gke.addons)),
        )
        self.namespace = layer.namespace
        if network.gateway_egress_cidr:
            for model in models:
                spec = model.container
                url = gke.internal_endpoint(
                    namespace,
                    spec.served_name,
                    spec.port(spec.http_port).container_port,
                    [network.gateway_egress_cidr],
                    depends_on=[layer],
                )
                self._self_hosted_urls[spec.served_name] = url.apply(lambda u: f"{u}/v1")
        return {"cluster_name": gke.cluster_name, "namespace": layer.namespace}

    def _edge(self, name: str, settings: Settings, labels: CommonLabels) -> dict[str, pulumi.Input[str]]:
        """Edge: llama.cpp (or, with edge.runtime onnx, ONNX Runtime GenAI cpu) images in the stack's ECR (the
        main target, and a jetson image for a Jetson fleet), rolled out by digest to the labelled nodes of each fleet."""
        import pulumi_docker_build as docker_build
        import pulumi_kubernetes as k8s

        from .. import serving
        from ..edge.image import EdgeImage, EdgeImageArgs, default_build_context
        from ..edge.rollout import EdgeRollout, EdgeRolloutArgs, EdgeServer

        edge = settings.edge
        assert edge is not None
        edge_labels = labels.with_method("edge")
        builder = docker_build.Provider(child(name, "docker-build"), opts=pulumi.ResourceOptions(parent=self))
        context = default_build_context(edge.runtime)
        common = dict(
            labels=edge_labels,
            runtime=edge.runtime,
            context=context,
            repository=edge.repository,
            llama_cpp_sha256=edge.llama_cpp_sha256,
            jetson_build_image=edge.jetson_build_image,
            jetson_runtime_image=edge.jetson_runtime_image,
            registry="ecr",
        )
        on_registry = pulumi.ResourceOptions(parent=self, providers=[*self._aws_providers, builder])
        # (fleet, image child, tag, target, platforms, builders, node selector, sizing device)
        fleets = [
            (edge.target, "edge-image", edge.image_tag, edge.target, tuple(edge.platforms), dict(edge.builders), edge.node_selector, None)
        ]
        if edge.jetson is not None:
            jet = edge.jetson
            fleets.append(
                (
                    "jetson",
                    "edge-image-jetson",
                    f"{edge.image_tag}-jetson",
                    "jetson",
                    ("linux/arm64",),
                    {"linux/arm64": jet.builder} if jet.builder else {},
                    jet.node_selector,
                    jet.device,
                )
            )
        gpu_taint = ({"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},)
        servers = []
        self.edge_images = {}
        registry: dict = {}
        for fleet, image_name, tag, target, platforms, builders, selector, device in fleets:
            image = EdgeImage(
                child(name, image_name),
                EdgeImageArgs(**common, **registry, tag=tag, target=target, platforms=platforms, builders=builders),
                opts=on_registry,
            )
            # Every fleet's image goes to the first one's repository (tags tell them apart).
            registry = registry or {"repository_url": image.repository_url, "cache_repository_url": image.cache_repository_url}
            self.edge_images[fleet] = (image.ref, image.digest)
            for served in sorted(settings.models):
                servers.append(
                    EdgeServer(
                        name=served if device is None else f"{served}-{fleet}",
                        fleet=fleet,
                        container=serving.container(settings, served, serving.size(settings, served, edge_device=device)),
                        image=image.ref,
                        node_selector=selector,
                        tolerations=gpu_taint if target != "cpu" else (),
                    )
                )
        fleet_cluster = k8s.Provider(
            child(name, "edge-k8s"),
            context=edge.kube_context,
            kubeconfig=edge.kubeconfig,
            enable_server_side_apply=True,
            opts=pulumi.ResourceOptions(parent=self),
        )
        EdgeRollout(
            child(name, "edge-rollout"),
            EdgeRolloutArgs(servers=tuple(servers), namespace=edge.namespace, labels=edge_labels, host_model_dir=edge.host_model_dir),
            opts=pulumi.ResourceOptions(parent=self, providers=[fleet_cluster]),
        )
        return {f"edge_image_{fleet}": ref for fleet, (ref, _) in self.edge_images.items()}

    def _aws_gateway(self, name, settings, labels, network, key, monitoring, on_aws) -> dict[str, pulumi.Input[str]]:
        from ..gateway.aws import AwsGateway

        gateway = AwsGateway(
            child(name, "gateway"),
            aws_gateway_args(
                settings,
                labels,
                vpc_id=network.vpc_id,
                private_subnet_ids=network.private_subnet_ids,
                kms_key_arn=key.arn,
                alarm_topic_arn=monitoring.topic_arn,
                self_hosted_urls=self._self_hosted_urls,
                self_hosted_endpoints=self._self_hosted_endpoints,
                self_hosted_key_arn=self._self_hosted_key.arn if self._self_hosted_key is not None else None,
                high_availability=settings.environment == "prod",
                where="pulumi-llm:gateway",
                config_path="pulumi-llm:gateway",
            ),
            opts=on_aws,
        )
        if self._self_hosted_key is not None:
            import pulumi_aws as aws

            from ..gateway.aws import secret_resource_policy

            # Only the gateway's ECS execution role and the servers' instance roles read the key.
            aws.secretsmanager.SecretPolicy(
                child(name, "self-hosted-key-policy"),
                secret_arn=self._self_hosted_key.arn,
                policy=pulumi.Output.all(gateway.execution_role_arn, *self._self_hosted_key_readers).apply(
                    lambda arns: secret_resource_policy(*arns)
                ),
                block_public_policy=True,
                opts=on_aws,
            )
        return {"gateway_url": gateway.invoke_url}

    def _aws_self_hosted_key(self, name, labels, key, on_aws):
        """The self-hosted servers' API key: a Secrets Manager secret with no value (set out of band with
        `pulumi-llm secrets put self-hosted`, so it never passes Pulumi), encrypted with the stack key."""
        import pulumi_aws as aws

        from ..gateway import SELF_HOSTED_KEY_SECRET
        from ..gateway.aws import secret_name
        from ..labels import aws_tags

        return aws.secretsmanager.Secret(
            child(name, "self-hosted-key"),
            name=secret_name(labels.stack, SELF_HOSTED_KEY_SECRET),
            description=f"pulumi-llm {labels.stack}: API key the self-hosted model servers require and the gateway sends. "
            f"Value set with `pulumi-llm secrets put {SELF_HOSTED_KEY_SECRET} --stack {labels.stack}`.",
            kms_key_id=key.arn,
            recovery_window_in_days=30,
            tags=aws_tags(labels.with_method("gateway")),
            opts=on_aws,
        )

    def _aws_gpu_vms(self, name, settings, labels, network, key, store, monitoring, on_aws) -> dict[str, pulumi.Input[str]]:
        from ..gpu_vm.aws import AwsGpuVm

        outputs: dict[str, pulumi.Input[str]] = {}
        for served in sorted(settings.models):
            vm = AwsGpuVm(
                child(name, f"vm-{served}"),
                aws_gpu_vm_args(
                    settings,
                    labels,
                    served,
                    vpc_id=network.vpc_id,
                    private_subnet_ids=network.private_subnet_ids,
                    public_subnet_ids=network.public_subnet_ids,
                    kms_key_arn=key.arn,
                    store_bucket_arn=store.bucket_arn,
                    store_key_arn=store.key_arn,
                    alarm_topic_arn=monitoring.topic_arn,
                    config_path=f"pulumi-llm:models.{served}",
                    gateway_calls=served in gateway_self_hosted(settings),
                    api_key_secret_arn=self._self_hosted_key.arn
                    if self._self_hosted_key is not None and served in gateway_self_hosted(settings)
                    else None,
                ),
                opts=on_aws,
            )
            if self._self_hosted_key is not None and served in gateway_self_hosted(settings):
                self._self_hosted_key_readers.append(vm.role_arn)
            url = self._aws_model_url(name, settings, served, vm.alb_dns_name, vm.url, on_aws)
            outputs[f"url_{served}"] = url
            self._self_hosted_urls[served] = url.apply(lambda u: f"{u}/v1")
            # The URL's scheme picks the listener: HTTPS 443 under aws.model_tls, HTTP 80 without. (A
            # gpu_vm.certificate_arn alone doesn't serve the gateway: no certificate covers the ALB's own
            # name, and the settings refuse it with a gateway.)
            self._self_hosted_endpoints[served] = (vm.alb_security_group_id, 443 if settings.aws.model_tls else 80)
        return outputs

    def _aws_cluster(self, name, settings, labels, network, key, store, on_aws) -> dict[str, pulumi.Input[str]]:
        from .. import serving
        from ..cluster.eks import EksCluster, EksClusterArgs
        from ..kubernetes import credential_endpoints
        from ..kubernetes.model_serving import IngressOptions, ModelServing
        from ..security.aws import HubTokenSecret, HubTokenSecretArgs
        from ..storage.aws import read_policy, write_policy

        cfg = settings.aws.cluster
        gpu_types = (
            tuple(cfg.gpu_instance_families)
            if cfg.gpu_capacity == "karpenter"
            else tuple(cfg.gpu_instance_types or sorted({serving.instance_type(settings, m).name for m in settings.models}))
        )
        eks = EksCluster(
            child(name, "eks"),
            EksClusterArgs(
                labels=labels.with_method("cluster"),
                region=settings.region,
                vpc_id=network.vpc_id,
                private_subnet_ids=tuple(network.private_subnet_id_list),
                kms_key_arn=key.arn,
                **({"kubernetes_version": cfg.kubernetes_version} if cfg.kubernetes_version else {}),
                endpoint_public_access=cfg.endpoint_public,
                public_access_cidrs=tuple(cfg.public_access_cidrs),
                admin_principal_arns={f"admin-{i}": arn for i, arn in enumerate(cfg.admin_principals)},
                gpu_capacity=cfg.gpu_capacity,
                gpu_instances=gpu_types,
                capacity_types=tuple(cfg.capacity_types) if cfg.gpu_capacity == "karpenter" else ("on-demand",),
                max_gpus=cfg.max_gpus,
                prometheus=cfg.prometheus,
                deletion_protection=settings.environment == "prod",
            ),
            opts=on_aws,
        )
        namespace = "llm"
        tls = settings.aws.model_tls
        access = self._aws_model_alb_access(name, settings, labels, network, on_aws)
        models = []
        identities: list[pulumi.Resource] = []
        hub_token = None
        for model in serving.served_models(settings):
            served = model.container.served_name
            bucket, key_prefix = serving.store_key(settings, served)
            bucket_arn = store.bucket_arn if bucket is None else f"arn:aws:s3:::{bucket}"
            eks.pod_identity(namespace, served, read_policy(bucket_arn, key_prefix, store.key_arn))
            identities += eks.pod_identities[f"{namespace}/{served}"]
            env = {serving.MODEL_BUCKET_ENV: store.bucket_name} if bucket is None else {}
            copy, copy_waits = model.copy, []
            if copy is not None:
                # The copy writes one model's prefix and reads the token; values never pass Pulumi.
                hub_token = hub_token or HubTokenSecret(
                    child(name, "hub-token"),
                    HubTokenSecretArgs(labels=labels, key_arn=key.arn),
                    opts=pulumi.ResourceOptions(parent=self, providers=self._aws_providers),
                )
                copy = dataclasses.replace(copy, token_secret=hub_token.secret_name)
                eks.pod_identity(
                    namespace, f"copy-{served}", write_policy(store.bucket_arn, key_prefix, store.key_arn, hub_token.arn, key.arn)
                )
                copy_waits = eks.pod_identities[f"{namespace}/copy-{served}"]
            models.append(dataclasses.replace(model, env=env, copy=copy, copy_depends_on=tuple(copy_waits)))
        serving_layer = ModelServing(
            child(name, "serving"),
            model_serving_args(
                settings,
                labels.with_method("cluster"),
                namespace=namespace,
                models=models,
                placement=eks.gpu_placement,
                prometheus_url=eks.prometheus_url,
                ingress=IngressOptions(
                    class_name="alb",
                    style="alb",
                    # Under aws.model_tls each ALB routes <model>.<domain>, the name its certificate covers.
                    host=tls.domain if tls else None,
                    annotations={
                        "alb.ingress.kubernetes.io/scheme": cfg.ingress,
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
                    peers=tuple({"ipBlock": {"cidr": cidr}} for cidr in network.internal_lb_cidrs),
                ),
                server_depends_on=identities,
                # Servers and copy Jobs get their Pod Identity credentials from the node's agent.
                credential_endpoints=credential_endpoints.EKS_POD_IDENTITY_AGENT,
            ),
            opts=pulumi.ResourceOptions(parent=self, providers=[eks.provider], depends_on=list(eks.addons)),
        )
        self.namespace = serving_layer.namespace
        # One internal ALB per model (an ALB can't rewrite paths): the gateway calls each by its name,
        # https://<model>.<domain> under aws.model_tls, else the controller's default listener (HTTP 80).
        self._self_hosted_urls = {}
        for served, address in serving_layer.ingress_addresses.items():
            plain = address.apply(lambda a: f"http://{a or 'pending'}")
            self._self_hosted_urls[served] = self._aws_model_url(name, settings, served, address, plain, on_aws).apply(lambda u: f"{u}/v1")
        if self._model_alb_sg is not None:
            # One group fronts every model ALB: one pair of rules (AWS refuses a duplicate rule).
            self._self_hosted_endpoints = {"model-albs": (self._model_alb_sg.id, 443 if tls else 80)}
        return {"cluster_name": eks.cluster_name, "namespace": serving_layer.namespace}

    def _aws_model_url(self, name, settings, served, lb_dns_name, plain_url, on_aws) -> pulumi.Output[str]:
        """The base URL the gateway calls a model at: https://<model>.<domain> under aws.model_tls (a CNAME
        in its zone to the load balancer, so the name the certificate covers leads there), else the load
        balancer's own `plain_url`."""
        import pulumi_aws as aws

        tls = settings.aws.model_tls
        if tls is None:
            return pulumi.Output.from_input(plain_url)
        host = f"{served}.{tls.domain}"
        record = aws.route53.Record(
            child(name, f"dns-{served}"),
            zone_id=tls.zone_id,
            name=host,
            type="CNAME",
            ttl=60,
            records=[lb_dns_name],
            opts=on_aws,
        )
        return record.fqdn.apply(lambda _: f"https://{host}")

    def _aws_model_alb_access(self, name, settings, labels, network, on_aws) -> dict[str, pulumi.Input[str]]:
        """Who may reach the model ALBs, as AWS Load Balancer Controller annotations (v2.17, see
        verify.facts.aws_network). Without them the controller's own frontend group opens the listener to
        0.0.0.0/0, so every workload in the VPC could skip the gateway's keys and quotas.

        With a gateway that routes to the models: one security group for every model ALB, admitting only
        the gateway's tasks (the gateway adds that rule, `AwsGatewayArgs.self_hosted_endpoints`); the
        controller still opens the pods to the ALB (manage-backend-security-group-rules). Without one: the
        VPC, the documented callers of a cluster-only stack."""
        import pulumi_aws as aws

        from ..labels import aws_tags

        self._model_alb_sg = None
        if not gateway_self_hosted(settings):
            return {"alb.ingress.kubernetes.io/inbound-cidrs": settings.aws.network.cidr}
        self._model_alb_sg = aws.ec2.SecurityGroup(
            child(name, "model-alb-sg"),
            description="pulumi-llm model ALBs: reached only from the gateway tasks",
            vpc_id=network.vpc_id,
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
            tags={**aws_tags(labels.with_method("cluster")), "Name": child(name, "model-alb")},
            opts=on_aws,
        )
        return {
            "alb.ingress.kubernetes.io/security-groups": self._model_alb_sg.id,
            "alb.ingress.kubernetes.io/manage-backend-security-group-rules": "true",
        }
