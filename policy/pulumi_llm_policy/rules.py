"""The mandatory rules of the pulumi-llm policy pack, as pure functions.

Resource rules take one resource dict (``{"urn", "type", "name", "parent", "inputs"}``, camelCase inputs
as in the offline plan's resources.json) and return a list of violation messages; an empty list passes.
Stack rules take every resource dict of a stack. Values not known yet (preview) are ``UNKNOWN`` and pass:
Pulumi runs the resource rules again at ``pulumi up`` with the real inputs.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from pulumi_llm_policy import catalog

UNKNOWN = "[unknown]"
SECRET = "[secret]"

Resource = dict[str, Any]


class Violation(str):
    """A message that also names the resource it is about (stack rules report it against that URN)."""

    urn: str | None

    def __new__(cls, message: str, urn: str | None = None) -> Violation:
        v = super().__new__(cls, message)
        v.urn = urn
        return v


# --- small helpers ---------------------------------------------------------------------------------


def _where(r: Resource) -> str:
    return f"{r['type']} {r['name']!r}"


def _inputs(r: Resource) -> dict[str, Any]:
    i = r.get("inputs")
    return i if isinstance(i, dict) else {}


def _get(obj: Any, *path: str | int) -> Any:
    for key in path:
        if isinstance(obj, dict) and isinstance(key, str):
            obj = obj.get(key)
        elif isinstance(obj, list) and isinstance(key, int) and -len(obj) <= key < len(obj):
            obj = obj[key]
        else:
            return None
    return obj


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _present(value: Any) -> bool:
    """Set to something (an unknown value is a reference to a resource not created yet: set)."""
    return value not in (None, "", [], {})


def _is_true(value: Any) -> bool:
    return value is True or value == UNKNOWN or (isinstance(value, str) and value.lower() == "true")


def _is_false(value: Any) -> bool:
    return value is False or (isinstance(value, str) and value.lower() == "false")


def _is_kubernetes(r: Resource) -> bool:
    return r["type"].startswith("kubernetes:")


def _walk(obj: Any, path: str = "") -> Iterator[tuple[str, Any, Any]]:
    """Every (path, key, value) below obj, depth first."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            p = f"{path}.{k}" if path else str(k)
            yield p, k, v
            yield from _walk(v, p)
    elif isinstance(obj, list):
        for n, v in enumerate(obj):
            p = f"{path}[{n}]"
            yield p, n, v
            yield from _walk(v, p)


def _ecs_containers(r: Resource) -> list[dict[str, Any]] | str:
    """An ECS task definition's containers (``containerDefinitions`` is a JSON string)."""
    defs = _inputs(r).get("containerDefinitions")
    if defs in (None, UNKNOWN):
        return []
    if defs == SECRET:
        return SECRET
    if isinstance(defs, str):
        try:
            defs = json.loads(defs)
        except ValueError:
            return []
    return [c for c in _list(defs) if isinstance(c, dict)]


S3_BUCKETS = ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")
S3_SSE = (
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
)
S3_PAB = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
S3_ACCOUNT_PAB = "aws:s3/accountPublicAccessBlock:AccountPublicAccessBlock"
S3_PAB_FLAGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
KMS_SSE = ("aws:kms", "aws:kms:dsse")


# --- encryption at rest ----------------------------------------------------------------------------


def _sse_rules_violations(r: Resource, rules: Any, at: str) -> list[str]:
    if rules == UNKNOWN:
        return []
    out = []
    if not _list(rules):
        out.append(f"{_where(r)}: {at} has no rule; default encryption must be SSE-KMS with a customer key")
    for n, rule in enumerate(_list(rules)):
        default = _get(rule, "applyServerSideEncryptionByDefault") or {}
        algorithm = _get(default, "sseAlgorithm")
        if algorithm != UNKNOWN and algorithm not in KMS_SSE:
            out.append(
                f"{_where(r)}: {at}[{n}].applyServerSideEncryptionByDefault.sseAlgorithm = {algorithm!r}; allowed: aws:kms, aws:kms:dsse"
            )
        elif not _present(_get(default, "kmsMasterKeyId")):
            out.append(
                f"{_where(r)}: {at}[{n}].applyServerSideEncryptionByDefault.kmsMasterKeyId is not set; use a customer-managed KMS key"
            )
    return out


def _ebs_violations(r: Resource, mappings: Any, at: str, *, encrypted_key: str = "encrypted") -> list[str]:
    out = []
    for n, m in enumerate(_list(mappings)):
        ebs = _get(m, "ebs")
        if not isinstance(ebs, dict):
            continue  # instance-store or suppressed device
        if not _is_true(ebs.get(encrypted_key)):
            out.append(f"{_where(r)}: {at}[{n}].ebs.{encrypted_key} = {ebs.get(encrypted_key)!r}; EBS volumes must be encrypted")
    return out


def encryption_at_rest(r: Resource) -> list[str]:
    """Every store is encrypted at rest, with a customer-managed key where the cloud offers one."""
    t, i, w = r["type"], _inputs(r), _where(r)
    out: list[str] = []
    if t in S3_BUCKETS:
        inline = i.get("serverSideEncryptionConfiguration")
        if isinstance(inline, dict):
            out += _sse_rules_violations(
                r, [inline.get("rule")] if "rule" in inline else inline.get("rules"), "serverSideEncryptionConfiguration.rule"
            )
    elif t in S3_SSE:
        out += _sse_rules_violations(r, i.get("rules"), "rules")
    elif t == "aws:ec2/launchTemplate:LaunchTemplate":
        out += _ebs_violations(r, i.get("blockDeviceMappings"), "blockDeviceMappings")
    elif t == "aws:ec2/instance:Instance":
        root = i.get("rootBlockDevice")
        if root != UNKNOWN and not _is_true(_get(root, "encrypted")):
            out.append(f"{w}: rootBlockDevice.encrypted is not true; EBS volumes must be encrypted")
        for n, dev in enumerate(_list(i.get("ebsBlockDevices"))):
            if not _is_true(_get(dev, "encrypted")):
                out.append(f"{w}: ebsBlockDevices[{n}].encrypted is not true; EBS volumes must be encrypted")
    elif t == "aws:ebs/volume:Volume":
        if not _is_true(i.get("encrypted")):
            out.append(f"{w}: encrypted = {i.get('encrypted')!r}; EBS volumes must be encrypted")
    elif t == "aws:eks/nodeGroup:NodeGroup":
        if not _present(i.get("launchTemplate")):
            out.append(f"{w}: no launchTemplate; node volumes are only encrypted (and IMDSv2 required) through a launch template")
    elif t == "kubernetes:karpenter.k8s.aws/v1:EC2NodeClass":
        mappings = _get(i, "spec", "blockDeviceMappings")
        if mappings is None:
            out.append(f"{w}: spec.blockDeviceMappings is not set; declare the root volume with ebs.encrypted: true")
        out += _ebs_violations(r, mappings, "spec.blockDeviceMappings")
    elif t in ("aws:secretsmanager/secret:Secret", "aws:cloudwatch/logGroup:LogGroup"):
        if not _present(i.get("kmsKeyId")):
            out.append(f"{w}: kmsKeyId is not set; encrypt with a customer-managed KMS key")
    elif t == "aws:sns/topic:Topic":
        if not _present(i.get("kmsMasterKeyId")):
            out.append(f"{w}: kmsMasterKeyId is not set; SNS topics must be encrypted with KMS")
    elif t == "aws:sqs/queue:Queue":
        if not _present(i.get("kmsMasterKeyId")) and not _is_true(i.get("sqsManagedSseEnabled")):
            out.append(f"{w}: neither kmsMasterKeyId nor sqsManagedSseEnabled is set; SQS queues must be encrypted")
    elif t == "aws:ecr/repository:Repository":
        kinds = [_get(c, "encryptionType") for c in _list(i.get("encryptionConfigurations"))]
        if not any(k in ("KMS", "KMS_DSSE", UNKNOWN) for k in kinds):
            out.append(f"{w}: encryptionConfigurations[].encryptionType is not KMS; ECR repositories must use a KMS key")
    elif t == "aws:eks/cluster:Cluster":
        enc = i.get("encryptionConfig")
        if enc != UNKNOWN and ("secrets" not in _list(_get(enc, "resources")) or not _present(_get(enc, "provider", "keyArn"))):
            out.append(f"{w}: encryptionConfig must envelope-encrypt 'secrets' with a KMS key (provider.keyArn)")
    elif t == "gcp:storage/bucket:Bucket":
        if not _present(_get(i, "encryption", "defaultKmsKeyName")):
            out.append(f"{w}: encryption.defaultKmsKeyName is not set; GCS buckets must use a customer-managed key (CMEK)")
    elif t == "gcp:secretmanager/secret:Secret":
        replication = i.get("replication")
        if replication != UNKNOWN:
            auto = _get(replication, "auto")
            replicas = _list(_get(replication, "userManaged", "replicas"))
            if auto is not None:
                ok = _present(_get(auto, "customerManagedEncryption", "kmsKeyName"))
            else:
                ok = bool(replicas) and all(_present(_get(x, "customerManagedEncryption", "kmsKeyName")) for x in replicas)
            if not ok:
                out.append(f"{w}: replication has no customerManagedEncryption.kmsKeyName; secrets must use a customer-managed key (CMEK)")
    elif t in ("gcp:compute/instanceTemplate:InstanceTemplate", "gcp:compute/regionInstanceTemplate:RegionInstanceTemplate"):
        for n, disk in enumerate(_list(i.get("disks"))):
            if not _present(_get(disk, "diskEncryptionKey", "kmsKeySelfLink")):
                out.append(f"{w}: disks[{n}].diskEncryptionKey.kmsKeySelfLink is not set; disks must use a customer-managed key (CMEK)")
    elif t == "gcp:container/nodePool:NodePool":
        if not _present(_get(i, "nodeConfig", "bootDiskKmsKey")):
            out.append(f"{w}: nodeConfig.bootDiskKmsKey is not set; node boot disks must use a customer-managed key (CMEK)")
    elif t == "gcp:container/cluster:Cluster":
        db = i.get("databaseEncryption")
        if db != UNKNOWN and (_get(db, "state") != "ENCRYPTED" or not _present(_get(db, "keyName"))):
            out.append(f"{w}: databaseEncryption must be state ENCRYPTED with a keyName (application-layer secrets encryption)")
    elif t == "gcp:artifactregistry/repository:Repository":
        if not _present(i.get("kmsKeyName")):
            out.append(f"{w}: kmsKeyName is not set; repositories must use a customer-managed key (CMEK)")
    elif t == "azure-native:storage:StorageAccount":
        enc = i.get("encryption")
        if enc != UNKNOWN:
            if not isinstance(enc, dict) or not _present(enc.get("keySource")):
                out.append(f"{w}: encryption.keySource is not set; declare the account's encryption")
            elif not _is_true(enc.get("requireInfrastructureEncryption")):
                out.append(f"{w}: encryption.requireInfrastructureEncryption is not true (it can only be set when the account is created)")
            elif str(enc.get("keySource")).lower() == "microsoft.keyvault" and not _present(_get(enc, "keyVaultProperties", "keyName")):
                out.append(f"{w}: encryption.keySource is Microsoft.Keyvault without keyVaultProperties.keyName")
    elif t == "azure-native:keyvault:Vault":
        props = i.get("properties")
        if props != UNKNOWN:
            if not _is_true(_get(props, "enablePurgeProtection")):
                out.append(f"{w}: properties.enablePurgeProtection is not true; a purged key makes the data it encrypts unreadable")
            if _is_false(_get(props, "enableSoftDelete")):
                out.append(f"{w}: properties.enableSoftDelete is false")
    elif t == "azure-native:compute:VirtualMachineScaleSet":
        profile = i.get("virtualMachineProfile")
        if profile != UNKNOWN and not _is_true(_get(profile, "securityProfile", "encryptionAtHost")):
            out.append(f"{w}: virtualMachineProfile.securityProfile.encryptionAtHost is not true; temp and cache disks stay unencrypted")
    return out


# --- no public buckets or blobs ---------------------------------------------------------------------

_PUBLIC_ACLS = ("public-read", "public-read-write", "authenticated-read")
_PUBLIC_MEMBERS = ("allusers", "allauthenticatedusers")


def no_public_storage(r: Resource) -> list[str]:
    """No bucket, container or blob can be made public."""
    t, i, w = r["type"], _inputs(r), _where(r)
    out: list[str] = []
    if t in (S3_PAB, S3_ACCOUNT_PAB):
        for flag in S3_PAB_FLAGS:
            if not _is_true(i.get(flag)):
                out.append(f"{w}: {flag} = {i.get(flag)!r}; all four public access block settings must be true")
    elif t in (*S3_BUCKETS, "aws:s3/bucketAclV2:BucketAclV2", "aws:s3/bucketAcl:BucketAcl"):
        if i.get("acl") in _PUBLIC_ACLS:
            out.append(f"{w}: acl = {i['acl']!r} makes the bucket public")
    elif t == "gcp:storage/bucket:Bucket":
        if i.get("publicAccessPrevention") not in ("enforced", UNKNOWN):
            out.append(f"{w}: publicAccessPrevention = {i.get('publicAccessPrevention')!r}; must be 'enforced'")
    elif t.startswith("gcp:storage/") and ("IAM" in t or "AccessControl" in t):
        members = [i.get("member"), i.get("entity"), *_list(i.get("members"))]
        for m in members:
            if isinstance(m, str) and m.lower() in _PUBLIC_MEMBERS:
                out.append(f"{w}: grants {m!r}; buckets and objects must not be public")
    elif t == "azure-native:storage:StorageAccount":
        if not _is_false(i.get("allowBlobPublicAccess")) and i.get("allowBlobPublicAccess") != UNKNOWN:
            out.append(f"{w}: allowBlobPublicAccess = {i.get('allowBlobPublicAccess')!r}; must be false")
    elif t == "azure-native:storage:BlobContainer":
        if i.get("publicAccess") not in (None, "None", UNKNOWN):
            out.append(f"{w}: publicAccess = {i.get('publicAccess')!r}; must be None")
    return out


def _s3_covers(target: Any, bucket: Resource, buckets: list[Resource], config: Resource) -> bool:
    """Does a bucket-level config resource (its ``bucket`` input is target) apply to bucket?

    By the bucket's name or id when known; otherwise (an id not known during preview, or the offline
    plan's mock ids) by being the only bucket of the config's parent component.
    """
    ids = {_inputs(b).get(k) for b in buckets for k in ("bucket", "id")} - {None, UNKNOWN}
    own = {_inputs(bucket).get(k) for k in ("bucket", "id")} - {None, UNKNOWN}
    if target in own:
        return True
    if target in ids:
        return False
    siblings = [b for b in buckets if b.get("parent") == config.get("parent")]
    return siblings == [bucket]


def s3_buckets_guarded(resources: list[Resource]) -> list[str]:
    """Every S3 bucket has KMS default encryption and a public access block (stack rule: they are
    separate resources in the AWS provider)."""
    buckets = [r for r in resources if r["type"] in S3_BUCKETS]
    sses = [r for r in resources if r["type"] in S3_SSE]
    pabs = [r for r in resources if r["type"] == S3_PAB]
    account_pab = any(r["type"] == S3_ACCOUNT_PAB for r in resources)
    out: list[str] = []
    for b in buckets:
        inline = isinstance(_inputs(b).get("serverSideEncryptionConfiguration"), dict)
        if not inline and not any(_s3_covers(_inputs(s).get("bucket"), b, buckets, s) for s in sses):
            out.append(
                Violation(
                    f"{_where(b)}: no BucketServerSideEncryptionConfiguration applies to it; default encryption must be SSE-KMS", b["urn"]
                )
            )
        if not account_pab and not any(_s3_covers(_inputs(p).get("bucket"), b, buckets, p) for p in pabs):
            out.append(Violation(f"{_where(b)}: no BucketPublicAccessBlock applies to it; block all public access", b["urn"]))
    return out


# --- IMDSv2 ----------------------------------------------------------------------------------------


def imdsv2_required(r: Resource) -> list[str]:
    """EC2 instances answer instance-metadata requests only with a session token (IMDSv2)."""
    t, i, w = r["type"], _inputs(r), _where(r)
    if t in (
        "aws:ec2/launchTemplate:LaunchTemplate",
        "aws:ec2/instance:Instance",
        "aws:autoscaling/launchConfiguration:LaunchConfiguration",
    ):
        meta = i.get("metadataOptions")
        if meta == UNKNOWN:
            return []
        if _get(meta, "httpEndpoint") == "disabled":
            return []
        tokens = _get(meta, "httpTokens")
        if tokens not in ("required", UNKNOWN):
            return [f"{w}: metadataOptions.httpTokens = {tokens!r}; must be 'required' (IMDSv2)"]
    elif t == "kubernetes:karpenter.k8s.aws/v1:EC2NodeClass":
        # Karpenter's default is httpTokens: required; only an explicit other value is a violation.
        tokens = _get(i, "spec", "metadataOptions", "httpTokens")
        if tokens not in (None, "required", UNKNOWN):
            return [f"{w}: spec.metadataOptions.httpTokens = {tokens!r}; must be 'required' (IMDSv2)"]
    elif t == "aws:eks/nodeGroup:NodeGroup" and not _present(i.get("launchTemplate")):
        return [f"{w}: no launchTemplate; IMDSv2 is only required through a launch template with metadataOptions.httpTokens 'required'"]
    return []


# --- no admin ports open to the internet -----------------------------------------------------------

ADMIN_PORTS: dict[int, str] = {
    22: "SSH",
    2375: "Docker API",
    2376: "Docker API (TLS)",
    2379: "etcd",
    2380: "etcd peers",
    3389: "RDP",
    5985: "WinRM",
    5986: "WinRM (TLS)",
    6443: "Kubernetes API",
    10250: "kubelet",
    10255: "kubelet (read-only)",
    10257: "kube-controller-manager",
    10259: "kube-scheduler",
}
_WORLD_WORDS = ("*", "internet", "any")


def _is_world(source: Any) -> bool:
    if not isinstance(source, str) or source == UNKNOWN:
        return False
    if source.strip().lower() in _WORLD_WORDS:
        return True
    try:
        return ipaddress.ip_network(source.strip(), strict=False).prefixlen == 0
    except ValueError:
        return False


def _ports(ports: list[int]) -> str:
    return ", ".join(f"{p} ({ADMIN_PORTS[p]})" for p in ports)


def _admin_in(low: int, high: int) -> list[int]:
    return [p for p in ADMIN_PORTS if low <= p <= high]


def _port_range(spec: Any) -> tuple[int, int] | None:
    """ "22", "1000-2000", "*" (all) → (low, high); None when unreadable."""
    if spec is None or spec == UNKNOWN:
        return None
    text = str(spec).strip()
    if text in ("*", ""):
        return (0, 65535)
    low, _, high = text.partition("-")
    try:
        return (int(low), int(high or low))
    except ValueError:
        return None


def _aws_rule(w: str, at: str, protocol: Any, low: Any, high: Any, sources: list[Any]) -> list[str]:
    world = [s for s in sources if _is_world(s)]
    if not world or protocol in ("icmp", "icmpv6", "1", "58", 1, 58, UNKNOWN):
        return []
    if str(protocol) in ("-1", "all"):
        hit = list(ADMIN_PORTS)
    else:
        try:
            hit = _admin_in(int(low), int(high))
        except (TypeError, ValueError):
            return []
    return [f"{w}: {at} opens {_ports(hit)} to {world[0]}"] if hit else []


def no_public_admin_ingress(r: Resource) -> list[str]:
    """No administrative port (SSH, RDP, Kubernetes API, kubelet, etcd, …) accepts traffic from
    0.0.0.0/0, ::/0 or the Internet tag."""
    t, i, w = r["type"], _inputs(r), _where(r)
    out: list[str] = []
    if t in ("aws:ec2/securityGroup:SecurityGroup", "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"):
        for n, rule in enumerate(_list(i.get("ingress"))):
            if isinstance(rule, dict):
                sources = [*_list(rule.get("cidrBlocks")), *_list(rule.get("ipv6CidrBlocks"))]
                out += _aws_rule(w, f"ingress[{n}]", rule.get("protocol"), rule.get("fromPort"), rule.get("toPort"), sources)
    elif t == "aws:ec2/securityGroupRule:SecurityGroupRule":
        if i.get("type") == "ingress":
            sources = [*_list(i.get("cidrBlocks")), *_list(i.get("ipv6CidrBlocks"))]
            out += _aws_rule(w, "the rule", i.get("protocol"), i.get("fromPort"), i.get("toPort"), sources)
    elif t == "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule":
        sources = [i.get("cidrIpv4"), i.get("cidrIpv6")]
        out += _aws_rule(w, "the rule", i.get("ipProtocol"), i.get("fromPort"), i.get("toPort"), sources)
    elif t == "gcp:compute/firewall:Firewall":
        disabled = i.get("disabled")
        if str(i.get("direction") or "INGRESS").upper() != "INGRESS" or disabled is True or str(disabled).lower() == "true":
            return []
        world = [s for s in _list(i.get("sourceRanges")) if _is_world(s)]
        if not world:
            return []
        for n, allow in enumerate(_list(i.get("allows"))):
            protocol = str(_get(allow, "protocol") or "").lower()
            if protocol not in ("all", "tcp", "udp", "sctp"):
                continue
            ports = _list(_get(allow, "ports"))
            ranges = [_port_range(p) for p in ports] if ports else [(0, 65535)]
            hit = sorted({p for rg in ranges if rg for p in _admin_in(*rg)})
            if hit:
                out.append(f"{w}: allows[{n}] opens {_ports(hit)} to {world[0]}")
    elif t in ("azure-native:network:NetworkSecurityGroup", "azure-native:network:SecurityRule"):
        rules = _list(i.get("securityRules")) if t.endswith("NetworkSecurityGroup") else [i]
        for n, rule in enumerate(rules):
            if not isinstance(rule, dict):
                continue
            if str(rule.get("direction", "")).lower() != "inbound" or str(rule.get("access", "")).lower() != "allow":
                continue
            if str(rule.get("protocol", "*")).lower() in ("icmp", "ah", "esp"):
                continue
            world = [s for s in [rule.get("sourceAddressPrefix"), *_list(rule.get("sourceAddressPrefixes"))] if _is_world(s)]
            if not world:
                continue
            specs = [rule.get("destinationPortRange"), *_list(rule.get("destinationPortRanges"))]
            ranges = [_port_range(s) for s in specs if s is not None]
            hit = sorted({p for rg in ranges if rg for p in _admin_in(*rg)})
            at = f"securityRules[{n}] ({rule.get('name')})" if t.endswith("NetworkSecurityGroup") else "the rule"
            if hit:
                out.append(f"{w}: {at} opens {_ports(hit)} to {world[0]}")
    return out


# --- no secret values in plain environment variables or outputs -------------------------------------

SECRET_WORDS = frozenset(
    {"KEY", "APIKEY", "TOKEN", "SECRET", "PASSWORD", "PASSWD", "PASSPHRASE", "PWD", "CREDENTIAL", "CREDENTIALS", "PRIVATEKEY"}
)
REFERENCE_WORDS = frozenset(
    {
        "ARN",
        "ARNS",
        "ID",
        "IDS",
        "NAME",
        "NAMES",
        "FILE",
        "FILES",
        "PATH",
        "PATHS",
        "DIR",
        "REF",
        "URI",
        "URL",
        "REGION",
        "VERSION",
        "HEADER",
        "ENV",
    }
    | {"SECONDS", "SECS", "MINUTES", "TTL", "TIMEOUT", "SIZE", "LENGTH", "COUNT", "ENABLED", "DISABLED", "MODE", "TYPE", "FORMAT"}
)
"""A name that ends in one of these refers to a secret (its ARN, file, name) or sets how one is
handled (``MASTER_KEY_CACHE_SECONDS``): it does not hold one."""


def _words(name: str) -> list[str]:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)
    return [w for w in re.split(r"[^A-Za-z0-9]+", spaced.upper()) if w]


def looks_secret(name: str) -> bool:
    """``OPENAI_API_KEY``, ``hfToken``, ``DB_PASSWORD`` — not ``LITELLM_SECRET_FILES`` or ``KMS_KEY_ID``."""
    words = _words(name)
    return bool(words) and words[-1] not in REFERENCE_WORDS and any(w in SECRET_WORDS for w in words)


_ENV_LIST_KEYS = ("env", "envs", "environment", "extraEnv", "extraEnvs", "extraEnvVars")
_ENV_TYPES = (
    "aws:ecs/taskDefinition:TaskDefinition",
    "aws:lambda/function:Function",
    "azure-native:app:ContainerApp",
    "azure-native:app:Job",
)


def _literal_env(entries: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(entries, list):
        for e in entries:
            if isinstance(e, dict) and isinstance(e.get("name"), str) and _present(e.get("value")):
                yield e["name"], e["value"]
    elif isinstance(entries, dict):
        for k, v in entries.items():
            if isinstance(v, (str, int, float)) and _present(v):
                yield str(k), v


def no_plaintext_secrets(r: Resource) -> list[str]:
    """Environment variables named like a key, token, secret or password take their value from a
    secret store (``valueFrom``/``secretKeyRef``/``secrets``), never a literal."""
    t, i, w = r["type"], _inputs(r), _where(r)
    if not (_is_kubernetes(r) or t in _ENV_TYPES or t.startswith(("gcp:cloudrunv2/", "gcp:cloudrun/"))):
        return []
    out: list[str] = []
    if t == "aws:ecs/taskDefinition:TaskDefinition":
        containers = _ecs_containers(r)
        if isinstance(containers, str):  # only ever SECRET
            return [
                f"{w}: containerDefinitions holds a secret value; pass secrets with the container's `secrets` (valueFrom), not in the definition"
            ]
        for c in containers:
            for name, _ in _literal_env(c.get("environment")):
                if looks_secret(name):
                    out.append(f"{w}: container {c.get('name')!r} sets {name} as a plain environment value; use `secrets` with valueFrom")
        return out
    if t == "aws:lambda/function:Function":
        for name, _ in _literal_env(_get(i, "environment", "variables")):
            if looks_secret(name):
                out.append(f"{w}: environment.variables.{name} is a plain value; read it from Secrets Manager at run time")
        return out
    for path, key, value in _walk(i):
        if key in _ENV_LIST_KEYS:
            for name, _ in _literal_env(value):
                if looks_secret(name):
                    out.append(
                        f"{w}: {path} sets {name} as a literal value; reference a secret (valueFrom/secretKeyRef/secretRef/valueSource)"
                    )
    return out


def no_secret_outputs(resources: list[Resource]) -> list[str]:
    """Stack outputs never carry a key, token, secret or password (secret-marked or not): export a
    reference (secret name or ARN) instead. Pulumi hands policies secret outputs decrypted, so the
    rule goes by name."""
    out: list[str] = []
    for r in resources:
        if r["type"] != "pulumi:pulumi:Stack":
            continue
        for name, value in _inputs(r).items():
            if looks_secret(name) and _present(value):
                out.append(Violation(f"{_where(r)}: output {name!r} looks like a secret value; export its reference instead", r["urn"]))
    return out


# --- images pinned by digest -----------------------------------------------------------------------

DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")


def _image_ok(image: Any) -> bool:
    if not isinstance(image, str) or image == UNKNOWN:
        return True  # built in this stack: its digest is only known once pushed
    return bool(DIGEST.search(image.strip()))


def _helm_image_ok(image: Any) -> bool:
    if isinstance(image, dict):
        digest = image.get("digest")
        if digest == UNKNOWN or (isinstance(digest, str) and re.fullmatch(r"sha256:[0-9a-f]{64}", digest)):
            return True
        tag = image.get("tag")
        if tag is None and "repository" not in image and "registry" not in image:
            return True  # not an image block (e.g. a chart's image pull settings only)
        return _image_ok(f"{image.get('repository', '')}:{tag}" if tag is not None else image.get("repository"))
    return _image_ok(image)


def images_pinned_by_digest(r: Resource) -> list[str]:
    """Container images are pinned by digest (``…@sha256:<64 hex>``), never by tag alone."""
    t, i, w = r["type"], _inputs(r), _where(r)
    out: list[str] = []
    if t == "aws:ecs/taskDefinition:TaskDefinition":
        containers = _ecs_containers(r)
        for c in containers if isinstance(containers, list) else []:
            if not _image_ok(c.get("image")):
                out.append(f"{w}: container {c.get('name')!r} image {c.get('image')!r} is not pinned by digest")
    elif t == "aws:lambda/function:Function":
        if i.get("imageUri") is not None and not _image_ok(i.get("imageUri")):
            out.append(f"{w}: imageUri {i.get('imageUri')!r} is not pinned by digest")
    elif t.startswith("kubernetes:helm.sh/"):
        for path, key, value in _walk(i.get("values")):
            if key == "image" and not _helm_image_ok(value):
                out.append(f"{w}: values.{path} = {value!r} is not pinned by digest")
    elif _is_kubernetes(r) or t.startswith(("gcp:cloudrunv2/", "gcp:cloudrun/", "azure-native:app:")):
        for path, key, value in _walk(i):
            if key == "image" and isinstance(value, str) and not _image_ok(value):
                out.append(f"{w}: {path} = {value!r} is not pinned by digest")
    return out


# --- GPU instance types from the sizing catalog ----------------------------------------------------


def _check_type(w: str, at: str, cloud: str, name: Any, *, has_accelerators: bool = False) -> list[str]:
    if not isinstance(name, str) or name == UNKNOWN:
        return []
    if (catalog.is_gpu_type(cloud, name) or has_accelerators) and catalog.lookup(cloud, name) is None:
        return [f"{w}: {at} = {name!r} is a GPU type outside the sizing catalog's {cloud} types (components/pulumi_llm/sizing/hardware.py)"]
    return []


def _karpenter_violations(w: str, spec: Any) -> list[str]:
    reqs = [q for q in _list(_get(spec, "template", "spec", "requirements")) if isinstance(q, dict)]
    by_key = {q.get("key"): q for q in reqs}
    out: list[str] = []
    types = by_key.get("node.kubernetes.io/instance-type")
    families = by_key.get("karpenter.k8s.aws/instance-family")
    restricted = False
    if types and types.get("operator") == "In":
        restricted = True
        for n in _list(types.get("values")):
            out += _check_type(w, "requirement node.kubernetes.io/instance-type", "aws", n)
    if families and families.get("operator") == "In":
        restricted = True
        for f in _list(families.get("values")):
            if isinstance(f, str) and catalog.is_gpu_type("aws", f"{f}.x") and f.lower() not in catalog.ALLOWED_AWS_FAMILIES:
                out.append(
                    f"{w}: requirement karpenter.k8s.aws/instance-family allows {f!r}, a GPU family with no type in the sizing catalog"
                )
    gpu_pool = any(
        q.get("key", "").startswith(("karpenter.k8s.aws/instance-gpu", "karpenter.k8s.aws/instance-accelerator")) for q in reqs
    ) or "nvidia.com/gpu" in (_get(spec, "limits") or {})
    if gpu_pool and not restricted:
        out.append(
            f"{w}: a GPU NodePool must restrict node.kubernetes.io/instance-type or karpenter.k8s.aws/instance-family (In) to catalog types"
        )
    return out


def gpu_instance_allowlist(r: Resource) -> list[str]:
    """GPU instance types, machine types and VM sizes come from the sizing catalog: the types whose
    memory, price and regions the sizing module knows. Non-GPU types (system nodes) are not limited."""
    t, i, w = r["type"], _inputs(r), _where(r)
    out: list[str] = []
    if t in (
        "aws:ec2/launchTemplate:LaunchTemplate",
        "aws:ec2/instance:Instance",
        "aws:autoscaling/launchConfiguration:LaunchConfiguration",
    ):
        out += _check_type(w, "instanceType", "aws", i.get("instanceType"))
    elif t == "aws:autoscaling/group:Group":
        for n, o in enumerate(_list(_get(i, "mixedInstancesPolicy", "launchTemplate", "overrides"))):
            out += _check_type(w, f"mixedInstancesPolicy.launchTemplate.overrides[{n}].instanceType", "aws", _get(o, "instanceType"))
    elif t == "aws:eks/nodeGroup:NodeGroup":
        for n, name in enumerate(_list(i.get("instanceTypes"))):
            out += _check_type(w, f"instanceTypes[{n}]", "aws", name)
    elif t == "kubernetes:karpenter.sh/v1:NodePool":
        out += _karpenter_violations(w, i.get("spec"))
    elif t in (
        "gcp:compute/instanceTemplate:InstanceTemplate",
        "gcp:compute/regionInstanceTemplate:RegionInstanceTemplate",
        "gcp:compute/instance:Instance",
    ):
        out += _check_type(w, "machineType", "gcp", i.get("machineType"), has_accelerators=bool(_list(i.get("guestAccelerators"))))
    elif t == "gcp:container/nodePool:NodePool":
        nc = i.get("nodeConfig")
        out += _check_type(
            w, "nodeConfig.machineType", "gcp", _get(nc, "machineType"), has_accelerators=bool(_list(_get(nc, "guestAccelerators")))
        )
    elif t == "gcp:container/cluster:Cluster":
        nc = i.get("nodeConfig")
        out += _check_type(
            w, "nodeConfig.machineType", "gcp", _get(nc, "machineType"), has_accelerators=bool(_list(_get(nc, "guestAccelerators")))
        )
        for n, pool in enumerate(_list(i.get("nodePools"))):
            pc = _get(pool, "nodeConfig")
            out += _check_type(
                w,
                f"nodePools[{n}].nodeConfig.machineType",
                "gcp",
                _get(pc, "machineType"),
                has_accelerators=bool(_list(_get(pc, "guestAccelerators"))),
            )
    elif t == "kubernetes:cloud.google.com/v1:ComputeClass":
        for n, p in enumerate(_list(_get(i, "spec", "priorities"))):
            has_gpu = _present(_get(p, "gpu"))
            out += _check_type(w, f"spec.priorities[{n}].machineType", "gcp", _get(p, "machineType"), has_accelerators=has_gpu)
    elif t == "azure-native:compute:VirtualMachineScaleSet":
        out += _check_type(w, "sku.name", "azure", _get(i, "sku", "name"))
    elif t == "azure-native:compute:VirtualMachine":
        out += _check_type(w, "hardwareProfile.vmSize", "azure", _get(i, "hardwareProfile", "vmSize"))
    elif t == "azure-native:containerservice:AgentPool":
        out += _check_type(w, "vmSize", "azure", i.get("vmSize"))
    elif t == "azure-native:containerservice:ManagedCluster":
        for n, p in enumerate(_list(i.get("agentPoolProfiles"))):
            out += _check_type(w, f"agentPoolProfiles[{n}].vmSize", "azure", _get(p, "vmSize"))
    return out


# --- registry ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    name: str
    description: str
    check: Callable[..., list[str]]


RESOURCE_RULES: tuple[Rule, ...] = (
    Rule("encryption-at-rest", "Stores are encrypted at rest with customer-managed keys where the cloud offers them.", encryption_at_rest),
    Rule("no-public-storage", "No public buckets, containers or blobs.", no_public_storage),
    Rule("imdsv2-required", "EC2 instances require IMDSv2 session tokens.", imdsv2_required),
    Rule("no-public-admin-ingress", "No administrative port is open to 0.0.0.0/0, ::/0 or the Internet.", no_public_admin_ingress),
    Rule("no-plaintext-secrets", "Secret-looking environment variables come from a secret store, never a literal.", no_plaintext_secrets),
    Rule("images-pinned-by-digest", "Container images are pinned by sha256 digest.", images_pinned_by_digest),
    Rule("gpu-instance-allowlist", "GPU instance types come from the sizing catalog.", gpu_instance_allowlist),
)

STACK_RULES: tuple[Rule, ...] = (
    Rule("s3-buckets-guarded", "Every S3 bucket has KMS default encryption and a public access block.", s3_buckets_guarded),
    Rule("no-secret-outputs", "Stack outputs carry no secret values.", no_secret_outputs),
)


def check_resource(r: Resource) -> dict[str, list[str]]:
    """Every resource rule's violations for one resource (rules that pass are left out)."""
    return {rule.name: v for rule in RESOURCE_RULES if (v := rule.check(r))}


def check_stack(resources: list[Resource]) -> dict[str, list[str]]:
    """Every rule's violations over a whole stack (resource rules on each resource, then stack rules)."""
    found: dict[str, list[str]] = {}
    for r in resources:
        for name, v in check_resource(r).items():
            found.setdefault(name, []).extend(v)
    for rule in STACK_RULES:
        if v := rule.check(resources):
            found.setdefault(rule.name, []).extend(v)
    return found
