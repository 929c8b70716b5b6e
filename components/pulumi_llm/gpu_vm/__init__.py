"""GPU-VM method: a model server on GPU instances behind a load balancer. See README.md.

Only the pure boot-script renderer is exported here, imported on first use (`__getattr__`); the per-cloud
components (`gpu_vm.aws.AwsGpuVm`, …) are imported from their own modules so a stack loads only its cloud's SDK.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .cloud_init import (
        DataDisk,
        MetricsAgent,
        SecretFetch,
        WeightsSync,
        docker_run_argv,
        health_check,
        health_check_path,
        health_check_port,
        render_cloud_init,
    )

__all__ = [
    "DataDisk",
    "MetricsAgent",
    "SecretFetch",
    "WeightsSync",
    "docker_run_argv",
    "health_check",
    "health_check_path",
    "health_check_port",
    "render_cloud_init",
]


def __getattr__(name: str) -> Any:
    """The renderer's names, from `cloud_init` on first use: every stack imports this package for
    `gpu_vm.azure_sizes` (its default Azure settings check their VM sizes), and only GPU-VM stacks render a
    boot script; importing the renderer (and the router's, which it renders) cost the others ~4 ms."""
    if name in __all__:
        from . import cloud_init

        return getattr(cloud_init, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
