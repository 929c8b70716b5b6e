"""Deterministic answers to provider invokes during the offline plan.

The offline plan has no cloud to ask, so every invoke a stack makes is answered from this one table.
An invoke missing from the table fails the plan with its token, so the table stays complete and
nothing is answered by accident. Values are shaped like the provider's real answers (camelCase).

| invoke | mock answer |
|---|---|
| aws getAvailabilityZones | `<region>a`, `<region>b`, `<region>c` (+ zone ids `use1-az1`…) |
| aws getCallerIdentity | account `123456789012`, arn of a `pulumi-llm-plan` role |
| aws getRegion / getPartition | the region asked for; partition `aws`, dns suffix `amazonaws.com` |
| aws ssm getParameter | an AMI id `ami-0` + 16 hex digits derived from the parameter name |
| aws iam getPolicyDocument | the statements rendered to IAM JSON, as the provider does |
| gcp getProject / getZones / getClientConfig | project `pulumi-llm-plan`, zones `<region>-a/b/c` |
| gcp compute getImage | image `<family>-v` + 8 digits derived from project and family, READY, with its self link |
| gcp storage getProjectServiceAccount | the Cloud Storage service agent `service-<number>@gs-project-accounts.iam.gserviceaccount.com` |
| azure-native getClientConfig | fixed subscription and tenant GUIDs of zeros with a final 1 |
| azure-native listManagedClusterUserCredentials | one `clusterUser` kubeconfig (base64): server `https://<name>.hcp.<region>.azmk8s.io:443`, a fixed CA, a kubelogin exec user and no credential |
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from typing import Any

ACCOUNT_ID = "123456789012"
GCP_PROJECT = "pulumi-llm-plan"
GCP_PROJECT_NUMBER = "123456789012"
AZURE_SUBSCRIPTION = "00000000-0000-0000-0000-000000000001"
AZURE_TENANT = "00000000-0000-0000-0000-000000000002"


class UnknownInvoke(Exception):
    """An invoke the table does not answer: add it here, with a realistic answer."""


def _zones(args: dict[str, Any], region: str) -> dict[str, Any]:
    names = [f"{region}{suffix}" for suffix in "abc"]
    prefix = "".join(part[0] for part in region.split("-")[:-1]) + region.split("-")[-1]
    return {"names": names, "zoneIds": [f"{prefix}-az{i}" for i in (1, 2, 3)], "state": "available", "id": region}


def _ssm_parameter(args: dict[str, Any], region: str) -> dict[str, Any]:
    name = args.get("name", "")
    value = "ami-0" + hashlib.sha256(f"{region}:{name}".encode()).hexdigest()[:16]
    return {"name": name, "value": value, "insecureValue": value, "type": "String", "version": 1, "id": name}


def _policy_document(args: dict[str, Any], region: str) -> dict[str, Any]:
    statements: list[dict[str, Any]] = []
    for s in args.get("statements", []):
        out: dict[str, Any] = {"Effect": s.get("effect", "Allow")}
        if s.get("sid"):
            out["Sid"] = s["sid"]
        for key, name in (("actions", "Action"), ("notActions", "NotAction"), ("resources", "Resource")):
            if s.get(key):
                out[name] = s[key]
        for p in s.get("principals", []):
            out.setdefault("Principal", {})[p["type"]] = p["identifiers"]
        for c in s.get("conditions", []):
            out.setdefault("Condition", {}).setdefault(c["test"], {})[c["variable"]] = c["values"]
        statements.append(out)
    doc = json.dumps({"Version": "2012-10-17", "Statement": statements}, sort_keys=True)
    return {"json": doc, "minifiedJson": doc, "id": hashlib.sha256(doc.encode()).hexdigest()[:10]}


def _aks_user_credentials(args: dict[str, Any], region: str) -> dict[str, Any]:
    # Shaped like AKS' answer for an Entra ID cluster (format exec): server + CA, no secret in it.
    name = args.get("resourceName") or "cluster"
    server = f"https://{name}.hcp.{region or 'eastus'}.azmk8s.io:443"
    kubeconfig = (
        "apiVersion: v1\nkind: Config\n"
        f"clusters:\n- name: {name}\n  cluster:\n    server: {server}\n    certificate-authority-data: TFMwdExTMUNSVWRKVGlCRFJWSlVTVVpKUTBGVVJTMHRMUzB0Q2c9PQ==\n"
        f"contexts:\n- name: {name}\n  context:\n    cluster: {name}\n    user: clusterUser_{name}\n"
        f"current-context: {name}\n"
        f"users:\n- name: clusterUser_{name}\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n"
        "      command: kubelogin\n      args: [get-token, --login, devicecode, --server-id, 6dae42f8-4368-4678-94ff-3960e28e3630]\n"
    )
    return {"kubeconfigs": [{"name": "clusterUser", "value": base64.b64encode(kubeconfig.encode()).decode()}]}


def _gcp_image(args: dict[str, Any], region: str) -> dict[str, Any]:
    project = args.get("project") or GCP_PROJECT
    family = args.get("family") or ""
    digits = str(int(hashlib.sha256(f"{project}/{family}".encode()).hexdigest(), 16))[:8]
    name = args.get("name") or f"{family or 'image'}-v{digits}"
    path = f"projects/{project}/global/images/{name}"
    return {
        "name": name,
        "family": family,
        "project": project,
        "id": path,
        "selfLink": f"https://www.googleapis.com/compute/v1/{path}",
        "status": "READY",
        "diskSizeGb": 50,
        "labels": {},
        "licenses": [],
    }


def _gcs_service_agent(args: dict[str, Any], region: str) -> dict[str, Any]:
    email = f"service-{GCP_PROJECT_NUMBER}@gs-project-accounts.iam.gserviceaccount.com"
    return {"emailAddress": email, "member": f"serviceAccount:{email}", "project": GCP_PROJECT, "id": email}


_TABLE: dict[str, Callable[[dict[str, Any], str], dict[str, Any]]] = {
    "aws:index/getAvailabilityZones:getAvailabilityZones": _zones,
    "aws:index/getCallerIdentity:getCallerIdentity": lambda a, r: {
        "accountId": ACCOUNT_ID,
        "arn": f"arn:aws:iam::{ACCOUNT_ID}:role/pulumi-llm-plan",
        "userId": "AROAPLANPLANPLANPLAN",
        "id": ACCOUNT_ID,
    },
    "aws:index/getRegion:getRegion": lambda a, r: {"name": r, "region": r, "id": r, "endpoint": f"ec2.{r}.amazonaws.com"},
    "aws:index/getPartition:getPartition": lambda a, r: {"partition": "aws", "dnsSuffix": "amazonaws.com", "id": "aws"},
    "aws:ssm/getParameter:getParameter": _ssm_parameter,
    "aws:iam/getPolicyDocument:getPolicyDocument": _policy_document,
    "gcp:organizations/getProject:getProject": lambda a, r: {"projectId": GCP_PROJECT, "number": "123456789012", "name": GCP_PROJECT},
    "gcp:organizations/getClientConfig:getClientConfig": lambda a, r: {"project": GCP_PROJECT, "region": r, "zone": f"{r}-a"},
    "gcp:compute/getZones:getZones": lambda a, r: {"names": [f"{a.get('region', r)}-{z}" for z in "abc"], "project": GCP_PROJECT},
    "gcp:compute/getImage:getImage": _gcp_image,
    "gcp:storage/getProjectServiceAccount:getProjectServiceAccount": _gcs_service_agent,
    "azure-native:authorization:getClientConfig": lambda a, r: {
        "subscriptionId": AZURE_SUBSCRIPTION,
        "tenantId": AZURE_TENANT,
        "clientId": "00000000-0000-0000-0000-000000000003",
        "objectId": "00000000-0000-0000-0000-000000000004",
    },
    "azure-native:containerservice:listManagedClusterUserCredentials": _aks_user_credentials,
}


def answer(token: str, args: dict[str, Any], region: str) -> dict[str, Any]:
    """The mock answer to invoke `token`; `region` is the stack's region (or "" on-prem)."""
    handler = _TABLE.get(token)
    if handler is None:
        raise UnknownInvoke(f"the offline plan has no mock answer for invoke {token}; add one to pulumi_llm/offline/invokes.py")
    return handler(args, region)


def tokens() -> list[str]:
    return sorted(_TABLE)
