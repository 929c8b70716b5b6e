"""verify/addresses.py and verify/routes.py: the CIDR arithmetic and the gateway-route look-ups the network
rules of every cloud share."""

from __future__ import annotations

from pulumi_llm.verify import PlanView, addresses, routes


def test_within_is_containment_of_the_whole_range():
    assert addresses.within("10.1.2.0/24", "10.0.0.0/8") and addresses.within("10.1.2.3", "10.1.2.0/24")
    assert not addresses.within("10.0.0.0/8", "10.1.0.0/16")  # only part of it
    assert not addresses.within("::/0", "0.0.0.0/0") and not addresses.within("VirtualNetwork", "0.0.0.0/0")


def test_overlaps_is_any_common_address():
    assert addresses.overlaps("10.0.0.0/8", "10.1.0.0/16") and addresses.overlaps("10.1.0.0/16", "10.0.0.0/8")
    assert not addresses.overlaps("10.0.0.0/16", "10.1.0.0/16")
    assert not addresses.overlaps("::/0", "0.0.0.0/0") and not addresses.overlaps("*", "10.0.0.0/8")


def test_network_parses_addresses_and_ranges_only():
    assert str(addresses.network("10.1.2.3/16")) == "10.1.0.0/16"
    assert addresses.network("Internet") is None and addresses.network("*") is None


def test_routed_models_come_from_the_settings():
    settings = {
        "methods": ["gateway"],
        "gateway": {
            "models": {"chat": {"routes": [{"provider": "self-hosted", "model": "llama"}, {"provider": "openai", "model": "gpt"}]}}
        },
    }
    assert routes.routed_models(PlanView("s", settings, [])) == {"llama"}
    assert routes.routed_models(PlanView("s", {**settings, "methods": ["cluster"]}, [])) == set()  # no gateway, no routes
