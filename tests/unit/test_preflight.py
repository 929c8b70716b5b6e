"""`pulumi-llm preflight STACK` against a fake Kubernetes API server on 127.0.0.1 (reached through a
generated kubeconfig, as the real command reaches a cluster) and moto for AWS."""

from __future__ import annotations

import copy
import io
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from moto import mock_aws
from pulumi_llm import cli, preflight
from pulumi_llm.preflight import checks

TOKEN = "preflight-test-token"  # noqa: S105 - a fake API server's token
NAMESPACE = "llm"

ONPREM_STACK = """\
config:
  pulumi:disable-default-providers: ["*"]
  pulumi-llm:environment: lab
  pulumi-llm:cloud: onprem
  pulumi-llm:methods: [onprem]
  pulumi-llm:onprem:
    kube_context: lab
    kubeconfig: {kubeconfig}
    namespace: llm
    namespace_exists: true
    gpus: {{accelerator: L40S, per_node: 8}}
    ingress: {{host: llm.lab.example.com, tls_secret: llm-tls}}
  pulumi-llm:models:
    llama:
      catalog: llama-3.1-8b-instruct
      revision: 0e9e39f249a16976918f6564b8830bc894c89659
      source: pvc://weights/meta-llama/Llama-3.1-8B-Instruct/0e9e39f249a16976918f6564b8830bc894c89659
      copy_from_hub: true
"""


def healthy_cluster() -> dict[str, Any]:
    """GET path → JSON body of a cluster where everything on-prem needs is in place."""
    return {
        "/version": {"gitVersion": "v1.33.4"},
        f"/api/v1/namespaces/{NAMESPACE}": {"metadata": {"name": NAMESPACE, "labels": {"app.kubernetes.io/managed-by": "pulumi"}}},
        f"/api/v1/namespaces/{NAMESPACE}/persistentvolumeclaims/weights": {
            "spec": {"storageClassName": "ceph-rbd"},
            "status": {"phase": "Bound"},
        },
        "/apis/storage.k8s.io/v1/storageclasses/ceph-rbd": {"metadata": {"name": "ceph-rbd"}},
        f"/api/v1/namespaces/{NAMESPACE}/secrets/llm-tls": {"metadata": {"name": "llm-tls"}},
        f"/api/v1/namespaces/{NAMESPACE}/secrets/hf-token": {"metadata": {"name": "hf-token"}},
        "/apis/apps/v1/daemonsets": {
            "items": [
                {"metadata": {"name": "calico-node", "namespace": "calico-system"}},
                {"metadata": {"name": "kube-proxy", "namespace": "kube-system"}},
            ]
        },
        "/api/v1/nodes": {"items": [{"status": {"allocatable": {"nvidia.com/gpu": "8"}}}]},
    }


class FakeApiServer:
    """Answers GETs from `routes` (404 otherwise) and only with the kubeconfig's bearer token."""

    def __init__(self, routes: dict[str, Any]) -> None:
        self.routes = routes
        self.seen: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                server.seen.append(self.path)
                if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                    self.send_response(401)
                    self.end_headers()
                    return
                body = server.routes.get(self.path)
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(json.dumps(body if body is not None else {"kind": "Status", "code": 404}).encode())

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def api() -> Iterator[FakeApiServer]:
    server = FakeApiServer(healthy_cluster())
    yield server
    server.close()


@pytest.fixture
def project(scratch_project: Path, api: FakeApiServer) -> Path:
    kubeconfig = scratch_project / "kubeconfig"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "other",
                "clusters": [
                    {"name": "lab", "cluster": {"server": api.url}},
                    {"name": "other", "cluster": {"server": "http://127.0.0.1:9"}},
                ],
                "users": [{"name": "lab-admin", "user": {"token": TOKEN}}],
                "contexts": [
                    {"name": "lab", "context": {"cluster": "lab", "user": "lab-admin"}},
                    {"name": "other", "context": {"cluster": "other", "user": "lab-admin"}},
                ],
            }
        )
    )
    (scratch_project / "stacks" / "Pulumi.lab.yaml").write_text(ONPREM_STACK.format(kubeconfig=kubeconfig))
    return scratch_project


def run(project: Path, stack: str = "lab") -> int:
    return cli.main(["--project-dir", str(project), "preflight", stack])


# --- on-prem, through the kubeconfig's context -------------------------------------------------------------------


def test_a_ready_cluster_prints_the_ok_table(project, api, capsys):
    assert run(project) == 0
    out = capsys.readouterr().out
    assert out.startswith("lab: ok\n")
    assert "PersistentVolumeClaim llm/weights" in out and "Bound" in out
    assert "NetworkPolicy enforcement" in out and "Calico" in out
    assert TOKEN not in out
    # The stack's context, never the kubeconfig's current one.
    assert "/version" in api.seen


def test_each_missing_item_is_one_line_and_exit_2(project, api, capsys):
    for path in (f"/api/v1/namespaces/{NAMESPACE}/secrets/hf-token", "/apis/storage.k8s.io/v1/storageclasses/ceph-rbd"):
        del api.routes[path]
    # flannel only: NetworkPolicies are accepted and ignored.
    api.routes["/apis/apps/v1/daemonsets"] = {"items": [{"metadata": {"name": "kube-flannel-ds", "namespace": "kube-flannel"}}]}
    assert run(project) == 2
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        "lab: NetworkPolicy enforcement: missing: no policy-enforcing CNI DaemonSet (antrea-agent, calico-node, canal, "
        "cilium, kube-router, weave-net); NetworkPolicies would be ignored",
        "lab: StorageClass ceph-rbd: missing: claim weights names it",
        "lab: Secret llm/hf-token: missing: copy_from_hub (key token)",
    ]


def test_the_users_namespace_must_exist_before_the_first_up(project, api, capsys):
    """The claim and Secrets the servers read live in the user's namespace, which the stack only labels."""
    api.routes.pop(f"/api/v1/namespaces/{NAMESPACE}")
    assert run(project) == 2
    assert capsys.readouterr().out == (
        "lab: Namespace llm: missing: onprem.namespace_exists says it is yours; create it with the claims and Secrets first\n"
    )


def test_a_missing_or_unbound_claim(project, api, capsys):
    claim = f"/api/v1/namespaces/{NAMESPACE}/persistentvolumeclaims/weights"
    api.routes[claim] = {"spec": {}, "status": {"phase": "Pending"}}
    assert run(project) == 2
    assert capsys.readouterr().out == "lab: PersistentVolumeClaim llm/weights: Pending\n"
    del api.routes[claim]
    assert run(project) == 2
    assert "PersistentVolumeClaim llm/weights: missing" in capsys.readouterr().out


def test_operators_left_to_the_cluster_must_be_there(project, api, capsys):
    stack = project / "stacks" / "Pulumi.lab.yaml"
    config = yaml.safe_load(stack.read_text())
    config["config"]["pulumi-llm:onprem"].update(
        {
            "ingress": {"install": False, "class_name": "haproxy", "host": "llm.lab.example.com"},
            "gpu_operator": {"install": False},
            "keda": {"install": False},
            "prometheus": {
                "install": False,
                "url": "http://prometheus-operated.observability.svc.cluster.local:9090",
                "namespace": "observability",
            },
        }
    )
    stack.write_text(yaml.safe_dump(config))
    api.routes["/apis/apiextensions.k8s.io/v1/customresourcedefinitions/servicemonitors.monitoring.coreos.com"] = {
        "kind": "CustomResourceDefinition"
    }
    api.routes["/api/v1/nodes"] = {"items": [{"status": {"allocatable": {"cpu": "64"}}}]}
    assert run(project) == 2
    out = capsys.readouterr().out
    assert "lab: IngressClass haproxy: missing" in out
    assert "lab: CRD prometheusrules.monitoring.coreos.com: missing" in out
    assert "lab: CRD scaledobjects.keda.sh: missing" in out
    assert "servicemonitors" not in out
    assert "lab: allocatable nvidia.com/gpu: missing" in out


def test_a_wrong_token_is_one_line_not_a_traceback(project, api, capsys):
    kubeconfig = project / "kubeconfig"
    config = yaml.safe_load(kubeconfig.read_text())
    config["users"][0]["user"]["token"] = "wrong"  # noqa: S105
    kubeconfig.write_text(yaml.safe_dump(config))
    assert run(project) == 2
    err = capsys.readouterr().err
    assert "HTTP 401" in err and err.count("\n") == 1 and "wrong" not in err


@pytest.mark.parametrize("cni", ["calico-node", "cilium", "antrea-agent", "kube-router", "canal", "weave-net"])
def test_policy_enforcing_cnis_are_recognised_by_their_daemonset(cni):
    class Kube:
        def get(self, path: str) -> dict[str, Any] | None:
            return {"items": [{"metadata": {"name": cni}}]} if path == "/apis/apps/v1/daemonsets" else None

    assert checks._cni_check(Kube()).ok


# --- AWS, with moto ----------------------------------------------------------------------------------------------


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch):
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        yield boto3.Session(region_name="us-east-1")


AWS_SETTINGS: dict[str, Any] = {
    "cloud": "aws",
    "region": "us-east-1",
    "methods": ["gateway", "cluster", "gpu-vm"],
    "aws": {"gpu_vm": {"certificate_arn": None}, "cluster": {"admin_principals": ["arn:aws:iam::123456789012:role/platform-admins"]}},
}


def aws_report(settings: dict[str, Any], session: Any) -> tuple[int, str]:
    out = io.StringIO()
    code = preflight.report("prod", preflight.run_checks(settings, kube_factory=dict, session_factory=lambda region: session), out)
    return code, out.getvalue()


def test_aws_admin_principal_must_exist(aws):
    code, out = aws_report(AWS_SETTINGS, aws)
    assert (code, out) == (
        2,
        "prod: IAM principal arn:aws:iam::123456789012:role/platform-admins: missing: aws.cluster.admin_principals (EKS access entry)\n",
    )
    aws.client("iam").create_role(RoleName="platform-admins", AssumeRolePolicyDocument="{}")
    code, out = aws_report(AWS_SETTINGS, aws)
    assert code == 0 and "platform-admins  exists" in out


def test_aws_certificate_and_zone_the_settings_reference(aws):
    aws.client("iam").create_role(RoleName="platform-admins", AssumeRolePolicyDocument="{}")
    acm = aws.client("acm")
    pending = acm.request_certificate(DomainName="*.models.example.com", ValidationMethod="DNS")["CertificateArn"]
    zone = aws.client("route53").create_hosted_zone(Name="models.example.com", CallerReference="t")["HostedZone"]["Id"]
    settings = copy.deepcopy(AWS_SETTINGS)
    settings["aws"]["model_tls"] = {"domain": "models.example.com", "certificate_arn": pending, "zone_id": zone}
    # A requested certificate stays PENDING_VALIDATION until its DNS record is in place; the ALB cannot use it.
    code, out = aws_report(settings, aws)
    assert (code, out) == (2, f"prod: ACM certificate {pending}: PENDING_VALIDATION, not ISSUED: aws.model_tls.certificate_arn\n")
    gone = pending.rsplit("/", 1)[0] + "/00000000-0000-0000-0000-000000000000"
    settings["aws"]["model_tls"] = {"domain": "models.example.com", "certificate_arn": gone, "zone_id": "Z0000000000000000000"}
    code, out = aws_report(settings, aws)
    assert code == 2 and out.splitlines() == [
        f"prod: ACM certificate {gone}: missing: aws.model_tls.certificate_arn",
        "prod: Route 53 zone Z0000000000000000000: missing: aws.model_tls.zone_id",
    ]


def test_clouds_without_preconditions_say_ok():
    code, out = aws_report({"cloud": "gcp", "region": "europe-west4"}, None)
    assert (code, out) == (0, "prod: ok (nothing the settings reference must exist before `pulumi up`)\n")
