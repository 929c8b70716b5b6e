"""What a Prometheus exporter writes at its pinned version: the type of the exporter facts.

A plain data type with no imports of the package, so that each runtime module declares the exporter facts
of its own server (`RuntimeInfo.exporters`, beside its metric names and image) and `verify/facts/exporters.py`
holds the others (dcgm-exporter, kube-state-metrics, the scrape's own series); the `observability.*` rules
read both through `verify/facts/exporters.py`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

COUNTER = "counter"
GAUGE = "gauge"
HISTOGRAM = "histogram"
INFO = "info"
"""A gauge held at 1 whose labels carry the data (vLLM's `*_info`, DCGM's label fields)."""

HISTOGRAM_SERIES = ("_bucket", "_sum", "_count")
"""The series a histogram named `x` is stored as: `x_bucket` (with `le`), `x_sum`, `x_count`."""


@dataclass(frozen=True)
class Exporter:
    """One exporter at its pinned version, as it writes /metrics (before any scrape)."""

    name: str
    version: str
    source: str
    """Upstream repository, file and tag the names and labels were read at."""
    metrics: Mapping[str, str]
    """Metric (family) name → type. Counters are named as exposed (`_total` where the exporter adds it);
    histograms by their family name (the series add HISTOGRAM_SERIES)."""
    labels: frozenset[str]
    """Labels on every series the exporter writes."""
    metric_labels: Mapping[str, frozenset[str]] = field(default_factory=lambda: MappingProxyType({}))
    """Extra labels on particular families."""
    unshared: frozenset[str] = frozenset()
    """Families that do not carry `labels` (only their `metric_labels`), e.g. Triton's per-GPU families."""
    image_markers: tuple[str, ...] = ()
    """Substrings of the exporter's image or chart name: how a plan shows it runs the exporter."""

    def family(self, series: str) -> str | None:
        """The family a stored series belongs to (`x_bucket` → `x` for a histogram), or None."""
        if series in self.metrics:
            return series
        for suffix in HISTOGRAM_SERIES:
            base = series.removesuffix(suffix)
            if base != series and self.metrics.get(base) == HISTOGRAM:
                return base
        return None

    def series_type(self, series: str) -> str | None:
        """The type of one stored series: a histogram's `_bucket`/`_sum`/`_count` are counters."""
        family = self.family(series)
        if family is None:
            return None
        kind = self.metrics[family]
        return COUNTER if kind == HISTOGRAM and family != series else kind

    def series_labels(self, series: str) -> frozenset[str]:
        family = self.family(series)
        extra = self.metric_labels.get(family or "", frozenset())
        le = frozenset({"le"}) if family and series == family + "_bucket" else frozenset[str]()
        shared = frozenset[str]() if family in self.unshared else self.labels
        return shared | extra | le
