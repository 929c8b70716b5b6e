"""GcpGateway under the recording mock runtime: remote repository, secrets (providers' and consumers' keys),
Cloud Run running the front, a load balancer that routes only the inference paths, alerts (the who-served
counters and the hybrid groups' fallback alarms)."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys
from typing import Any, cast

import pulumi
import pulumi_gcp as gcp
import pytest
from helpers import by_name, children, of_type, only, run
from pulumi_llm import pins
from pulumi_llm.errors import UserError
from pulumi_llm.gateway import gcp as gw
from pulumi_llm.gateway.config import Consumer, GatewaySpec, ModelGroup, ProviderRoute
from pulumi_llm.gateway.engine import BOOT_WITH_SECRET_FILES, front_config  # gateway.gcp's BOOT
from pulumi_llm.gateway.fallback_alarms import FallbackAlarm, alarm_resource_name, decide_fallback_alarms
from pulumi_llm.gateway.front_contract import ALARM_FALLBACK_SHARE, ALARM_SELF_HOSTED_SILENT, INFERENCE_ROUTES
from pulumi_llm.gateway.gcp import GcpGateway, GcpGatewayArgs
from pulumi_llm.labels import CommonLabels

PROJECT = "llm-prod-123"
REGION = "europe-west4"
KEY = f"projects/{PROJECT}/locations/{REGION}/keyRings/llm/cryptoKeys/stack"
RUNTIME_SA = f"llm-gw-prod@{PROJECT}.iam.gserviceaccount.com"
CONFIG = """\
model_list:
  - model_name: gpt-4o
    litellm_params: {model: openai/gpt-4o, api_key: os.environ/OPENAI_API_KEY}
  - model_name: claude
    litellm_params: {model: anthropic/claude-sonnet-4, api_key: os.environ/ANTHROPIC_API_KEY}
  - model_name: gemini
    litellm_params: {model: vertex_ai/gemini-2.5-pro, vertex_project: os.environ/VERTEXAI_PROJECT}
general_settings: {master_key: os.environ/LITELLM_MASTER_KEY}
litellm_settings: {request_timeout: 540}
"""
SECRETS = {"OPENAI_API_KEY": "openai", "ANTHROPIC_API_KEY": "anthropic"}
CONSUMERS = ("search", "support-bot")
# What the front serves: a hybrid group (a self-hosted model, a provider group as its fallback) and a provider-only one.
SPEC = GatewaySpec(
    model_groups=(
        ModelGroup(
            "chat",
            routes=(ProviderRoute("llama", "self-hosted", "llama", api_base="http://10.40.0.9:8000/v1"),),
            fallbacks=("gpt-4o",),
            fallback_share_percent=2.5,
            fallback_window_minutes=15,
        ),
        ModelGroup("gpt-4o", routes=(ProviderRoute("openai", "openai", "gpt-4o", secret_env="OPENAI_API_KEY"),)),
        ModelGroup("claude", routes=(ProviderRoute("anthropic", "anthropic", "claude-sonnet-4", secret_env="ANTHROPIC_API_KEY"),)),
    ),
    consumers=(Consumer("search", models=("chat",)), Consumer("support-bot", models=("claude",), rpm=60)),
)
FRONT = front_config(SPEC, identity="keys", stack="prod", consumer_key_files=gw.consumer_key_files(CONSUMERS))
ALARMS = decide_fallback_alarms(SPEC)


def args(**overrides: Any) -> GcpGatewayArgs:
    values: dict[str, Any] = {
        "labels": CommonLabels("prod", "prod"),
        "project": PROJECT,
        "region": REGION,
        "kms_key": KEY,
        "engine_config_yaml": CONFIG,
        "provider_secrets": SECRETS,
        "environment": {"VERTEXAI_PROJECT": PROJECT},
        "vertex_ai": True,
        "domains": ("llm.example.com",),
        "notification_channels": ("projects/llm-prod-123/notificationChannels/42",),
        "front_config": FRONT,
        "fallback_alarms": ALARMS,
    }
    values.update(overrides)
    return GcpGatewayArgs(**values)


def plan(captured: dict[str, Any] | None = None, **overrides: Any):
    def program() -> None:
        provider = gcp.Provider("gcp", project=PROJECT, region=REGION)
        gateway = GcpGateway("llm-gw", args(**overrides), opts=pulumi.ResourceOptions(providers=[provider]))
        if captured is not None:
            captured["component"] = gateway
            gateway.runtime_service_account_email.apply(lambda v: cast(dict[str, Any], captured).__setitem__("email", v))
            for provider_name, output in gateway.secret_ids.items():
                output.apply(lambda v, p=provider_name: cast(dict[str, Any], captured).setdefault("secret_ids", {}).__setitem__(p, v))

    return run(program, region=REGION)


EXPECTED = [
    ("gcp:artifactregistry/repository:Repository", "llm-gw-ghcr"),
    ("gcp:compute/backendService:BackendService", "llm-gw-backend"),
    ("gcp:compute/globalAddress:GlobalAddress", "llm-gw-ip"),
    ("gcp:compute/globalForwardingRule:GlobalForwardingRule", "llm-gw-http"),
    ("gcp:compute/globalForwardingRule:GlobalForwardingRule", "llm-gw-https"),
    ("gcp:compute/managedSslCertificate:ManagedSslCertificate", "llm-gw-cert"),
    ("gcp:compute/regionNetworkEndpointGroup:RegionNetworkEndpointGroup", "llm-gw-neg"),
    ("gcp:compute/sSLPolicy:SSLPolicy", "llm-gw-ssl-policy"),
    ("gcp:compute/securityPolicy:SecurityPolicy", "llm-gw-armor"),
    ("gcp:compute/targetHttpProxy:TargetHttpProxy", "llm-gw-http-proxy"),
    ("gcp:compute/targetHttpsProxy:TargetHttpsProxy", "llm-gw-https-proxy"),
    ("gcp:compute/uRLMap:URLMap", "llm-gw-http-redirect"),
    ("gcp:compute/uRLMap:URLMap", "llm-gw-url-map"),
    ("gcp:cloudrunv2/service:Service", "llm-gw-service"),
    ("gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember", "llm-gw-key-artifactregistry"),
    ("gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember", "llm-gw-key-run"),
    ("gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember", "llm-gw-key-secretmanager"),
    ("gcp:logging/metric:Metric", "llm-gw-metric-fallbacks"),
    ("gcp:logging/metric:Metric", "llm-gw-metric-requests"),
    ("gcp:logging/metric:Metric", "llm-gw-metric-self-hosted-ok"),
    ("gcp:monitoring/alertPolicy:AlertPolicy", "llm-gw-alert-5xx-ratio"),
    ("gcp:monitoring/alertPolicy:AlertPolicy", "llm-gw-alert-instances"),
    ("gcp:monitoring/alertPolicy:AlertPolicy", "llm-gw-alert-latency-p99"),
    ("gcp:monitoring/alertPolicy:AlertPolicy", "llm-gw-fallback-share-chat"),
    ("gcp:monitoring/alertPolicy:AlertPolicy", "llm-gw-self-hosted-silent-chat"),
    ("gcp:monitoring/dashboard:Dashboard", "llm-gw-dashboard"),
    ("gcp:projects/iAMMember:IAMMember", "llm-gw-vertex-ai"),
    ("gcp:projects/serviceIdentity:ServiceIdentity", "llm-gw-artifactregistry-agent"),
    ("gcp:projects/serviceIdentity:ServiceIdentity", "llm-gw-secretmanager-agent"),
    ("gcp:secretmanager/secret:Secret", "llm-gw-secret-anthropic"),
    ("gcp:secretmanager/secret:Secret", "llm-gw-secret-consumer-search"),
    ("gcp:secretmanager/secret:Secret", "llm-gw-secret-consumer-support-bot"),
    ("gcp:secretmanager/secret:Secret", "llm-gw-secret-openai"),
    ("gcp:secretmanager/secretIamMember:SecretIamMember", "llm-gw-secret-anthropic-accessor"),
    ("gcp:secretmanager/secretIamMember:SecretIamMember", "llm-gw-secret-consumer-search-accessor"),
    ("gcp:secretmanager/secretIamMember:SecretIamMember", "llm-gw-secret-consumer-support-bot-accessor"),
    ("gcp:secretmanager/secretIamMember:SecretIamMember", "llm-gw-secret-openai-accessor"),
    ("gcp:serviceaccount/account:Account", "llm-gw-runtime-sa"),
]


# --------------------------------------------------------------------------------------------
# Shape
# --------------------------------------------------------------------------------------------


def test_children_types_and_names() -> None:
    records = plan()
    assert children(records, only(records, "pulumi-llm:index:GcpGateway")) == sorted(EXPECTED)


def test_every_resource_uses_the_explicit_gcp_provider() -> None:
    records = plan()
    gcp_provider = by_name(records)["gcp"].urn
    custom = [r for r in records if r.custom and not r.type.startswith("pulumi:providers:")]
    assert custom and {r.provider for r in custom} == {gcp_provider}


def test_importing_the_gateway_loads_no_other_cloud_sdk() -> None:
    code = (
        "import sys\n"
        "import pulumi_llm.gateway.gcp\n"
        "loaded = [m for m in ('pulumi_aws', 'pulumi_azure_native') if m in sys.modules]\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_outputs() -> None:
    captured: dict[str, Any] = {}
    plan(captured)
    gateway: GcpGateway = captured["component"]
    assert gateway.url == "https://llm.example.com"
    assert captured["email"] == RUNTIME_SA
    assert captured["secret_ids"] == {
        "anthropic": "pulumi-llm-prod-anthropic",
        "consumer-search": "pulumi-llm-prod-consumer-search",
        "consumer-support-bot": "pulumi-llm-prod-consumer-support-bot",
        "openai": "pulumi-llm-prod-openai",
    }


# --------------------------------------------------------------------------------------------
# Image through the remote repository
# --------------------------------------------------------------------------------------------


def test_remote_repository_proxies_ghcr_with_the_stack_key_and_the_image_is_pinned() -> None:
    records = by_name(plan())
    repository = records["llm-gw-ghcr"].inputs
    assert (repository["mode"], repository["format"], repository["location"]) == ("REMOTE_REPOSITORY", "DOCKER", REGION)
    assert repository["remoteRepositoryConfig"]["dockerRepository"] == {"customRepository": {"uri": "https://ghcr.io"}}
    assert repository["kmsKeyName"] == KEY
    [container] = records["llm-gw-service"].inputs["template"]["containers"]
    assert container["image"] == (f"{REGION}-docker.pkg.dev/{PROJECT}/{repository['repositoryId']}/berriai/litellm@{pins.LITELLM.digest}")


# --------------------------------------------------------------------------------------------
# Secrets and IAM
# --------------------------------------------------------------------------------------------


def test_secrets_are_containers_with_the_stack_key_and_no_value() -> None:
    records = plan()
    assert not [r for r in records if "secretVersion" in r.type or "SecretVersion" in r.type]
    secrets = {r.inputs["secretId"]: r.inputs for r in of_type(records, "gcp:secretmanager/secret:Secret")}
    assert set(secrets) == {
        "pulumi-llm-prod-openai",
        "pulumi-llm-prod-anthropic",
        "pulumi-llm-prod-consumer-search",
        "pulumi-llm-prod-consumer-support-bot",
    }
    for secret in secrets.values():
        assert secret["replication"] == {
            "userManaged": {"replicas": [{"location": REGION, "customerManagedEncryption": {"kmsKeyName": KEY}}]}
        }
        assert secret["versionDestroyTtl"] == "2592000s"
        assert "secretData" not in json.dumps(secret)


def test_runtime_account_reads_exactly_its_secrets_and_nothing_project_wide() -> None:
    records = plan()
    accessors = of_type(records, "gcp:secretmanager/secretIamMember:SecretIamMember")
    assert len(accessors) == 4
    secret_ids = {r.name: r for r in of_type(records, "gcp:secretmanager/secret:Secret")}
    for accessor in accessors:
        assert accessor.inputs["role"] == "roles/secretmanager.secretAccessor"
        assert accessor.inputs["member"] == f"serviceAccount:{RUNTIME_SA}"
        owner = accessor.name.removesuffix("-accessor")
        assert accessor.inputs["secretId"].startswith(owner + "-")  # the mock id of that very secret
        assert owner in secret_ids
    project_roles = {r.inputs["role"] for r in of_type(records, "gcp:projects/iAMMember:IAMMember")}
    assert project_roles == {"roles/aiplatform.user"}  # Vertex AI grants only at project level
    every_role = {r.inputs.get("role") for r in records if "role" in r.inputs}
    assert not every_role & {"roles/owner", "roles/editor", "roles/viewer"}
    assert not of_type(plan(vertex_ai=False), "gcp:projects/iAMMember:IAMMember")


def test_key_is_granted_to_the_service_agents_that_encrypt() -> None:
    records = by_name(plan())
    for service, agent in (
        ("artifactregistry", "gcp-sa-artifactregistry"),
        ("secretmanager", "gcp-sa-secretmanager"),
        ("run", "serverless-robot-prod"),
    ):
        assert records[f"llm-gw-key-{service}"].inputs == {
            "cryptoKeyId": KEY,
            "role": "roles/cloudkms.cryptoKeyEncrypterDecrypter",
            "member": f"serviceAccount:service-123456789012@{agent}.iam.gserviceaccount.com",
        }


def test_without_a_key_the_gateway_makes_its_own_and_encrypts_everything_with_it() -> None:
    records = plan(kms_key=None)
    names = by_name(records)
    gateway = only(records, "pulumi-llm:index:GcpGateway")
    own = {("gcp:kms/keyRing:KeyRing", "llm-gw-keyring"), ("gcp:kms/cryptoKey:CryptoKey", "llm-gw-key")}
    assert set(children(records, gateway)) == set(EXPECTED) | own
    ring, key = names["llm-gw-keyring"], names["llm-gw-key"]
    assert ring.inputs == {"location": REGION}
    assert key.inputs["keyRing"].startswith("llm-gw-keyring-")  # the mock id of that very ring
    assert (key.inputs["rotationPeriod"], key.inputs["purpose"]) == ("7776000s", "ENCRYPT_DECRYPT")
    key_id = names["llm-gw-key-run"].inputs["cryptoKeyId"]
    assert key_id.startswith("llm-gw-key-")
    assert all(names[f"llm-gw-key-{s}"].inputs["cryptoKeyId"] == key_id for s in ("artifactregistry", "secretmanager", "run"))
    assert names["llm-gw-ghcr"].inputs["kmsKeyName"] == key_id
    assert names["llm-gw-service"].inputs["template"]["encryptionKey"] == key_id
    for secret in of_type(records, "gcp:secretmanager/secret:Secret"):
        assert secret.inputs["replication"]["userManaged"]["replicas"][0]["customerManagedEncryption"] == {"kmsKeyName": key_id}


def test_a_given_key_makes_no_key_of_the_gateways_own() -> None:
    assert not [r for r in plan() if r.type.startswith("gcp:kms/") and r.type != "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember"]


def test_no_secret_value_anywhere_in_the_plan() -> None:
    records = plan()
    [container] = by_name(records)["llm-gw-service"].inputs["template"]["containers"]
    env = {e["name"]: e["value"] for e in container["envs"]}
    assert base64.b64decode(env["LITELLM_CONFIG_B64"]).decode() == CONFIG
    # Only provider keys become environment variables; consumer keys stay files the front reads.
    assert json.loads(env["LITELLM_SECRET_FILES"]) == {
        "ANTHROPIC_API_KEY": "/secrets/anthropic/value",
        "OPENAI_API_KEY": "/secrets/openai/value",
    }
    assert set(env) == {"LITELLM_CONFIG_B64", "PULUMI_LLM_FRONT_CONFIG_B64", "LITELLM_SECRET_FILES", "VERTEXAI_PROJECT"}


def test_clients_get_no_master_key_the_front_checks_consumer_keys_from_mounted_files() -> None:
    records = plan()
    service = by_name(records)["llm-gw-service"].inputs
    [container] = service["template"]["containers"]
    env = {e["name"]: e["value"] for e in container["envs"]}
    front = json.loads(base64.b64decode(env["PULUMI_LLM_FRONT_CONFIG_B64"]))
    assert front["identity"] == "keys"
    assert front["edge_key_envs"] == [] and front["edge_key_files"] == []
    assert front["consumer_key_files"] == {
        "search": "/secrets/consumer-search/value",
        "support-bot": "/secrets/consumer-support-bot/value",
    }
    # The consumer config is enforced, not dropped: each consumer's grant is in the front's config.
    assert front["grants"]["consumers"]["support-bot"]["models"] == ["claude"]
    assert front["grants"]["consumers"]["support-bot"]["requests_per_minute"] == 60
    assert set(front["grants"]["consumers"]) == set(CONSUMERS)
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    assert {path.rsplit("/", 1)[0] for path in front["consumer_key_files"].values()} <= mounts
    # No master key exists anywhere a client could reach: no secret, no volume, no variable, nothing in the state.
    dumped = json.dumps([r.inputs for r in records])
    assert "litellm-master" not in dumped
    assert "LITELLM_MASTER_KEY" not in env and "PULUMI_LLM_EDGE_KEY" not in env
    assert service["invokerIamDisabled"] is True  # the front authenticates; the load balancer carries no identity


# --------------------------------------------------------------------------------------------
# Cloud Run
# --------------------------------------------------------------------------------------------


def test_cloud_run_is_internal_lb_only_with_secret_volumes_at_latest() -> None:
    service = by_name(plan())["llm-gw-service"].inputs
    assert service["ingress"] == "INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER"
    assert service["location"] == REGION and service["name"] == "pulumi-llm-prod-gateway"
    template = service["template"]
    assert template["serviceAccount"] == RUNTIME_SA
    assert template["timeout"] == "600s"
    assert template["scaling"] == {"minInstanceCount": 2, "maxInstanceCount": 10}
    assert template["maxInstanceRequestConcurrency"] == 80
    assert template["encryptionKey"] == KEY
    shorts = ("anthropic", "consumer-search", "consumer-support-bot", "openai")
    volumes = {v["name"]: v["secret"] for v in template["volumes"]}
    assert volumes == {f"secret-{p}": {"secret": f"pulumi-llm-prod-{p}", "items": [{"path": "value", "version": "latest"}]} for p in shorts}
    [container] = template["containers"]
    assert {m["name"]: m["mountPath"] for m in container["volumeMounts"]} == {f"secret-{p}": f"/secrets/{p}" for p in shorts}
    assert container["commands"] == ["python3", "-c", BOOT_WITH_SECRET_FILES]
    assert container["ports"] == {"name": "http1", "containerPort": 4000}
    assert container["startupProbe"]["httpGet"] == {"path": "/health/readiness", "port": 4000}
    assert container["livenessProbe"]["httpGet"] == {"path": "/health/liveliness", "port": 4000}


def test_prod_keeps_two_warm_instances_with_cpu_always_allocated() -> None:
    template = by_name(plan())["llm-gw-service"].inputs["template"]
    assert template["scaling"]["minInstanceCount"] == 2
    [container] = template["containers"]
    # The front refreshes keys and ages its rate windows between requests: the CPU must not be throttled then.
    assert container["resources"]["cpuIdle"] is False
    assert by_name(plan(min_instances=3, max_instances=4))["llm-gw-service"].inputs["template"]["scaling"] == {
        "minInstanceCount": 3,
        "maxInstanceCount": 4,
    }


def test_without_vpc_egress_cloud_run_has_no_vpc_access() -> None:
    assert "vpcAccess" not in by_name(plan())["llm-gw-service"].inputs["template"]


def test_vpc_egress_sends_private_ranges_through_the_stack_subnet_and_the_url_reaches_the_engine() -> None:
    hybrid = CONFIG.replace(
        "general_settings:",
        "  - model_name: llama\n    litellm_params: {model: hosted_vllm/llama, api_base: os.environ/SELF_HOSTED_LLAMA_URL}\n"
        "general_settings:",
    )
    records = plan(
        engine_config_yaml=hybrid,
        environment={"VERTEXAI_PROJECT": PROJECT, "SELF_HOSTED_LLAMA_URL": pulumi.Output.from_input("http://10.40.0.9:8000/v1")},
        vpc_egress=gw.VpcEgress(network="projects/p/global/networks/llm", subnetwork="projects/p/regions/r/subnetworks/run"),
    )
    template = by_name(records)["llm-gw-service"].inputs["template"]
    assert template["vpcAccess"] == {
        "networkInterfaces": [{"network": "projects/p/global/networks/llm", "subnetwork": "projects/p/regions/r/subnetworks/run"}],
        "egress": "PRIVATE_RANGES_ONLY",
    }
    envs = {e["name"]: e["value"] for e in template["containers"][0]["envs"]}
    assert envs["SELF_HOSTED_LLAMA_URL"] == "http://10.40.0.9:8000/v1"
    assert "hosted_vllm/llama" in base64.b64decode(envs["LITELLM_CONFIG_B64"]).decode()


def test_a_self_hosted_url_the_service_does_not_get_is_refused() -> None:
    hybrid = CONFIG.replace(
        "general_settings:",
        "  - model_name: llama\n    litellm_params: {model: hosted_vllm/llama, api_base: os.environ/SELF_HOSTED_LLAMA_URL}\n"
        "general_settings:",
    )
    with pytest.raises(UserError, match=r"references os\.environ/SELF_HOSTED_LLAMA_URL, which the service does not get"):
        args(engine_config_yaml=hybrid)


def test_the_master_key_pair_from_the_config_renderer_is_accepted_and_dropped() -> None:
    # config.secret_envs lists LITELLM_MASTER_KEY → litellm-master; on GCP the boot makes LiteLLM's key per boot.
    secrets = {**SECRETS, "LITELLM_MASTER_KEY": "litellm-master"}
    assert args(provider_secrets=secrets).secrets == SECRETS


def test_instances_outside_prod_may_scale_to_zero() -> None:
    service = by_name(plan(labels=CommonLabels("dev", "dev"), min_instances=None))["llm-gw-service"].inputs
    assert service["template"]["scaling"]["minInstanceCount"] == 0


# --------------------------------------------------------------------------------------------
# Load balancer and Cloud Armor
# --------------------------------------------------------------------------------------------


def test_load_balancer_chain_with_cloud_armor_and_tls_1_2() -> None:
    records = by_name(plan())
    neg = records["llm-gw-neg"].inputs
    assert neg["networkEndpointType"] == "SERVERLESS" and neg["cloudRun"] == {"service": "pulumi-llm-prod-gateway"}
    backend = records["llm-gw-backend"].inputs
    assert backend["loadBalancingScheme"] == "EXTERNAL_MANAGED"
    assert backend["backends"] == [{"group": _mock_id("gcp:compute/regionNetworkEndpointGroup:RegionNetworkEndpointGroup", "llm-gw-neg")}]
    assert backend["securityPolicy"].startswith("llm-gw-armor-")  # the Cloud Armor policy's id
    assert "timeoutSec" not in backend  # refused by GCP on serverless NEGs; Cloud Run's timeout governs
    assert backend["logConfig"] == {"enable": True, "sampleRate": 1, "optionalMode": "EXCLUDE_ALL_OPTIONAL"}
    ssl_policy = records["llm-gw-ssl-policy"].inputs
    assert (ssl_policy["minTlsVersion"], ssl_policy["profile"]) == ("TLS_1_2", "MODERN")
    proxy = records["llm-gw-https-proxy"].inputs
    assert proxy["sslPolicy"].startswith("llm-gw-ssl-policy-")
    assert [c.split("-")[:3] for c in proxy["sslCertificates"]] == [["llm", "gw", "cert"]]
    assert records["llm-gw-cert"].inputs["managed"] == {"domains": ["llm.example.com"]}
    rule = records["llm-gw-https"].inputs
    assert (rule["portRange"], rule["loadBalancingScheme"], rule["ipProtocol"]) == ("443", "EXTERNAL_MANAGED", "TCP")
    assert rule["target"].startswith("llm-gw-https-proxy-")
    redirect = records["llm-gw-http-redirect"].inputs["defaultUrlRedirect"]
    assert redirect["httpsRedirect"] is True
    assert by_name(plan(ssl_profile="RESTRICTED"))["llm-gw-ssl-policy"].inputs["profile"] == "RESTRICTED"


def test_the_url_map_sends_only_the_inference_paths_to_cloud_run_and_answers_404_itself_for_the_rest() -> None:
    records = by_name(plan())
    url_map = records["llm-gw-url-map"].inputs
    backend = _mock_id("gcp:compute/backendService:BackendService", "llm-gw-backend")
    not_found = {"faultInjectionPolicy": {"abort": {"httpStatus": 404, "percentage": 100}}}
    assert url_map["hostRules"] == [{"hosts": ["*"], "pathMatcher": "inference"}]
    assert url_map["defaultRouteAction"] == not_found  # a host no rule names: 404 too
    [matcher] = url_map["pathMatchers"]
    assert matcher["defaultRouteAction"] == not_found
    assert matcher["pathRules"] == [{"paths": sorted({path for _, path in INFERENCE_ROUTES}), "service": backend}]
    # What the load balancer does with a path under that matcher (the rule the tests' edge stand-in applies).
    routed = {path: gw.decide_lb_route(matcher, path) for path in (
        "/v1/chat/completions", "/v1/completions", "/v1/embeddings", "/v1/models", "/v1/models?x=1",
        "/key/generate", "/model/new", "/anthropic/v1/messages", "/openai/v1/chat/completions", "/health/readiness",
        "/health/liveliness", "/metrics", "/v1/chat/completions/", "/", "/v1/responses",
    )}  # fmt: skip
    assert {p for p, to in routed.items() if to == backend} == {
        "/v1/chat/completions",
        "/v1/completions",
        "/v1/embeddings",
        "/v1/models",
        "/v1/models?x=1",
    }
    assert {to for to in routed.values() if to != backend} == {404}


def _mock_id(type_: str, name: str) -> str:
    """The id the plan's mocks give a resource (its name and a hash of type and name)."""
    return f"{name}-{hashlib.sha256(f'{type_}::{name}'.encode()).hexdigest()[:12]}"


def test_cloud_armor_throttles_per_ip_and_previews_body_rules() -> None:
    policy = by_name(plan(rate_limit_per_minute=300))["llm-gw-armor"].inputs
    assert policy["type"] == "CLOUD_ARMOR"
    assert policy["advancedOptionsConfig"]["jsonParsing"] == "STANDARD"
    rules = {r["priority"]: r for r in policy["rules"]}
    throttle = rules[900]
    assert throttle["action"] == "throttle"
    assert throttle["rateLimitOptions"] == {
        "conformAction": "allow",
        "exceedAction": "deny(429)",
        "enforceOnKey": "IP",
        "rateLimitThreshold": {"count": 300, "intervalSec": 60},
    }
    waf = {r["match"]["expr"]["expression"].split("'")[1]: r for r in policy["rules"] if "expr" in r["match"]}
    for body_rule in ("sqli", "xss", "lfi", "rfi", "rce"):
        assert waf[f"{body_rule}-v33-stable"]["preview"] is True, body_rule
    for header_rule in ("methodenforcement", "scannerdetection", "protocolattack"):
        assert waf[f"{header_rule}-v33-stable"]["preview"] is False
    assert rules[2147483647]["action"] == "allow"


# --------------------------------------------------------------------------------------------
# Monitoring
# --------------------------------------------------------------------------------------------


def test_alert_policies_and_dashboard() -> None:
    records = by_name(plan())
    channels = ["projects/llm-prod-123/notificationChannels/42"]
    ratio = records["llm-gw-alert-5xx-ratio"].inputs
    [condition] = ratio["conditions"]
    threshold = condition["conditionThreshold"]
    assert 'metric.type = "run.googleapis.com/request_count"' in threshold["filter"]
    assert 'metric.labels.response_code_class = "5xx"' in threshold["filter"]
    assert 'resource.labels.service_name = "pulumi-llm-prod-gateway"' in threshold["denominatorFilter"]
    assert threshold["thresholdValue"] == 0.05
    assert ratio["notificationChannels"] == channels
    latency = records["llm-gw-alert-latency-p99"].inputs["conditions"][0]["conditionThreshold"]
    assert 'metric.type = "run.googleapis.com/request_latencies"' in latency["filter"]
    assert latency["aggregations"][0]["perSeriesAligner"] == "ALIGN_PERCENTILE_99"
    assert latency["thresholdValue"] == 540_000  # 90 % of the 600 s request timeout, in ms
    instances = records["llm-gw-alert-instances"].inputs["conditions"][0]["conditionThreshold"]
    assert 'metric.type = "run.googleapis.com/container/instance_count"' in instances["filter"]
    assert instances["thresholdValue"] == 8
    dashboard = json.loads(records["llm-gw-dashboard"].inputs["dashboardJson"])
    # The six platform charts, who served the requests, and the hybrid group's fallback share with its threshold.
    tiles = [t["widget"] for t in dashboard["mosaicLayout"]["tiles"]]
    assert len(tiles) == 8
    assert tiles[6]["title"] == "Requests by route and who served them (per minute)"
    share = tiles[7]["xyChart"]
    assert share["thresholds"] == [{"value": 2.5, "color": "RED", "direction": "ABOVE"}]
    assert share["dataSets"][0]["timeSeriesQuery"]["prometheusQuery"] == (
        'sum(increase(logging_googleapis_com:user_pulumi_llm_prod_gateway_fallbacks{monitored_resource="cloud_run_revision",route="chat"}[15m])) '
        '/ sum(increase(logging_googleapis_com:user_pulumi_llm_prod_gateway_requests{monitored_resource="cloud_run_revision",route="chat"}[15m])) * 100'
    )


def test_who_served_counters_count_the_fronts_request_lines_by_route_served_by_fallback_and_status() -> None:
    records = by_name(plan())
    base = (
        'resource.type="cloud_run_revision" AND resource.labels.service_name="pulumi-llm-prod-gateway" AND jsonPayload.pulumi_llm_request=1'
    )
    counted = '(jsonPayload.served_by!="none" OR jsonPayload.status>=500 OR jsonPayload.deployment!="")'  # the backends' own 429s name one
    expected = {
        "requests": f"{base} AND {counted}",
        "fallbacks": f'{base} AND {counted} AND (jsonPayload.fallback=true OR jsonPayload.served_by="provider")',
        "self-hosted-ok": f'{base} AND jsonPayload.served_by="self-hosted" AND jsonPayload.status>=200 AND jsonPayload.status<300',
    }
    for key, flt in expected.items():
        metric = records[f"llm-gw-metric-{key}"].inputs
        assert metric["name"] == f"pulumi-llm-prod-gateway-{key}"
        assert metric["filter"] == flt
        assert metric["labelExtractors"] == {
            label: f"EXTRACT(jsonPayload.{label})" for label in ("route", "served_by", "fallback", "status")
        }
        descriptor = metric["metricDescriptor"]
        assert (descriptor["metricKind"], descriptor["valueType"]) == ("DELTA", "INT64")
        assert [label["key"] for label in descriptor["labels"]] == ["route", "served_by", "fallback", "status"]


def test_each_hybrid_group_has_both_fallback_alerts_on_the_counters_to_the_stacks_channels() -> None:
    records = by_name(plan())
    channels = ["projects/llm-prod-123/notificationChannels/42"]
    [alarm] = ALARMS
    assert alarm == FallbackAlarm("chat", 2.5, 15)
    requests = 'sum(increase(logging_googleapis_com:user_pulumi_llm_prod_gateway_requests{monitored_resource="cloud_run_revision",route="chat"}[15m]))'
    fallbacks = requests.replace("gateway_requests", "gateway_fallbacks")
    ok = requests.replace("gateway_requests", "gateway_self_hosted_ok")
    queries = {ALARM_FALLBACK_SHARE: f"{fallbacks} / {requests} * 100 > 2.5", ALARM_SELF_HOSTED_SILENT: f"{requests} > 0 unless {ok} > 0"}
    metric_urns = {records[f"llm-gw-metric-{k}"].urn for k in ("requests", "fallbacks", "self-hosted-ok")}
    for kind, query in queries.items():
        record = records[alarm_resource_name("llm-gw", kind, "chat")]
        policy = record.inputs
        [condition] = policy["conditions"]
        promql = condition["conditionPrometheusQueryLanguage"]
        assert promql["query"] == query
        assert (promql["duration"], promql["evaluationInterval"], promql["disableMetricValidation"]) == ("0s", "60s", True)
        assert policy["notificationChannels"] == channels
        assert policy["displayName"].startswith("LLM gateway prod: chat: ")
        assert metric_urns <= set(record.depends_on)
    # Groups without a self-hosted and a provider deployment on their chain get none.
    assert not [r for r in plan(fallback_alarms=()) if "fallback-share" in r.name or "self-hosted-silent" in r.name]


# --------------------------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "line"),
    [
        (
            {"request_timeout_seconds": 500, "engine_timeout_seconds": 570},
            "gateway.request_timeout_seconds = 500: must be above gateway.engine_timeout_seconds = 570, "
            "or Cloud Run and the load balancer cut requests the engine is still serving",
        ),
        (
            {"client_timeout_seconds": 600},
            "gateway.client_timeout_seconds = 600: must be above gateway.request_timeout_seconds = 600, "
            "or clients give up before the gateway answers",
        ),
        (
            {"request_timeout_seconds": 4000, "client_timeout_seconds": 5000},
            "gateway.request_timeout_seconds = 4000: Cloud Run allows at most 3600 s (60 minutes)",
        ),
        (
            {"engine_timeout_seconds": 500},
            "gateway.engine_config_yaml: litellm_settings.request_timeout = 540 is above engine_timeout_seconds = 500",
        ),
        (
            {"engine_config_yaml": CONFIG.replace("os.environ/OPENAI_API_KEY", "sk-live-123")},
            "gateway.engine_config_yaml: model_list[0].litellm_params.api_key holds a literal value; secrets go in Secret "
            "Manager and the config references them as os.environ/<ENV>",
        ),
        (
            {"provider_secrets": {"OPENAI_API_KEY": "openai"}},
            "gateway.engine_config_yaml: references os.environ/ANTHROPIC_API_KEY, which the service does not get; "
            "map it in provider_secrets (a secret) or environment (plain)",
        ),
        (
            {"min_instances": 1},
            "gateway.min_instances = 1: prod keeps at least 2 warm instances "
            "(one lost instance must not cut every stream, and cold starts cut the first ones)",
        ),
        ({"min_instances": 4, "max_instances": 3}, "gateway.min_instances = 4: above max_instances = 3"),
        (
            {"front_config": {**FRONT, "identity": "edge"}},
            "gateway.front_config.identity = 'edge': GCP's load balancer authenticates nobody, so the front checks "
            "consumer keys itself; render it with identity='keys'",
        ),
        (
            {"front_config": {**FRONT, "consumer_key_files": {"search": "/tmp/search.key"}}},
            "gateway.front_config.consumer_key_files.search = '/tmp/search.key': the key secret is mounted at "
            "/secrets/consumer-search/value (gcp.consumer_key_files)",
        ),
        (
            {"front_config": {**FRONT, "consumer_key_files": {}}},
            "gateway.front_config.consumer_key_files: give every consumer's key file (gcp.consumer_key_files); at least one consumer",
        ),
        ({"domains": ()}, "gateway.domains: give the gateway's domain(s) for a managed certificate, or ssl_certificates"),
        ({"cpu": "1", "memory": "256Mi"}, "gateway.memory = 256Mi: with cpu 1, Cloud Run needs 0.5 to 32 GiB"),
        (
            {"waf_enforced": ("sqli", "body")},
            "gateway.waf_enforced = 'body': not a WAF rule here; allowed: sqli, xss, lfi, rfi, rce, "
            "methodenforcement, scannerdetection, protocolattack, sessionfixation",
        ),
        (
            {"provider_secrets": {**SECRETS, "X": "litellm-master"}},
            "gateway.provider_secrets.X = 'litellm-master': reserved for the LiteLLM master key",
        ),
    ],
)
def test_bad_arguments_fail_with_one_user_error_line(overrides: dict[str, Any], line: str) -> None:
    with pytest.raises(UserError) as err:
        args(**overrides)
    assert str(err.value) == line
