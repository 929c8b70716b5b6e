"""The front's grants: what decide_request admits, caps and refuses, the limiter's windows with a fake clock
(Retry-After = the real time until the window admits), settling reservations, and the grants document."""

from __future__ import annotations

import json

import pytest
from pulumi_llm.component_args import gateway_consumers
from pulumi_llm.errors import UserError
from pulumi_llm.gateway import front_contract
from pulumi_llm.gateway.config import Consumer, GatewaySpec, ModelGroup, ProviderRoute, edge_policies, grants_from_spec
from pulumi_llm.gateway.grants import (
    FILLED_KEY,
    Grant,
    Limiter,
    decide_request,
    estimate_prompt_tokens,
    grants_document,
    grants_from_document,
    visible_models,
)
from pulumi_llm.settings import load

CHAT = "/v1/chat/completions"
WEB = Grant("web", ("chat", "embed"), max_tokens=256)
BATCH = Grant("batch", ("chat-large",))


def chat(model: str = "chat", text: str = "", **extra: object) -> dict[str, object]:
    return {"model": model, "messages": [{"role": "user", "content": text}], **extra}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# --- decide_request -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/key/generate"), ("GET", "/health"), ("POST", "/anthropic/v1/messages"), ("GET", CHAT), ("POST", "/v1/models")],
)
def test_only_the_inference_routes_exist(method: str, path: str) -> None:
    d = decide_request(WEB, method, path, chat())
    assert (d.status, d.body) == (404, None)
    assert d.reason == f"no such route: {method} {path}"


def test_every_contract_route_is_admitted_for_a_granted_model() -> None:
    for method, path in front_contract.INFERENCE_ROUTES:
        body = None if method == "GET" else {"model": "chat", "prompt": "x", "input": "x", "messages": []}
        assert decide_request(WEB, method, path, body).status == 200, path


def test_models_listing_is_admitted_without_a_body() -> None:
    d = decide_request(BATCH, "GET", "/v1/models", None)
    assert (d.status, d.body, d.reserved_tokens) == (200, None, 0)


def test_a_model_not_granted_is_403_naming_it_and_not_the_grant() -> None:
    d = decide_request(WEB, "POST", CHAT, chat("chat-large"))
    assert d.status == 403
    assert d.reason == "model 'chat-large' is not granted to consumer web"
    assert "embed" not in d.reason and d.body is None


def test_a_long_model_name_is_echoed_shortened() -> None:
    d = decide_request(WEB, "POST", CHAT, chat("x" * 5000))
    assert d.status == 403 and len(d.reason) < 200


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (None, "the request body must be a JSON object"),
        ({"messages": []}, "model: required, the name of a model granted to this consumer"),
        ({"model": ""}, "model: required, the name of a model granted to this consumer"),
        ({"model": 7}, "model: required, the name of a model granted to this consumer"),
        (chat(max_tokens=0), "max_tokens = 0: allowed a positive whole number"),
        (chat(max_tokens="100"), "max_tokens = '100': allowed a positive whole number"),
        (chat(max_completion_tokens=True), "max_completion_tokens = True: allowed a positive whole number"),
        (chat(max_tokens=1.5), "max_tokens = 1.5: allowed a positive whole number"),
    ],
)
def test_bad_bodies_are_400(body: dict[str, object] | None, reason: str) -> None:
    d = decide_request(WEB, "POST", CHAT, body)
    assert (d.status, d.reason, d.body) == (400, reason, None)


def test_max_tokens_above_the_cap_is_capped() -> None:
    d = decide_request(WEB, "POST", CHAT, chat(max_tokens=10_000))
    assert d.status == 200 and d.body is not None
    assert d.body["max_tokens"] == 256


def test_both_length_keys_are_capped() -> None:
    d = decide_request(WEB, "POST", CHAT, chat(max_tokens=300, max_completion_tokens=9000))
    assert d.body is not None
    assert (d.body["max_tokens"], d.body["max_completion_tokens"]) == (256, 256)


def test_max_tokens_within_the_cap_is_kept() -> None:
    d = decide_request(WEB, "POST", CHAT, chat(max_completion_tokens=100))
    assert d.body is not None
    assert d.body["max_completion_tokens"] == 100 and "max_tokens" not in d.body


def test_absent_max_tokens_is_set_to_the_cap() -> None:
    d = decide_request(WEB, "POST", "/v1/completions", {"model": "chat", "prompt": "hi"})
    assert d.body is not None and d.body[FILLED_KEY] == 256
    d = decide_request(WEB, "POST", CHAT, chat(max_tokens=None))
    assert d.body is not None and d.body["max_tokens"] == 256


def test_no_cap_leaves_the_body_alone() -> None:
    body = chat("chat-large", "hi", max_tokens=100_000)
    d = decide_request(BATCH, "POST", CHAT, body)
    assert d.body == body
    assert "max_tokens" not in (decide_request(BATCH, "POST", CHAT, chat("chat-large")).body or {})


def test_embeddings_are_not_capped() -> None:
    d = decide_request(WEB, "POST", "/v1/embeddings", {"model": "embed", "input": "abcdefgh"})
    assert d.body == {"model": "embed", "input": "abcdefgh"}
    assert d.reserved_tokens == 2


def test_the_clients_body_is_not_mutated() -> None:
    body = chat(max_tokens=999)
    decide_request(WEB, "POST", CHAT, body)
    assert body["max_tokens"] == 999


def test_reservation_is_prompt_estimate_plus_capped_max_tokens() -> None:
    # 40 bytes of text = 10 tokens, + 4 for the one message, + the cap 256
    d = decide_request(WEB, "POST", CHAT, chat(text="a" * 40, max_tokens=5000))
    assert d.reserved_tokens == 10 + 4 + 256


def test_n_best_of_and_a_batched_prompt_reserve_the_allowance_once_per_completion() -> None:
    # n completions of up to the cap each: a token limit must see all of them before admitting.
    one = decide_request(WEB, "POST", CHAT, chat(text="a" * 40, max_tokens=100)).reserved_tokens
    five = decide_request(WEB, "POST", CHAT, chat(text="a" * 40, max_tokens=100, n=5)).reserved_tokens
    assert five - (10 + 4) == 5 * (one - (10 + 4)) == 500
    completions = "/v1/completions"
    body = {"model": "chat", "prompt": ["a" * 40, "b" * 40, "c" * 40], "max_tokens": 10, "best_of": 4, "n": 2}
    # 3 prompts x best_of 4 (generated and billed, though n=2 come back) x 10 tokens, + 30 prompt tokens
    assert decide_request(WEB, "POST", completions, body).reserved_tokens == 30 + 3 * 4 * 10
    tokenized = {"model": "chat", "prompt": [1, 2, 3, 4], "max_tokens": 10}  # one prompt as token ids
    assert decide_request(WEB, "POST", completions, tokenized).reserved_tokens == 4 + 10


@pytest.mark.parametrize("key, value", [("n", 0), ("n", "3"), ("n", True), ("best_of", -1)])
def test_a_bad_copy_count_is_400(key: str, value: object) -> None:
    d = decide_request(WEB, "POST", CHAT, {**chat(), key: value})
    assert (d.status, d.reserved_tokens) == (400, 0)
    assert d.reason.startswith(f"{key} = ")


def test_a_limiter_refuses_n_copies_that_exceed_the_minutes_tokens() -> None:
    grant = Grant("web", ("chat",), tokens_per_minute=1000)
    limiter = Limiter({"web": grant}, clock=lambda: 100.0)
    assert limiter.admit("web", "POST", CHAT, chat(text="hi", max_tokens=300, n=2)).status == 200  # ~606 reserved
    refused = limiter.admit("web", "POST", CHAT, chat(text="hi", max_tokens=300, n=2))
    assert refused.status == 429 and refused.retry_after is not None


def test_prompt_estimate_counts_text_parts_token_ids_and_every_message() -> None:
    parts = {"messages": [{"role": "system", "content": "a" * 8}, {"role": "user", "content": [{"type": "text", "text": "b" * 9}]}]}
    assert estimate_prompt_tokens(CHAT, parts) == 5 + 2 * 4  # ceil(17 / 4) + 4 per message
    assert estimate_prompt_tokens("/v1/completions", {"prompt": [1, 2, 3]}) == 3
    assert estimate_prompt_tokens("/v1/completions", {"prompt": ["é" * 2]}) == 1  # 4 UTF-8 bytes
    assert estimate_prompt_tokens(CHAT, {"messages": "nope"}) == 0


def test_visible_models_are_the_granted_ones_in_catalog_order() -> None:
    assert visible_models(WEB, ["embed", "chat-large", "chat"]) == ["embed", "chat"]
    assert visible_models(BATCH, ["chat", "embed"]) == []


# --- the grants document ----------------------------------------------------------------------------


def test_document_round_trips_through_json() -> None:
    full = Grant(
        "web", ("chat",), max_tokens=512, requests_per_minute=60, requests_per_day=10_000, tokens_per_minute=50_000, tokens_per_day=1
    )
    doc = grants_document({"web": full, "batch": BATCH})
    assert json.dumps(doc).index('"batch"') < json.dumps(doc).index('"web"')  # sorted by name
    assert grants_from_document(json.loads(json.dumps(doc))) == {"web": full, "batch": BATCH}


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"consumers": {}}, "grants document: version = None: allowed 1"),
        ({"version": 1, "consumers": []}, "grants document: consumers: allowed an object of consumer name to grant"),
        (
            {"version": 1, "consumers": {"web": {"models": []}}},
            "grants document: consumers.web.models = []: allowed a non-empty list of model names",
        ),
        ({"version": 1, "consumers": {"web": {"models": ["chat"], "rpm": 5}}}, "grants document: consumers.web.rpm: not a grant key"),
        (
            {"version": 1, "consumers": {"web": {"models": ["chat"], "tokens_per_day": 0}}},
            "grants document: consumers.web.tokens_per_day = 0: allowed a positive whole number or null",
        ),
        (
            {"version": 1, "consumers": {"web": {"models": ["chat"], "max_tokens": True}}},
            "grants document: consumers.web.max_tokens = True: allowed a positive whole number or null",
        ),
    ],
)
def test_a_broken_document_is_refused_in_one_line(doc: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError) as caught:
        grants_from_document(doc)
    assert str(caught.value) == message


# --- the limiter ------------------------------------------------------------------------------------


def test_requests_per_minute_slides_and_retry_after_is_the_real_wait() -> None:
    clock = Clock()
    limiter = Limiter({"web": Grant("web", ("chat",), requests_per_minute=2)}, clock)
    assert limiter.admit("web", "POST", CHAT, chat()).status == 200
    clock.now += 20
    assert limiter.admit("web", "POST", CHAT, chat()).status == 200
    clock.now += 10
    refused = limiter.admit("web", "POST", CHAT, chat())
    assert (refused.status, refused.retry_after, refused.body) == (429, 30, None)  # the first leaves at +60
    assert refused.reason == "requests_per_minute limit of 2 reached for consumer web; retry after 30 s"
    clock.now += 29.5
    assert limiter.admit("web", "POST", CHAT, chat()).retry_after == 1  # 0.5 s left: rounded up, never 0
    clock.now += 0.5
    assert limiter.admit("web", "POST", CHAT, chat()).status == 200
    assert limiter.admit("web", "POST", CHAT, chat()).retry_after == 20  # now the second is the oldest


def test_refused_requests_do_not_count() -> None:
    clock = Clock()
    limiter = Limiter({"web": Grant("web", ("chat",), requests_per_minute=1)}, clock)
    for _ in range(5):
        assert limiter.admit("web", "POST", CHAT, chat("chat-large")).status == 403
        assert limiter.admit("web", "POST", CHAT, None).status == 400
    assert limiter.admit("web", "POST", CHAT, chat()).status == 200


def test_model_listing_is_never_limited() -> None:
    clock = Clock()
    limiter = Limiter({"web": Grant("web", ("chat",), requests_per_minute=1, tokens_per_minute=1)}, clock)
    assert limiter.admit("web", "POST", CHAT, chat()).status == 200
    assert all(limiter.admit("web", "GET", "/v1/models", None).status == 200 for _ in range(10))


def test_requests_per_day_window_is_24_hours_and_sliding() -> None:
    clock = Clock()
    limiter = Limiter({"web": Grant("web", ("chat",), requests_per_day=3, requests_per_minute=100)}, clock)
    for step in (0, 3600, 3600):  # at 0 h, 1 h, 2 h
        clock.now += step
        assert limiter.admit("web", "POST", CHAT, chat()).status == 200
    clock.now += 3600  # 3 h: the first leaves at 24 h
    refused = limiter.admit("web", "POST", CHAT, chat())
    assert (refused.status, refused.retry_after) == (429, 21 * 3600)
    assert refused.reason.startswith("requests_per_day limit of 3 reached")
    clock.now += 21 * 3600
    assert limiter.admit("web", "POST", CHAT, chat()).status == 200
    assert limiter.admit("web", "POST", CHAT, chat()).retry_after == 3600  # the 1 h request leaves at 25 h


def test_the_longest_wait_wins_when_several_limits_are_reached() -> None:
    clock = Clock()
    limiter = Limiter({"web": Grant("web", ("chat",), requests_per_minute=1, requests_per_day=1)}, clock)
    assert limiter.admit("web", "POST", CHAT, chat()).status == 200
    refused = limiter.admit("web", "POST", CHAT, chat())
    assert refused.retry_after == 86_400 and "requests_per_day" in refused.reason


def test_consumers_have_their_own_windows() -> None:
    clock = Clock()
    limiter = Limiter(
        {g.consumer: g for g in (Grant("a", ("chat",), requests_per_minute=1), Grant("b", ("chat",), requests_per_minute=1))}, clock
    )
    assert limiter.admit("a", "POST", CHAT, chat()).status == 200
    assert limiter.admit("a", "POST", CHAT, chat()).status == 429
    assert limiter.admit("b", "POST", CHAT, chat()).status == 200


def test_an_unknown_consumer_is_403() -> None:
    d = Limiter({"web": WEB}).admit("ghost", "POST", CHAT, chat())
    assert (d.status, d.reason) == (403, "no grant for this consumer")


def test_tokens_are_reserved_at_admit_and_refused_when_the_minute_is_full() -> None:
    clock = Clock()
    limiter = Limiter({"web": Grant("web", ("chat",), max_tokens=400, tokens_per_minute=1000)}, clock)
    first = limiter.admit("web", "POST", CHAT, chat(text="a" * 40))  # 10 + 4 + 400
    assert (first.status, first.reserved_tokens) == (200, 414)
    assert limiter.admit("web", "POST", CHAT, chat(text="a" * 40)).status == 200  # 828
    clock.now += 5
    refused = limiter.admit("web", "POST", CHAT, chat(text="a" * 40))
    assert (refused.status, refused.retry_after) == (429, 55)
    assert refused.reason == "tokens_per_minute limit of 1000 reached for consumer web; retry after 55 s"


def test_settling_below_the_reservation_frees_the_difference() -> None:
    clock = Clock()
    limiter = Limiter({"web": Grant("web", ("chat",), max_tokens=400, tokens_per_minute=1000)}, clock)
    a = limiter.admit("web", "POST", CHAT, chat(text="a" * 40))
    b = limiter.admit("web", "POST", CHAT, chat(text="a" * 40))
    assert limiter.admit("web", "POST", CHAT, chat(text="a" * 40)).status == 429
    clock.now += 2
    limiter.settle("web", a.reserved_tokens, 50)
    limiter.settle("web", b.reserved_tokens, 50)
    assert limiter.admit("web", "POST", CHAT, chat(text="a" * 40)).status == 200  # 50 + 50 + 414


def test_settling_above_the_reservation_counts_the_excess_now() -> None:
    clock = Clock()
    limiter = Limiter({"web": Grant("web", ("chat",), max_tokens=100, tokens_per_minute=1000)}, clock)
    d = limiter.admit("web", "POST", CHAT, chat())
    clock.now += 30
    limiter.settle("web", d.reserved_tokens, 1100)  # the backend ignored the cap: 1100 used in all
    refused = limiter.admit("web", "POST", CHAT, chat())
    # the 104 reserved at t0 leave at +60 (30 s from now), but the 996 counted now keep the window too
    # full for another 104 until they leave, 60 s from now.
    assert (refused.status, refused.retry_after) == (429, 60)


def test_unknown_usage_keeps_the_reservation() -> None:
    clock = Clock()
    limiter = Limiter({"web": Grant("web", ("chat",), max_tokens=500, tokens_per_minute=1000)}, clock)
    d = limiter.admit("web", "POST", CHAT, chat())
    limiter.settle("web", d.reserved_tokens, None)
    assert limiter.admit("web", "POST", CHAT, chat()).status == 429  # 504 + 504 > 1000


def test_a_request_larger_than_the_whole_limit_waits_for_an_empty_window() -> None:
    clock = Clock()
    limiter = Limiter({"web": Grant("web", ("chat",), tokens_per_minute=100)}, clock)
    small = limiter.admit("web", "POST", CHAT, chat(text="a" * 80))  # 24 tokens
    assert small.status == 200
    clock.now += 10
    big = limiter.admit("web", "POST", CHAT, chat(text="a" * 4000))
    assert (big.status, big.retry_after) == (429, 50)
    clock.now += 50
    assert limiter.admit("web", "POST", CHAT, chat(text="a" * 4000)).status == 200


def test_tokens_per_day_holds_across_minutes() -> None:
    clock = Clock()
    limiter = Limiter({"web": Grant("web", ("chat",), max_tokens=96, tokens_per_minute=10_000, tokens_per_day=250)}, clock)
    for _ in range(2):
        assert limiter.admit("web", "POST", CHAT, chat()).status == 200  # 100 each
        clock.now += 120
    refused = limiter.admit("web", "POST", CHAT, chat())
    assert refused.status == 429 and refused.reason.startswith("tokens_per_day limit of 250")
    assert refused.retry_after == 86_400 - 240


def test_without_token_limits_nothing_is_reserved() -> None:
    limiter = Limiter({"web": Grant("web", ("chat",), max_tokens=100, requests_per_minute=5)})
    d = limiter.admit("web", "POST", CHAT, chat())
    assert (d.status, d.reserved_tokens) == (200, 0)
    assert d.body is not None and d.body["max_tokens"] == 100


# --- from the stack's settings to the grants ---------------------------------------------------------


def _spec(*consumers: Consumer) -> GatewaySpec:
    route = ProviderRoute("openai", "openai", "gpt-4o-mini", secret_env="OPENAI_API_KEY")
    return GatewaySpec(model_groups=(ModelGroup("chat", (route,)), ModelGroup("chat-large", (route,))), consumers=consumers)


def test_grants_from_spec_carry_every_limit_of_each_consumer() -> None:
    spec = _spec(
        Consumer("web", ("chat",), rpm=600, tpm=100_000, max_tokens=2048, requests_per_day=20_000, tokens_per_day=20_000_000),
        Consumer("batch", ("chat", "chat-large")),
    )
    assert grants_from_spec(spec) == {
        "web": Grant("web", ("chat",), 2048, 600, 20_000, 100_000, 20_000_000),
        "batch": Grant("batch", ("chat", "chat-large")),
    }


def test_grants_from_spec_refuse_a_cap_that_does_not_fit_the_minute() -> None:
    with pytest.raises(UserError) as caught:
        grants_from_spec(_spec(Consumer("web", ("chat",), tpm=1000, max_tokens=4096)))
    assert str(caught.value) == "gateway.consumers.web.max_tokens = 4096: allowed at most tpm (1000), so a capped request fits"


def test_edge_policies_take_the_consumers_own_rate_and_burst() -> None:
    (web,) = edge_policies(_spec(Consumer("web", ("chat",), rpm=300, rate_per_second=5.0, burst=10, max_tokens=512, tokens_per_day=9000)))
    assert (web.rate_per_second, web.burst, web.max_tokens, web.tokens_per_day) == (5.0, 10, 512, 9000)
    (derived,) = edge_policies(_spec(Consumer("web", ("chat",), rpm=300)))
    assert (derived.rate_per_second, derived.burst) == (5.0, 50)  # rpm/60 and ten seconds' worth


def test_stack_settings_become_consumers_with_their_grant() -> None:
    cfg = {
        "pulumi-llm:environment": "dev",
        "pulumi-llm:cloud": "aws",
        "pulumi-llm:region": "us-east-1",
        "pulumi-llm:methods": json.dumps(["gateway"]),
        "pulumi-llm:gateway": json.dumps(
            {
                "models": {"chat": {"routes": [{"provider": "openai", "model": "gpt-4o-mini"}]}},
                "consumers": {
                    "web": {
                        "models": ["chat"],
                        "requests_per_day": 20_000,
                        "rate_limit_rps": 2.5,
                        "burst": 5,
                        "max_tokens": 1024,
                        "tokens_per_minute": 50_000,
                        "tokens_per_day": 5_000_000,
                    },
                    "app": {"models": ["chat"], "requests_per_day": 10},
                },
            }
        ),
    }
    app, web = gateway_consumers(load(cfg, "stacks/Pulumi.dev.yaml"))
    assert (web.name, web.models, web.rpm, web.tpm, web.max_tokens, web.requests_per_day, web.tokens_per_day) == (
        "web",
        ("chat",),
        150,  # 2.5 rps as the front's sliding minute
        50_000,
        1024,
        20_000,
        5_000_000,
    )
    assert (web.rate_per_second, web.burst) == (2.5, 5)
    # Defaults: rate_limit_rps 10 and burst 20 (the edge's), no token limits and no cap.
    assert (app.rpm, app.tpm, app.max_tokens, app.tokens_per_day, app.burst) == (600, None, None, None, 20)


def test_the_package_adapter_offers_every_consumer_key() -> None:
    """A TypeScript/Go/YAML program sets a consumer's grant with the same keys as a stack file."""
    from pulumi_llm.provider import components
    from pulumi_llm.settings import ConsumerSettings

    schema = json.loads(str(components.provider().schema))
    offered = set(schema["types"]["pulumi-llm:index:GatewayConsumer"]["properties"])
    camel = {k.split("_")[0] + "".join(p.title() for p in k.split("_")[1:]) for k in ConsumerSettings.model_fields}
    assert camel == offered
