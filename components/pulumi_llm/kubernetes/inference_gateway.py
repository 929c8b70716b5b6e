"""InferenceGateway: the Gateway API Inference Extension in front of a namespace's vLLM models on GKE
(inference_gateway_render.py renders it; the facts it relies on are in verify/facts/inference_extension.py).

Children: the InferencePool CRD at the pinned version; one Gateway (class gke-l7-rilb: a regional internal
Application Load Balancer); per model an endpoint picker (ServiceAccount, Role and RoleBinding to read its pool
and pods, plugin ConfigMap, Deployment, Service, NetworkPolicy), the InferencePool over the model's pods, the
HTTPRoute `/<model>/…` → pool, and GKE's HealthCheckPolicy and GCPBackendPolicy on the pool. Each pool, route and
gateway is validated against the pinned CRD schema before it is registered, so a field the CRD lacks fails the plan.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

import pulumi
import pulumi_kubernetes as k8s
from pydantic import BaseModel, ConfigDict, Field

from .. import pins
from ..naming import child
from ..verify.facts import inference_extension as gie
from . import inference_gateway_render as r

StrInput = str | pulumi.Output[str]


class PooledModel(BaseModel):
    """One model behind the Gateway: its served name, the labels of its serving pods and their API port."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    served_name: str = Field(description="Served model name: the route is `/<served_name>/…`. Required.")
    selector: Mapping[str, str] = Field(
        description="Labels of the pods that serve it (group leaders only for a LeaderWorkerSet). Required."
    )
    port: int = Field(ge=1, le=65535, description="The pods' OpenAI API port (vLLM's). Required.")


class InferenceGatewayArgs(BaseModel):
    """The namespace's inference gateway."""

    namespace: str = Field(description="Namespace of the models, their pools and the Gateway. Required.")
    labels: Mapping[str, str] = Field(description="Labels of every object (the stack's common labels). Required.")
    models: Sequence[PooledModel] = Field(description="The models to pool (vLLM only). Required, at least one.", min_length=1)
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    address_name: str = Field(description="Name of the reserved regional internal address the Gateway takes (NamedAddress). Required.")
    address: StrInput = Field(description="That address's IP (Input): the models' URLs are `http://<address>/<model>/v1`. Required.")
    proxy_only_cidr: str = Field(description="The VPC's proxy-only subnet: where the load balancer's proxies call the pods from. Required.")
    scrapers: Sequence[Mapping[str, Any]] = Field(
        default=(), description="NetworkPolicy peers allowed to scrape the EPPs' metrics. Default none."
    )
    gateway_class: str = Field(
        default=r.DEFAULT_GATEWAY_CLASS,
        description="GKE Gateway class (gke-l7-rilb or gke-l7-regional-external-managed). Default gke-l7-rilb.",
    )
    backend_timeout_seconds: int = Field(
        default=600, ge=1, description="The load balancer's backend timeout: the longest stream allowed. Default 600."
    )
    image: str = Field(default=pins.GIE_EPP.ref, description="The endpoint picker's image. Default pins.GIE_EPP.")


def _checked(api_version: str, kind: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    """The spec, once it validates against the pinned CRD (a renderer bug fails the plan, not the apply)."""
    problems = r.validate(api_version, kind, spec)
    if problems:
        raise ValueError(f"{kind}/{name} does not match the pinned CRD ({gie.SPEC_SCHEMAS[(api_version, kind)][1]}): {'; '.join(problems)}")
    return spec


class InferenceGateway(pulumi.ComponentResource):
    address: pulumi.Output[str]
    urls: dict[str, pulumi.Output[str]]

    def __init__(self, name: str, args: InferenceGatewayArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("pulumi-llm:index:InferenceGateway", name, None, opts)
        crd = k8s.apiextensions.v1.CustomResourceDefinition(
            child(name, "inferencepool-crd"),
            metadata={
                "name": gie.INFERENCE_POOL_CRD_NAME,
                "annotations": {"inference.networking.k8s.io/bundle-version": gie.GIE_VERSION},
                "labels": dict(args.labels),
            },
            spec=cast(k8s.apiextensions.v1.CustomResourceDefinitionSpecArgsDict, r.inference_pool_crd()),
            opts=pulumi.ResourceOptions(parent=self),
        )
        gateway = k8s.apiextensions.CustomResource(
            child(name, "gateway"),
            api_version=gie.GATEWAY_API_V1,
            kind="Gateway",
            metadata={"name": r.GATEWAY_NAME, "namespace": args.namespace, "labels": dict(args.labels)},
            spec=_checked(gie.GATEWAY_API_V1, "Gateway", r.GATEWAY_NAME, r.gateway_spec(args.address_name, args.gateway_class)),
            opts=pulumi.ResourceOptions(parent=self),
        )
        # The reserved address's IP ('pending' where it is unknown: the offline plan's mock).
        self.address = pulumi.Output.from_input(args.address).apply(lambda a: a or "pending")
        self.urls = {}
        for model in args.models:
            self._model(name, args, model, crd, gateway)
            self.urls[model.served_name] = self.address.apply(lambda a, s=model.served_name: r.route_url(a, s))
        self.register_outputs({"address": self.address, "urls": self.urls})

    def _model(self, name: str, args: InferenceGatewayArgs, model: PooledModel, crd: pulumi.Resource, gateway: pulumi.Resource) -> None:
        served, ns = model.served_name, args.namespace
        base = child(name, served)
        here = pulumi.ResourceOptions(parent=self)
        labels = {**args.labels, "app.kubernetes.io/name": served}

        # Rendered as Kubernetes JSON and cast to the SDK's *ArgsDict type (the provider sends keys as written).
        def meta(object_name: str, component: str = r.COMPONENT) -> k8s.meta.v1.ObjectMetaArgsDict:
            return cast(
                k8s.meta.v1.ObjectMetaArgsDict,
                {"name": object_name, "namespace": ns, "labels": {**labels, "app.kubernetes.io/component": component}},
            )

        epp = r.epp_name(served)
        account = k8s.core.v1.ServiceAccount(child(base, "epp-sa"), metadata=meta(epp), automount_service_account_token=False, opts=here)
        role = k8s.rbac.v1.Role(child(base, "epp-role"), metadata=meta(epp), rules=cast(Any, r.epp_role_rules()), opts=here)
        binding = k8s.rbac.v1.RoleBinding(
            child(base, "epp-rolebinding"),
            metadata=meta(epp),
            role_ref=cast(Any, {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": epp}),
            subjects=[{"kind": "ServiceAccount", "name": epp, "namespace": ns}],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[account, role]),
        )
        config = k8s.core.v1.ConfigMap(child(base, "epp-config"), metadata=meta(epp), data=r.epp_config_data(), opts=here)
        k8s.apps.v1.Deployment(
            child(base, "epp"),
            metadata=meta(epp),
            spec=cast(
                k8s.apps.v1.DeploymentSpecArgsDict,
                r.epp_deployment_spec(served, ns, args.image, {**labels, "app.kubernetes.io/component": r.COMPONENT}),
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[binding, config]),
        )
        k8s.core.v1.Service(child(base, "epp-service"), metadata=meta(epp), spec=cast(Any, r.epp_service_spec(served)), opts=here)
        policy = r.epp_network_policy_spec(
            served, proxy_only_cidr=args.proxy_only_cidr, scrapers=args.scrapers, model_selector=model.selector, model_port=model.port
        )
        k8s.networking.v1.NetworkPolicy(child(base, "epp-netpol"), metadata=meta(epp), spec=cast(Any, policy), opts=here)
        pool_name = r.pool_name(served)
        pool = k8s.apiextensions.CustomResource(
            child(base, "pool"),
            api_version=gie.INFERENCE_POOL_API_VERSION,
            kind="InferencePool",
            metadata=meta(pool_name, "inference-pool"),
            spec=_checked(
                gie.INFERENCE_POOL_API_VERSION, "InferencePool", pool_name, r.inference_pool_spec(served, model.selector, model.port)
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[crd]),
        )
        route = r.route_name(served)
        k8s.apiextensions.CustomResource(
            child(base, "route"),
            api_version=gie.GATEWAY_API_V1,
            kind="HTTPRoute",
            metadata=meta(route, "inference-route"),
            spec=_checked(gie.GATEWAY_API_V1, "HTTPRoute", route, r.http_route_spec(served)),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[gateway, pool]),
        )
        for kind, role_name, spec in (
            ("HealthCheckPolicy", "healthcheck", r.health_check_policy_spec(served, model.port)),
            ("GCPBackendPolicy", "backend-policy", r.backend_policy_spec(served, args.backend_timeout_seconds)),
        ):
            k8s.apiextensions.CustomResource(
                child(base, role_name),
                api_version=gie.GKE_POLICY_API_VERSION,
                kind=kind,
                metadata=meta(pool_name, "inference-pool"),
                spec=spec,
                opts=pulumi.ResourceOptions(parent=self, depends_on=[pool]),
            )
