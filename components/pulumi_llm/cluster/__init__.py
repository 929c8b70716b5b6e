"""Cluster method: managed Kubernetes with GPU capacity. See README.md.

Per-cloud modules are imported by the caller (`from pulumi_llm.cluster.eks import EksCluster`) so a
stack loads only its own cloud's SDK (docs/ARCHITECTURE.md, "Lazy per-cloud imports"); nothing is imported here.
"""
