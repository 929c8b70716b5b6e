"""Settings → the Args of the components a stack builds: one pure function per component (or engine spec),
shared by every caller so the same settings give the same child wherever they are wired — `LlmPlatform`
(platform/), the Azure wiring (platform/azure.py) and the cross-language adapters (provider/components.py).

It imports no caller: the wiring modules import it, never the other way round (tests/unit/test_import_graph.py).
Component modules are imported inside each builder, so a stack still loads its own cloud's SDK only
(docs/ARCHITECTURE.md, convention 5).
"""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING, Any

import pulumi

from .labels import CommonLabels
from .settings import Settings

if TYPE_CHECKING:
    from .gateway.aws import StrInput, StrListInput
    from .kubernetes.model_serving import ModelServingArgs


def gateway_self_hosted(settings: Settings) -> set[str]:
    """The served models the stack's gateway routes to (none without a gateway)."""
    if "gateway" not in settings.methods or settings.gateway is None:
        return set()
    return {r.model for g in settings.gateway.models.values() for r in g.routes if r.provider == "self-hosted"}


def gateway_consumers(settings: Settings):
    """The stack's consumers with every limit of their grant, sorted by name. The front counts
    rate_limit_rps as rate_limit_rps × 60 requests per sliding minute (rounded up); the edges that take a
    token bucket get rate_limit_rps and burst as written."""
    from .gateway import config as engine

    gw = settings.gateway
    assert gw is not None
    return tuple(
        engine.Consumer(
            name=n,
            models=tuple(c.models),
            rpm=math.ceil(c.rate_limit_rps * 60),
            tpm=c.tokens_per_minute,
            max_tokens=c.max_tokens,
            requests_per_day=c.requests_per_day,
            tokens_per_day=c.tokens_per_day,
            rate_per_second=c.rate_limit_rps,
            burst=c.burst,
        )
        for n, c in sorted(gw.consumers.items())
    )


def gateway_spec(settings: Settings, self_hosted_urls: dict[str, pulumi.Output[str]], self_hosted_key_env: str | None = None):
    """The engine spec of the stack's gateway, and the environment that carries the self-hosted URLs
    (known only at deploy time: LiteLLM resolves `os.environ/NAME` in a route's api_base).
    `self_hosted_key_env`: the secret variable whose value every self-hosted route sends as its API key."""
    from .gateway import config as engine

    gw = settings.gateway
    assert gw is not None
    secrets = gw.secret_names()
    env: dict[str, pulumi.Output[str]] = {}
    groups: list[engine.ModelGroup] = []
    for group_name, group in sorted(gw.models.items()):
        routes: list[engine.ProviderRoute] = []
        for i, route in enumerate(group.routes):
            kwargs: dict[str, Any] = {}
            if route.provider == "self-hosted":
                var = "SELF_HOSTED_" + route.model.upper().replace("-", "_") + "_URL"
                env[var] = self_hosted_urls[route.model]
                kwargs["api_base"] = f"os.environ/{var}"
                if self_hosted_key_env is not None:
                    kwargs["secret_env"] = self_hosted_key_env
            elif route.provider == "bedrock":
                kwargs["region"] = settings.region
            elif route.provider in engine.STATIC_KEY_PROVIDERS:
                kwargs["secret_env"] = secrets[route.provider].upper().replace("-", "_") + "_API_KEY"
            routes.append(
                engine.ProviderRoute(
                    name=f"{route.provider}-{i}",
                    provider=route.provider,
                    model=route.model,
                    rpm=route.rpm,
                    tpm=route.tpm,
                    timeout_seconds=gw.timeouts.provider_seconds,
                    **kwargs,
                )
            )
        groups.append(
            engine.ModelGroup(
                name=group_name,
                routes=tuple(routes),
                fallbacks=tuple(group.fallbacks),
                boundary=group.boundary,
                fallback_share_percent=group.fallback_alert.share_percent,
                fallback_window_minutes=group.fallback_alert.window_minutes,
            )
        )
    spec = engine.GatewaySpec(
        model_groups=tuple(groups),
        consumers=gateway_consumers(settings),
        retries=gw.retries,
        timeouts=engine.TimeoutBudget(client=gw.timeouts.client_seconds, edge=gw.timeouts.edge_seconds, engine=gw.timeouts.engine_seconds),
    )
    return spec, env


# The Args of the components LlmPlatform, platform.azure and the package adapters (provider/components.py) build:
# one function each, so a stack and a TypeScript program that give the same settings get the same child.
# The other resources' values come in as arguments: the platform's own network, key and topic, or the
# Inputs a program passes to an adapter.


def model_serving_args(settings: Settings, labels: CommonLabels, **where: Any) -> ModelServingArgs:
    """ModelServingArgs with the stack's serving policy (autoscaler, scaling, alert thresholds); `where`
    gives the rest: namespace, models, placement, Prometheus and ingress of the cluster they run on."""
    from . import serving
    from .kubernetes.model_serving import ModelServingArgs

    return ModelServingArgs(
        labels=labels,
        autoscaling_engine=settings.serving.autoscaling.engine,
        scaling=serving.scaling_policy(settings),
        alerts=serving.alert_thresholds(settings),
        router=serving.router_options(settings),
        **where,
    )


def onprem_cluster_args(settings: Settings, labels: CommonLabels):
    """OnPremClusterArgs of a stack's `onprem:` settings (labelled method onprem)."""
    from . import serving
    from .kubernetes import addons, render
    from .kubernetes.model_serving import IngressOptions
    from .onprem import OnPremClusterArgs

    onprem = settings.onprem
    assert onprem is not None  # required by methods: [onprem]
    onprem_labels = labels.with_method("onprem")
    ingress = onprem.ingress
    return OnPremClusterArgs(
        labels=onprem_labels,
        gpu_operator=onprem.gpu_operator.install,
        gpu_driver=onprem.gpu_operator.driver,
        ingress_nginx=ingress.install,
        keda=onprem.keda.install,
        prometheus=onprem.prometheus.install,
        serving=model_serving_args(
            settings,
            onprem_labels,
            namespace=onprem.namespace,
            namespace_exists=not onprem.owns_namespace(settings.onprem_namespace_needs()),
            models=serving.served_models(settings),
            # GPU Feature Discovery (with the Operator) labels GPU nodes; the taint keeps
            # other pods off them, so model servers tolerate it.
            placement=render.Placement(node_selector={"nvidia.com/gpu.present": "true"}, gpus_per_node=onprem.gpus.per_node),
            prometheus_url=onprem.prometheus.url or addons.prometheus_url(),
            monitoring_namespace=addons.MONITORING_NAMESPACE if onprem.prometheus.install else onprem.prometheus.scraper_namespace(),
            ingress=IngressOptions(class_name=ingress.class_name, host=ingress.host, tls_secret=ingress.tls_secret),
        ),
    )


def aws_gateway_args(
    settings: Settings,
    labels: CommonLabels,
    *,
    vpc_id: StrInput,
    private_subnet_ids: StrListInput,
    kms_key_arn: StrInput,
    alarm_topic_arn: StrInput | None,
    self_hosted_urls: dict[str, pulumi.Output[str]],
    high_availability: bool,
    where: str,
    config_path: str,
    self_hosted_endpoints: dict[str, tuple[StrInput, int]] | None = None,
    self_hosted_key_arn: StrInput | None = None,
):
    """AwsGatewayArgs of a stack's `gateway:` settings; `where` prefixes the engine config's messages.
    `self_hosted_endpoints`: name → (a self-hosted model load balancer's security group, the URL's port).
    `self_hosted_key_arn`: the secret every self-hosted route sends as its API key (see platform/aws.py)."""
    from .gateway import config as engine
    from .gateway.aws import SELF_HOSTED_KEY_ENV, AwsGatewayArgs, Consumer, SelfHostedEndpoint
    from .gateway.engine import MASTER_KEY_ENV
    from .gateway.sizing import stack_gateway_sizing

    gw = settings.gateway
    assert gw is not None  # required by methods: [gateway]
    assert settings.region is not None  # required by cloud: aws
    # Tasks and the streams per task the flows policy targets, from the measured engine cost (gateway/sizing.py).
    sizing = stack_gateway_sizing(settings, high_availability=high_availability)
    assert sizing is not None  # a gateway on aws
    key_env = SELF_HOSTED_KEY_ENV if self_hosted_key_arn is not None else None
    spec, urls = gateway_spec(settings, self_hosted_urls, key_env)
    return AwsGatewayArgs(
        labels=labels.with_method("gateway"),
        region=settings.region,
        vpc_id=vpc_id,
        private_subnet_ids=private_subnet_ids,
        kms_key_arn=kms_key_arn,
        engine_config_yaml=engine.to_yaml(engine.render_litellm_config(spec, where=where)),
        spec=spec,
        # The master key's secret the component creates itself; the providers' come from the spec.
        provider_secrets={k: v for k, v in engine.secret_envs(spec).items() if k not in (MASTER_KEY_ENV, key_env)},
        external_secrets={SELF_HOSTED_KEY_ENV: self_hosted_key_arn} if self_hosted_key_arn is not None else {},
        consumer_header=spec.consumer_header,
        # The AWS task sets LITELLM_MODE itself; the rest keeps the engine from phoning home.
        environment={**{k: v for k, v in engine.ENGINE_ENVIRONMENT.items() if k != "LITELLM_MODE"}, **urls},
        self_hosted_endpoints=[
            SelfHostedEndpoint(name=served, security_group_id=group, port=port)
            for served, (group, port) in sorted((self_hosted_endpoints or {}).items())
        ],
        bedrock_model_arns=[f"arn:aws:bedrock:{settings.region}::foundation-model/{m}" for m in gw.bedrock_models],
        consumers=[
            Consumer(name=n, quota_per_day=c.requests_per_day, rate_limit_rps=c.rate_limit_rps, burst=c.burst)
            for n, c in sorted(gw.consumers.items())
        ],
        high_availability=high_availability,
        min_tasks=sizing.instances_min,
        max_tasks=sizing.instances_max,
        flows_per_task=sizing.scale_target,
        integration_timeout_ms=gw.timeouts.edge_seconds * 1000,
        engine_timeout_seconds=gw.timeouts.engine_seconds,
        alarm_topic_arn=alarm_topic_arn,
        config_path=config_path,
    )


def aws_gpu_vm_args(
    settings: Settings,
    labels: CommonLabels,
    served: str,
    *,
    vpc_id: StrInput,
    private_subnet_ids: StrListInput,
    public_subnet_ids: StrListInput | None,
    kms_key_arn: StrInput,
    store_bucket_arn: StrInput | None,
    store_key_arn: StrInput | None,
    alarm_topic_arn: StrInput | None,
    config_path: str,
    gateway_calls: bool = False,
    api_key_secret_arn: StrInput | None = None,
):
    """AwsGpuVmArgs of model `served`; `store_bucket_arn` is the stack's own store, for store:// sources,
    and `store_key_arn` the key that store's bucket encrypts with (the instance role decrypts the weights
    with it, not with the stack key `kms_key_arn`).
    `gateway_calls`: the stack's gateway routes to it, so its load balancer admits the gateway's tasks (by
    security group, `AwsGatewayArgs.self_hosted_endpoints`) and no CIDR unless `allowed_cidrs` names one;
    otherwise the VPC is the default caller.
    `api_key_secret_arn`: the secret a vLLM server then requires as its API key (VLLM_API_KEY)."""
    from . import serving
    from .gateway import SELF_HOSTED_KEY_SECRET
    from .gpu_vm import router_vm
    from .gpu_vm.aws import AwsGpuVmArgs, ScaleToZeroSchedule
    from .runtimes.spec import EnvVar
    from .runtimes.vllm import API_KEY_SECRET_KEY

    cfg = settings.aws.gpu_vm
    assert settings.region is not None  # required by cloud: aws
    # The vLLM router on each VM (`serving.router`); its policy decides --enable-scale-out on the server too.
    sized = serving.size(settings, served)
    router = router_vm.router_options(settings, sized.kv_tokens)
    container = serving.vm_container(settings, served, sized, router_policy=router.policy if router is not None else None)
    secret_arns: dict[str, StrInput] = {}
    if api_key_secret_arn is not None and container.runtime == "vllm" and not any(e.name == "VLLM_API_KEY" for e in container.env):
        key_env = EnvVar("VLLM_API_KEY", secret_name=SELF_HOSTED_KEY_SECRET, secret_key=API_KEY_SECRET_KEY)
        container = dataclasses.replace(container, env=(*container.env, key_env))
        secret_arns[SELF_HOSTED_KEY_SECRET] = api_key_secret_arn
    bounds = serving.replicas(settings, served)
    bucket, key_prefix = serving.store_key(settings, served)
    if bucket is not None:
        model_bucket_arn: StrInput = f"arn:aws:s3:::{bucket}"
    else:
        # store:// (the stack's own store): LlmPlatform passes the store; the provider's adapter refuses it before.
        assert store_bucket_arn is not None
        model_bucket_arn = store_bucket_arn
    return AwsGpuVmArgs(
        labels=labels,
        container=container,
        secret_arns=secret_arns,
        region=settings.region,
        instance_types=[serving.instance_type(settings, served).name],
        vpc_id=vpc_id,
        private_subnet_ids=private_subnet_ids,
        public_subnet_ids=public_subnet_ids if cfg.internet_facing else None,
        internal=not cfg.internet_facing,
        allowed_cidrs=cfg.allowed_cidrs or ([] if gateway_calls else [settings.aws.network.cidr]),
        model_bucket_arn=model_bucket_arn,
        model_kms_key_arn=store_key_arn if bucket is None else None,
        model_key_prefix=key_prefix,
        weights_revision=settings.models[served].revision or "",
        kms_key_arn=kms_key_arn,
        min_size=bounds.min,
        max_size=bounds.max,
        on_demand_base_capacity=cfg.on_demand_base,
        spot_percentage_above_base=cfg.spot_percentage,
        schedule=ScaleToZeroSchedule(stop_cron=cfg.schedule.stop, start_cron=cfg.schedule.start, time_zone=cfg.schedule.time_zone)
        if cfg.schedule
        else None,
        certificate_arn=settings.aws.model_tls.certificate_arn if settings.aws.model_tls else cfg.certificate_arn,
        idle_timeout_seconds=cfg.idle_timeout_seconds,
        requests_per_instance_per_minute=cfg.requests_per_target,
        alarm_topic_arn=alarm_topic_arn,
        deletion_protection=settings.environment == "prod",
        router=router,
        config_path=config_path,
    )
