"""On-prem method: model servers on an existing Kubernetes cluster. See README.md."""

from .cluster import OnPremCluster, OnPremClusterArgs

__all__ = ["OnPremCluster", "OnPremClusterArgs"]
