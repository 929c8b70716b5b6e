"""AwsNetwork: the VPC that GPU workloads (EKS nodes, GPU VMs, gateway tasks) run in.

Compute lives in large private subnets, one per zone; public subnets hold only load balancers and
NAT gateways (nothing gets a public IP by default). Traffic to AWS APIs the nodes need at start
(ECR, STS, Secrets Manager, CloudWatch Logs, SSM) stays inside the VPC through endpoints, S3 (model
weights, image layers) through the free gateway endpoint. Every packet is logged: VPC flow logs go to
a log group encrypted with the caller's KMS key, written by a role that can touch that group only.
The VPC's default security group is emptied so nothing can use it by accident.

The subnet plan is a pure function (`cidrs.subnet_plan`); zone names come from
`aws.get_availability_zones` and are picked per subnet by slot, so the resource tree is known from the
args alone.
"""

from __future__ import annotations

import dataclasses
import json
import re

import pulumi
import pulumi_aws as aws
from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..choices import listing
from ..labels import CommonLabels, aws_tags
from ..naming import child
from ..validation import AWS_REGION as _REGION
from ..validation import KMS_KEY_ARN as _KMS_KEY_ARN
from .cidrs import MAX_ZONES, SubnetPlan, check_vpc_cidr, subnet_plan

DEFAULT_INTERFACE_ENDPOINTS: tuple[str, ...] = (
    "ecr.api",
    "ecr.dkr",
    "sts",
    "secretsmanager",
    "logs",
    "ssm",
    "ssmmessages",
    "ec2messages",
)
"""What a private GPU node needs at start: pull images (ECR; layers come from S3 through the gateway
endpoint), assume roles (STS, for IRSA / pod identity), read secrets, ship logs, be reachable by SSM."""

# Retention values CloudWatch Logs accepts (PutRetentionPolicy).
LOG_RETENTION_DAYS: tuple[int, ...] = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
)  # fmt: skip

_SERVICE = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*(\.[a-z0-9]+(-[a-z0-9]+)*)*$")


class AwsNetworkArgs(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    labels: CommonLabels = Field(description="The common labels of the stack.")
    region: str = Field(description="The region the provider deploys to, e.g. us-east-1 (names the endpoint services).")
    log_key_arn: str | pulumi.Output[str] = Field(
        description=(
            "ARN of the KMS key that encrypts the flow-log group. Its key policy must let "
            "`logs.<region>.amazonaws.com` use it (kms:Encrypt*, kms:Decrypt*, kms:ReEncrypt*, "
            "kms:GenerateDataKey*, kms:Describe*)."
        )
    )
    cidr: str = Field(default="10.40.0.0/16", description="IPv4 range of the VPC, a private /16 to /20. Default 10.40.0.0/16.")
    az_count: int = Field(
        default=2, ge=2, le=MAX_ZONES, description=f"Availability zones to spread subnets over, 2 to {MAX_ZONES}. Default 2."
    )
    nat_per_az: bool = Field(
        default=False,
        description=("One NAT gateway per zone (no cross-zone dependency, higher cost) instead of one in the first zone. Default False."),
    )
    flow_logs_retention_days: int = Field(
        default=30, description="Days the flow logs are kept; one of CloudWatch Logs' retention values. Default 30."
    )
    interface_endpoints: tuple[str, ...] = Field(
        default=DEFAULT_INTERFACE_ENDPOINTS,
        description=(
            "Services reached through interface endpoints, as the suffix of `com.amazonaws.<region>.<svc>`. "
            "Default: ecr.api, ecr.dkr, sts, secretsmanager, logs, ssm, ssmmessages, ec2messages."
        ),
    )

    @field_validator("region")
    @classmethod
    def _region(cls, value: str) -> str:
        if not _REGION.match(value):
            raise ValueError(f"{value!r} is not an AWS region name; e.g. us-east-1, eu-west-1")
        return value

    @field_validator("cidr")
    @classmethod
    def _cidr(cls, value: str) -> str:
        return check_vpc_cidr(value)

    @field_validator("flow_logs_retention_days")
    @classmethod
    def _retention(cls, value: int) -> int:
        if value not in LOG_RETENTION_DAYS:
            raise ValueError(f"{value} days is not a CloudWatch Logs retention; allowed: {listing(LOG_RETENTION_DAYS)}")
        return value

    @field_validator("log_key_arn")
    @classmethod
    def _log_key(cls, value: str | pulumi.Output[str]) -> str | pulumi.Output[str]:
        if isinstance(value, str) and not _KMS_KEY_ARN.match(value):
            raise ValueError(f"{value!r} is not a KMS key ARN; e.g. arn:aws:kms:us-east-1:123456789012:key/<id>")
        return value

    @field_validator("interface_endpoints")
    @classmethod
    def _endpoints(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        seen: set[str] = set()
        for service in value:
            if not _SERVICE.match(service):
                raise ValueError(f"{service!r} is not an endpoint service suffix; e.g. ecr.api, sts, logs")
            if service == "s3":
                raise ValueError("'s3' is served by the gateway endpoint the network always creates; remove it")
            if service in seen:
                raise ValueError(f"{service!r} is listed twice")
            seen.add(service)
        return value


@dataclasses.dataclass(frozen=True)
class _Vpc:
    """What every step of AwsNetwork builds on: the component's name and args, tags, the address plan and the VPC."""

    name: str
    args: AwsNetworkArgs
    tags: dict[str, str]
    here: pulumi.ResourceOptions
    plan: SubnetPlan
    slots: tuple[str, ...]
    vpc: aws.ec2.Vpc

    def named(self, role: str, **more: str) -> dict[str, str]:
        """The tags of child `role`: the common ones, its Name, and `more`."""
        return {**self.tags, "Name": child(self.name, role), **more}


class AwsNetwork(pulumi.ComponentResource):
    vpc_id: pulumi.Output[str]
    vpc_cidr: pulumi.Output[str]
    private_subnet_ids: pulumi.Output[list[str]]
    public_subnet_ids: pulumi.Output[list[str]]
    availability_zones: pulumi.Output[list[str]]

    def __init__(self, name: str, args: AwsNetworkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("pulumi-llm:index:AwsNetwork", name, None, opts)
        tags = aws_tags(args.labels)
        here = pulumi.ResourceOptions(parent=self)
        plan = subnet_plan(args.cidr, args.az_count)
        vpc = aws.ec2.Vpc(
            child(name, "vpc"),
            cidr_block=plan.vpc,
            enable_dns_support=True,  # both required for private DNS of the interface endpoints
            enable_dns_hostnames=True,
            tags={**tags, "Name": child(name, "vpc")},
            opts=here,
        )
        d = _Vpc(name=name, args=args, tags=tags, here=here, plan=plan, slots=tuple(zone_slots(args.az_count)), vpc=vpc)
        aws.ec2.DefaultSecurityGroup(
            child(name, "default-sg"),
            vpc_id=vpc.id,
            ingress=[],  # adopting it removes every rule; none come back
            egress=[],
            tags=d.named("default-sg"),
            opts=here,
        )

        zones = aws.get_availability_zones_output(state="available", opts=pulumi.InvokeOptions(parent=self))
        zone_names = [zones.names.apply(lambda names, i=i: pick_zone(names, i, args.az_count, args.region)) for i in range(args.az_count)]

        igw = aws.ec2.InternetGateway(child(name, "igw"), vpc_id=vpc.id, tags=d.named("igw"), opts=here)
        private_subnets, public_subnets, internal_lb_subnets = self._subnets(d, zone_names)
        nats = self._nat_gateways(d, public_subnets, igw)
        private_tables = self._route_tables(d, igw, nats, private_subnets, public_subnets, internal_lb_subnets)
        self._endpoints(d, private_tables, private_subnets)
        self._flow_logs(d)

        self.vpc_id = vpc.id
        self.vpc_cidr = vpc.cidr_block
        # One Output per subnet too: consumers that need a known count of subnets (EKS) take these.
        self.private_subnet_id_list = [s.id for s in private_subnets]
        self.private_subnet_ids = pulumi.Output.all(*[s.id for s in private_subnets])
        self.public_subnet_ids = pulumi.Output.all(*[s.id for s in public_subnets])
        self.internal_lb_cidrs: tuple[str, ...] = plan.internal_lb
        """The internal load-balancer subnets' ranges: where an internal ALB's traffic to pods comes from."""
        self.availability_zones = pulumi.Output.all(*zone_names)
        self.register_outputs(
            {
                "vpc_id": self.vpc_id,
                "vpc_cidr": self.vpc_cidr,
                "private_subnet_ids": self.private_subnet_ids,
                "public_subnet_ids": self.public_subnet_ids,
                "availability_zones": self.availability_zones,
            }
        )

    def _subnets(
        self, d: _Vpc, zone_names: list[pulumi.Output[str]]
    ) -> tuple[list[aws.ec2.Subnet], list[aws.ec2.Subnet], list[aws.ec2.Subnet]]:
        """The private, public and internal load-balancer subnets, one of each per zone."""

        def subnet(role: str, cidr: str, zone: pulumi.Input[str], **tags: str) -> aws.ec2.Subnet:
            """A subnet whose instances never get a public address of their own."""
            return aws.ec2.Subnet(
                child(d.name, role),
                vpc_id=d.vpc.id,
                cidr_block=cidr,
                availability_zone=zone,
                map_public_ip_on_launch=False,
                tags=d.named(role, **tags),
                opts=d.here,
            )

        private_subnets: list[aws.ec2.Subnet] = []
        public_subnets: list[aws.ec2.Subnet] = []
        for slot, zone, private_cidr, public_cidr in zip(d.slots, zone_names, d.plan.private, d.plan.public, strict=False):
            private_subnets.append(subnet(f"private-{slot}", private_cidr, zone))
            # Only load balancers and NAT gateways live in the public subnets, and they get their
            # addresses explicitly: an instance launched there by mistake stays unreachable.
            public_subnets.append(subnet(f"public-{slot}", public_cidr, zone, **{"kubernetes.io/role/elb": "1"}))

        # Internal ALBs (the AWS Load Balancer Controller picks subnets by the internal-elb role tag)
        # get subnets of their own: with target-type ip they reach pods from these addresses, and no
        # pod ever has one, so the model servers' NetworkPolicy admits the ALB and not the whole VPC.
        internal_lb_subnets = [
            subnet(f"internal-lb-{slot}", lb_cidr, zone, **{"kubernetes.io/role/internal-elb": "1"})
            for slot, zone, lb_cidr in zip(d.slots, zone_names, d.plan.internal_lb, strict=False)
        ]
        return private_subnets, public_subnets, internal_lb_subnets

    def _nat_gateways(self, d: _Vpc, public_subnets: list[aws.ec2.Subnet], igw: aws.ec2.InternetGateway) -> dict[str, aws.ec2.NatGateway]:
        """A NAT gateway per zone (`nat_per_az`), else one in the first zone; by zone slot."""
        nat_slots = d.slots if d.args.nat_per_az else d.slots[:1]
        nats: dict[str, aws.ec2.NatGateway] = {}
        for slot, public in zip(nat_slots, public_subnets, strict=False):
            eip = aws.ec2.Eip(child(d.name, f"nat-eip-{slot}"), domain="vpc", tags=d.named(f"nat-eip-{slot}"), opts=d.here)
            nats[slot] = aws.ec2.NatGateway(
                child(d.name, f"nat-{slot}"),
                allocation_id=eip.id,  # a VPC EIP's id is its allocation id
                subnet_id=public.id,
                connectivity_type="public",
                tags=d.named(f"nat-{slot}"),
                # A public NAT gateway needs the Internet gateway attached before it can route.
                opts=pulumi.ResourceOptions(parent=self, depends_on=[igw]),
            )
        return nats

    def _route_tables(
        self,
        d: _Vpc,
        igw: aws.ec2.InternetGateway,
        nats: dict[str, aws.ec2.NatGateway],
        private_subnets: list[aws.ec2.Subnet],
        public_subnets: list[aws.ec2.Subnet],
        internal_lb_subnets: list[aws.ec2.Subnet],
    ) -> list[aws.ec2.RouteTable]:
        """Per zone: public subnets out through the Internet gateway, private and internal-LB ones through a NAT."""
        name, vpc, here, slots = d.name, d.vpc, d.here, d.slots
        private_tables: list[aws.ec2.RouteTable] = []
        for slot, private, public, internal_lb in zip(slots, private_subnets, public_subnets, internal_lb_subnets, strict=False):
            public_rt = aws.ec2.RouteTable(child(name, f"public-rt-{slot}"), vpc_id=vpc.id, tags=d.named(f"public-rt-{slot}"), opts=here)
            aws.ec2.Route(
                child(name, f"public-default-{slot}"),
                route_table_id=public_rt.id,
                destination_cidr_block="0.0.0.0/0",
                gateway_id=igw.id,
                opts=here,
            )
            aws.ec2.RouteTableAssociation(child(name, f"public-rta-{slot}"), subnet_id=public.id, route_table_id=public_rt.id, opts=here)

            private_rt = aws.ec2.RouteTable(child(name, f"private-rt-{slot}"), vpc_id=vpc.id, tags=d.named(f"private-rt-{slot}"), opts=here)
            nat = nats.get(slot, nats[slots[0]])  # own zone's NAT, else the single one in the first zone
            aws.ec2.Route(
                child(name, f"private-default-{slot}"),
                route_table_id=private_rt.id,
                destination_cidr_block="0.0.0.0/0",
                nat_gateway_id=nat.id,
                opts=here,
            )
            aws.ec2.RouteTableAssociation(child(name, f"private-rta-{slot}"), subnet_id=private.id, route_table_id=private_rt.id, opts=here)
            aws.ec2.RouteTableAssociation(
                child(name, f"internal-lb-rta-{slot}"), subnet_id=internal_lb.id, route_table_id=private_rt.id, opts=here
            )
            private_tables.append(private_rt)
        return private_tables

    def _endpoints(self, d: _Vpc, private_tables: list[aws.ec2.RouteTable], private_subnets: list[aws.ec2.Subnet]) -> None:
        """The S3 gateway endpoint, and the interface endpoints asked for behind an HTTPS-from-the-VPC group."""
        name, vpc, here = d.name, d.vpc, d.here
        # S3 (model weights, ECR image layers) through the gateway endpoint: free, and no NAT data charges.
        aws.ec2.VpcEndpoint(
            child(name, "endpoint-s3"),
            vpc_id=vpc.id,
            service_name=endpoint_service(d.args.region, "s3"),
            vpc_endpoint_type="Gateway",
            route_table_ids=[rt.id for rt in private_tables],
            tags=d.named("endpoint-s3"),
            opts=here,
        )
        if not d.args.interface_endpoints:
            return
        endpoint_sg = aws.ec2.SecurityGroup(
            child(name, "endpoints-sg"),
            vpc_id=vpc.id,
            description="HTTPS to the VPC interface endpoints from inside the VPC only",
            ingress=[
                {
                    "description": "HTTPS from the VPC",
                    "protocol": "tcp",
                    "from_port": 443,
                    "to_port": 443,
                    "cidr_blocks": [d.plan.vpc],
                }
            ],
            egress=[],  # endpoints only answer; security groups are stateful
            tags=d.named("endpoints-sg"),
            opts=here,
        )
        for service in d.args.interface_endpoints:
            role = f"endpoint-{service.replace('.', '-')}"
            aws.ec2.VpcEndpoint(
                child(name, role),
                vpc_id=vpc.id,
                service_name=endpoint_service(d.args.region, service),
                vpc_endpoint_type="Interface",
                private_dns_enabled=True,
                subnet_ids=[s.id for s in private_subnets],
                security_group_ids=[endpoint_sg.id],
                tags=d.named(role),
                opts=here,
            )

    def _flow_logs(self, d: _Vpc) -> None:
        """Every flow of the VPC to one (optionally KMS-encrypted) log group, through a role that writes only there."""
        name, tags, here = d.name, d.tags, d.here
        log_group = aws.cloudwatch.LogGroup(
            child(name, "flow-logs"),
            retention_in_days=d.args.flow_logs_retention_days,
            kms_key_id=d.args.log_key_arn,
            tags=tags,
            opts=here,
        )
        role = aws.iam.Role(
            child(name, "flow-logs-role"),
            description="VPC flow logs delivery to one log group",
            assume_role_policy=d.vpc.arn.apply(flow_logs_trust_policy),
            tags=tags,
            opts=here,
        )
        aws.iam.RolePolicy(
            child(name, "flow-logs-write"),
            role=role.id,
            policy=log_group.arn.apply(flow_logs_write_policy),
            opts=here,
        )
        aws.ec2.FlowLog(
            child(name, "flow-log"),
            vpc_id=d.vpc.id,
            traffic_type="ALL",
            log_destination_type="cloud-watch-logs",
            log_destination=log_group.arn,
            iam_role_arn=role.arn,
            max_aggregation_interval=60,
            tags=d.named("flow-log"),
            opts=here,
        )


def allow_tcp_between(
    *,
    egress_name: str,
    ingress_name: str,
    source: pulumi.Input[str],
    target: pulumi.Input[str],
    port: int,
    egress_description: str,
    ingress_description: str,
    opts: pulumi.ResourceOptions,
) -> None:
    """One TCP port from one security group to another: the source's egress rule and the target's
    ingress rule, each naming the other group (never a CIDR), as a pair so neither is forgotten."""
    aws.vpc.SecurityGroupEgressRule(
        egress_name,
        security_group_id=source,
        description=egress_description,
        ip_protocol="tcp",
        from_port=port,
        to_port=port,
        referenced_security_group_id=target,
        opts=opts,
    )
    aws.vpc.SecurityGroupIngressRule(
        ingress_name,
        security_group_id=target,
        description=ingress_description,
        ip_protocol="tcp",
        from_port=port,
        to_port=port,
        referenced_security_group_id=source,
        opts=opts,
    )


def allow_https_out(name: str, *, security_group: pulumi.Input[str], description: str, opts: pulumi.ResourceOptions) -> None:
    """HTTPS to anywhere and nothing else: providers, AWS APIs and registries are all on 443; DNS, time
    and instance metadata are link-local or VPC-internal and not filtered by security groups."""
    aws.vpc.SecurityGroupEgressRule(
        name,
        security_group_id=security_group,
        description=description,
        ip_protocol="tcp",
        from_port=443,
        to_port=443,
        cidr_ipv4="0.0.0.0/0",
        opts=opts,
    )


def zone_slots(count: int) -> list[str]:
    """Stable keys of the zone slots, `az1`…: slot i always owns the same subnets (see cidrs.py)."""
    return [f"az{i}" for i in range(1, count + 1)]


def endpoint_service(region: str, service: str) -> str:
    return f"com.amazonaws.{region}.{service}"


def pick_zone(names: list[str], index: int, wanted: int, region: str) -> str:
    """The zone of slot `index`: the available zones in name order, so the answer does not depend on
    the order the API lists them in."""
    ordered = sorted(names)
    if index >= len(ordered):
        raise ValueError(f"az_count={wanted} but {region} has {len(ordered)} available zones ({', '.join(ordered)}); lower az_count")
    return ordered[index]


def flow_logs_trust_policy(vpc_arn: str) -> str:
    """Trust policy: only the flow-logs service, only for flow logs of this VPC's account and region."""
    _, partition, _, region, account, _ = vpc_arn.split(":", 5)
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "vpc-flow-logs.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                    # Confused-deputy guard: the service may assume the role for our flow logs only.
                    "Condition": {
                        "StringEquals": {"aws:SourceAccount": account},
                        "ArnLike": {"aws:SourceArn": f"arn:{partition}:ec2:{region}:{account}:vpc-flow-log/*"},
                    },
                }
            ],
        },
        sort_keys=True,
    )


def flow_logs_write_policy(log_group_arn: str) -> str:
    """The delivery role's only permission: write streams of this one log group."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "WriteFlowLogs",
                    "Effect": "Allow",
                    "Action": ["logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"],
                    "Resource": f"{log_group_arn}:*",
                }
            ],
        },
        sort_keys=True,
    )
