"""Per-cloud networks for GPU workloads, and the pure subnet plan they share."""
