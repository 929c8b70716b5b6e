"""Pure APIM policies: parsed with xml.etree and checked for structure, not for strings."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from typing import cast

import pytest
from pulumi_llm.gateway import apim_policy as p
from pulumi_llm.gateway import front_contract as fc

SECTIONS = ["inbound", "backend", "outbound", "on-error"]


def pool_policy(**overrides) -> ET.Element:
    values = {
        "backend_id": "azure-openai-pool",
        "backend_label": "azure-openai",
        "auth": "managed-identity",
        "forward_timeout_seconds": 240,
        "retries": 2,
    }
    values.update(overrides)
    return ET.fromstring(p.api_policy(**values))


def engine_policy(**overrides) -> ET.Element:
    values = {
        "backend_id": "litellm",
        "backend_label": "litellm",
        "auth": "named-value",
        "master_key_named_value": "litellm-master-key",
        "forward_timeout_seconds": 200,
    }
    values.update(overrides)
    return ET.fromstring(p.api_policy(**values))


def find(element: ET.Element, path: str) -> ET.Element:
    """``element.find(path)``, typed for the paths these policies always hold (a missing one fails the test)."""
    return cast(ET.Element, element.find(path))


def tags(element: ET.Element) -> list[str]:
    return [child.tag for child in element]


def test_api_policy_sections_and_inbound_order() -> None:
    root = pool_policy()
    assert root.tag == "policies" and tags(root) == SECTIONS
    inbound = find(root, "inbound")
    assert tags(inbound) == [
        "choose",
        "base",
        "set-variable",
        "llm-emit-token-metric",
        "set-header",
        "set-header",
        "authentication-managed-identity",
        "set-backend-service",
    ]
    assert tags(find(root, "outbound")) == ["base", "set-header", "set-header"]
    assert tags(find(root, "on-error")) == ["base", "set-header", "set-header"]


def test_openai_answers_say_a_provider_served_them_and_the_engine_api_leaves_that_to_the_front() -> None:
    def headers(section: ET.Element) -> dict[str, str]:
        return {h.get("name", ""): cast(str, find(h, "value").text) for h in section.findall("set-header")}

    pool = pool_policy()
    assert headers(find(pool, "outbound")) == {
        fc.SERVED_BY_HEADER: p.SERVED_BY_PROVIDER_EXPRESSION,
        fc.FALLBACK_HEADER: "false",
    }
    assert headers(find(pool, "on-error")) == {fc.SERVED_BY_HEADER: fc.NONE, fc.FALLBACK_HEADER: "false"}
    engine = engine_policy()
    assert tags(find(engine, "outbound")) == ["base"]  # the front sets them on every answer
    assert headers(find(engine, "on-error")) == {fc.SERVED_BY_HEADER: fc.NONE, fc.FALLBACK_HEADER: "false"}


def test_token_metric_dimensions_are_subscription_model_and_backend() -> None:
    metric = find(pool_policy(), "inbound/llm-emit-token-metric")
    assert metric.get("namespace") == "pulumi-llm"
    dimensions = {d.get("name"): d.get("value") for d in metric.findall("dimension")}
    assert dimensions == {
        "Subscription ID": None,  # an APIM default dimension: APIM fills it in
        "Model": '@((string)context.Variables["llm-model"])',
        "Backend": "azure-openai",
    }
    model = find(pool_policy(), "inbound/set-variable")
    assert model.get("name") == "llm-model"
    expression = cast(str, model.get("value"))
    assert expression.startswith("@{") and expression.endswith("}")
    assert "/deployments/([^/]+)/" in expression and '["model"]' in expression and "Substring(0, 64)" in expression


def test_pool_policy_streams_and_retries_on_another_member() -> None:
    root = pool_policy(retries=3, forward_timeout_seconds=180)
    assert find(root, "inbound/set-backend-service").attrib == {"backend-id": "azure-openai-pool"}
    [retry] = find(root, "backend")
    assert retry.tag == "retry"
    assert retry.attrib == {
        "condition": "@(context.Response.StatusCode == 429 || context.Response.StatusCode >= 500)",
        "count": "3",
        "interval": "0",
        "first-fast-retry": "true",
    }
    [forward] = retry
    assert forward.tag == "forward-request"
    assert forward.attrib == {
        "timeout": "180",
        "buffer-request-body": "true",  # so a retry can send the body again
        "buffer-response": "false",  # server-sent events pass through as they come
        "fail-on-error-status-code": "false",
    }


def test_azure_openai_is_called_with_the_managed_identity_and_no_key() -> None:
    root = pool_policy()
    [auth] = root.iter("authentication-managed-identity")
    assert auth.attrib == {"resource": "https://cognitiveservices.azure.com"}
    headers = root.findall("inbound/set-header")
    # Keys a caller sends are removed; no policy ever sets an api-key or Authorization value for Azure OpenAI.
    assert [(h.get("name"), h.get("exists-action")) for h in headers] == [
        ("Ocp-Apim-Subscription-Key", "delete"),
        ("api-key", "delete"),
    ]
    assert not [h for h in root.iter("set-header") if h.get("name", "").lower() == "api-key" and h.get("exists-action") != "delete"]
    assert p.named_values_in(p.api_policy(backend_id="b", backend_label="b", auth="managed-identity", forward_timeout_seconds=10)) == []


def test_engine_policy_sends_the_master_key_from_a_named_value_and_does_not_retry() -> None:
    root = engine_policy()
    assert not list(root.iter("authentication-managed-identity"))
    authorization = [h for h in root.findall("inbound/set-header") if h.get("name") == "Authorization"]
    [header] = authorization
    assert header.get("exists-action") == "override"
    assert find(header, "value").text == "Bearer {{litellm-master-key}}"
    assert p.named_values_in(ET.tostring(root, encoding="unicode")) == ["litellm-master-key"]
    [forward] = find(root, "backend")
    assert forward.tag == "forward-request"
    assert forward.attrib == {
        "timeout": "200",
        "buffer-request-body": "false",
        "buffer-response": "false",
        "fail-on-error-status-code": "false",
    }
    assert p.backend_ids_in(ET.tostring(root, encoding="unicode")) == ["litellm"]


def test_engine_policy_names_the_consumer_for_the_engine() -> None:
    root = engine_policy(consumer_header="x-pulumi-llm-consumer")
    [consumer] = [h for h in root.findall("inbound/set-header") if h.get("name") == "x-pulumi-llm-consumer"]
    # Override: a client-sent copy never survives, so nobody can claim another consumer's name.
    assert consumer.get("exists-action") == "override"
    # The subscription's id, which AzureGateway sets to the consumer's name (the name the front's grants are keyed by).
    assert find(consumer, "value").text == "@(context.Subscription.Id)"
    assert not [h for h in engine_policy().findall("inbound/set-header") if h.get("name") == "x-pulumi-llm-consumer"]


def test_every_forward_request_streams() -> None:
    for root in (pool_policy(), pool_policy(retries=0), engine_policy()):
        forwards = list(root.iter("forward-request"))
        assert forwards and all(f.get("buffer-response") == "false" for f in forwards)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"forward_timeout_seconds": 241}, "forward timeout 241: allowed 1 to 240 seconds"),
        ({"forward_timeout_seconds": 0}, "forward timeout 0: allowed 1 to 240 seconds"),
        ({"auth": "named-value"}, "auth named-value needs master_key_named_value"),
        ({"master_key_named_value": "x"}, "auth managed-identity takes no named value"),
        ({"retries": -1}, "retries must be >= 0"),
    ],
)
def test_api_policy_refuses_bad_input(overrides, message) -> None:
    with pytest.raises(ValueError, match=message):
        pool_policy(**overrides)


def test_product_policy_limits_tokens_per_subscription() -> None:
    root = ET.fromstring(p.product_policy(tokens_per_minute=40_000))
    assert tags(root) == SECTIONS
    assert tags(find(root, "inbound")) == ["base", "llm-token-limit"]
    limit = find(root, "inbound/llm-token-limit")
    assert limit.attrib == {
        "counter-key": "@(context.Subscription.Id)",
        "tokens-per-minute": "40000",
        "estimate-prompt-tokens": "true",
        "remaining-tokens-header-name": "x-ratelimit-remaining-tokens",
        "tokens-consumed-header-name": "x-ratelimit-consumed-tokens",
    }
    for section in ("backend", "outbound", "on-error"):
        assert tags(find(root, section)) == ["base"]


def test_product_policy_quota() -> None:
    limit = find(
        ET.fromstring(p.product_policy(tokens_per_minute=1000, token_quota=5_000_000, token_quota_period="Monthly")),
        "inbound/llm-token-limit",
    )
    assert (limit.get("token-quota"), limit.get("token-quota-period")) == ("5000000", "Monthly")
    assert limit.get("remaining-quota-tokens-header-name") == "x-quota-remaining-tokens"
    with pytest.raises(ValueError, match="token_quota and token_quota_period go together"):
        p.product_policy(tokens_per_minute=1000, token_quota=5)
    with pytest.raises(ValueError, match="token_quota_period 'Minutely'"):
        p.product_policy(tokens_per_minute=1000, token_quota=5, token_quota_period="Minutely")
    with pytest.raises(ValueError, match="tokens_per_minute must be >= 1"):
        p.product_policy(tokens_per_minute=0)


def test_a_subscription_key_in_the_query_string_is_refused_before_anything_else() -> None:
    for root in (pool_policy(), engine_policy()):
        inbound = find(root, "inbound")
        assert inbound[0].tag == "choose"  # before <base/>: no product limit, metric or backend runs for it
        [when] = inbound[0]
        assert when.tag == "when"
        condition = cast(str, when.get("condition"))
        assert condition == p.QUERY_KEY_CONDITION
        assert f'"{p.QUERY_KEY_PARAMETER}"' in condition and "OrdinalIgnoreCase" in condition
        assert [c.tag for c in when] == ["return-response"]
        answer = when[0]
        assert find(answer, "set-status").attrib == {"code": "401", "reason": "Unauthorized"}
        body = json.loads(cast(str, find(answer, "set-body").text))
        assert body["error"]["message"] == p.QUERY_KEY_MESSAGE and "Ocp-Apim-Subscription-Key header only" in p.QUERY_KEY_MESSAGE


def test_product_policy_limits_requests_per_subscription() -> None:
    root = ET.fromstring(p.product_policy(tokens_per_minute=1000, requests_per_day=500_000, rate_limit_rps=50, burst=100))
    assert tags(find(root, "inbound")) == ["base", "rate-limit-by-key", "quota-by-key", "llm-token-limit"]
    rate = find(root, "inbound/rate-limit-by-key")
    # 100 calls per 2 s: the burst, refilled at 50 per second on average.
    assert rate.attrib == {"calls": "100", "renewal-period": "2", "counter-key": "@(context.Subscription.Id)"}
    quota = find(root, "inbound/quota-by-key")
    assert quota.attrib == {"calls": "500000", "renewal-period": "86400", "counter-key": "@(context.Subscription.Id)"}
    with pytest.raises(ValueError, match="rate_limit_rps and burst go together"):
        p.product_policy(tokens_per_minute=1000, rate_limit_rps=5)


@pytest.mark.parametrize(
    ("rps", "burst", "window"),
    [(50, 100, (100, 2)), (10, 20, (20, 2)), (20, 5, (20, 1)), (0.5, 3, (3, 6)), (3, 10, (12, 4))],
)
def test_request_rate_window_allows_the_burst_and_the_steady_rate(rps: float, burst: int, window: tuple[int, int]) -> None:
    calls, period = p.request_rate_window(rps, burst)
    assert (calls, period) == window
    assert calls >= burst and calls / period >= rps and period >= 1


def test_product_policy_refuses_ungranted_openai_deployments_first_and_caps_max_tokens() -> None:
    root = ET.fromstring(
        p.product_policy(tokens_per_minute=1000, rate_limit_rps=5, burst=10, openai_deployments=["b", "a"], max_tokens=256)
    )
    inbound = find(root, "inbound")
    # The refusal comes before every limit: a refused request costs no quota; then the cap, then the limits.
    assert tags(inbound) == ["base", "choose", "choose", "rate-limit-by-key", "llm-token-limit"]
    refusal = inbound[1][0]
    assert refusal.get("condition") == (
        '@(context.Request.MatchedParameters.ContainsKey("deployment-id") && '
        '!(context.Request.MatchedParameters["deployment-id"] == "a" || context.Request.MatchedParameters["deployment-id"] == "b"))'
    )
    answer = find(refusal, "return-response")
    assert find(answer, "set-status").get("code") == "403"
    headers = {h.get("name"): find(h, "value").text for h in answer.findall("set-header")}
    # The who-served headers as the front sets them on its own refusals.
    assert (headers[fc.SERVED_BY_HEADER], headers[fc.FALLBACK_HEADER]) == (fc.NONE, "false")
    assert json.loads(cast(str, find(answer, "set-body").text))["error"]["message"] == p.DEPLOYMENT_REFUSED_MESSAGE
    cap = inbound[2][0]
    assert cap.get("condition") == p.CAP_CONDITION and find(cap, "set-body").text == p.max_tokens_body(256)
    assert "> 256) { body[key] = 256; }" in p.max_tokens_body(256)


def test_product_policy_without_openai_deployments_refuses_every_openai_request_and_without_the_api_renders_nothing() -> None:
    none_granted = ET.fromstring(p.product_policy(tokens_per_minute=1000, openai_deployments=[]))
    assert find(none_granted, "inbound")[1][0].get("condition") == '@(context.Request.MatchedParameters.ContainsKey("deployment-id"))'
    assert tags(find(ET.fromstring(p.product_policy(tokens_per_minute=1000)), "inbound")) == ["base", "llm-token-limit"]
    with pytest.raises(ValueError, match="max_tokens caps /openai requests: it needs openai_deployments"):
        p.product_policy(tokens_per_minute=1000, max_tokens=10)
    with pytest.raises(ValueError, match="deployment 'a\"b'"):
        p.product_policy(tokens_per_minute=1000, openai_deployments=['a"b'])


def test_the_edge_key_presented_as_a_clients_bearer_is_403_before_anything_counts() -> None:
    inbound = find(engine_policy(), "inbound")
    assert tags(inbound)[:3] == ["choose", "choose", "base"]  # query key, then the edge key, then the product's limits
    when = find(inbound[1], "when")
    assert when.get("condition") == p.edge_key_presented_condition("litellm-master-key")
    assert "{{litellm-master-key}}" in when.get("condition", "")
    answer = find(when, "return-response")
    assert find(answer, "set-status").get("code") == "403"
    assert {h.get("name"): find(h, "value").text for h in answer.findall("set-header")}[fc.SERVED_BY_HEADER] == fc.NONE
    assert tags(find(pool_policy(), "inbound"))[:2] == ["choose", "base"]  # /openai has no edge key to refuse
