"""AwsNetwork: private compute, public load balancers only, NAT per choice, endpoints, flow logs, empty default SG."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pulumi
import pulumi_aws as aws
import pytest
from helpers import by_name, children, of_type, only, run
from pulumi_llm.labels import CommonLabels
from pulumi_llm.network.aws import (
    DEFAULT_INTERFACE_ENDPOINTS,
    AwsNetwork,
    AwsNetworkArgs,
    flow_logs_trust_policy,
    flow_logs_write_policy,
    pick_zone,
)
from pulumi_llm.offline.recorder import PlanMocks
from pydantic import ValidationError

REGION = "eu-west-1"
KEY = "arn:aws:kms:eu-west-1:123456789012:key/1111-2222"
TAGS = {"pulumi-llm:project": "pulumi-llm", "pulumi-llm:stack": "prod", "pulumi-llm:environment": "prod"}


INVOKES: list[tuple[str, str, dict]] = []


@pytest.fixture(autouse=True)
def invoke_failures_as_list(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # pulumi's MockMonitor.Invoke iterates the failures PlanMocks.call returns, and PlanMocks returns
    # None (offline/recorder.py). Until that returns [], hand the mock runtime an empty list; once it
    # does, this is a no-op. This module is the first to run an invoke under the recorder.
    original = PlanMocks.call

    def call(self: PlanMocks, args):  # type: ignore[no-untyped-def]
        INVOKES.append((args.token, args.provider, dict(args.args)))
        answer, failures = original(self, args)
        return answer, list(failures or [])

    monkeypatch.setattr(PlanMocks, "call", call)
    INVOKES.clear()
    yield


def program(**overrides: object) -> None:
    provider = aws.Provider("aws", region=REGION)
    args = {"labels": CommonLabels("prod", "prod"), "region": REGION, "log_key_arn": KEY, **overrides}
    network = AwsNetwork("llm-net", AwsNetworkArgs(**args), opts=pulumi.ResourceOptions(providers=[provider]))
    pulumi.export("private", network.private_subnet_ids)


def records_of(**overrides: object):
    return run(lambda: program(**overrides), region=REGION)


def test_children_are_exactly_the_network_with_one_nat_by_default() -> None:
    records = records_of()
    network = only(records, "pulumi-llm:index:AwsNetwork")
    endpoints = [f"llm-net-endpoint-{s.replace('.', '-')}" for s in DEFAULT_INTERFACE_ENDPOINTS]
    expected = [
        ("aws:cloudwatch/logGroup:LogGroup", "llm-net-flow-logs"),
        ("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup", "llm-net-default-sg"),
        ("aws:ec2/eip:Eip", "llm-net-nat-eip-az1"),
        ("aws:ec2/flowLog:FlowLog", "llm-net-flow-log"),
        ("aws:ec2/internetGateway:InternetGateway", "llm-net-igw"),
        ("aws:ec2/natGateway:NatGateway", "llm-net-nat-az1"),
        *[("aws:ec2/route:Route", f"llm-net-{kind}-default-{az}") for kind in ("private", "public") for az in ("az1", "az2")],
        *[("aws:ec2/routeTable:RouteTable", f"llm-net-{kind}-rt-{az}") for kind in ("private", "public") for az in ("az1", "az2")],
        *[
            ("aws:ec2/routeTableAssociation:RouteTableAssociation", f"llm-net-{kind}-rta-{az}")
            for kind in ("private", "public", "internal-lb")
            for az in ("az1", "az2")
        ],
        ("aws:ec2/securityGroup:SecurityGroup", "llm-net-endpoints-sg"),
        *[("aws:ec2/subnet:Subnet", f"llm-net-{kind}-{az}") for kind in ("private", "public", "internal-lb") for az in ("az1", "az2")],
        *[("aws:ec2/vpcEndpoint:VpcEndpoint", n) for n in ["llm-net-endpoint-s3", *endpoints]],
        ("aws:ec2/vpc:Vpc", "llm-net-vpc"),
        ("aws:iam/role:Role", "llm-net-flow-logs-role"),
        ("aws:iam/rolePolicy:RolePolicy", "llm-net-flow-logs-write"),
    ]
    assert children(records, network) == sorted(expected)
    provider = only(records, "pulumi:providers:aws")
    assert all(r.provider == provider.urn for r in records if r.custom and r.type.startswith("aws:"))
    # The zone look-up goes through the component's provider too (default providers are disabled).
    assert [(token, ref.rsplit("::", 1)[0], a.get("state")) for token, ref, a in INVOKES] == [
        ("aws:index/getAvailabilityZones:getAvailabilityZones", provider.urn, "available")
    ]


def test_vpc_has_dns_on_and_the_default_security_group_is_emptied() -> None:
    records = by_name(records_of())
    vpc = records["llm-net-vpc"].inputs
    assert vpc["cidrBlock"] == "10.40.0.0/16"
    assert vpc["enableDnsSupport"] is True and vpc["enableDnsHostnames"] is True
    assert vpc["tags"] == {**TAGS, "Name": "llm-net-vpc"}
    default_sg = records["llm-net-default-sg"].inputs
    assert default_sg["vpcId"].startswith("llm-net-vpc-")  # mock ids are "<name>-<digest>"
    assert default_sg.get("ingress", []) == [] and default_sg.get("egress", []) == []


def test_subnets_follow_the_plan_zones_and_kubernetes_tags() -> None:
    records = by_name(records_of(az_count=3))
    expected = {
        "az1": ("10.40.0.0/19", "10.40.224.0/22", "10.40.192.0/22", "eu-west-1a"),
        "az2": ("10.40.32.0/19", "10.40.228.0/22", "10.40.196.0/22", "eu-west-1b"),
        "az3": ("10.40.64.0/19", "10.40.232.0/22", "10.40.200.0/22", "eu-west-1c"),
    }
    for slot, (private_cidr, public_cidr, lb_cidr, zone) in expected.items():
        private = records[f"llm-net-private-{slot}"].inputs
        public = records[f"llm-net-public-{slot}"].inputs
        internal_lb = records[f"llm-net-internal-lb-{slot}"].inputs
        assert (private["cidrBlock"], private["availabilityZone"]) == (private_cidr, zone)
        assert (public["cidrBlock"], public["availabilityZone"]) == (public_cidr, zone)
        assert (internal_lb["cidrBlock"], internal_lb["availabilityZone"]) == (lb_cidr, zone)
        assert (
            private["mapPublicIpOnLaunch"] is False
            and public["mapPublicIpOnLaunch"] is False
            and internal_lb["mapPublicIpOnLaunch"] is False
        )
        # Internal ALBs land only in their own subnets, where no node or pod has an address.
        assert private["tags"] == {**TAGS, "Name": f"llm-net-private-{slot}"}
        assert internal_lb["tags"] == {**TAGS, "Name": f"llm-net-internal-lb-{slot}", "kubernetes.io/role/internal-elb": "1"}
        assert public["tags"] == {**TAGS, "Name": f"llm-net-public-{slot}", "kubernetes.io/role/elb": "1"}
        assert records[f"llm-net-internal-lb-rta-{slot}"].inputs["routeTableId"].startswith(f"llm-net-private-rt-{slot}-")


def test_private_routes_go_to_the_single_nat_and_public_routes_to_the_internet_gateway() -> None:
    records = by_name(records_of(az_count=3))
    assert len([r for r in records.values() if r.type == "aws:ec2/natGateway:NatGateway"]) == 1
    nat = records["llm-net-nat-az1"].inputs
    assert nat["subnetId"].startswith("llm-net-public-az1-") and nat["connectivityType"] == "public"
    assert nat["allocationId"].startswith("llm-net-nat-eip-az1-")
    assert records["llm-net-nat-eip-az1"].inputs["domain"] == "vpc"
    for slot in ("az1", "az2", "az3"):
        private = records[f"llm-net-private-default-{slot}"].inputs
        public = records[f"llm-net-public-default-{slot}"].inputs
        assert private["destinationCidrBlock"] == "0.0.0.0/0" and private["natGatewayId"].startswith("llm-net-nat-az1-")
        assert "gatewayId" not in private
        assert private["routeTableId"].startswith(f"llm-net-private-rt-{slot}-")
        assert public["destinationCidrBlock"] == "0.0.0.0/0" and public["gatewayId"].startswith("llm-net-igw-")
        assert "natGatewayId" not in public
        assert public["routeTableId"].startswith(f"llm-net-public-rt-{slot}-")
        for kind in ("private", "public"):
            association = records[f"llm-net-{kind}-rta-{slot}"].inputs
            assert association["subnetId"].startswith(f"llm-net-{kind}-{slot}-")
            assert association["routeTableId"].startswith(f"llm-net-{kind}-rt-{slot}-")


def test_nat_per_az_gives_each_zone_its_own_nat_gateway_and_route() -> None:
    records = records_of(az_count=3, nat_per_az=True)
    nats = by_name(of_type(records, "aws:ec2/natGateway:NatGateway"))
    assert sorted(nats) == ["llm-net-nat-az1", "llm-net-nat-az2", "llm-net-nat-az3"]
    assert len(of_type(records, "aws:ec2/eip:Eip")) == 3
    named = by_name(records)
    for slot in ("az1", "az2", "az3"):
        assert nats[f"llm-net-nat-{slot}"].inputs["subnetId"].startswith(f"llm-net-public-{slot}-")
        assert nats[f"llm-net-nat-{slot}"].inputs["allocationId"].startswith(f"llm-net-nat-eip-{slot}-")
        assert named[f"llm-net-private-default-{slot}"].inputs["natGatewayId"].startswith(f"llm-net-nat-{slot}-")


def test_endpoints_gateway_for_s3_on_private_tables_and_interface_endpoints_in_private_subnets() -> None:
    records = by_name(records_of())
    s3 = records["llm-net-endpoint-s3"].inputs
    assert s3["serviceName"] == "com.amazonaws.eu-west-1.s3" and s3["vpcEndpointType"] == "Gateway"
    assert sorted(t.rsplit("-", 1)[0] for t in s3["routeTableIds"]) == ["llm-net-private-rt-az1", "llm-net-private-rt-az2"]
    interface = {
        r.inputs["serviceName"]: r.inputs
        for r in records.values()
        if r.type == "aws:ec2/vpcEndpoint:VpcEndpoint" and r.inputs["vpcEndpointType"] == "Interface"
    }
    assert sorted(interface) == sorted(
        f"com.amazonaws.eu-west-1.{s}" for s in ("ecr.api", "ecr.dkr", "sts", "secretsmanager", "logs", "ssm", "ssmmessages", "ec2messages")
    )
    for endpoint in interface.values():
        assert endpoint["privateDnsEnabled"] is True
        assert sorted(s.rsplit("-", 1)[0] for s in endpoint["subnetIds"]) == ["llm-net-private-az1", "llm-net-private-az2"]
        assert [g.rsplit("-", 1)[0] for g in endpoint["securityGroupIds"]] == ["llm-net-endpoints-sg"]


def test_endpoint_list_comes_from_args() -> None:
    records = records_of(interface_endpoints=("ecr.api", "ecr.dkr"))
    names = sorted(r.name for r in of_type(records, "aws:ec2/vpcEndpoint:VpcEndpoint"))
    assert names == ["llm-net-endpoint-ecr-api", "llm-net-endpoint-ecr-dkr", "llm-net-endpoint-s3"]
    no_interface = records_of(interface_endpoints=())
    assert [r.name for r in of_type(no_interface, "aws:ec2/vpcEndpoint:VpcEndpoint")] == ["llm-net-endpoint-s3"]
    assert of_type(no_interface, "aws:ec2/securityGroup:SecurityGroup") == []


def test_no_security_group_admits_the_internet_and_endpoints_take_https_from_the_vpc_only() -> None:
    records = records_of(cidr="10.8.0.0/18")
    groups = of_type(records, "aws:ec2/securityGroup:SecurityGroup") + of_type(records, "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup")
    assert groups
    for group in groups:
        for rule in group.inputs.get("ingress", []):
            assert "0.0.0.0/0" not in rule.get("cidrBlocks", []) and "::/0" not in rule.get("ipv6CidrBlocks", [])
    assert of_type(records, "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule") == []
    endpoints_sg = by_name(records)["llm-net-endpoints-sg"].inputs
    assert endpoints_sg["ingress"] == [
        {"cidrBlocks": ["10.8.0.0/18"], "description": "HTTPS from the VPC", "fromPort": 443, "protocol": "tcp", "toPort": 443}
    ]
    assert endpoints_sg["egress"] == []


def test_flow_logs_capture_all_traffic_into_an_encrypted_group_with_retention() -> None:
    records = by_name(records_of(flow_logs_retention_days=90))
    group = records["llm-net-flow-logs"].inputs
    assert group["kmsKeyId"] == KEY and group["retentionInDays"] == 90 and group["tags"] == TAGS
    flow = records["llm-net-flow-log"].inputs
    assert flow["trafficType"] == "ALL" and flow["logDestinationType"] == "cloud-watch-logs"
    assert flow["vpcId"].startswith("llm-net-vpc-")
    group_arn = f"arn:aws:cloudwatch:{REGION}:123456789012:llm-net-flow-logs"
    assert flow["logDestination"] == group_arn
    assert flow["iamRoleArn"] == f"arn:aws:iam:{REGION}:123456789012:llm-net-flow-logs-role"


def test_flow_logs_role_writes_only_to_its_log_group_and_trusts_only_flow_logs_of_this_account() -> None:
    records = by_name(records_of())
    group_arn = f"arn:aws:cloudwatch:{REGION}:123456789012:llm-net-flow-logs"
    policy = json.loads(records["llm-net-flow-logs-write"].inputs["policy"])
    assert records["llm-net-flow-logs-write"].inputs["role"].startswith("llm-net-flow-logs-role-")
    statements = policy["Statement"]
    assert statements == [
        {
            "Sid": "WriteFlowLogs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"],
            "Resource": f"{group_arn}:*",
        }
    ]
    assert all(s["Resource"] != "*" for s in statements)
    trust = json.loads(records["llm-net-flow-logs-role"].inputs["assumeRolePolicy"])["Statement"]
    assert trust == [
        {
            "Effect": "Allow",
            "Principal": {"Service": "vpc-flow-logs.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {
                "StringEquals": {"aws:SourceAccount": "123456789012"},
                "ArnLike": {"aws:SourceArn": f"arn:aws:ec2:{REGION}:123456789012:vpc-flow-log/*"},
            },
        }
    ]


def test_policies_are_pure_functions_of_the_arns() -> None:
    write = json.loads(flow_logs_write_policy("arn:aws:logs:us-east-1:111122223333:log-group:/vpc/flow"))
    assert write["Statement"][0]["Resource"] == "arn:aws:logs:us-east-1:111122223333:log-group:/vpc/flow:*"
    trust = json.loads(flow_logs_trust_policy("arn:aws-us-gov:ec2:us-gov-west-1:111122223333:vpc/vpc-1"))
    assert trust["Statement"][0]["Condition"]["ArnLike"]["aws:SourceArn"] == "arn:aws-us-gov:ec2:us-gov-west-1:111122223333:vpc-flow-log/*"


def test_outputs_list_subnets_and_zones_in_slot_order() -> None:
    captured: dict[str, Any] = {}

    def capture() -> None:
        provider = aws.Provider("aws", region=REGION)
        network = AwsNetwork(
            "llm-net",
            AwsNetworkArgs(labels=CommonLabels("prod", "prod"), region=REGION, log_key_arn=KEY, az_count=3),
            opts=pulumi.ResourceOptions(providers=[provider]),
        )
        pulumi.Output.all(
            network.vpc_id, network.vpc_cidr, network.private_subnet_ids, network.public_subnet_ids, network.availability_zones
        ).apply(lambda values: captured.update(zip(("vpc", "cidr", "private", "public", "zones"), values, strict=False)))

    run(capture, region=REGION)
    assert str(captured["vpc"]).startswith("llm-net-vpc-") and captured["cidr"] == "10.40.0.0/16"
    assert [s.rsplit("-", 1)[0] for s in captured["private"]] == ["llm-net-private-az1", "llm-net-private-az2", "llm-net-private-az3"]
    assert [s.rsplit("-", 1)[0] for s in captured["public"]] == ["llm-net-public-az1", "llm-net-public-az2", "llm-net-public-az3"]
    assert captured["zones"] == ["eu-west-1a", "eu-west-1b", "eu-west-1c"]


def test_more_zones_than_the_region_has_names_both_numbers() -> None:
    # Checked where the zone names arrive (the invoke's answer); tested directly, because a failed
    # registration under the mock runtime leaves unretrieved futures that asyncio prints at exit.
    assert pick_zone(["eu-west-1b", "eu-west-1a", "eu-west-1c"], 0, 3, REGION) == "eu-west-1a"
    with pytest.raises(
        ValueError, match=r"^az_count=4 but eu-west-1 has 3 available zones \(eu-west-1a, eu-west-1b, eu-west-1c\); lower az_count$"
    ):
        pick_zone(["eu-west-1c", "eu-west-1a", "eu-west-1b"], 3, 4, REGION)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"cidr": "10.40.0.0/24"}, "'10.40.0.0/24' is a /24; allowed: /16 to /20"),
        ({"az_count": 1}, "greater than or equal to 2"),
        ({"az_count": 7}, "less than or equal to 6"),
        ({"flow_logs_retention_days": 45}, "45 days is not a CloudWatch Logs retention; allowed: 1, 3, 5, 7, 14, 30, 60"),
        ({"log_key_arn": "alias/aws/logs"}, "'alias/aws/logs' is not a KMS key ARN"),
        ({"region": "europe"}, "'europe' is not an AWS region name"),
        ({"interface_endpoints": ("s3",)}, "'s3' is served by the gateway endpoint"),
        ({"interface_endpoints": ("sts", "sts")}, "'sts' is listed twice"),
        ({"interface_endpoints": ("ECR API",)}, "'ECR API' is not an endpoint service suffix"),
        ({"nat": True}, "Extra inputs are not permitted"),
    ],
)
def test_bad_args_are_refused_before_anything_registers(overrides: dict, message: str) -> None:
    args = {"labels": CommonLabels("prod", "prod"), "region": REGION, "log_key_arn": KEY, **overrides}
    with pytest.raises(ValidationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        AwsNetworkArgs(**args)


def test_log_key_may_come_from_another_resource() -> None:
    records = by_name(
        run(
            lambda: AwsNetwork(
                "llm-net",
                AwsNetworkArgs(
                    labels=CommonLabels("prod", "prod"),
                    region=REGION,
                    log_key_arn=aws.kms.Key("logs-key", opts=pulumi.ResourceOptions(provider=aws.Provider("aws", region=REGION))).arn,
                ),
                opts=pulumi.ResourceOptions(providers=[aws.Provider("aws2", region=REGION)]),
            ),
            region=REGION,
        )
    )
    assert records["llm-net-flow-logs"].inputs["kmsKeyId"] == f"arn:aws:kms:{REGION}:123456789012:logs-key"
