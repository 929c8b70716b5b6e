"""AwsMonitoring and the pure CloudWatch definitions: metrics, thresholds, actions, topic, dashboard."""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumi_aws as aws
import pytest
from helpers import by_name, children, of_type, only, run
from pulumi_llm.labels import CommonLabels
from pulumi_llm.monitoring import cloudwatch as cw
from pulumi_llm.monitoring.aws import (
    AWS_MANAGED_SNS_KEY,
    AwsMonitoring,
    AwsMonitoringArgs,
    alarm_key_policy_statement,
    alarm_topic_policy,
    email_subscriptions,
)
from pydantic import ValidationError

REGION = "us-east-1"
KEY = "arn:aws:kms:us-east-1:123456789012:key/abcd-ef"
TOPIC_ARN = f"arn:aws:sns:{REGION}:123456789012:llm-mon-topic"


def definitions(asg_name: object = "llm-gpu-asg") -> list[dict]:
    return [
        *cw.alb_alarms(
            "chat-alb", load_balancer="app/chat/50dc6c495c0c9188", target_group="targetgroup/chat/73e2d6bc24d8a067", latency_slo_seconds=8
        ),
        *cw.gpu_asg_alarms("llama-asg", asg_name=asg_name),
        *cw.ecs_service_alarms("gateway", cluster_name="llm", service_name="litellm"),
        *cw.api_gateway_alarms("api", api_name="llm-api", stage="prod"),
    ]


def program(**overrides: object) -> None:
    provider = aws.Provider("aws", region=REGION)
    args = {
        "labels": CommonLabels("prod", "prod"),
        "region": REGION,
        "key_arn": KEY,
        "alert_emails": ("oncall@example.com",),
        "alarms": definitions(),
        **overrides,
    }
    AwsMonitoring("llm-mon", AwsMonitoringArgs(**args), opts=pulumi.ResourceOptions(providers=[provider]))


def records_of(**overrides: object):
    return run(lambda: program(**overrides), region=REGION)


ALARM_KEYS = [
    "chat-alb-unhealthy-hosts",
    "chat-alb-target-5xx",
    "chat-alb-elb-5xx",
    "chat-alb-latency-p99",
    "llama-asg-gpu-idle",
    "llama-asg-gpu-memory",
    "gateway-cpu-high",
    "gateway-tasks-below-desired",
    "api-5xx-rate",
    "api-4xx-rate",
    "api-latency-p99",
]


def test_children_are_topic_policy_subscription_one_alarm_per_key_and_a_dashboard() -> None:
    records = records_of()
    monitoring = only(records, "pulumi-llm:index:AwsMonitoring")
    assert children(records, monitoring) == sorted(
        [
            ("aws:sns/topic:Topic", "llm-mon-topic"),
            ("aws:sns/topicPolicy:TopicPolicy", "llm-mon-topic-policy"),
            ("aws:sns/topicSubscription:TopicSubscription", "llm-mon-email"),
            ("aws:cloudwatch/dashboard:Dashboard", "llm-mon-dashboard"),
            *[("aws:cloudwatch/metricAlarm:MetricAlarm", f"llm-mon-alarm-{key}") for key in ALARM_KEYS],
        ]
    )
    provider = only(records, "pulumi:providers:aws")
    assert all(r.provider == provider.urn for r in records if r.custom and r.type.startswith("aws:"))


def test_alarm_names_follow_keys_not_positions() -> None:
    reordered = list(reversed(definitions()))
    names = sorted(r.name for r in of_type(records_of(alarms=reordered), "aws:cloudwatch/metricAlarm:MetricAlarm"))
    assert names == sorted(f"llm-mon-alarm-{key}" for key in ALARM_KEYS)


def test_topic_is_encrypted_with_the_given_key_and_only_this_accounts_alarms_may_publish() -> None:
    records = by_name(records_of())
    topic = records["llm-mon-topic"].inputs
    assert topic["kmsMasterKeyId"] == KEY
    assert topic["tags"] == {"pulumi-llm:project": "pulumi-llm", "pulumi-llm:stack": "prod", "pulumi-llm:environment": "prod"}
    policy = records["llm-mon-topic-policy"].inputs
    assert policy["arn"] == TOPIC_ARN
    assert json.loads(policy["policy"])["Statement"] == [
        {
            "Sid": "CloudWatchAlarmsPublish",
            "Effect": "Allow",
            "Principal": {"Service": "cloudwatch.amazonaws.com"},
            "Action": "sns:Publish",
            "Resource": TOPIC_ARN,
            "Condition": {
                "StringEquals": {"aws:SourceAccount": "123456789012"},
                "ArnLike": {"aws:SourceArn": f"arn:aws:cloudwatch:{REGION}:123456789012:alarm:*"},
            },
        }
    ]
    subscription = records["llm-mon-email"].inputs
    assert subscription == {"endpoint": "oncall@example.com", "protocol": "email", "topic": TOPIC_ARN}


def test_without_a_key_the_topic_falls_back_to_the_aws_managed_key_and_no_email_means_no_subscription() -> None:
    records = records_of(key_arn=None, alert_emails=())
    assert only(records, "aws:sns/topic:Topic").inputs["kmsMasterKeyId"] == AWS_MANAGED_SNS_KEY == "alias/aws/sns"
    assert of_type(records, "aws:sns/topicSubscription:TopicSubscription") == []


def test_key_may_come_from_another_resource() -> None:
    def with_key() -> None:
        provider = aws.Provider("aws", region=REGION)
        key = aws.kms.Key("alarms-key", opts=pulumi.ResourceOptions(provider=provider))
        AwsMonitoring(
            "llm-mon",
            AwsMonitoringArgs(labels=CommonLabels("prod", "prod"), region=REGION, key_arn=key.arn),
            opts=pulumi.ResourceOptions(providers=[provider]),
        )

    topic = only(run(with_key, region=REGION), "aws:sns/topic:Topic")
    assert topic.inputs["kmsMasterKeyId"] == f"arn:aws:kms:{REGION}:123456789012:alarms-key"


def test_every_alarm_notifies_the_topic_on_alarm_and_on_ok_and_chooses_missing_data() -> None:
    alarms = of_type(records_of(), "aws:cloudwatch/metricAlarm:MetricAlarm")
    assert len(alarms) == len(ALARM_KEYS)
    for alarm in alarms:
        assert alarm.inputs["alarmActions"] == [TOPIC_ARN] and alarm.inputs["okActions"] == [TOPIC_ARN]
        assert alarm.inputs["treatMissingData"] in cw.TREAT_MISSING_DATA
        assert alarm.inputs["alarmDescription"]
    missing = {a.name.removeprefix("llm-mon-alarm-"): a.inputs["treatMissingData"] for a in alarms}
    # Container Insights reports every minute: silence means the service or the metrics are gone.
    assert missing.pop("gateway-tasks-below-desired") == "breaching"
    assert set(missing.values()) == {"notBreaching"}


def test_alb_alarms_watch_unhealthy_hosts_5xx_and_p99_against_the_slo() -> None:
    records = by_name(records_of())
    dims = {"LoadBalancer": "app/chat/50dc6c495c0c9188", "TargetGroup": "targetgroup/chat/73e2d6bc24d8a067"}
    unhealthy = records["llm-mon-alarm-chat-alb-unhealthy-hosts"].inputs
    assert (unhealthy["namespace"], unhealthy["metricName"], unhealthy["dimensions"]) == ("AWS/ApplicationELB", "UnHealthyHostCount", dims)
    assert (unhealthy["comparisonOperator"], unhealthy["threshold"]) == ("GreaterThanThreshold", 0)
    assert unhealthy["period"] * unhealthy["evaluationPeriods"] == 300 and unhealthy["datapointsToAlarm"] == 5
    target_5xx = records["llm-mon-alarm-chat-alb-target-5xx"].inputs
    assert (target_5xx["metricName"], target_5xx["statistic"], target_5xx["threshold"]) == ("HTTPCode_Target_5XX_Count", "Sum", 5)
    elb_5xx = records["llm-mon-alarm-chat-alb-elb-5xx"].inputs
    assert elb_5xx["metricName"] == "HTTPCode_ELB_5XX_Count" and elb_5xx["dimensions"] == {"LoadBalancer": "app/chat/50dc6c495c0c9188"}
    latency = records["llm-mon-alarm-chat-alb-latency-p99"].inputs
    assert (latency["metricName"], latency["extendedStatistic"], latency["threshold"]) == ("TargetResponseTime", "p99", 8)
    assert "statistic" not in latency and latency["comparisonOperator"] == "GreaterThanThreshold"


def test_gpu_idle_alarm_fires_only_while_the_group_has_instances() -> None:
    idle = by_name(records_of())["llm-mon-alarm-llama-asg-gpu-idle"].inputs
    queries = {q["id"]: q for q in idle["metricQueries"]}
    assert queries["util"]["metric"] == {
        "namespace": "CWAgent",
        "metricName": "nvidia_smi_utilization_gpu",
        "dimensions": {"AutoScalingGroupName": "llm-gpu-asg"},
        "stat": "Average",
        "period": 300,
    }
    assert queries["instances"]["metric"]["namespace"] == "AWS/AutoScaling"
    assert queries["instances"]["metric"]["metricName"] == "GroupInServiceInstances"
    assert queries["idle"]["expression"] == "IF(instances > 0 AND util < 5, 1, 0)" and queries["idle"]["returnData"] is True
    assert [q["id"] for q in idle["metricQueries"] if q.get("returnData")] == ["idle"]
    # 30 minutes: 6 of 6 five-minute periods.
    assert (idle["evaluationPeriods"], idle["datapointsToAlarm"]) == (6, 6)
    assert (idle["comparisonOperator"], idle["threshold"]) == ("GreaterThanOrEqualToThreshold", 1)
    assert not {"metricName", "namespace", "statistic", "period"} & set(idle)


def test_gpu_memory_alarm_is_used_over_total_from_the_cloudwatch_agent() -> None:
    memory = by_name(records_of())["llm-mon-alarm-llama-asg-gpu-memory"].inputs
    queries = {q["id"]: q for q in memory["metricQueries"]}
    assert queries["used"]["metric"]["metricName"] == "nvidia_smi_memory_used"
    assert queries["total"]["metric"]["metricName"] == "nvidia_smi_memory_total"
    assert {q["metric"]["namespace"] for q in queries.values() if "metric" in q} == {"CWAgent"}
    assert queries["percent"]["expression"] == "100 * used / total"
    assert (memory["comparisonOperator"], memory["threshold"]) == ("GreaterThanThreshold", 97)


def test_ecs_alarms_cpu_high_and_running_below_desired() -> None:
    records = by_name(records_of())
    service = {"ClusterName": "llm", "ServiceName": "litellm"}
    cpu = records["llm-mon-alarm-gateway-cpu-high"].inputs
    assert (cpu["namespace"], cpu["metricName"], cpu["dimensions"], cpu["threshold"]) == ("AWS/ECS", "CPUUtilization", service, 80)
    tasks = records["llm-mon-alarm-gateway-tasks-below-desired"].inputs
    queries = {q["id"]: q for q in tasks["metricQueries"]}
    assert queries["running"]["metric"]["metricName"] == "RunningTaskCount"
    assert queries["desired"]["metric"]["metricName"] == "DesiredTaskCount"
    assert queries["running"]["metric"]["namespace"] == "ECS/ContainerInsights" and queries["running"]["metric"]["dimensions"] == service
    assert queries["missing"]["expression"] == "desired - running"
    assert (tasks["comparisonOperator"], tasks["threshold"]) == ("GreaterThanThreshold", 0)


def test_api_gateway_alarms_error_rates_and_latency_p99() -> None:
    records = by_name(records_of())
    stage = {"ApiName": "llm-api", "Stage": "prod"}
    five = records["llm-mon-alarm-api-5xx-rate"].inputs
    four = records["llm-mon-alarm-api-4xx-rate"].inputs
    latency = records["llm-mon-alarm-api-latency-p99"].inputs
    assert (five["namespace"], five["metricName"], five["statistic"], five["threshold"], five["dimensions"]) == (
        "AWS/ApiGateway",
        "5XXError",
        "Average",
        0.05,
        stage,
    )
    assert (four["metricName"], four["statistic"], four["threshold"]) == ("4XXError", "Average", 0.25)
    assert "429" in four["alarmDescription"]
    assert (latency["metricName"], latency["extendedStatistic"], latency["threshold"]) == ("Latency", "p99", 25000)


def test_dashboard_parses_and_graphs_every_alarm_metric_with_its_threshold() -> None:
    records = by_name(records_of(alarms=definitions(asg_name=pulumi.Output.from_input("llm-gpu-asg"))))
    dashboard = records["llm-mon-dashboard"].inputs
    assert dashboard["dashboardName"] == "pulumi-llm-prod-llm-mon"
    body = json.loads(dashboard["dashboardBody"])
    graphs = [w for w in body["widgets"] if w["type"] == "metric"]
    assert len(graphs) == len(ALARM_KEYS)
    status = [w for w in body["widgets"] if w["type"] == "alarm"]
    assert status[0]["properties"]["alarms"] == [f"arn:aws:cloudwatch:{REGION}:123456789012:llm-mon-alarm-{k}" for k in ALARM_KEYS]
    for alarm, widget in zip(definitions(), graphs, strict=False):
        props = widget["properties"]
        assert props["region"] == REGION and props["title"] == alarm["title"]
        drawn = {(row[0], row[1]) for row in props["metrics"] if isinstance(row[0], str)}
        assert set(cw.alarm_metrics(alarm)) == drawn
        assert props["annotations"]["horizontal"][0]["value"] == alarm["threshold"]
        # Dimension values resolved (an Output for the ASG name became its value).
        for row in props["metrics"]:
            if isinstance(row[0], str):
                assert all(isinstance(part, str) for part in row[2:-1])
    idle = graphs[ALARM_KEYS.index("llama-asg-gpu-idle")]["properties"]["metrics"]
    assert ["CWAgent", "nvidia_smi_utilization_gpu", "AutoScalingGroupName", "llm-gpu-asg"] == idle[0][:4]
    assert idle[-1][0]["expression"] == "IF(instances > 0 AND util < 5, 1, 0)"


def test_dashboard_body_is_pure_and_lays_widgets_out_on_a_grid() -> None:
    alarms = cw.api_gateway_alarms("api", api_name="a", stage="s")
    body = json.loads(cw.dashboard_body(alarms, region="eu-west-1", title="t"))
    assert [w["type"] for w in body["widgets"]] == ["text", "metric", "metric", "metric"]
    assert [(w["x"], w["y"]) for w in body["widgets"][1:]] == [(0, 1), (12, 1), (0, 7)]
    latency = body["widgets"][3]["properties"]["metrics"]
    assert latency == [["AWS/ApiGateway", "Latency", "ApiName", "a", "Stage", "s", {"period": 60, "stat": "p99"}]]
    assert cw.dashboard_body(alarms, region="eu-west-1", title="t") == cw.dashboard_body(alarms, region="eu-west-1", title="t")


def test_gpu_agent_config_publishes_what_the_gpu_alarms_read() -> None:
    config = cw.gpu_agent_config()
    metrics = config["metrics"]
    assert metrics["namespace"] == cw.CWAGENT_NAMESPACE
    assert metrics["append_dimensions"]["AutoScalingGroupName"] == "${aws:AutoScalingGroupName}"
    assert ["AutoScalingGroupName"] in metrics["aggregation_dimensions"]
    collected = {f"nvidia_smi_{m}" for m in metrics["metrics_collected"]["nvidia_gpu"]["measurement"]}
    read = {name for a in cw.gpu_asg_alarms("g", asg_name="x") for ns, name in cw.alarm_metrics(a) if ns == "CWAgent"}
    assert read == {cw.GPU_UTILIZATION, cw.GPU_MEMORY_USED, cw.GPU_MEMORY_TOTAL} and read <= collected


def test_topic_and_key_policies_are_pure() -> None:
    policy = json.loads(alarm_topic_policy("arn:aws-cn:sns:cn-north-1:111122223333:t"))["Statement"][0]
    assert policy["Condition"]["ArnLike"]["aws:SourceArn"] == "arn:aws-cn:cloudwatch:cn-north-1:111122223333:alarm:*"
    statement = alarm_key_policy_statement("111122223333")
    assert statement["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert statement["Action"] == ["kms:Decrypt", "kms:GenerateDataKey*"]
    assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": "111122223333"}}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda a: a + [dict(a[0])], "alarm key 'chat-alb-unhealthy-hosts' is used twice"),
        (lambda a: [{**a[0], "key": "Chat_ALB"}], "alarm key 'Chat_ALB' is not a stable id"),
        (lambda a: [{k: v for k, v in a[0].items() if k != "treat_missing_data"}], "missing treat_missing_data"),
        (lambda a: [{**a[0], "treat_missing_data": "ok"}], "treat_missing_data 'ok'; allowed: breaching, notBreaching, ignore, missing"),
        (lambda a: [{**a[0], "alarm_actions": ["arn:x"]}], "alarm_actions/ok_actions are set by AwsMonitoring"),
        (lambda a: [{**a[0], "extended_statistic": "p99"}], "set exactly one of statistic and extended_statistic"),
        (lambda a: [{**a[0], "comparison_operator": "Above"}], "comparison_operator 'Above'; allowed"),
        (lambda a: [{**a[4], "metric_name": "x"}], "metric_name not allowed in a metric-math alarm"),
        (
            lambda a: [{**a[4], "metric_queries": [{**q, "return_data": True} for q in a[4]["metric_queries"]]}],
            "exactly one metric query must have return_data",
        ),
    ],
)
def test_bad_alarm_definitions_are_refused_naming_the_alarm(change, message: str) -> None:
    with pytest.raises(ValidationError, match=message.replace("(", r"\(").replace("*", r"\*")):
        AwsMonitoringArgs(labels=CommonLabels("prod", "prod"), region=REGION, alarms=change(definitions()))


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"alert_emails": ("oncall@example.com", "oncall")}, "'oncall' is not an e-mail address"),
        ({"alert_emails": ("a@example.com", "a@example.com")}, "repeats an address"),
        ({"key_arn": "my-key"}, "'my-key' is not a KMS key ARN"),
        ({"dashboard_name": "llm dashboard"}, "'llm dashboard' is not a dashboard name"),
    ],
)
def test_bad_args_are_refused(overrides: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        AwsMonitoringArgs(labels=CommonLabels("prod", "prod"), region=REGION, **overrides)


def test_renderer_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match=r"^idle_minutes=7; allowed: a multiple of 5 from 5 to 1440$"):
        cw.gpu_asg_alarms("g", asg_name="x", idle_minutes=7)
    with pytest.raises(ValueError, match=r"^error_rate_5xx=5; allowed: a fraction between 0 and 1, e.g. 0.05$"):
        cw.api_gateway_alarms("a", api_name="x", stage="s", error_rate_5xx=5)
    cw.check_alarms(definitions())


def test_each_alert_email_is_subscribed_and_the_first_keeps_the_single_address_child_name() -> None:
    records = by_name(records_of(alert_emails=("oncall@example.com", "llm-team@example.com", "sre@example.com")))
    subscriptions = {r.name: r.inputs["endpoint"] for r in records.values() if r.type == "aws:sns/topicSubscription:TopicSubscription"}
    assert subscriptions == {
        "llm-mon-email": "oncall@example.com",
        "llm-mon-email-2": "llm-team@example.com",
        "llm-mon-email-3": "sre@example.com",
    }


def test_email_subscriptions_decides_child_roles_in_order() -> None:
    assert email_subscriptions(()) == {}
    assert email_subscriptions(("a@example.com", "b@example.com")) == {"email": "a@example.com", "email-2": "b@example.com"}


def old_args(**fields: Any) -> AwsMonitoringArgs:
    """AwsMonitoringArgs as code written before 0.2.0 builds it: alarm_email is no longer in the
    signature (a before-validator maps it), so the keywords pass through a dict."""
    return AwsMonitoringArgs(labels=CommonLabels("prod", "prod"), region=REGION, **fields)


def test_alarm_email_is_the_deprecated_name_of_the_first_alert_email() -> None:
    with pytest.warns(DeprecationWarning, match=r"AwsMonitoringArgs\.alarm_email is deprecated: use AwsMonitoringArgs\.alert_emails"):
        args = old_args(alarm_email="oncall@example.com")
    assert args.alert_emails == ("oncall@example.com",)
    with pytest.warns(DeprecationWarning):
        assert old_args(alarm_email=None).alert_emails == ()
    with pytest.warns(DeprecationWarning), pytest.raises(ValidationError, match="give alert_emails only"):
        old_args(alarm_email="a@example.com", alert_emails=("b@example.com",))
