"""The no-worker alerts' pure decisions: one window for every cloud (router_vm.decide_no_worker_window), Azure's
rounding to a window it accepts, GCP's chart and query naming of the router's series."""

from __future__ import annotations

import re

import pytest
from pulumi_llm.gpu_vm import azure, gcp, gcp_boot, router_vm


@pytest.mark.parametrize(
    ("grace", "window"),
    [(0, 300), (1, 600), (300, 600), (301, 900), (1281, 1800), (10**6, 86400)],
)
def test_the_window_is_past_the_grace_by_a_period_and_at_most_a_day(grace: int, window: int) -> None:
    assert router_vm.decide_no_worker_window(grace) == window
    assert window % router_vm.NO_WORKER_PERIOD_SECONDS == 0


def test_the_window_refuses_a_negative_grace_or_period() -> None:
    with pytest.raises(ValueError, match="grace_seconds -1"):
        router_vm.decide_no_worker_window(-1)
    with pytest.raises(ValueError, match="period 0"):
        router_vm.decide_no_worker_window(60, period=0)


@pytest.mark.parametrize(
    ("seconds", "size"),
    [(60, "PT1M"), (61, "PT5M"), (1800, "PT30M"), (1801, "PT1H"), (3900, "PT6H"), (86400, "PT24H"), (90000, "PT24H")],
)
def test_azure_rounds_the_window_up_to_one_it_accepts(seconds: int, size: str) -> None:
    assert azure.decide_window_size(seconds) == size


def test_gcp_names_a_scraped_series_as_the_ops_agent_writes_it() -> None:
    assert (
        gcp_boot.prometheus_metric_type("vllm_router_active_workers", "gauge")
        == "prometheus.googleapis.com/vllm_router_active_workers/gauge"
    )
    # Every router series the agent keeps has a kind: counters end in _total.
    assert set(router_vm.METRIC_KINDS) == set(router_vm.METRIC_NAMES)
    assert {n for n, k in router_vm.METRIC_KINDS.items() if k == "counter"} == {n for n in router_vm.METRIC_NAMES if n.endswith("_total")}


def test_gcp_router_charts_one_line_per_model_with_its_label() -> None:
    charts = gcp_boot.router_widgets({"b": "s-vm-b", "a": "s-vm-a"})
    assert len(charts) == len(gcp_boot.ROUTER_PANELS)
    for chart in charts:
        legends = [d["legendTemplate"] for d in chart["xyChart"]["dataSets"]]
        filters = [d["timeSeriesQuery"]["timeSeriesFilter"]["filter"] for d in chart["xyChart"]["dataSets"]]
        labels = [re.findall(r'metric\.labels\.deployment = "([^"]+)"', f) for f in filters]
        assert legends == ["a", "b"] and labels == [["s-vm-a"], ["s-vm-b"]]


def test_gcp_query_counts_a_silent_router_as_zero_and_needs_a_reporting_server() -> None:
    query = gcp.router_no_worker_query('d"x', "vllm:num_requests_waiting")
    assert query == (
        '(min(vllm_router_active_workers{deployment="d\\"x"}) or on() vector(0)) < 1 '
        'and on() (count(vllm:num_requests_waiting{deployment="d\\"x"}) > 0)'
    )
