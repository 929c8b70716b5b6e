"""The engine config against its container and the servers it names (wiring.*), on recorded plans."""

from __future__ import annotations

import base64
import json

import pytest
import yaml
from pulumi_llm.gateway.config import CONFIG_ENV
from pulumi_llm.verify.engines import engine_configs

from .conftest import fired

GATEWAY_STACKS = ["dev", "prod", "gcp-dev", "gcp-prod", "azure-dev", "azure-prod"]


@pytest.mark.parametrize("stack", GATEWAY_STACKS)
def test_every_gateway_stack_has_its_engine_config_found(recorded, stack):
    configs = list(engine_configs(recorded(stack)))
    assert len(configs) == 1
    _resource, _container, config = configs[0]
    assert config["model_list"], stack


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

    def rename(config):
        for entry in config["model_list"]:
            if entry["litellm_params"]["model"].startswith("hosted_vllm/"):
                entry["litellm_params"]["model"] = "hosted_vllm/llama-3.1-8b-instruct"  # dots: not the served name

    _rewrite_config(view, rename)
    assert fired(view) == {"wiring.self-hosted-model"}
