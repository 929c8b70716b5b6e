"""Where a pod bound to a cloud identity fetches its credentials: a link-local address on its node.

Under an enforcing CNI these requests are pod egress like any other, so a pod whose NetworkPolicies
let out only DNS and 443 gets no credentials and reads nothing. Each address is the documented one,
kept here independently of the product code that renders the egress rules (a rule that read the
product's constant would prove nothing).

- EKS Pod Identity: awsdocs/amazon-eks-user-guide, latest/ug/manage-access/aws-access/
  pod-id-how-it-works.adoc (the env EKS injects: AWS_CONTAINER_CREDENTIALS_FULL_URI
  http://169.254.170.23/v1/credentials — plain HTTP, port 80) and pod-id-agent-setup.adoc
  (Considerations: the agent listens on 169.254.170.23 for IPv4 and fd00:ec2::23 for IPv6). Both
  read at the repository's default branch (commit 390223ef for pod-id-how-it-works.adoc).
- GKE Workload Identity: the GKE metadata server, per Google's "Workload Identity Federation for GKE"
  limitations (cloud.google.com/kubernetes-engine/docs/concepts/workload-identity): with network
  policy, pods must be let out to 169.254.169.252/32 on TCP 988 (GKE >= 1.21.0-gke.1000; the
  metadata address is redirected there) and, on GKE Dataplane V2, to 169.254.169.254/32 on TCP 80.
  The search corpus did not return that page's limitations paragraph itself; the pairs are the ones
  public GKE policies and Google's Dataplane V2 guidance use, and the rule requires the one the
  cluster's dataplane uses.
- AKS workload identity has no link-local path: the pod's projected service-account token is
  exchanged with Microsoft Entra ID (login.microsoftonline.com) over HTTPS, 443, so nothing here.
"""

from __future__ import annotations

EKS_POD_IDENTITY_AGENT = ("169.254.170.23", 80)
"""The EKS Pod Identity Agent on an IPv4 cluster (the IPv6 one, fd00:ec2::23:80, serves IPv6 clusters)."""

GKE_METADATA_SERVER = {
    "ADVANCED_DATAPATH": ("169.254.169.254", 80),
    "LEGACY_DATAPATH": ("169.254.169.252", 988),
}
"""The GKE metadata server as a pod's NetworkPolicy sees it, by the cluster's datapathProvider
(Dataplane V2 is ADVANCED_DATAPATH; Autopilot always runs it)."""

GKE_SERVICE_ACCOUNT_ANNOTATION = "iam.gke.io/gcp-service-account"
"""The Kubernetes ServiceAccount annotation that binds its pods to a Google service account."""

EKS_POD_IDENTITY_TYPE = "aws:eks/podIdentityAssociation:PodIdentityAssociation"
"""The plan resource binding (namespace, serviceAccount) to an IAM role through EKS Pod Identity."""
