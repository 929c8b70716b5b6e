"""How AWS decides a request of a role in the stack's own account: which policies take part, what a KMS
key policy must say, which principal assumes which role, and who fetches a container's secrets.

Sources (AWS's documentation repositories on GitHub, read at the commits noted):
* awsdocs/iam-user-guide @ c5e04d4, doc_source/reference_policies_evaluation-logic.md
* awsdocs/aws-kms-developer-guide @ 3828191, doc_source/key-policy-default.md
* awsdocs/amazon-eks-user-guide @ 2edffcb, latest/ug/manage-access/aws-access/pod-id-role.adoc
* awsdocs/amazon-ecs-developer-guide @ 02824f0, doc_source/specifying-sensitive-data-secrets.md
"""

from __future__ import annotations

EVALUATION_SOURCE = "github.com/awsdocs/iam-user-guide, doc_source/reference_policies_evaluation-logic.md"

EXPLICIT_DENY_WINS = True
"""A Deny that applies in any policy of the request (identity or resource) ends evaluation: denied."""

SAME_ACCOUNT_RESOURCE_POLICY_SUFFICES = True
"""Within one account an Allow in either the identity policies or the resource policy (naming the
principal) is enough for S3 and Secrets Manager; KMS is the exception below."""

KMS_SOURCE = "github.com/awsdocs/aws-kms-developer-guide, doc_source/key-policy-default.md"

KMS_KEY_POLICY_REQUIRED = True
"""A KMS key policy gives nobody anything by default, not even the account: an IAM Allow counts only if
the key policy delegates to IAM, i.e. allows the account principal (`arn:aws:iam::ACCOUNT:root`); else
the key policy must name the caller itself. IAM Denies count either way."""

KMS_DEFAULT_KEY_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "Enable IAM policies",
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::{account}:root"},
            "Action": "kms:*",
            "Resource": "*",
        }
    ],
}
"""The policy KMS applies to a key created through the API without one (what `aws.kms.Key` does when
`policy` is unset): the account principal with kms:*, i.e. delegation to IAM. `{account}` is filled in."""


def account_principals(account: str, partition: str = "aws") -> set[str]:
    """The ways a policy names the account principal (which, in a key policy, delegates to IAM)."""
    return {account, f"arn:{partition}:iam::{account}:root"}


ACCOUNT_PRINCIPAL_DENY_COVERS_ALL = True
"""A resource-policy statement whose Principal is the account (`arn:aws:iam::ACCOUNT:root` or the bare
account id) is about every IAM principal of that account, not the root user alone
(github.com/awsdocs/iam-user-guide, doc_source/reference_policies_elements_principal.md, "AWS account
principals"). An Allow to it leaves the decision to the account's IAM policies; a Deny to it denies
each of them, whatever their own policies allow."""


TRUST_SOURCES = {
    "pods.eks.amazonaws.com": "github.com/awsdocs/amazon-eks-user-guide, latest/ug/manage-access/aws-access/pod-id-role.adoc",
}

ASSUME_ACTIONS = {
    # EKS Pod Identity assumes the role and tags the session (namespace, service account, ...): both.
    "pods.eks.amazonaws.com": ("sts:AssumeRole", "sts:TagSession"),
    "ec2.amazonaws.com": ("sts:AssumeRole",),
    "ecs-tasks.amazonaws.com": ("sts:AssumeRole",),
    "lambda.amazonaws.com": ("sts:AssumeRole",),
}
"""Per service principal, the STS actions a role's trust policy must allow it for the service to hand
the role's credentials to a workload."""

ECS_SECRETS_SOURCE = "github.com/awsdocs/amazon-ecs-developer-guide, doc_source/specifying-sensitive-data-secrets.md"

ECS_SECRETS_FETCHED_BY = "executionRoleArn"
"""Container `secrets` (and log `secretOptions`) are fetched by the ECS agent with the task execution
role, before the container starts: it needs secretsmanager:GetSecretValue on each secret and
kms:Decrypt on a customer-managed key of the secret. The task role is never used for them."""


# ---- ARN formats ----------------------------------------------------------------------------------------
ARN_FORMAT_SOURCE = (
    "parliament 1.6.4 (github.com/duo-labs/parliament, tag 1.6.4), parliament/iam_definition.json: each "
    "resource type's `arn` (from AWS's Service Authorization Reference)"
)

ARN_FORMATS: dict[str, str] = {
    "aws:kms/key:Key": "arn:aws:kms:{region}:{account}:key/{id}",
    "aws:secretsmanager/secret:Secret": "arn:aws:secretsmanager:{region}:{account}:secret:{name}",
    "aws:cloudwatch/logGroup:LogGroup": "arn:aws:logs:{region}:{account}:log-group:{name}",
    "aws:cloudwatch/eventRule:EventRule": "arn:aws:events:{region}:{account}:rule/{name}",
    "aws:iam/role:Role": "arn:aws:iam::{account}:role/{name}",
    "aws:iam/instanceProfile:InstanceProfile": "arn:aws:iam::{account}:instance-profile/{name}",
    "aws:iam/policy:Policy": "arn:aws:iam::{account}:policy/{name}",
    "aws:lambda/function:Function": "arn:aws:lambda:{region}:{account}:function:{name}",
    "aws:eks/cluster:Cluster": "arn:aws:eks:{region}:{account}:cluster/{name}",
    "aws:sns/topic:Topic": "arn:aws:sns:{region}:{account}:{name}",
    "aws:sqs/queue:Queue": "arn:aws:sqs:{region}:{account}:{name}",
}
"""The real ARN shape per resource type. `{id}` is the id AWS assigns (a key id), `{name}` the
resource's name (its `name` input, else the physical name the provider generates: the plan's id)."""

SSE_KMS_SOURCE = (
    "docs.aws.amazon.com/AmazonS3/latest/userguide/mpuoverview.html#mpuAndPermissions "
    "(Multipart upload API and permissions) and UsingKMSEncryption.html (Permissions)"
)

SSE_KMS_READ_ACTIONS = ("kms:Decrypt",)
"""Reading an SSE-KMS object: S3 decrypts its data key as the caller (SSE_KMS_SOURCE)."""

SSE_KMS_WRITE_ACTIONS = ("kms:GenerateDataKey", "kms:Decrypt")
"""Writing one: a data key per object (GenerateDataKey), and, for a multipart upload — what `aws s3
sync` does above its 8 MiB threshold, i.e. every weight shard — kms:Decrypt as well, because S3
decrypts the encrypted parts to complete the upload (SSE_KMS_SOURCE). Without Decrypt the parts upload
and CompleteMultipartUpload is denied."""
