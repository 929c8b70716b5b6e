"""What a cloud's cluster decides for shared code, one module per cloud: the GPU machine a model is sized on
(cluster_machines, read by serving.instance_type) and how its API server is exposed (cluster_endpoints, read
by ci_runner). Pure functions of the settings, tested without Pulumi."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from pulumi_llm import cluster_endpoints, cluster_machines
from pulumi_llm.errors import UserError
from pulumi_llm.sizing import get_instance_type


def _aws(capacity: str, families: list[str]) -> SimpleNamespace:
    cluster = SimpleNamespace(gpu_capacity=capacity, gpu_instance_families=families)
    return SimpleNamespace(aws=SimpleNamespace(cluster=cluster), region="us-east-1")


def _never():
    raise AssertionError("the fitting instance types were sized though no rule reads them")
    yield  # a generator: sizing would start only on the first next()


def test_karpenter_takes_the_cheapest_fitting_type_of_its_families():
    fitting = iter([get_instance_type("g5.xlarge", "aws"), get_instance_type("g6e.xlarge", "aws"), get_instance_type("g6.xlarge", "aws")])
    chosen = cluster_machines.aws.own_machine(_aws("karpenter", ["g6", "g6e"]), "m", fitting)  # type: ignore[arg-type]
    assert chosen is not None and chosen.name == "g6e.xlarge"


def test_karpenter_without_a_fitting_family_names_the_families_and_the_key():
    with pytest.raises(UserError, match=r"Karpenter families p5 in us-east-1 fits m;"):
        cluster_machines.aws.own_machine(_aws("karpenter", ["p5"]), "m", iter([get_instance_type("g6.xlarge", "aws")]))  # type: ignore[arg-type]


def test_a_managed_node_group_leaves_the_choice_to_the_model_and_sizes_nothing():
    assert cluster_machines.aws.own_machine(_aws("node-group", ["g6"]), "m", _never()) is None  # type: ignore[arg-type]


def test_gke_sizes_every_model_on_its_gpu_pool_and_checks_its_region():
    pool = SimpleNamespace(machine_type="g2-standard-8")
    settings = SimpleNamespace(gcp=SimpleNamespace(cluster=SimpleNamespace(gpu_pool=pool)), region="us-central1")
    chosen = cluster_machines.gcp.own_machine(settings, "m", _never())  # type: ignore[arg-type]
    assert chosen is not None and chosen.name == "g2-standard-8"
    with pytest.raises(UserError, match="g2-standard-8"):
        cluster_machines.gcp.own_machine(SimpleNamespace(gcp=settings.gcp, region="antarctica-south1"), "m", _never())  # type: ignore[arg-type]


def test_aks_imposes_no_machine():
    assert cluster_machines.azure.own_machine(SimpleNamespace(), "m", _never()) is None  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("cloud", "cluster", "expected"),
    [
        ("aws", {"endpoint_public": False, "public_access_cidrs": []}, False),
        ("aws", {"endpoint_public": True, "public_access_cidrs": ["203.0.113.0/24"]}, True),
        ("azure", {"private_cluster": True, "authorized_ip_ranges": []}, False),
        ("azure", {"private_cluster": False, "authorized_ip_ranges": ["203.0.113.0/24"]}, True),
    ],
)
def test_a_cluster_api_is_public_exactly_as_its_settings_say(cloud, cluster, expected):
    public, allowed = cluster_endpoints.BY_CLOUD[cloud].exposure(cluster)
    assert public is expected
    if expected:
        assert allowed == ("203.0.113.0/24",)


def test_every_api_server_is_named_for_messages():
    names = {cloud: api.api_server for cloud, api in cluster_endpoints.BY_CLOUD.items()}
    assert names == {"aws": "the EKS API server", "gcp": "the GKE API server", "azure": "the AKS API server"}
