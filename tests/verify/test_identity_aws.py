"""Seeds for identity.aws.* (AWS identity flows open on every layer) and iam.parliament (every IAM
document passes parliament), plus the pure helpers they stand on."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from pulumi_llm.verify.iam_eval import Request, allowed, evaluate, wildcard
from pulumi_llm.verify.rules import iam_documents
from pulumi_llm.verify.rules.identity_aws import default_key_policy

from .conftest import fired, resource

ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
KEY = "aws:kms/key:Key"
STACK_KEY_ARN = "arn:aws:kms:us-east-1:123456789012:llm-key-key"
MODELS_KEY_ARN = "arn:aws:kms:us-east-1:123456789012:llm-models-key"


def edit_policy(view, type_: str, name: str, change: Callable[[dict[str, Any]], None], field: str = "policy") -> None:
    """Change one policy document of the plan in place, the way a wiring mistake would."""
    target = resource(view, type_, name)
    doc = json.loads(target["inputs"][field])
    change(doc)
    target["inputs"][field] = json.dumps(doc, sort_keys=True)


def statement(doc: dict[str, Any], sid: str) -> dict[str, Any]:
    found = [s for s in doc["Statement"] if s.get("Sid") == sid]
    assert len(found) == 1, sid
    return found[0]


# ---- finding 2: the dev GPU VM reads its weights -----------------------------------------------------
def test_dev_vm_role_decrypts_with_the_key_that_encrypts_the_bucket(recorded) -> None:
    view = recorded("dev")
    sse = resource(view, "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration", "llm-models-encryption")
    bucket_key = sse["inputs"]["rules"][0]["applyServerSideEncryptionByDefault"]["kmsMasterKeyId"]
    policy = json.loads(resource(view, ROLE_POLICY, "llm-vm-llama-3-1-8b-instruct-model-read")["inputs"]["policy"])
    assert bucket_key == MODELS_KEY_ARN
    assert statement(policy, "DecryptModelThroughS3")["Resource"] == bucket_key
    assert "identity.aws.weights" not in fired(view)


def test_seed_dev_vm_role_may_only_use_the_stack_key(recorded) -> None:
    """What the plan held before the fix: kms:Decrypt on the stack key only → s3 sync AccessDenied."""
    view = recorded("dev")
    edit_policy(
        view,
        ROLE_POLICY,
        "llm-vm-llama-3-1-8b-instruct-model-read",
        lambda d: statement(d, "DecryptModelThroughS3").update(Resource=STACK_KEY_ARN),
    )
    assert fired(view) == {"identity.aws.weights"}


# ---- identity.aws.weights ---------------------------------------------------------------------------
def test_seed_pod_role_names_the_wrong_key(recorded) -> None:
    view = recorded("staging")
    edit_policy(
        view,
        ROLE_POLICY,
        "llm-eks-llm-llama-3-1-8b-instruct-policy",
        lambda d: statement(d, "DecryptModel").update(Resource=[STACK_KEY_ARN]),
    )
    assert fired(view) == {"identity.aws.weights"}


def test_seed_pod_role_without_kms_decrypt(recorded) -> None:
    view = recorded("prod")
    edit_policy(
        view,
        ROLE_POLICY,
        "llm-eks-llm-llama-3-3-70b-instruct-policy",
        lambda d: d.update(Statement=[s for s in d["Statement"] if s["Sid"] != "DecryptModel"]),
    )
    assert fired(view) == {"identity.aws.weights"}


def test_seed_models_key_policy_without_iam_delegation(recorded) -> None:
    """The role's IAM Allow is void when the key policy neither names it nor delegates to the account."""
    view = recorded("prod")
    resource(view, KEY, "llm-models-key")["inputs"]["policy"] = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "OnlyTheAdminRole",
                    "Effect": "Allow",
                    "Principal": {"AWS": "arn:aws:iam::123456789012:role/admin"},
                    "Action": "kms:*",
                    "Resource": "*",
                }
            ],
        }
    )
    assert fired(view) == {"identity.aws.weights"}


def test_seed_bucket_arn_typo_in_the_read_policy(recorded) -> None:
    view = recorded("staging")

    def typo(doc: dict[str, Any]) -> None:
        read = statement(doc, "ReadModel")
        read["Resource"] = [r.replace("llm-models-bucket-8e9d71e", "llm-models-bucket-8e9d71f") for r in read["Resource"]]

    edit_policy(view, ROLE_POLICY, "llm-eks-llm-llama-3-1-8b-instruct-policy", typo)
    assert fired(view) == {"identity.aws.weights"}


def test_seed_copy_job_cannot_generate_data_keys(recorded) -> None:
    view = recorded("staging")
    edit_policy(
        view,
        ROLE_POLICY,
        "llm-eks-llm-copy-llama-3-1-8b-instruct-policy",
        lambda d: statement(d, "EncryptModel").update(Action=["kms:Encrypt", "kms:Decrypt"]),
    )
    assert fired(view) == {"identity.aws.weights"}


def test_seed_bucket_policy_denies_the_vm_role(recorded) -> None:
    view = recorded("dev")
    deny = {
        "Sid": "DenyTheVm",
        "Effect": "Deny",
        "Action": "s3:GetObject",
        "Principal": {"AWS": "arn:aws:iam:us-east-1:123456789012:llm-vm-llama-3-1-8b-instruct-role"},
        "Resource": "arn:aws:s3:::llm-models-bucket-8e9d71e/*",
    }
    edit_policy(view, "aws:s3/bucketPolicy:BucketPolicy", "llm-models-tls-only", lambda d: d["Statement"].append(deny))
    assert fired(view) == {"identity.aws.weights"}


def test_seed_pod_role_trust_without_tag_session(recorded) -> None:
    """EKS Pod Identity tags the session: a trust policy with sts:AssumeRole alone refuses it."""
    view = recorded("prod")
    edit_policy(
        view,
        "aws:iam/role:Role",
        "llm-eks-llm-llama-3-1-8b-instruct-role",
        lambda d: d["Statement"][0].update(Action="sts:AssumeRole"),
        field="assumeRolePolicy",
    )
    assert fired(view) == {"identity.aws.weights"}


def test_seed_pod_role_trusts_another_cluster(recorded) -> None:
    """EKS sends the cluster's ARN as aws:SourceArn: a trust policy pinned to another cluster refuses it."""
    view = recorded("prod")
    edit_policy(
        view,
        "aws:iam/role:Role",
        "llm-eks-llm-llama-3-3-70b-instruct-role",
        lambda d: d["Statement"][0]["Condition"]["ArnEquals"].update(
            {"aws:SourceArn": "arn:aws:eks:us-east-1:123456789012:cluster/llm-staging"}
        ),
        field="assumeRolePolicy",
    )
    assert fired(view) == {"identity.aws.weights"}


def test_seed_pod_identity_association_for_another_service_account(recorded) -> None:
    view = recorded("prod")
    association = resource(view, "aws:eks/podIdentityAssociation:PodIdentityAssociation", "llm-eks-llm-llama-3-1-8b-instruct-pod-identity")
    association["inputs"]["serviceAccount"] = "llama-3-1-8b"
    assert fired(view) == {"identity.aws.weights"}


# ---- identity.aws.secrets ---------------------------------------------------------------------------
def test_seed_secret_policy_denies_the_execution_role(recorded) -> None:
    view = recorded("prod")
    deny = {
        "Sid": "NotTheGateway",
        "Effect": "Deny",
        "Action": "secretsmanager:GetSecretValue",
        "Resource": "*",
        "Principal": {"AWS": "arn:aws:iam:us-east-1:123456789012:llm-gateway-execution-role"},
    }
    edit_policy(
        view, "aws:secretsmanager/secretPolicy:SecretPolicy", "llm-gateway-secret-policy-openai", lambda d: d["Statement"].append(deny)
    )
    assert fired(view) == {"identity.aws.secrets"}


def test_seed_authorizer_wired_to_a_mistyped_secret_arn(recorded) -> None:
    view = recorded("dev")
    function = resource(view, "aws:lambda/function:Function", "llm-gateway-authorizer")
    function["inputs"]["environment"]["variables"]["MASTER_KEY_SECRET_ARN"] = (
        "arn:aws:secretsmanager:us-east-1:123456789012:llm-gateway-secret-litellm"
    )
    assert fired(view) == {"identity.aws.secrets"}


def test_a_secret_policy_naming_the_role_opens_the_read_without_its_iam_allow(recorded) -> None:
    """Same account: the secret policy's Allow for the authorizer is enough (facts.aws_iam)."""
    view = recorded("dev")
    edit_policy(
        view,
        ROLE_POLICY,
        "llm-gateway-authorizer-policy",
        lambda d: d.update(Statement=[s for s in d["Statement"] if s["Sid"] != "ReadMasterKey"]),
    )
    assert "identity.aws.secrets" not in fired(view)


def test_seed_execution_role_cannot_decrypt_the_secrets_key(recorded) -> None:
    view = recorded("prod")
    edit_policy(
        view,
        ROLE_POLICY,
        "llm-gateway-execution-policy",
        lambda d: d.update(Statement=[s for s in d["Statement"] if s["Sid"] != "DecryptThroughSecretsManager"]),
    )
    assert fired(view) == {"identity.aws.secrets"}


def test_seed_copy_job_cannot_decrypt_the_hub_token(recorded) -> None:
    view = recorded("staging")
    edit_policy(
        view,
        ROLE_POLICY,
        "llm-eks-llm-copy-llama-3-1-8b-instruct-policy",
        lambda d: statement(d, "DecryptHubToken").update(Resource=[MODELS_KEY_ARN]),
    )
    assert fired(view) == {"identity.aws.secrets"}


# ---- iam.parliament ----------------------------------------------------------------------------------
def test_seed_unknown_iam_action(recorded) -> None:
    view = recorded("dev")
    edit_policy(
        view,
        ROLE_POLICY,
        "llm-network-flow-logs-write",
        lambda d: d["Statement"][0].update(Action=["logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvent"]),
    )
    assert fired(view) == {"iam.parliament"}


def test_seed_resource_that_no_action_fits(recorded) -> None:
    """ecs:UpdateService on the cluster's ARN: it takes only a service, so the statement grants nothing."""
    view = recorded("prod")
    edit_policy(
        view,
        ROLE_POLICY,
        "llm-gateway-redeploy-policy",
        lambda d: statement(d, "RedeployGatewayService").update(
            Resource="arn:aws:ecs:us-east-1:123456789012:cluster/pulumi-llm-prod-llm-gateway-gw"
        ),
    )
    assert fired(view) == {"iam.parliament"}


def test_seed_unknown_condition_operator_in_a_trust_policy(recorded) -> None:
    view = recorded("staging")
    edit_policy(
        view,
        "aws:iam/role:Role",
        "llm-network-flow-logs-role",
        lambda d: d["Statement"][0]["Condition"].update(StringEqual=d["Statement"][0]["Condition"].pop("StringEquals")),
        field="assumeRolePolicy",
    )
    assert fired(view) == {"iam.parliament"}


# ---- helpers -------------------------------------------------------------------------------------
ROLE = "arn:aws:iam::123456789012:role/reader"


def test_wildcards_are_iam_wildcards_only() -> None:
    assert wildcard("kms:Decrypt*", "kms:Decrypt")
    assert wildcard("arn:aws:s3:::b/p/*", "arn:aws:s3:::b/p/config.json")
    assert not wildcard("arn:aws:s3:::b/[p]/*", "arn:aws:s3:::b/p/x")  # brackets are literal in IAM
    assert wildcard("s3:?etObject", "s3:GetObject")


def test_explicit_deny_wins_over_an_allow() -> None:
    request = Request(ROLE, "s3:GetObject", "arn:aws:s3:::b/x", "123456789012")
    allow = ("id", {"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]})
    deny = ("bucket", {"Statement": [{"Effect": "Deny", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}]})
    assert allowed(evaluate(request, [allow]))
    assert not allowed(evaluate(request, [allow], deny))


def test_a_deny_whose_condition_the_request_fails_does_not_apply() -> None:
    request = Request(ROLE, "s3:GetObject", "arn:aws:s3:::b/x", "123456789012", {"aws:SecureTransport": "true"})
    allow = ("id", {"Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}]})
    tls_only = (
        "bucket",
        {
            "Statement": [
                {
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": "arn:aws:s3:::b/*",
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                }
            ]
        },
    )
    assert allowed(evaluate(request, [allow], tls_only))


def test_an_unevaluable_allow_condition_is_an_assumption() -> None:
    request = Request(ROLE, "kms:Decrypt", "arn:aws:kms:r:1:key/k", "123456789012")
    allow = (
        "id",
        {
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": "kms:Decrypt",
                    "Resource": "arn:aws:kms:r:1:key/k",
                    "Condition": {"StringEquals": {"aws:PrincipalTag/team": "ml"}},
                }
            ]
        },
    )
    decision = evaluate(request, [allow], ("key", default_key_policy()), key_policy=True)
    assert allowed(decision) and decision.assumptions == ["StringEquals aws:PrincipalTag/team"]


@pytest.mark.parametrize(("operator", "applies"), [("StringEquals", False), ("StringNotEquals", True), ("StringNotLike", True)])
def test_negated_condition_operators(operator: str, applies: bool) -> None:
    request = Request(ROLE, "kms:Decrypt", "k", "123456789012", {"kms:ViaService": "s3.us-east-1.amazonaws.com"})
    deny = (
        "id",
        {
            "Statement": [
                {
                    "Effect": "Deny",
                    "Action": "kms:Decrypt",
                    "Resource": "*",
                    "Condition": {operator: {"kms:ViaService": "secretsmanager.*"}},
                }
            ]
        },
    )
    assert bool(evaluate(request, [deny]).denied_by) is applies


@pytest.mark.parametrize(
    ("key_policy", "opens"),
    [
        (None, True),  # no policy: KMS's default, which delegates to IAM
        ({"Statement": [{"Effect": "Allow", "Principal": {"AWS": ROLE}, "Action": "kms:Decrypt", "Resource": "*"}]}, True),
        (
            {
                "Statement": [
                    {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:role/other"}, "Action": "kms:*", "Resource": "*"}
                ]
            },
            False,
        ),
    ],
)
def test_a_key_policy_must_name_the_role_or_delegate(key_policy, opens) -> None:
    request = Request(ROLE, "kms:Decrypt", "arn:aws:kms:r:1:key/k", "123456789012")
    iam = ("id", {"Statement": [{"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "arn:aws:kms:r:1:key/k"}]})
    policy = ("key", default_key_policy() if key_policy is None else key_policy)
    assert allowed(evaluate(request, [iam], policy, key_policy=True)) is opens


def test_mock_arns_become_real_arns_whole_names_only() -> None:
    arns = {"arn:aws:kms:r:1:llm-key": "arn:aws:kms:r:1:key/llm-key-1", "arn:aws:kms:r:1:llm-key-key": "arn:aws:kms:r:1:key/llm-key-key-2"}
    text = '["arn:aws:kms:r:1:llm-key-key", "arn:aws:kms:r:1:llm-key"]'
    assert iam_documents.realistic(text, arns) == '["arn:aws:kms:r:1:key/llm-key-key-2", "arn:aws:kms:r:1:key/llm-key-1"]'


def test_resource_fit_allows_aws_owned_arns_and_split_statements() -> None:
    assert iam_documents.fits("arn:aws:ssm:us-east-1::parameter/aws/service/*", "arn:*:ssm:*:*:parameter/*")
    # RunInstances on subnets only: usable (AWS authorizes each resource type on its own).
    split = {"Effect": "Allow", "Action": "ec2:RunInstances", "Resource": "arn:aws:ec2:us-east-1:1:subnet/*"}
    assert iam_documents.unusable_actions(split) == []
    wrong = {"Effect": "Allow", "Action": ["kms:Decrypt", "s3:GetObject"], "Resource": "arn:aws:s3:::b/*"}
    assert iam_documents.unusable_actions(wrong) == ["kms:Decrypt"]


@pytest.mark.parametrize("account_principal", ["arn:aws:iam::123456789012:root", "123456789012"])
def test_a_deny_naming_the_account_denies_every_role_of_it(account_principal: str) -> None:
    """The account principal stands for every principal of the account: a bucket policy denying it
    denies the role, however the role's own policies allow."""
    request = Request(ROLE, "s3:GetObject", "arn:aws:s3:::b/x", "123456789012")
    allow = ("id", {"Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}]})
    deny = (
        "bucket",
        {
            "Statement": [
                {
                    "Sid": "NoReads",
                    "Effect": "Deny",
                    "Principal": {"AWS": account_principal},
                    "Action": "s3:GetObject",
                    "Resource": "arn:aws:s3:::b/*",
                }
            ]
        },
    )
    decision = evaluate(request, [allow], deny)
    assert decision.denied_by == ["resource:bucket:NoReads"] and not allowed(decision)
    other_account = (
        "bucket",
        {
            "Statement": [
                {
                    "Effect": "Deny",
                    "Principal": {"AWS": "arn:aws:iam::210987654321:root"},
                    "Action": "s3:GetObject",
                    "Resource": "arn:aws:s3:::b/*",
                }
            ]
        },
    )
    assert allowed(evaluate(request, [allow], other_account))


def test_seed_copy_job_cannot_decrypt_its_multipart_parts(recorded) -> None:
    """aws s3 sync uploads the shards in parts; S3 decrypts the SSE-KMS parts as the caller to complete
    the upload, so a write needs kms:Decrypt beside kms:GenerateDataKey."""
    view = recorded("staging")
    edit_policy(
        view,
        ROLE_POLICY,
        "llm-eks-llm-copy-llama-3-1-8b-instruct-policy",
        lambda d: statement(d, "EncryptModel").update(Action=["kms:Encrypt", "kms:GenerateDataKey"]),
    )
    assert fired(view) == {"identity.aws.weights"}
