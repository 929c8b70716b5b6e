"""The model server's systemd unit on a GPU VM: its name and how long it may take to stop.

Its own module because both the boot script (`cloud_init`) and the router beside the server (`router_vm`) need
them, and `cloud_init` renders the router's units.
"""

from __future__ import annotations

from ..runtimes.spec import ContainerSpec

UNIT = "llm-server.service"
STOP_SECONDS = 60
"""Grace a server without a drain flag gets on stop (`stop_seconds`)."""


def stop_seconds(spec: ContainerSpec) -> int:
    """`docker stop --time` of the server (and of the router beside it): the seconds its own drain flag lets
    in-flight streams run after SIGTERM (vLLM `--shutdown-timeout`, Triton `--exit-timeout-secs`: the longest
    stream the stack allows, kubernetes/resilience.py) plus the engine's teardown, as a pod's grace; at least
    `STOP_SECONDS`. systemd's `TimeoutStopSec` is 30 s above it, so systemd never kills `docker stop` first."""
    from ..kubernetes.resilience import SHUTDOWN_MARGIN_SECONDS, drain_seconds

    drain = drain_seconds(spec.args)
    return max(STOP_SECONDS, drain + SHUTDOWN_MARGIN_SECONDS) if drain is not None else STOP_SECONDS
