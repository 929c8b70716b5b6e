"""The whole stack configuration, as one tree of frozen pydantic models.

This package is the only reader of Pulumi config (docs/ARCHITECTURE.md, "Components read nothing
global"). Every key lives under the `pulumi-llm` namespace, so
`pulumi config set --path pulumi-llm:serving.replicas.max 4` is the natural way to change a value.
Validation is pure: no network, no cloud calls, no environment reads.

A bad value becomes one line that names the file, the key path, the value and what is allowed:

    stacks/Pulumi.prod.yaml: pulumi-llm:serving.replicas.max = 1: must be >= replicas.min (2)

The tree is split by where each subtree applies; this package re-exports every name, so
`from pulumi_llm.settings import X` is the way in:

    core.py      namespace, clouds and methods, the strict base model, Label and DNS names
    models.py    `models` (one served model) and `serving` (replicas, autoscaling, alerts)
    gateway.py   `gateway`: models clients call, routes, consumers, timeouts
    edge.py      `edge`: the edge image build and rollout
    onprem.py    `onprem`: the existing cluster and its add-ons
    aws.py / gcp.py / azure.py   the per-cloud subtrees
    ci.py        `ci`: the runner CI previews and deploys from
    root.py      `Settings`, the root, with the rules that span subtrees
    loading.py   load / from_pulumi, the one-line messages, the stack file's JSON Schema
"""

from ..deprecated import module_aliases
from ..errors import UserError
from ..runtimes.spec import Runtime
from .aws import RENAMED as _AWS_RENAMED
from .aws import AwsClusterSettings, AwsGpuVmSettings, AwsModelTlsSettings, AwsNetworkSettings, AwsScaleSchedule, AwsSettings
from .azure import (
    APIM_V2_SKUS,
    AzureClusterSettings,
    AzureGatewaySettings,
    AzureGpuPoolSettings,
    AzureGpuVmSettings,
    AzureNetworkSettings,
    AzureOpenAIDeploymentSettings,
    AzureScaleSchedule,
    AzureSettings,
)
from .ci import SELF_HOSTED_LABEL, CiSettings, RunnerLabel
from .core import CLOUD_OF_METHOD, NAMESPACE, SELF_HOSTING, Cloud, FieldProblem, Label, Method
from .edge import DigestRef, EdgeJetsonFleet, EdgeSettings
from .gateway import ConsumerSettings, GatewaySettings, GatewayTimeouts, ModelGroupSettings, Provider, RouteSettings
from .gcp import GcpClusterSettings, GcpGatewaySettings, GcpGpuPoolSettings, GcpGpuVmSettings, GcpNetworkSettings, GcpSettings
from .loading import from_pulumi, load, raw_settings, stack_file_schema
from .models import AlertSettings, AutoscalingSettings, CustomModel, ModelSettings, Replicas, ServingSettings
from .onprem import AddOn, GpuOperatorSettings, IngressSettings, OnPremGpus, OnPremSettings, PrometheusSettings
from .root import Settings

__all__ = [
    "APIM_V2_SKUS",
    "AddOn",
    "AlertSettings",
    "AutoscalingSettings",
    "AwsClusterSettings",
    "AwsGpuVmSettings",
    "AwsModelTlsSettings",
    "AwsNetworkSettings",
    "AwsScaleSchedule",
    "AwsSettings",
    "AzureClusterSettings",
    "AzureGatewaySettings",
    "AzureGpuPoolSettings",
    "AzureGpuVmSettings",
    "AzureNetworkSettings",
    "AzureOpenAIDeploymentSettings",
    "AzureScaleSchedule",
    "AzureSettings",
    "CLOUD_OF_METHOD",
    "CiSettings",
    "Cloud",
    "ConsumerSettings",
    "CustomModel",
    "DigestRef",
    "EdgeJetsonFleet",
    "EdgeSettings",
    "FieldProblem",
    "GatewaySettings",
    "GatewayTimeouts",
    "GcpClusterSettings",
    "GcpGatewaySettings",
    "GcpGpuPoolSettings",
    "GcpGpuVmSettings",
    "GcpNetworkSettings",
    "GcpSettings",
    "GpuOperatorSettings",
    "IngressSettings",
    "Label",
    "Method",
    "ModelGroupSettings",
    "ModelSettings",
    "NAMESPACE",
    "OnPremGpus",
    "OnPremSettings",
    "PrometheusSettings",
    "Provider",
    "Replicas",
    "RouteSettings",
    "RunnerLabel",
    "Runtime",
    "SELF_HOSTED_LABEL",
    "SELF_HOSTING",
    "ServingSettings",
    "Settings",
    "UserError",
    "from_pulumi",
    "load",
    "raw_settings",
    "stack_file_schema",
]

# The AWS settings classes by their names before 0.2.0, with a DeprecationWarning (settings.aws.RENAMED).
__getattr__ = module_aliases(__name__, globals(), _AWS_RENAMED)
