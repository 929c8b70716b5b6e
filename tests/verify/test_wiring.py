"""The engine config against its container and the servers it names (wiring.*), on recorded plans."""

from __future__ import annotations

import base64
import json

import pytest
import yaml
from pulumi_llm.gateway.config import CONFIG_ENV
from pulumi_llm.gateway.engine import FRONT_CONFIG_ENV
from pulumi_llm.gateway.routing import KIND_DIRECT, KIND_LITELLM
from pulumi_llm.verify import run_rules
from pulumi_llm.verify.engines import engine_configs, front_routings

from .conftest import fired

GATEWAY_STACKS = ["dev", "prod", "gcp-dev", "gcp-prod", "azure-dev", "azure-prod"]


@pytest.mark.parametrize("stack", GATEWAY_STACKS)
def test_every_gateway_stack_has_its_engine_configs_found(recorded, stack):
    view = recorded(stack)
    configs = list(engine_configs(view))
    assert len(configs) == 1
    _resource, _container, config = configs[0]
    assert config["model_list"], stack  # every shipped gateway has a provider route
    [routing] = front_routings(view)
    assert routing.error is None and routing.chains, stack
    # LiteLLM knows exactly the provider deployments the front sends it.
    sent = {c.model for c in routing.deployments() if c.kind == KIND_LITELLM}
    assert sent == {m["model_name"] for m in config["model_list"]}, stack


def _ecs_container(view, name="llm-gateway-task"):
    task = next(r for r in view.resources if r["type"] == "aws:ecs/taskDefinition:TaskDefinition")
    containers = json.loads(task["inputs"]["containerDefinitions"])
    return task, containers


def _rewrite_config(view, change):
    """Decode the engine config wherever it is, apply `change`, and encode it back."""
    for resource in view.resources:
        text = json.dumps(resource["inputs"])
        if CONFIG_ENV not in text:
            continue
        for _r, container, config in engine_configs(view):
            change(config)
            new = base64.b64encode(yaml.safe_dump(config).encode()).decode()
            entries = [
                e
                for item in container.values()
                if isinstance(item, list)
                for e in item
                if isinstance(e, dict) and e.get("name") == CONFIG_ENV
            ]
            old = entries[0]["value"]
            resource_text = json.dumps(resource["inputs"]).replace(old, new)
            resource["inputs"] = json.loads(resource_text)
            return
    raise AssertionError("no engine config")


def _rewrite_front(view, change):
    """Decode the front's config wherever it is, apply `change` to its routing document, and encode it back."""
    for routing in front_routings(view):
        entries = [
            e
            for item in routing.container.values()
            if isinstance(item, list)
            for e in item
            if isinstance(e, dict) and e.get("name") == FRONT_CONFIG_ENV
        ]
        old = entries[0]["value"]
        config = json.loads(base64.b64decode(old))
        change(config["routing"])
        new = base64.b64encode(json.dumps(config).encode()).decode()
        routing.resource["inputs"] = json.loads(json.dumps(routing.resource["inputs"]).replace(old, new))
        return
    raise AssertionError("no front config")


def test_seed_provider_key_secret_missing_on_ecs(recorded):
    view = recorded("prod")
    task, containers = _ecs_container(view)
    for c in containers:
        c["secrets"] = [s for s in c.get("secrets") or [] if s["name"] != "OPENAI_API_KEY"]
    task["inputs"]["containerDefinitions"] = json.dumps(containers)
    assert fired(view) == {"wiring.engine-env"}


def test_seed_secret_file_outside_every_mount_on_cloud_run(recorded):
    view = recorded("gcp-prod")
    service = next(r for r in view.resources if r["type"] == "gcp:cloudrunv2/service:Service")
    for container in service["inputs"]["template"]["containers"]:
        for env in container.get("envs") or []:
            if env["name"] == "LITELLM_SECRET_FILES":
                files = json.loads(env["value"])
                files["ANTHROPIC_API_KEY"] = "/elsewhere/value"
                env["value"] = json.dumps(files, sort_keys=True)
    assert fired(view) == {"wiring.engine-env"}


@pytest.mark.parametrize("stack", ["azure-dev", "azure-prod", "gcp-prod"])
def test_seed_route_names_a_model_no_server_serves(recorded, stack):
    view = recorded(stack)

    def rename(routing):
        for chain in routing["chains"].values():
            for candidate in chain:
                if candidate["kind"] == KIND_DIRECT:
                    candidate["model"] = "llama-3.1-8b-instruct"  # dots: not the served name

    _rewrite_front(view, rename)
    assert fired(view) == {"wiring.self-hosted-model"}


def test_seed_self_hosted_key_variable_the_container_lacks(recorded):
    view = recorded("gcp-prod")

    def elsewhere(routing):
        for chain in routing["chains"].values():
            for candidate in chain:
                if candidate["kind"] == KIND_DIRECT:
                    candidate["key_env"] = "SELF_HOSTED_ELSEWHERE_KEY"

    _rewrite_front(view, elsewhere)
    assert fired(view) == {"wiring.engine-env"}
    assert any("the front's routing reads os.environ/SELF_HOSTED_ELSEWHERE_KEY" in v.why for v in run_rules(view))


def test_seed_unreadable_front_routing(recorded):
    view = recorded("gcp-prod")
    _rewrite_front(view, lambda routing: routing.update(version=99))
    assert fired(view) == {"wiring.self-hosted-model"}
    assert any("the front's config cannot be read" in v.why and "version 99" in v.why for v in run_rules(view))
