"""The Gateway API Inference Extension's objects as rendered (kubernetes/inference_gateway_render.py), checked
against the pinned CRD schemas (verify/facts/inference_extension.py) by the strict validator (verify/openapi.py),
which is itself cross-checked with jsonschema."""

from __future__ import annotations

import copy
from typing import Any

import jsonschema
import pytest
from pulumi_llm import pins
from pulumi_llm.kubernetes import inference_gateway_render as r
from pulumi_llm.verify import openapi
from pulumi_llm.verify.facts import inference_extension as gie

POOL = (gie.INFERENCE_POOL_API_VERSION, "InferencePool")
ROUTE = (gie.GATEWAY_API_V1, "HTTPRoute")
GATEWAY = (gie.GATEWAY_API_V1, "Gateway")
SELECTOR = {"app.kubernetes.io/name": "chat", "app.kubernetes.io/component": "model-server"}


def _pool() -> dict[str, Any]:
    return r.inference_pool_spec("chat", SELECTOR, 8000)


def _strict(schema: Any) -> Any:
    """The schema as JSON Schema with unknown fields refused (what openapi.problems does for objects with properties)."""
    if isinstance(schema, dict):
        out = {k: _strict(v) for k, v in schema.items() if not k.startswith("x-kubernetes") and k not in ("default", "format")}
        if "properties" in schema and "additionalProperties" not in schema:
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [_strict(item) for item in schema]
    return schema


@pytest.mark.parametrize(
    ("key", "spec"),
    [(POOL, _pool()), (ROUTE, r.http_route_spec("chat")), (GATEWAY, r.gateway_spec("stack-llm-inference"))],
    ids=["InferencePool", "HTTPRoute", "Gateway"],
)
def test_rendered_objects_match_the_pinned_crds(key: tuple[str, str], spec: dict[str, Any]) -> None:
    assert r.validate(*key, spec) == []
    schema, source = gie.SPEC_SCHEMAS[key]
    jsonschema.validate(spec, _strict(schema))  # an independent validator agrees
    assert gie.GIE_VERSION in source or gie.GATEWAY_API_VERSION in source


def test_a_field_the_pinned_inferencepool_lacks_fails_validation() -> None:
    """v1 InferencePool has no modelServerType (the chart's value, not a CRD field) and its port is `number`."""
    spec = _pool()
    spec["modelServerType"] = "vllm"
    assert r.validate(*POOL, spec) == [
        "spec.modelServerType: unknown field (the schema has appProtocol, endpointPickerRef, selector, targetPorts)"
    ]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(spec, _strict(gie.INFERENCE_POOL_SPEC))
    old = _pool()
    old["targetPortNumber"] = 8000  # v1alpha2's field, gone in v1
    del old["targetPorts"]
    assert r.validate(*POOL, old) == [
        "spec.targetPorts: required",
        "spec.targetPortNumber: unknown field (the schema has appProtocol, endpointPickerRef, selector, targetPorts)",
    ]


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        (
            lambda s: s["endpointPickerRef"].update(failureMode="Retry"),
            "spec.endpointPickerRef.failureMode: 'Retry' not one of FailOpen, FailClose",
        ),
        (lambda s: s["targetPorts"][0].update(number=70000), "spec.targetPorts[0].number: 70000 outside 1..65535"),
        (lambda s: s.update(targetPorts=[{"number": p} for p in range(8000, 8009)]), "spec.targetPorts: 9 items outside 1..8"),
        (lambda s: s["selector"].update(matchLabels={}), "spec.selector.matchLabels: 0 keys outside 1..64"),
        (
            lambda s: s["selector"]["matchLabels"].update(bad="no spaces allowed"),
            "spec.selector.matchLabels.bad: 'no spaces allowed' does not match",
        ),
        (lambda s: s["endpointPickerRef"].pop("name"), "spec.endpointPickerRef.name: required"),
        (lambda s: s["targetPorts"][0].update(number="8000"), "spec.targetPorts[0].number: expected integer, got str"),
    ],
)
def test_pool_schema_bounds_enums_and_patterns(edit: Any, problem: str) -> None:
    spec = copy.deepcopy(_pool())
    edit(spec)
    assert any(p.startswith(problem) for p in r.validate(*POOL, spec)), r.validate(*POOL, spec)


def test_route_field_outside_the_pinned_httproute_fails() -> None:
    route = r.http_route_spec("chat")
    route["rules"][0]["timeouts"] = {"request": "300s"}  # not in the fields kept (GKE ignores route timeouts)
    assert r.validate(*ROUTE, route) == ["spec.rules[0].timeouts: unknown field (the schema has backendRefs, filters, matches)"]


def test_pool_selects_the_model_pods_on_vllms_port_and_names_its_picker() -> None:
    spec = _pool()
    assert spec["selector"] == {"matchLabels": SELECTOR}
    assert spec["targetPorts"] == [{"number": 8000}]
    assert spec["endpointPickerRef"] == {"name": "chat-epp", "kind": "Service", "port": {"number": 9002}, "failureMode": "FailOpen"}
    assert r.epp_service_spec("chat")["ports"][0]["port"] == spec["endpointPickerRef"]["port"]["number"]


def test_route_sends_the_models_prefix_to_its_pool_and_strips_it() -> None:
    [rule] = r.http_route_spec("chat")["rules"]
    assert rule["matches"] == [{"path": {"type": "PathPrefix", "value": "/chat"}}]
    assert rule["filters"][0]["urlRewrite"]["path"] == {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/"}
    assert rule["backendRefs"] == [{"group": "inference.networking.k8s.io", "kind": "InferencePool", "name": "chat-pool"}]
    assert r.route_url("10.40.0.9", "chat") == "http://10.40.0.9/chat/v1"


def test_gateway_takes_the_reserved_address_and_only_an_inference_class() -> None:
    spec = r.gateway_spec("s-llm-inference")
    assert spec["gatewayClassName"] == "gke-l7-rilb"
    assert spec["addresses"] == [{"type": "NamedAddress", "value": "s-llm-inference"}]
    assert spec["listeners"][0]["port"] == r.GATEWAY_PORT
    with pytest.raises(ValueError, match="gke-l7-rilb, gke-l7-regional-external-managed"):
        r.gateway_spec("a", "gke-l7-global-external-managed")


def test_epp_runs_the_pinned_image_restricted_with_grpc_probes() -> None:
    deployment = r.epp_deployment_spec("chat", "llm", pins.GIE_EPP.ref, {"x": "y"})
    pod = deployment["template"]["spec"]
    [container] = pod["containers"]
    assert container["image"] == pins.GIE_EPP.ref and "@sha256:" in container["image"]
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
    }
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert container[probe]["grpc"] == {"port": 9003, "service": "inference-extension"}
    args = container["args"]
    assert args[args.index("--pool-name") + 1] == "chat-pool" and args[args.index("--pool-namespace") + 1] == "llm"
    assert deployment["replicas"] == 1 and deployment["strategy"] == {"type": "Recreate"}


def test_epp_rbac_is_read_only_and_namespaced() -> None:
    rules = r.epp_role_rules()
    assert {v for rule in rules for v in rule["verbs"]} == {"get", "list", "watch"}
    assert {res for rule in rules for res in rule["resources"]} == {
        "pods",
        "inferencepools",
        "inferenceobjectives",
        "inferencemodelrewrites",
    }


def test_network_policies_admit_only_the_proxies_health_checkers_and_pickers() -> None:
    clients = r.model_clients("10.40.16.0/23")
    assert clients == [
        {"ipBlock": {"cidr": "10.40.16.0/23"}},
        {"ipBlock": {"cidr": "35.191.0.0/16"}},
        {"ipBlock": {"cidr": "130.211.0.0/22"}},
        {"podSelector": {"matchLabels": {"app.kubernetes.io/component": "endpoint-picker"}}},
    ]
    scraper = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}
    policy = r.epp_network_policy_spec(
        "chat", proxy_only_cidr="10.40.16.0/23", scrapers=[scraper], model_selector=SELECTOR, model_port=8000
    )
    assert policy["podSelector"] == {"matchLabels": r.epp_selector("chat")}
    [callers, scrape] = policy["ingress"]
    assert [p["port"] for p in callers["ports"]] == [9002, 9003] and callers["from"] == clients[:3]
    assert scrape == {"from": [scraper], "ports": [{"port": 9090, "protocol": "TCP"}]}
    assert {"to": [{"podSelector": {"matchLabels": SELECTOR}}], "ports": [{"port": 8000, "protocol": "TCP"}]} in policy["egress"]
    assert all(rule.get("to") or rule["ports"] == [{"port": 443, "protocol": "TCP"}] for rule in policy["egress"])


def test_decide_inference_gateway_pools_vllm_models_only_when_chosen() -> None:
    assert r.decide_inference_gateway("gateway-inference-extension", "vllm") is True
    assert r.decide_inference_gateway("gateway-inference-extension", "triton") is False
    assert r.decide_inference_gateway("vllm", "vllm") is False


def test_openapi_validator_reports_types_and_preserves_unknown_where_declared() -> None:
    schema = {
        "type": "object",
        "properties": {"a": {"type": "boolean"}, "s": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
    }
    assert list(openapi.problems({"a": 1, "s": {"anything": 1}}, schema)) == ["spec.a: expected boolean, got int"]
    assert list(openapi.problems({"n": True}, {"type": "object", "properties": {"n": {"type": "integer"}}})) == [
        "spec.n: expected integer, got bool"
    ]


def test_crd_object_carries_the_pinned_spec_schema() -> None:
    crd = r.inference_pool_crd()
    [version] = crd["versions"]
    assert crd["group"] == "inference.networking.k8s.io" and version["name"] == "v1" and version["storage"] is True
    assert version["schema"]["openAPIV3Schema"]["properties"]["spec"] is gie.INFERENCE_POOL_SPEC
    assert set(gie.INFERENCE_POOL_SPEC["required"]) == {"endpointPickerRef", "selector", "targetPorts"}
