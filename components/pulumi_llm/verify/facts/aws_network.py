"""What the AWS network components do with the settings pulumi-llm gives them: the VPC CNI add-on's
network policy switch and the AWS Load Balancer Controller's Ingress annotations.

Each fact is read at the version pulumi-llm pins (pins.EKS_ADDONS["vpc-cni"], pins.AWS_LOAD_BALANCER_CONTROLLER_CHART).
"""

from __future__ import annotations

from typing import Any

# ---- Amazon VPC CNI (EKS add-on vpc-cni) --------------------------------------------------------------
VPC_CNI_CHART_VERSION = "1.22.1"
"""The aws-vpc-cni chart the add-on v1.22.1-eksbuild.2 is built from (chart version 1.22.1, appVersion v1.22.1; the
values and ConfigMap below are unchanged from v1.20.5, the previous pin)."""

VPC_CNI_SOURCE = "github.com/aws/amazon-vpc-cni-k8s, tag v1.22.1, charts/aws-vpc-cni/values.yaml and templates/configmap.yaml"

VPC_CNI_NETWORK_POLICY_KEY = "enableNetworkPolicy"
"""The add-on's configurationValues key that turns NetworkPolicy enforcement on: the chart passes it to the
node agent as `--enable-network-policy` and to the amazon-vpc-cni ConfigMap as enable-network-policy-controller."""

VPC_CNI_NETWORK_POLICY_DEFAULT = "false"
"""Its default in values.yaml: a string, and off. Without it the node agent runs but enforces nothing, so
every NetworkPolicy object is accepted by the API server and ignored on the nodes."""

VPC_CNI_NODE_AGENT_DEFAULT = True
"""`nodeAgent.enabled` defaults to true in values.yaml: the agent that enforces policies is deployed."""


def vpc_cni_enforces_network_policy(configuration_values: dict[str, Any] | None) -> bool:
    """Whether a vpc-cni add-on with these configurationValues enforces NetworkPolicy. The chart quotes
    the value into a flag and a ConfigMap string, so "true" and true both turn it on."""
    values = configuration_values or {}
    node_agent: dict[str, Any] = values.get("nodeAgent") or {}
    agent_on = node_agent.get("enabled", VPC_CNI_NODE_AGENT_DEFAULT) not in (False, "false")
    flag = str(values.get(VPC_CNI_NETWORK_POLICY_KEY, VPC_CNI_NETWORK_POLICY_DEFAULT)).lower()
    return agent_on and flag == "true"


# ---- AWS Load Balancer Controller (chart 1.17.1, controller v2.17.1) ----------------------------------
LB_CONTROLLER_SOURCE = (
    "github.com/kubernetes-sigs/aws-load-balancer-controller, tag v2.17.1 (chart 1.17.1), docs/guide/ingress/annotations.md"
)

ALB = "alb.ingress.kubernetes.io/"
SCHEME = ALB + "scheme"
SCHEME_DEFAULT = "internal"
TARGET_TYPE = ALB + "target-type"
LISTEN_PORTS = ALB + "listen-ports"
CERTIFICATE_ARN = ALB + "certificate-arn"
INBOUND_CIDRS = ALB + "inbound-cidrs"
SECURITY_GROUPS = ALB + "security-groups"
MANAGE_BACKEND_RULES = ALB + "manage-backend-security-group-rules"

SUBNET_DISCOVERY_SOURCE = (
    "github.com/kubernetes-sigs/aws-load-balancer-controller, docs/deploy/subnet_discovery.md (default branch, commit 290c878)"
)
SUBNET_ROLE_TAGS = {True: "kubernetes.io/role/internal-elb", False: "kubernetes.io/role/elb"}
"""The tag by which the controller auto-discovers subnets for an internal (True) or internet-facing load
balancer; the documented values are "1" or the empty string: the tag's presence is what counts."""


def discovered_subnet(tags: dict[str, Any] | None, internal: bool) -> bool:
    """Whether the controller would place an internal / internet-facing load balancer in a subnet so tagged."""
    return SUBNET_ROLE_TAGS[internal] in (tags or {})


INBOUND_CIDRS_DEFAULT_IPV4 = ("0.0.0.0/0",)
"""inbound-cidrs when the annotation is absent (ip-address-type ipv4): the whole internet, on an internal
ALB too. The controller-managed frontend security group opens the listen ports to it."""


def default_listen_ports(has_certificate: bool) -> tuple[tuple[str, int], ...]:
    """listen-ports when the annotation is absent: HTTP 80, or HTTPS 443 once certificate-arn is given."""
    return (("HTTPS", 443),) if has_certificate else (("HTTP", 80),)


# What the security-groups annotation changes (same page, sections security-groups and inbound-cidrs):
# - with it, the controller attaches exactly those groups and creates no frontend group; inbound-cidrs
#   is ignored, so the listed groups' own ingress rules decide who reaches the ALB;
# - the targets (pods, target-type ip) then admit the ALB only if manage-backend-security-group-rules is
#   "true" (the controller adds a shared backend group and the rules on the node/pod groups) or the
#   operator adds those rules by hand.
SECURITY_GROUPS_IGNORES_INBOUND_CIDRS = True
