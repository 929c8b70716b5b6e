"""GPU-VM method: a model server on GPU instances behind a load balancer. See README.md.

Only the pure boot-script renderer is imported here; the per-cloud components (`gpu_vm.aws.AwsGpuVm`, …)
are imported from their own modules so a stack loads only its cloud's SDK.
"""

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
