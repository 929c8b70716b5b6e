"""identity.aws: the AWS identity flows a stack intends are open on every layer a real request crosses.

From the settings: every model whose weights live in object storage is read by its server's identity
(the GPU VM's instance profile role, or the model server pods' EKS Pod Identity role), and written by its
copy Job's role when it is copied from the hub; the gateway's ECS tasks (execution role) and its
authorizer Lambda read their Secrets Manager secrets, the copy Jobs the hub token.

Each flow is followed through the plan (launch template → instance profile → role; Deployment/Job →
service account → PodIdentityAssociation → role; task definition / function → role) and each request is
evaluated (verify.iam_eval, facts.aws_iam) against the role's trust policy, its policies, the resource
policy (bucket policy, secret policy) and the KMS key policy of the key that actually encrypts the data
(the bucket's default SSE-KMS key, the secret's key). Policies AWS manages (attached `arn:aws:iam::aws:`
policies) can't be read offline: the flows must be open through the stack's own policies.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ...offline.invokes import ACCOUNT_ID
from ...offline.recorder import mock_arn
from ..facts import aws_iam as facts
from ..iam_eval import Request, allowed, as_list, condition_holds, evaluate, statements, wildcard
from ..plain import array_at, object_at
from ..report import Violation
from ..view import PlanView
from .registry import rule, violation

AccessRequest = tuple[str, str, Any, tuple[str, Any] | None, bool, dict[str, str]]
"""(what, action, resource ARN, resource policy (name, doc) or None, whether it's a key policy, context)."""

ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
MANAGED_POLICY = "aws:iam/policy:Policy"
KEY = "aws:kms/key:Key"
BUCKET = "aws:s3/bucket:Bucket"
SECRET = "aws:secretsmanager/secret:Secret"
SECRET_POLICY = "aws:secretsmanager/secretPolicy:SecretPolicy"
OBJECT_PROBE = "config.json"
"""An object under a model's prefix, standing for every file of it in GetObject/PutObject requests."""


# ---- following references ---------------------------------------------------------------------------
def _of(view: PlanView, value: Any, *types: str) -> dict[str, Any] | None:
    found = view.ref(value)
    return found if found is not None and found["type"] in types else None


def role_of_profile(view: PlanView, profile: dict[str, Any]) -> dict[str, Any] | None:
    """An instance profile's role: its `role` input, or (the mocks leave a role's name unknown) the role
    it waits for."""
    role = _of(view, profile["inputs"].get("role"), ROLE)
    if role is None:
        roles = [view.by_urn[u] for u in profile.get("dependsOn", []) if view.by_urn.get(u, {}).get("type") == ROLE]
        role = roles[0] if len(roles) == 1 else None
    return role


def role_policies(view: PlanView, role: dict[str, Any]) -> list[tuple[str, Any]]:
    """(name, document) of every policy of `role` the plan holds: inline ones and attached ones the stack
    defines (AWS-managed attachments aren't in the plan)."""
    found = [(p.get("name", "inline"), p.get("policy")) for p in as_list(role["inputs"].get("inlinePolicies"))]
    for policy in view.of_type(ROLE_POLICY):
        if view.ref(policy["inputs"].get("role")) is role:
            found.append((policy["name"], policy["inputs"].get("policy")))
    for attachment in view.of_type(ATTACHMENT):
        attached_to = view.ref(attachment["inputs"].get("role")) is role or role["urn"] in attachment.get("dependsOn", [])
        managed = _of(view, attachment["inputs"].get("policyArn"), MANAGED_POLICY)
        if attached_to and managed is not None:
            found.append((managed["name"], managed["inputs"].get("policy")))
    return found


def trust_gaps(role: dict[str, Any], service: str, context: dict[str, str] | None = None) -> list[str]:
    """The STS actions `service` needs (facts.aws_iam.ASSUME_ACTIONS) that the role's trust policy
    doesn't allow it, its conditions evaluated against what the service sends (`context`: the source
    account, for EKS Pod Identity the cluster's ARN)."""
    gaps: list[str] = []
    for action in facts.ASSUME_ACTIONS[service]:
        ok = any(
            stmt.get("Effect") == "Allow"
            and service in as_list(object_at(stmt, "Principal").get("Service") if isinstance(stmt.get("Principal"), dict) else None)
            and any(wildcard(a, action, case_sensitive=False) for a in as_list(stmt.get("Action")))
            and condition_holds(stmt, context or {})[0]
            for stmt in statements(role["inputs"].get("assumeRolePolicy"))
        )
        if not ok:
            gaps.append(action)
    return gaps


def default_key_policy() -> str:
    text = json.dumps(facts.KMS_DEFAULT_KEY_POLICY)
    return text.replace("{account}", ACCOUNT_ID)


def resource_arn(view: PlanView, r: dict[str, Any]) -> str:
    """A plan resource's ARN as other resources' inputs spell it (the mocks' scheme)."""
    return mock_arn(r["type"], r["name"], view.settings.get("region", ""), bucket=r.get("id"))


# ---- flows ----------------------------------------------------------------------------------------
@dataclass
class Flow:
    at: str
    """The resource or object a failure is reported on (the consumer)."""
    who: str
    role: dict[str, Any] | None
    service: str
    """The service principal that hands the role to the workload."""
    requests: list[AccessRequest] = field(default_factory=list[AccessRequest])
    """(what, action, resource ARN, resource policy (name, doc) or None, whether it's a key policy, context)."""
    problems: list[str] = field(default_factory=list[str])
    """Links of the chain that don't resolve (found while building the flow)."""
    trust_context: dict[str, str] = field(default_factory=lambda: {"aws:SourceAccount": ACCOUNT_ID})
    """What the service sends when it assumes the role (the trust policy's condition keys)."""


def check(view: PlanView, flow: Flow, rule_name: str) -> Iterator[Violation]:
    for problem in flow.problems:
        yield violation(view, flow.at, rule_name, f"{flow.who}: {problem}")
    role = flow.role
    if role is None:
        return
    gaps = trust_gaps(role, flow.service, flow.trust_context)
    if gaps:
        yield violation(
            view,
            role["name"],
            rule_name,
            f"{flow.who}: the trust policy doesn't let {flow.service} {', '.join(gaps)} (source: "
            f"{facts.TRUST_SOURCES.get(flow.service, facts.EVALUATION_SOURCE)})",
        )
    policies = role_policies(view, role)
    principal = resource_arn(view, role)
    for what, action, arn, resource_policy, is_key, context in flow.requests:
        request = Request(principal=principal, action=action, resource=arn, account=ACCOUNT_ID, context=context)
        decision = evaluate(request, policies, resource_policy, key_policy=is_key)
        if allowed(decision):
            continue
        if decision.denied_by:
            why = f"explicitly denied by {', '.join(decision.denied_by)}"
        elif decision.notes:
            why = "; ".join(decision.notes)
        else:
            why = f"no policy of role {role['name']} allows it" + (
                f" (nor does {resource_policy[0]})" if resource_policy and not is_key else ""
            )
        yield violation(view, flow.at, rule_name, f"{flow.who}: {action} on {arn} ({what}) is refused: {why}")


# ---- the model store ---------------------------------------------------------------------------------
@dataclass
class Store:
    arn: str
    bucket: dict[str, Any] | None
    policy: tuple[str, Any] | None
    key_arn: str | None
    key_policy: tuple[str, Any] | None
    problems: list[str]


def store_of(view: PlanView, bucket_arn: str) -> Store:
    """The bucket behind `bucket_arn` with its bucket policy and the key its default encryption uses.
    A bucket outside the plan: its policy and key are unknown (only the role's own policies are checked)."""
    bucket = _of(view, bucket_arn, BUCKET)
    if bucket is None:
        return Store(bucket_arn, None, None, None, None, [])
    policy = next(
        (
            ("bucket policy " + p["name"], p["inputs"].get("policy"))
            for p in view.of_type("aws:s3/bucketPolicy:BucketPolicy")
            if view.ref(p["inputs"].get("bucket")) is bucket
        ),
        None,
    )
    sse = next(
        (
            s
            for s in view.of_type("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")
            if view.ref(s["inputs"].get("bucket")) is bucket
        ),
        None,
    )
    if sse is None:
        return Store(bucket_arn, bucket, policy, None, None, [])
    first_rule: dict[str, Any] = (as_list(sse["inputs"].get("rules")) or [{}])[0] or {}
    default = object_at(first_rule, "applyServerSideEncryptionByDefault")
    key_ref = default.get("kmsMasterKeyId")
    if default.get("sseAlgorithm") not in ("aws:kms", "aws:kms:dsse") or not key_ref:
        return Store(bucket_arn, bucket, policy, None, None, [])  # SSE-S3 or the AWS-managed aws/s3 key
    key = _of(view, key_ref, KEY)
    if key is None:
        return Store(
            bucket_arn, bucket, policy, key_ref, None, [f"bucket {bucket['name']} encrypts with {key_ref}, a key that isn't in the plan"]
        )
    return Store(
        bucket_arn,
        bucket,
        policy,
        resource_arn(view, key),
        (f"key policy of {key['name']}", key["inputs"].get("policy") or default_key_policy()),
        [],
    )


def weights_location(view: PlanView, model: str) -> tuple[str, str] | None:
    """(bucket ARN, key prefix) of a model's weights from its settings; None when not in object storage."""
    source = str(object_at(view.settings, "models").get(model, {}).get("source") or "")
    scheme, _, rest = source.partition("://")
    if scheme == "store":
        stores = [
            b for b in view.of_type(BUCKET) if (view.by_urn.get(b.get("parent") or "") or {}).get("type") == "pulumi-llm:index:ModelStore"
        ]
        return (resource_arn(view, stores[0]) if stores else "arn:aws:s3:::<no model store in the plan>", rest.strip("/"))
    if scheme == "s3":
        bucket, _, prefix = rest.partition("/")
        return f"arn:aws:s3:::{bucket}", prefix.strip("/")
    return None


def weight_requests(view: PlanView, store: Store, prefix: str, write: bool) -> list[AccessRequest]:
    region = view.settings.get("region", "")
    tls = {"aws:SecureTransport": "true"}
    obj = f"{store.arn}/{prefix}/{OBJECT_PROBE}"
    requests: list[AccessRequest] = [
        ("the weights bucket", "s3:ListBucket", store.arn, store.policy, False, {**tls, "s3:prefix": f"{prefix}/"}),
        ("the model's objects", "s3:PutObject" if write else "s3:GetObject", obj, store.policy, False, tls),
    ]
    if store.key_arn and store.key_policy:
        via_s3 = {"kms:ViaService": f"s3.{region}.amazonaws.com"}
        for action in facts.SSE_KMS_WRITE_ACTIONS if write else facts.SSE_KMS_READ_ACTIONS:
            requests.append(("the bucket's SSE-KMS key", action, store.key_arn, store.key_policy, True, via_s3))
    return requests


def _served_models(view: PlanView) -> list[str]:
    return sorted(m for m in object_at(view.settings, "models") if weights_location(view, m) is not None)


def _pod_role(view: PlanView, namespace: str, service_account: str) -> tuple[dict[str, Any] | None, list[str], dict[str, str]]:
    """The role EKS Pod Identity gives a service account's pods, what's broken on the way, and what EKS
    sends when it assumes the role (the cluster's ARN as aws:SourceArn)."""
    associations = [
        a
        for a in view.of_type("aws:eks/podIdentityAssociation:PodIdentityAssociation")
        if a["inputs"].get("namespace") == namespace and a["inputs"].get("serviceAccount") == service_account
    ]
    if not associations:
        return (
            None,
            [f"no EKS Pod Identity association for service account {namespace}/{service_account}: the pods get no AWS credentials"],
            {},
        )
    association = associations[0]["inputs"]
    cluster = association.get("clusterName")
    region = view.settings.get("region", "")
    context = {"aws:SourceAccount": ACCOUNT_ID, "aws:SourceArn": f"arn:aws:eks:{region}:{ACCOUNT_ID}:cluster/{cluster}"}
    problems: list[str] = []
    if not any(c["inputs"].get("name") == cluster or view.ref(cluster) is c for c in view.of_type("aws:eks/cluster:Cluster")):
        problems.append(f"Pod Identity association {associations[0]['name']} is for cluster {cluster}, which the plan doesn't create")
    arn = association.get("roleArn")
    role = _of(view, arn, ROLE)
    if role is None:
        problems.append(f"Pod Identity association {associations[0]['name']} names role {arn}, which isn't in the plan")
    return role, problems, context


def _workload(view: PlanView, kind: str, component: str, model: str) -> dict[str, Any] | None:
    return next(
        (
            o
            for o in view.objects(kind)
            if object_at(o["metadata"], "labels").get("app.kubernetes.io/component") == component
            and object_at(o["metadata"], "labels").get("pulumi-llm.dev/model") == model
        ),
        None,
    )


def weight_flows(view: PlanView) -> Iterator[Flow]:
    methods = view.methods
    for model in _served_models(view):
        location = weights_location(view, model)
        if location is None:  # _served_models keeps only models whose weights have a location
            continue
        bucket_arn, prefix = location
        store = store_of(view, bucket_arn)
        if "gpu-vm" in methods:
            yield _vm_flow(view, model, store, prefix)
        if "cluster" in methods:
            for kind, component, write in (("Deployment", "model-server", False), ("Job", "model-copy", True)):
                if write and not view.settings["models"][model].get("copy_from_hub"):
                    continue
                yield _pod_flow(view, model, kind, component, store, prefix, write)


def _vm_flow(view: PlanView, model: str, store: Store, prefix: str) -> Flow:
    templates = [
        t for t in view.of_type("aws:ec2/launchTemplate:LaunchTemplate") if object_at(t["inputs"], "tags").get("pulumi-llm:model") == model
    ]
    who = f"GPU VM of {model} (instance profile role)"
    if not templates:
        return Flow(f"model {model}", who, None, "ec2.amazonaws.com", problems=["no launch template serves it"])
    template = templates[0]
    profile_ref = object_at(template["inputs"], "iamInstanceProfile")
    profile = _of(view, profile_ref.get("arn") or profile_ref.get("name"), "aws:iam/instanceProfile:InstanceProfile")
    if profile is None:
        return Flow(
            template["name"],
            who,
            None,
            "ec2.amazonaws.com",
            problems=[f"its instance profile {profile_ref} isn't in the plan: the instances get no role"],
        )
    role = role_of_profile(view, profile)
    flow = Flow(template["name"], who, role, "ec2.amazonaws.com", problems=list(store.problems))
    if role is None:
        flow.problems.append(f"instance profile {profile['name']} has no role")
    flow.requests = weight_requests(view, store, prefix, write=False)
    return flow


def _pod_flow(view: PlanView, model: str, kind: str, component: str, store: Store, prefix: str, write: bool) -> Flow:
    what = "copy Job" if write else "server pods"
    who = f"{what} of {model} (EKS Pod Identity role)"
    workload = _workload(view, kind, component, model)
    if workload is None:
        return Flow(f"model {model}", who, None, "pods.eks.amazonaws.com", problems=[f"no {kind} ({component}) in the plan"])
    namespace = workload["metadata"].get("namespace", "default")
    service_account = workload["spec"]["template"]["spec"].get("serviceAccountName") or "default"
    role, problems, context = _pod_role(view, namespace, service_account)
    at = f"{kind} {namespace}/{workload['metadata']['name']}"
    flow = Flow(at, who, role, "pods.eks.amazonaws.com", problems=problems + list(store.problems), trust_context=context)
    flow.requests = weight_requests(view, store, prefix, write=write)
    return flow


@rule("identity.aws.weights")
def weights_readable(view: PlanView) -> Iterable[Violation]:
    """Every model's server identity may list and read its weights and decrypt them with the key that
    encrypts the bucket; every copy Job's identity may write them and have that key generate data keys
    and decrypt them (a multipart upload's parts)."""
    if view.cloud != "aws":
        return []
    return [v for flow in weight_flows(view) for v in check(view, flow, "identity.aws.weights")]


# ---- secrets -----------------------------------------------------------------------------------------
def secret_of(view: PlanView, value: Any) -> dict[str, Any] | None:
    """The secret a reference names; ECS references may end in `:json-key:version-stage:version-id`."""
    text = str(value or "")
    while text:
        found = _of(view, text, SECRET)
        if found is not None:
            return found
        if text.count(":") <= 5:
            return None
        text = text.rsplit(":", 1)[0]
    return None


def secret_requests(view: PlanView, secret: dict[str, Any]) -> list[AccessRequest]:
    region = view.settings.get("region", "")
    arn = resource_arn(view, secret)
    policy = next(
        (
            ("secret policy " + p["name"], p["inputs"].get("policy"))
            for p in view.of_type(SECRET_POLICY)
            if _of(view, p["inputs"].get("secretArn"), SECRET) is secret
        ),
        None,
    )
    requests: list[AccessRequest] = [
        (f"secret {secret['name']}", "secretsmanager:GetSecretValue", arn, policy, False, {"aws:SecureTransport": "true"})
    ]
    key_ref = secret["inputs"].get("kmsKeyId")
    if key_ref:  # without one, Secrets Manager uses the AWS-managed aws/secretsmanager key
        key = _of(view, key_ref, KEY)
        key_arn = resource_arn(view, key) if key is not None else str(key_ref)
        key_policy = (f"key policy of {key['name']}", key["inputs"].get("policy") or default_key_policy()) if key is not None else None
        requests.append(
            (
                f"the key of secret {secret['name']}",
                "kms:Decrypt",
                key_arn,
                key_policy,
                key is not None,
                {"kms:ViaService": f"secretsmanager.{region}.amazonaws.com"},
            )
        )
    return requests


def _secret_flow(view: PlanView, at: str, who: str, role_ref: Any, service: str, refs: list[str]) -> Flow:
    role = _of(view, role_ref, ROLE)
    flow = Flow(at, who, role, service)
    if role is None:
        flow.problems.append(f"its role {role_ref} isn't in the plan")
    for ref in refs:
        secret = secret_of(view, ref)
        if secret is None:
            flow.problems.append(f"it reads secret {ref}, which isn't in the plan")
            continue
        flow.requests += secret_requests(view, secret)
    return flow


def secret_flows(view: PlanView) -> Iterator[Flow]:
    for task in view.of_type("aws:ecs/taskDefinition:TaskDefinition"):
        containers = json.loads(task["inputs"].get("containerDefinitions") or "[]")
        refs = [s.get("valueFrom") for c in containers for s in array_at(c, "secrets")]
        refs += [s.get("valueFrom") for c in containers for s in array_at(object_at(c, "logConfiguration"), "secretOptions")]
        if refs:
            yield _secret_flow(
                view,
                task["name"],
                f"ECS task {task['name']} (execution role: {facts.ECS_SECRETS_FETCHED_BY})",
                task["inputs"].get(facts.ECS_SECRETS_FETCHED_BY),
                "ecs-tasks.amazonaws.com",
                refs,
            )
    for function in view.of_type("aws:lambda/function:Function"):
        variables = object_at(object_at(function["inputs"], "environment"), "variables")
        refs = [v for v in variables.values() if secret_of(view, v) is not None or str(v).startswith("arn:aws:secretsmanager:")]
        if refs:
            yield _secret_flow(
                view, function["name"], f"Lambda {function['name']}", function["inputs"].get("role"), "lambda.amazonaws.com", refs
            )
    if "cluster" in view.methods:
        hub = [
            s
            for s in view.of_type(SECRET)
            if (view.by_urn.get(s.get("parent") or "") or {}).get("type") == "pulumi-llm:index:HubTokenSecret"
        ]
        for model in _served_models(view):
            if not view.settings["models"][model].get("copy_from_hub"):
                continue
            job = _workload(view, "Job", "model-copy", model)
            if job is None:
                continue  # identity.aws.weights reports the missing Job
            namespace = job["metadata"].get("namespace", "default")
            role, problems, context = _pod_role(view, namespace, job["spec"]["template"]["spec"].get("serviceAccountName") or "default")
            flow = Flow(
                f"Job {namespace}/{job['metadata']['name']}",
                f"copy Job of {model} (hub token)",
                role,
                "pods.eks.amazonaws.com",
                problems=problems,
                trust_context=context,
            )
            if not hub:
                flow.problems.append("no hub token secret in the plan")
            for secret in hub:
                flow.requests += secret_requests(view, secret)
            yield flow


@rule("identity.aws.secrets")
def secrets_readable(view: PlanView) -> Iterable[Violation]:
    """Every Secrets Manager secret a workload is wired to read (ECS container secrets, a Lambda's secret
    ARN, the copy Jobs' hub token) is readable by the role that reads it: GetSecretValue on the secret
    (its resource policy not denying) and kms:Decrypt on the secret's key (the key policy agreeing)."""
    if view.cloud != "aws":
        return []
    return [v for flow in secret_flows(view) for v in check(view, flow, "identity.aws.secrets")]
