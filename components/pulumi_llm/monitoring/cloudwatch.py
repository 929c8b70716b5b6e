"""CloudWatch alarm definitions and dashboards for the AWS methods, rendered as plain data.

Pure functions, no Pulumi: `AwsMonitoring` turns each definition into an `aws.cloudwatch.MetricAlarm`
and all of them into one dashboard. A definition is a dict of `MetricAlarm` arguments (snake_case)
plus two keys of ours:

    key                 stable, unique id ([a-z0-9-]): names the alarm resource and its widget
    title               the widget title on the dashboard

and either a single metric (`namespace`, `metric_name`, `dimensions`, `period`, and `statistic` or
`extended_statistic`) or metric math (`metric_queries`, exactly one query with `return_data`).
`treat_missing_data` is required: each renderer chooses it on purpose and says why. The component
sets `alarm_actions` and `ok_actions`; definitions must not.

Dimension values may be Pulumi Inputs (an ALB's `arn_suffix`, an ASG's `name`); the dashboard is
rendered once they resolve.

    alb_alarms(...)          ALB: unhealthy targets, target and ELB 5xx, target response time p99
    gpu_asg_alarms(...)      GPU Auto Scaling group (CloudWatch agent NVIDIA metrics): idle GPUs, GPU memory
    ecs_service_alarms(...)  ECS service: CPU high, running tasks below desired
    api_gateway_alarms(...)  API Gateway REST stage: 5XX rate, 4XX rate (429s), latency p99
    dashboard_body(...)      CloudWatch dashboard JSON: one widget per alarm, threshold drawn
    gpu_agent_config(...)    CloudWatch agent config that publishes the GPU metrics these alarms read
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..validation import DNS1123_LABEL as _KEY

__all__ = [
    "COMPARISON_OPERATORS",
    "CWAGENT_NAMESPACE",
    "GPU_MEMORY_TOTAL",
    "GPU_MEMORY_USED",
    "GPU_UTILIZATION",
    "TREAT_MISSING_DATA",
    "alarm_metrics",
    "alb_alarms",
    "api_gateway_alarms",
    "check_alarm",
    "check_alarms",
    "dashboard_body",
    "ecs_service_alarms",
    "gpu_agent_config",
    "gpu_asg_alarms",
]

# CloudWatch agent `nvidia_gpu` measurements, published as `nvidia_smi_<measurement>` (the agent wraps
# Telegraf's nvidia_smi input; memory in MiB, utilization in percent).
CWAGENT_NAMESPACE = "CWAgent"
GPU_UTILIZATION = "nvidia_smi_utilization_gpu"
GPU_MEMORY_USED = "nvidia_smi_memory_used"
GPU_MEMORY_TOTAL = "nvidia_smi_memory_total"

TREAT_MISSING_DATA = ("breaching", "notBreaching", "ignore", "missing")
COMPARISON_OPERATORS = (
    "GreaterThanOrEqualToThreshold",
    "GreaterThanThreshold",
    "LessThanThreshold",
    "LessThanOrEqualToThreshold",
)
_SYMBOL = {
    "GreaterThanOrEqualToThreshold": ">=",
    "GreaterThanThreshold": ">",
    "LessThanThreshold": "<",
    "LessThanOrEqualToThreshold": "<=",
}
_OURS = {"key", "title"}
_COMMON = {
    "comparison_operator",
    "threshold",
    "evaluation_periods",
    "datapoints_to_alarm",
    "treat_missing_data",
    "alarm_description",
    "evaluate_low_sample_count_percentiles",
    "unit",
}
_SINGLE = {"namespace", "metric_name", "dimensions", "period", "statistic", "extended_statistic"}
_MATH = {"metric_queries"}
_REQUIRED = {"key", "title", "comparison_operator", "threshold", "evaluation_periods", "treat_missing_data", "alarm_description"}


def alb_alarms(
    key: str,
    *,
    load_balancer: Any,
    target_group: Any,
    latency_slo_seconds: float = 10.0,
    errors_per_minute: int = 5,
) -> list[dict[str, Any]]:
    """Alarms of an Application Load Balancer in front of model servers.

    `load_balancer` and `target_group` are the `arn_suffix` values (`app/<name>/<id>`,
    `targetgroup/<name>/<id>`). TargetResponseTime is the time until the target sends response headers:
    about the time to first token for streamed completions, the whole generation otherwise; set the
    SLO accordingly.
    """
    both = {"LoadBalancer": load_balancer, "TargetGroup": target_group}
    return [
        {
            "key": f"{key}-unhealthy-hosts",
            "title": f"{key}: unhealthy targets",
            "alarm_description": f"{key}: a target failed its health checks for 5 minutes (model server down or still loading).",
            "namespace": "AWS/ApplicationELB",
            "metric_name": "UnHealthyHostCount",
            "dimensions": both,
            "statistic": "Maximum",
            "period": 60,
            "evaluation_periods": 5,
            "datapoints_to_alarm": 5,
            "comparison_operator": "GreaterThanThreshold",
            "threshold": 0,
            # Published every minute while targets are registered; no data means no targets, which the
            # capacity alarms cover. Silence is not an unhealthy host.
            "treat_missing_data": "notBreaching",
        },
        {
            "key": f"{key}-target-5xx",
            "title": f"{key}: target 5xx per minute",
            "alarm_description": f"{key}: model servers answered more than {errors_per_minute} 5xx per minute in 3 of 5 minutes.",
            "namespace": "AWS/ApplicationELB",
            "metric_name": "HTTPCode_Target_5XX_Count",
            "dimensions": both,
            "statistic": "Sum",
            "period": 60,
            "evaluation_periods": 5,
            "datapoints_to_alarm": 3,
            "comparison_operator": "GreaterThanThreshold",
            "threshold": errors_per_minute,
            # Count metrics publish nothing in a minute without errors: missing is the good case.
            "treat_missing_data": "notBreaching",
        },
        {
            "key": f"{key}-elb-5xx",
            "title": f"{key}: load balancer 5xx per minute",
            "alarm_description": (
                f"{key}: the load balancer itself answered more than {errors_per_minute} 5xx per minute in 3 of 5 minutes "
                "(502/503/504: no healthy target, target reset, or idle timeout shorter than a generation)."
            ),
            "namespace": "AWS/ApplicationELB",
            "metric_name": "HTTPCode_ELB_5XX_Count",
            "dimensions": {"LoadBalancer": load_balancer},
            "statistic": "Sum",
            "period": 60,
            "evaluation_periods": 5,
            "datapoints_to_alarm": 3,
            "comparison_operator": "GreaterThanThreshold",
            "threshold": errors_per_minute,
            # As above: a count metric is absent while nothing fails.
            "treat_missing_data": "notBreaching",
        },
        {
            "key": f"{key}-latency-p99",
            "title": f"{key}: target response time p99 (s)",
            "alarm_description": f"{key}: p99 target response time above the {latency_slo_seconds:g} s SLO for 5 minutes.",
            "namespace": "AWS/ApplicationELB",
            "metric_name": "TargetResponseTime",
            "dimensions": both,
            "extended_statistic": "p99",
            "period": 60,
            "evaluation_periods": 5,
            "datapoints_to_alarm": 5,
            "comparison_operator": "GreaterThanThreshold",
            "threshold": latency_slo_seconds,
            # No requests, no latency datapoint: a quiet endpoint is not a slow one.
            "treat_missing_data": "notBreaching",
        },
    ]


def gpu_asg_alarms(
    key: str,
    *,
    asg_name: Any,
    idle_percent: float = 5.0,
    idle_minutes: int = 30,
    memory_percent: float = 97.0,
) -> list[dict[str, Any]]:
    """Alarms of an Auto Scaling group of GPU instances, from the CloudWatch agent's NVIDIA metrics.

    Needs the agent configured as `gpu_agent_config()` renders it (metrics aggregated per
    `AutoScalingGroupName`) and group metrics collection on the ASG (`GroupInServiceInstances`).
    The group is assumed to be one instance type, so the maximum used/total memory of its GPUs is
    the fullest GPU.
    """
    if idle_minutes % 5 or not 5 <= idle_minutes <= 1440:
        raise ValueError(f"idle_minutes={idle_minutes}; allowed: a multiple of 5 from 5 to 1440")
    group = {"AutoScalingGroupName": asg_name}
    return [
        {
            "key": f"{key}-gpu-idle",
            "title": f"{key}: GPUs idle while instances run",
            "alarm_description": (
                f"{key}: GPU utilization averaged below {idle_percent:g}% for {idle_minutes} minutes while the group "
                "had instances in service: paying for idle GPUs. Scale in or down."
            ),
            "metric_queries": [
                {
                    "id": "util",
                    "metric": {
                        "namespace": CWAGENT_NAMESPACE,
                        "metric_name": GPU_UTILIZATION,
                        "dimensions": group,
                        "stat": "Average",
                        "period": 300,
                    },
                    "return_data": False,
                },
                {
                    "id": "instances",
                    "metric": {
                        "namespace": "AWS/AutoScaling",
                        "metric_name": "GroupInServiceInstances",
                        "dimensions": group,
                        "stat": "Maximum",
                        "period": 300,
                    },
                    "return_data": False,
                },
                {
                    "id": "idle",
                    "expression": f"IF(instances > 0 AND util < {idle_percent:g}, 1, 0)",
                    "label": "GPUs idle with instances in service (1 = yes)",
                    "return_data": True,
                },
            ],
            "evaluation_periods": idle_minutes // 5,
            "datapoints_to_alarm": idle_minutes // 5,
            "comparison_operator": "GreaterThanOrEqualToThreshold",
            "threshold": 1,
            # No instances → no GPU datapoints → nothing is being paid for: not idle money.
            "treat_missing_data": "notBreaching",
        },
        {
            "key": f"{key}-gpu-memory",
            "title": f"{key}: GPU memory used (%)",
            "alarm_description": (
                f"{key}: a GPU's memory above {memory_percent:g}% for 5 minutes. vLLM reserves its "
                "gpu-memory-utilization share at start; more than that means another process or a leak, "
                "and out-of-memory errors are next."
            ),
            "metric_queries": [
                {
                    "id": "used",
                    "metric": {
                        "namespace": CWAGENT_NAMESPACE,
                        "metric_name": GPU_MEMORY_USED,
                        "dimensions": group,
                        "stat": "Maximum",
                        "period": 60,
                    },
                    "return_data": False,
                },
                {
                    "id": "total",
                    "metric": {
                        "namespace": CWAGENT_NAMESPACE,
                        "metric_name": GPU_MEMORY_TOTAL,
                        "dimensions": group,
                        "stat": "Maximum",
                        "period": 60,
                    },
                    "return_data": False,
                },
                {"id": "percent", "expression": "100 * used / total", "label": "GPU memory used (%)", "return_data": True},
            ],
            "evaluation_periods": 5,
            "datapoints_to_alarm": 5,
            "comparison_operator": "GreaterThanThreshold",
            "threshold": memory_percent,
            # No instances → no memory to run out of.
            "treat_missing_data": "notBreaching",
        },
    ]


ROUTER_ACTIVE_WORKERS = "vllm_router_active_workers"
"""The vLLM router's gauge of the workers it routes to (vllm-router 0.1.17; `gpu_vm.router_vm.METRIC_NAMES`)."""


def router_worker_alarms(
    key: str,
    *,
    asg_name: Any,
    deployment: Any,
    namespace: str,
    grace_seconds: int,
    period: int = 300,
) -> list[dict[str, Any]]:
    """The alarm of a GPU-VM group's routers with no worker to send to, while the group has instances in service.

    Reads the router's `vllm_router_active_workers` as the group's CloudWatch agent publishes it (`namespace`,
    dimension `Deployment` = `deployment`; Minimum: the fewest any router sees) and the group's
    `GroupInServiceInstances`. A missing router datapoint counts as 0 workers (`FILL(workers, 0)`): a router
    that never started (its wheel not installed, say) publishes nothing, and its VM answers the load balancer
    with 502s. The group's instances answer with 5xx either way. It waits longer than a VM takes to serve
    (`grace_seconds`, the group's health-check grace): a group of one VM, booting, has no worker until its
    own server is up, and that is no page.
    """
    # The window every cloud's no-worker alert waits (one home; imported here only, the alarm stacks need it).
    from ..gpu_vm.router_vm import decide_no_worker_window

    group = {"AutoScalingGroupName": asg_name}
    periods = decide_no_worker_window(grace_seconds, period) // period
    return [
        {
            "key": f"{key}-router-no-workers",
            "title": f"{key}: routers without a healthy model server",
            "alarm_description": (
                f"{key}: for {periods * period // 60} minutes the group had instances in service but a router saw no "
                "healthy model server (or no router reported): requests to that VM fail with 502. Check the VMs' "
                "llm-server and llm-router units and the router's lister (journalctl -u llm-router-workers)."
            ),
            "metric_queries": [
                {
                    "id": "workers",
                    "metric": {
                        "namespace": namespace,
                        "metric_name": ROUTER_ACTIVE_WORKERS,
                        "dimensions": {"Deployment": deployment},
                        "stat": "Minimum",
                        "period": period,
                    },
                    "return_data": False,
                },
                {
                    "id": "instances",
                    "metric": {
                        "namespace": "AWS/AutoScaling",
                        "metric_name": "GroupInServiceInstances",
                        "dimensions": group,
                        "stat": "Maximum",
                        "period": period,
                    },
                    "return_data": False,
                },
                {
                    "id": "down",
                    "expression": "IF(instances > 0 AND FILL(workers, 0) < 1, 1, 0)",
                    "label": "routers without a worker while instances serve (1 = yes)",
                    "return_data": True,
                },
            ],
            "evaluation_periods": periods,
            "datapoints_to_alarm": periods,
            "comparison_operator": "GreaterThanOrEqualToThreshold",
            "threshold": 1,
            # No data at all (no instances in service): nothing to route to.
            "treat_missing_data": "notBreaching",
        }
    ]


def ecs_service_alarms(key: str, *, cluster_name: Any, service_name: Any, cpu_percent: float = 80.0) -> list[dict[str, Any]]:
    """Alarms of an ECS service (e.g. the gateway). Running-vs-desired needs Container Insights on the cluster."""
    service = {"ClusterName": cluster_name, "ServiceName": service_name}
    return [
        {
            "key": f"{key}-cpu-high",
            "title": f"{key}: CPU utilization (%)",
            "alarm_description": f"{key}: service CPU above {cpu_percent:g}% for 15 minutes; autoscaling is not keeping up.",
            "namespace": "AWS/ECS",
            "metric_name": "CPUUtilization",
            "dimensions": service,
            "statistic": "Average",
            "period": 300,
            "evaluation_periods": 3,
            "datapoints_to_alarm": 3,
            "comparison_operator": "GreaterThanThreshold",
            "threshold": cpu_percent,
            # Published every minute while tasks run; no data means no running tasks, which the
            # tasks-below-desired alarm reports.
            "treat_missing_data": "notBreaching",
        },
        {
            "key": f"{key}-tasks-below-desired",
            "title": f"{key}: tasks missing (desired - running)",
            "alarm_description": f"{key}: fewer tasks running than desired for 10 minutes (tasks crash, or cannot be placed or pulled).",
            "metric_queries": [
                {
                    "id": "running",
                    "metric": {
                        "namespace": "ECS/ContainerInsights",
                        "metric_name": "RunningTaskCount",
                        "dimensions": service,
                        "stat": "Minimum",
                        "period": 60,
                    },
                    "return_data": False,
                },
                {
                    "id": "desired",
                    "metric": {
                        "namespace": "ECS/ContainerInsights",
                        "metric_name": "DesiredTaskCount",
                        "dimensions": service,
                        "stat": "Maximum",
                        "period": 60,
                    },
                    "return_data": False,
                },
                {"id": "missing", "expression": "desired - running", "label": "tasks missing", "return_data": True},
            ],
            "evaluation_periods": 10,
            "datapoints_to_alarm": 10,
            "comparison_operator": "GreaterThanThreshold",
            "threshold": 0,
            # Container Insights publishes these every minute for a live service; silence means the
            # service, the cluster or Container Insights is gone: worth waking someone for.
            "treat_missing_data": "breaching",
        },
    ]


def api_gateway_alarms(
    key: str,
    *,
    api_name: Any,
    stage: Any,
    latency_slo_ms: float = 25_000.0,
    error_rate_5xx: float = 0.05,
    error_rate_4xx: float = 0.25,
) -> list[dict[str, Any]]:
    """Alarms of an API Gateway REST API stage. 5XXError and 4XXError averages are error rates (0–1).

    The default latency SLO sits just under the 29 s default integration timeout: a p99 there means
    buffered requests are about to be cut off.
    """
    for name, rate in (("error_rate_5xx", error_rate_5xx), ("error_rate_4xx", error_rate_4xx)):
        if not 0 < rate < 1:
            raise ValueError(f"{name}={rate}; allowed: a fraction between 0 and 1, e.g. 0.05")
    stage_dims = {"ApiName": api_name, "Stage": stage}
    return [
        {
            "key": f"{key}-5xx-rate",
            "title": f"{key}: 5XX error rate",
            "alarm_description": f"{key}: more than {error_rate_5xx:.0%} of requests failed with 5XX in 3 of 5 minutes (providers failing, integration timeouts).",
            "namespace": "AWS/ApiGateway",
            "metric_name": "5XXError",
            "dimensions": stage_dims,
            "statistic": "Average",
            "period": 60,
            "evaluation_periods": 5,
            "datapoints_to_alarm": 3,
            "comparison_operator": "GreaterThanThreshold",
            "threshold": error_rate_5xx,
            # No requests, no rate: nothing is failing.
            "treat_missing_data": "notBreaching",
        },
        {
            "key": f"{key}-4xx-rate",
            "title": f"{key}: 4XX error rate (incl. 429)",
            "alarm_description": (
                f"{key}: more than {error_rate_4xx:.0%} of requests got 4XX in 3 of 5 minutes. Mostly 429 means "
                "usage-plan or account throttling (raise quotas or limits); 403 means bad or revoked keys."
            ),
            "namespace": "AWS/ApiGateway",
            "metric_name": "4XXError",
            "dimensions": stage_dims,
            "statistic": "Average",
            "period": 60,
            "evaluation_periods": 5,
            "datapoints_to_alarm": 3,
            "comparison_operator": "GreaterThanThreshold",
            "threshold": error_rate_4xx,
            # As above: no traffic is not a client-error storm.
            "treat_missing_data": "notBreaching",
        },
        {
            "key": f"{key}-latency-p99",
            "title": f"{key}: latency p99 (ms)",
            "alarm_description": f"{key}: p99 latency above {latency_slo_ms:g} ms for 5 minutes.",
            "namespace": "AWS/ApiGateway",
            "metric_name": "Latency",
            "dimensions": stage_dims,
            "extended_statistic": "p99",
            "period": 60,
            "evaluation_periods": 5,
            "datapoints_to_alarm": 5,
            "comparison_operator": "GreaterThanThreshold",
            "threshold": latency_slo_ms,
            # No requests, no latency: quiet is not slow.
            "treat_missing_data": "notBreaching",
        },
    ]


def check_alarm(alarm: Mapping[str, Any]) -> None:
    """ValueError naming the alarm and the problem, if `alarm` is not a usable definition."""
    key = alarm.get("key")
    if not isinstance(key, str) or not _KEY.match(key) or len(key) > 200:
        raise ValueError(f"alarm key {key!r} is not a stable id; allowed: lower-case letters, digits and '-'")
    where = f"alarm {key!r}"
    missing = sorted(_REQUIRED - set(alarm))
    if missing:
        raise ValueError(f"{where}: missing {', '.join(missing)}")
    if "alarm_actions" in alarm or "ok_actions" in alarm:
        raise ValueError(f"{where}: alarm_actions/ok_actions are set by AwsMonitoring (the alarm topic); remove them")
    single = "metric_queries" not in alarm
    allowed = _OURS | _COMMON | (_SINGLE if single else _MATH)
    unknown = sorted(set(alarm) - allowed)
    if unknown:
        kind = "a single-metric alarm" if single else "a metric-math alarm"
        raise ValueError(f"{where}: {', '.join(unknown)} not allowed in {kind}")
    if alarm["comparison_operator"] not in COMPARISON_OPERATORS:
        raise ValueError(f"{where}: comparison_operator {alarm['comparison_operator']!r}; allowed: {', '.join(COMPARISON_OPERATORS)}")
    if alarm["treat_missing_data"] not in TREAT_MISSING_DATA:
        raise ValueError(f"{where}: treat_missing_data {alarm['treat_missing_data']!r}; allowed: {', '.join(TREAT_MISSING_DATA)}")
    if single:
        for field in ("namespace", "metric_name", "period"):
            if field not in alarm:
                raise ValueError(f"{where}: missing {field}")
        if ("statistic" in alarm) == ("extended_statistic" in alarm):
            raise ValueError(f"{where}: set exactly one of statistic and extended_statistic")
    else:
        queries = alarm["metric_queries"]
        returned = [q.get("id") for q in queries if q.get("return_data")]
        if len(returned) != 1:
            raise ValueError(f"{where}: exactly one metric query must have return_data, found {returned}")


def check_alarms(alarms: Iterable[Mapping[str, Any]]) -> None:
    """Every definition usable, and keys unique (they name resources)."""
    seen: set[str] = set()
    for alarm in alarms:
        check_alarm(alarm)
        if alarm["key"] in seen:
            raise ValueError(f"alarm key {alarm['key']!r} is used twice; keys name the alarm resources")
        seen.add(alarm["key"])


def alarm_metrics(alarm: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(namespace, metric name) of every metric an alarm reads."""
    if "metric_queries" in alarm:
        return [(q["metric"]["namespace"], q["metric"]["metric_name"]) for q in alarm["metric_queries"] if "metric" in q]
    return [(alarm["namespace"], alarm["metric_name"])]


def dashboard_body(
    alarms: Sequence[Mapping[str, Any]],
    *,
    region: str,
    title: str,
    alarm_arns: Sequence[str] = (),
    panels: Sequence[Mapping[str, Any]] = (),
) -> str:
    """CloudWatch dashboard JSON: a header, an alarm-status widget (if ARNs are given), per alarm a graph of
    exactly what it evaluates with its threshold drawn, then `panels` (graphs without an alarm: each a
    ``{"title", "metrics"}`` in the dashboard's metric-row form). Dimension values must be resolved."""
    widgets: list[dict[str, Any]] = [{"type": "text", "x": 0, "y": 0, "width": 24, "height": 1, "properties": {"markdown": f"# {title}"}}]
    y = 1
    if alarm_arns:
        widgets.append(
            {
                "type": "alarm",
                "x": 0,
                "y": y,
                "width": 24,
                "height": 3,
                "properties": {"title": "Alarms", "alarms": list(alarm_arns), "sortBy": "stateUpdatedTimestamp"},
            }
        )
        y += 3
    for index, alarm in enumerate(alarms):
        widgets.append(
            {
                "type": "metric",
                "x": (index % 2) * 12,
                "y": y + (index // 2) * 6,
                "width": 12,
                "height": 6,
                "properties": {
                    "title": alarm["title"],
                    "region": region,
                    "view": "timeSeries",
                    "metrics": _widget_metrics(alarm),
                    "annotations": {
                        "horizontal": [
                            {
                                "label": f"{alarm['key']} {_SYMBOL[alarm['comparison_operator']]} {alarm['threshold']:g}",
                                "value": alarm["threshold"],
                            }
                        ]
                    },
                },
            }
        )
    y += ((len(alarms) + 1) // 2) * 6
    for index, panel in enumerate(panels):
        widgets.append(
            {
                "type": "metric",
                "x": (index % 2) * 12,
                "y": y + (index // 2) * 6,
                "width": 12,
                "height": 6,
                "properties": {"title": panel["title"], "region": region, "view": "timeSeries", "metrics": panel["metrics"]},
            }
        )
    return json.dumps({"widgets": widgets}, sort_keys=True)


def gpu_agent_config(interval_seconds: int = 60) -> dict[str, Any]:
    """CloudWatch agent config (Linux) that publishes the metrics `gpu_asg_alarms` reads.

    Every GPU series carries the instance's Auto Scaling group, and the agent also publishes the
    group-level aggregate the alarms use (dimension `AutoScalingGroupName` only).
    """
    return {
        "agent": {"metrics_collection_interval": interval_seconds, "run_as_user": "cwagent"},
        "metrics": {
            "namespace": CWAGENT_NAMESPACE,
            "append_dimensions": {
                "AutoScalingGroupName": "${aws:AutoScalingGroupName}",
                "InstanceId": "${aws:InstanceId}",
                "InstanceType": "${aws:InstanceType}",
            },
            "aggregation_dimensions": [["AutoScalingGroupName"]],
            "metrics_collected": {
                "nvidia_gpu": {
                    "measurement": [
                        "utilization_gpu",
                        "utilization_memory",
                        "memory_used",
                        "memory_total",
                        "temperature_gpu",
                        "power_draw",
                    ],
                    "metrics_collection_interval": interval_seconds,
                }
            },
        },
    }


def _widget_metrics(alarm: Mapping[str, Any]) -> list[list[Any]]:
    if "metric_queries" not in alarm:
        stat = alarm.get("statistic") or alarm["extended_statistic"]
        return [[alarm["namespace"], alarm["metric_name"], *_dims(alarm.get("dimensions")), {"stat": stat, "period": alarm["period"]}]]
    rows: list[list[Any]] = []
    for q in alarm["metric_queries"]:
        if "expression" in q:
            rows.append([{"expression": q["expression"], "id": q["id"], "label": q.get("label", q["id"])}])
        else:
            m = q["metric"]
            rows.append(
                [
                    m["namespace"],
                    m["metric_name"],
                    *_dims(m.get("dimensions")),
                    {"id": q["id"], "stat": m["stat"], "period": m["period"], "visible": False},
                ]
            )
    return rows


def _dims(dimensions: Mapping[str, Any] | None) -> list[Any]:
    return [part for name, value in sorted((dimensions or {}).items()) for part in (name, value)]
