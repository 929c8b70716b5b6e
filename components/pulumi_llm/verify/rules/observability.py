"""observability.*: every PromQL expression of a plan parses and selects series that exist as scraped.

Where PromQL lives in a plan: PrometheusRule groups and GMP Rules/ClusterRules/GlobalRules (`expr`),
Grafana dashboards in ConfigMaps (each target's `expr`), KEDA ScaledObject `prometheus` triggers
(`metadata.query`), prometheus-adapter rules (`seriesQuery`, and `metricsQuery` with its templates
filled in), GCP alert policies (`conditionPrometheusQueryLanguage.query`) and Azure Monitor
Prometheus rule groups (`rules[].expression`). Each is parsed with the real parser (promql-parser, the
Rust port of Prometheus' grammar), then each selector is checked against `facts/exporters`: the metric
exists at the pinned exporter version and survives the scrape, and each label it matches or groups by is
one the series carries *after* the scrape added its target labels (and renamed clashing exporter labels
to `exported_*`).

Rules:
- observability.promql-parses     the expression parses (Grafana variables substituted first);
- observability.metric-exists     each metric is emitted by an exporter the stack runs, and kept by the scrape;
- observability.label-exists      each matcher / grouping label exists on those series as scraped;
- observability.workload-label    a matcher on `pod`/`namespace`/`container` of an exporter that names
                                  the workload in those labels (dcgm-exporter, kube-state-metrics)
                                  while the scrape renamed them to exported_*: it selects the exporter's
                                  own pod, so a GPU alert never fires and a GPU panel stays empty;
- observability.counter-function  rate()/irate()/increase()/resets() over a gauge;
- observability.last-value-gauge  a gauge whose value is a code (DCGM's last XID) used as a level.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import promql_parser
import yaml

from ..facts import exporters as ex
from ..plain import array_at, dig, is_object, object_at
from ..report import Violation
from ..view import PlanView
from .registry import RUN, rule, violation

PARSES = "observability.promql-parses"
METRIC = "observability.metric-exists"
LABEL = "observability.label-exists"
WORKLOAD = "observability.workload-label"
COUNTER_FN = "observability.counter-function"
LAST_VALUE = "observability.last-value-gauge"

COUNTER_FUNCTIONS = frozenset({"rate", "irate", "increase", "resets"})
LABEL_WRITERS = frozenset({"label_replace", "label_join"})
GMP_RULE_KINDS = frozenset({"Rules", "ClusterRules", "GlobalRules"})
GMP_GROUP = "monitoring.googleapis.com"


# ---- expressions and where they run -----------------------------------------------------------------------
@dataclass(frozen=True)
class Source:
    """Which series an expression can see: the exporters behind them and how each was scraped."""

    scrapes: Mapping[str, ex.Scrape]
    """Exporter name → its scrape."""
    exporters: tuple[ex.Exporter, ...]
    static_labels: frozenset[str] = frozenset()
    """Labels a scrape config adds to every series (static_configs labels)."""
    keep: re.Pattern[str] | None = None
    """A metric_relabel `keep` on __name__: series it does not match are dropped at the scrape."""


@dataclass(frozen=True)
class Expression:
    resource: str
    where: str
    text: str
    source: Source = field(compare=False)


_GRAFANA_RANGE = re.compile(r"\$(__rate_interval|__interval|__range)\b|\$\{(__rate_interval|__interval|__range)\}")
_GRAFANA_VARIABLE = re.compile(r"\$\{[^}]*\}|\$[A-Za-z_]\w*|\[\[[^\]]*\]\]")


def substitute_grafana(expr: str) -> str:
    """A dashboard expression with Grafana's variables replaced by values Prometheus would see: the range
    variables by a duration, every other variable by a plain word (they appear in label values)."""
    expr = _GRAFANA_RANGE.sub("5m", expr)
    return _GRAFANA_VARIABLE.sub("grafana_variable", expr)


_SERIES_NAME = re.compile(r'__name__\s*=~?\s*"([^"]+)"|^\s*([A-Za-z_:][\w:]*)')


def adapter_query(adapter_rule: Mapping[str, Any]) -> str:
    """A prometheus-adapter rule's metricsQuery as the adapter sends it: <<.Series>> the series' name,
    <<.LabelMatchers>> a matcher per resource label (`resources.overrides`), <<.GroupBy>> those labels."""
    found = _SERIES_NAME.search(str(adapter_rule.get("seriesQuery", "")))
    series = next((g for g in (found.groups() if found else ()) if g), "adapter_series")
    labels = sorted(object_at(object_at(adapter_rule, "resources"), "overrides").keys()) or ["namespace"]
    matchers = ",".join(f'{label}="adapter_value"' for label in labels)
    return (
        str(adapter_rule.get("metricsQuery", ""))
        .replace("<<.Series>>", series)
        .replace("<<.LabelMatchers>>", matchers)
        .replace("<<.GroupBy>>", ", ".join(labels))
    )


def _stack_text(view: PlanView) -> str:
    return json.dumps([view.resources, view.manifests], default=str)


def _chart_honor_labels(view: PlanView) -> dict[str, bool]:
    """Exporter name → the honorLabels its chart's ServiceMonitor gets from the plan's values (the
    chart's default where the values leave it unset)."""
    found: dict[str, bool] = {}
    for release in view.helm_releases():
        chart = str(release["inputs"].get("chart") or "").rsplit("/", 1)[-1]
        if chart not in ex.HONOR_LABELS_DEFAULTS:
            continue
        path, default = ex.HONOR_LABELS_DEFAULTS[chart]
        value = dig(release["inputs"].get("values") or {}, path)
        found[ex.CHART_EXPORTER[chart].name] = default if value is None else bool(value)
    return found


def _model_servers(view: PlanView) -> tuple[ex.Exporter, ...]:
    """The model-server exporters whose image the plan runs (a container image, or a VM's cloud-init).
    vLLM and Triton's vLLM backend share metric names under different labels, so which one runs decides
    which labels a `vllm:` series has."""
    text = _stack_text(view)
    return tuple(e for e in ex.MODEL_SERVERS if any(marker in text for marker in e.image_markers))


def _service_monitor_honors(view: PlanView) -> bool:
    """Whether the model servers' ServiceMonitors honour the exporters' labels."""
    return any(
        endpoint.get("honorLabels") is True
        for obj in view.objects("ServiceMonitor")
        for endpoint in array_at(object_at(obj, "spec"), "endpoints")
    )


def cluster_source(view: PlanView) -> Source:
    """A Prometheus in the cluster that scrapes through the Prometheus Operator's ServiceMonitors."""
    honors = _chart_honor_labels(view)
    servers = _model_servers(view)
    server_scrape = ex.service_monitor(_service_monitor_honors(view))
    scrapes: dict[str, ex.Scrape] = {e.name: server_scrape for e in servers}
    for exporter, default in ((ex.DCGM_EXPORTER, False), (ex.KUBE_STATE_METRICS, True)):
        scrapes[exporter.name] = ex.service_monitor(honors.get(exporter.name, default))
    scrapes[ex.SCRAPE_SERIES.name] = ex.service_monitor()
    return Source(scrapes, (*servers, ex.DCGM_EXPORTER, ex.KUBE_STATE_METRICS, ex.SCRAPE_SERIES))


def gmp_source(view: PlanView) -> Source:
    """Managed Service for Prometheus: every target scraped by a PodMonitoring."""
    exporters = (*_model_servers(view), ex.DCGM_EXPORTER, ex.KUBE_STATE_METRICS, ex.SCRAPE_SERIES)
    scrapes = {e.name: ex.GMP_POD_MONITORING for e in exporters}
    scrapes[ex.KUBE_STATE_METRICS.name] = ex.GKE_MANAGED_STATE_METRICS
    return Source(scrapes, exporters)


def _uses_gmp(view: PlanView) -> bool:
    """The stack scrapes with GMP's PodMonitoring rather than the Prometheus Operator's ServiceMonitor
    (then dashboards, too, read what GMP stored)."""
    return any(view.objects("PodMonitoring")) and not any(view.objects("ServiceMonitor"))


def _ops_agent_scrape_configs(view: PlanView) -> Iterator[dict[str, Any]]:
    """The Prometheus scrape configs of the Ops Agent configurations the VMs' cloud-init writes."""
    for r in view.of_type("gcp:compute/instanceTemplate:InstanceTemplate", "gcp:compute/instance:Instance"):
        user_data = object_at(r["inputs"], "metadata").get("user-data") or ""
        try:
            cloud_config = yaml.safe_load(user_data) if isinstance(user_data, str) else None
        except yaml.YAMLError:
            continue
        files = array_at(cloud_config, "write_files") if is_object(cloud_config) else []
        for file in files:
            if not str(file.get("path", "")).endswith("ops-agent.yaml"):
                continue
            config: dict[str, Any] = yaml.safe_load(file.get("content") or "") or {}
            for receiver in object_at(object_at(config, "metrics"), "receivers").values():
                if receiver.get("type") == "prometheus":
                    yield from array_at(object_at(receiver, "config"), "scrape_configs")


def ops_agent_source(view: PlanView) -> Source:
    """Cloud Monitoring PromQL over what the VMs' Ops Agent scrapes from the model server."""
    servers = _model_servers(view)
    static: set[str] = set()
    keeps: list[str] = []
    for config in _ops_agent_scrape_configs(view):
        for target in array_at(config, "static_configs"):
            static |= set(object_at(target, "labels").keys())
        for relabel in array_at(config, "metric_relabel_configs"):
            if relabel.get("action") == "keep" and relabel.get("source_labels") == ["__name__"]:
                keeps.append(relabel.get("regex") or "(.*)")
    keep = re.compile("|".join(f"(?:{k})" for k in keeps)) if keeps else None
    exporters = (*servers, ex.SCRAPE_SERIES)
    return Source({e.name: ex.OPS_AGENT_PROMETHEUS for e in exporters}, exporters, frozenset(static), keep)


LOG_METRIC_TYPE = "gcp:logging/metric:Metric"
_RESOURCE_TYPE = re.compile(r'resource\.type\s*=\s*"([a-z_]+)"')


def log_metrics_exporter(view: PlanView) -> ex.Exporter | None:
    """The plan's log-based counters as one exporter: each `logging.googleapis.com/user/<name>` under its PromQL
    name (first `/` → `:`, other special characters → `_`), with its labelExtractors' labels and its filter's
    resource type's labels."""
    metrics: dict[str, str] = {}
    labels: dict[str, frozenset[str]] = {}
    for r in view.of_type(LOG_METRIC_TYPE):
        inputs = r["inputs"]
        name = "logging_googleapis_com:" + re.sub(r"[^A-Za-z0-9_]", "_", "user/" + str(inputs.get("name") or r["name"]))
        resource = _RESOURCE_TYPE.search(str(inputs.get("filter") or ""))
        metrics[name] = ex.COUNTER
        labels[name] = frozenset(object_at(inputs, "labelExtractors")) | ex.LOG_RESOURCE_LABELS.get(
            resource.group(1) if resource else "", frozenset()
        )
    if not metrics:
        return None
    return ex.Exporter(
        name=ex.LOG_BASED_METRIC.name,
        version="-",
        source=ex.LOG_BASED_METRIC.source,
        metrics=metrics,
        labels=frozenset(),
        metric_labels=labels,
    )


def _with_log_metrics(source: Source, view: PlanView) -> Source:
    """`source` plus the plan's log-based counters (Cloud Monitoring PromQL sees both)."""
    logs = log_metrics_exporter(view)
    if logs is None:
        return source
    return Source({**source.scrapes, logs.name: ex.LOG_BASED_METRIC}, (*source.exporters, logs), source.static_labels, source.keep)


def _dashboard_exprs(board: Any) -> Iterator[tuple[str, str]]:
    """(panel title, expr) of every target, rows' nested panels included."""
    for panel in array_at(board or {}, "panels"):
        for target in array_at(panel, "targets"):
            if isinstance(target.get("expr"), str):
                yield panel.get("title", ""), target["expr"]
        yield from _dashboard_exprs(panel)


def expressions(view: PlanView) -> Iterator[Expression]:
    """Every PromQL expression the plan hands to an evaluator, with the series it will see."""
    cluster = cluster_source(view)
    gmp = gmp_source(view)
    dashboards = gmp if _uses_gmp(view) else cluster
    for obj in view.objects("PrometheusRule", *GMP_RULE_KINDS):
        gmp_rules = obj["kind"] in GMP_RULE_KINDS and str(obj.get("apiVersion", "")).startswith(GMP_GROUP)
        name = f"{obj['kind']} {obj['metadata'].get('namespace', '')}/{obj['metadata']['name']}"
        for group in array_at(object_at(obj, "spec"), "groups"):
            for r in array_at(group, "rules"):
                label = r.get("alert") or r.get("record") or "?"
                yield Expression(name, f"{group.get('name')}/{label}", str(r.get("expr", "")), gmp if gmp_rules else cluster)
    for obj in view.objects("ConfigMap"):
        name = f"ConfigMap {obj['metadata'].get('namespace', '')}/{obj['metadata']['name']}"
        for key, text in object_at(obj, "data").items():
            if not key.endswith(".json"):
                continue
            try:
                board = json.loads(text)
            except (TypeError, ValueError):
                continue
            for title, expr in _dashboard_exprs(board):
                yield Expression(name, f"{key}: panel {title!r}", substitute_grafana(expr), dashboards)
    for obj in view.objects("ScaledObject"):
        name = f"ScaledObject {obj['metadata'].get('namespace', '')}/{obj['metadata']['name']}"
        for trigger in array_at(object_at(obj, "spec"), "triggers"):
            if trigger.get("type") != "prometheus":
                continue
            meta = object_at(trigger, "metadata")
            source = gmp if GMP_GROUP in str(meta.get("serverAddress", "")) else cluster
            yield Expression(name, f"trigger {trigger.get('name', '?')}", str(meta.get("query", "")), source)
    ops_agent = None
    for policy in view.of_type("gcp:monitoring/alertPolicy:AlertPolicy"):
        for condition in array_at(policy["inputs"], "conditions"):
            promql = condition.get("conditionPrometheusQueryLanguage")
            if promql:
                ops_agent = ops_agent or _with_log_metrics(ops_agent_source(view), view)
                yield Expression(
                    policy["name"], f"condition {condition.get('displayName', '?')!r}", str(promql.get("query", "")), ops_agent
                )
    for release in view.helm_releases():
        if str(release["inputs"].get("chart") or "").rsplit("/", 1)[-1] != "prometheus-adapter":
            continue
        rules: list[Any] = dig(object_at(release["inputs"], "values"), ("rules", "custom")) or []
        for i, r in enumerate(rules):
            where = f"rules.custom[{i}]"
            yield Expression(release["name"], f"{where}.seriesQuery", str(r.get("seriesQuery", "")), cluster)
            yield Expression(release["name"], f"{where}.metricsQuery", adapter_query(r), cluster)
    # Azure Monitor rule groups read the workspace the in-cluster Prometheus remote-writes to (the
    # `azure-monitor` metrics option): the series as that Prometheus stored them.
    for group in view.of_type("azure-native:alertsmanagement:PrometheusRuleGroup"):
        for i, r in enumerate(array_at(group["inputs"], "rules")):
            yield Expression(group["name"], f"rules[{i}] {r.get('alert') or r.get('record') or ''}", str(r.get("expression", "")), cluster)


# ---- the AST ----------------------------------------------------------------------------------------------
def parse(text: str) -> Any:
    """The AST, or raises ValueError with the parser's message."""
    try:
        return promql_parser.parse(text)
    except Exception as error:  # the parser raises ValueError; anything else is a parse failure too
        raise ValueError(str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__) from error


@dataclass(frozen=True)
class Selector:
    name: str
    matchers: tuple[tuple[str, str], ...]
    """(label, op) of every matcher but the name."""
    inside: tuple[str, ...]
    """Names of the calls this selector sits in, innermost first."""


def _children(node: Any) -> list[Any]:
    if isinstance(node, promql_parser.BinaryExpr):
        return [node.lhs, node.rhs]
    if isinstance(node, promql_parser.AggregateExpr):
        return [node.expr] + ([node.param] if node.param is not None else [])
    if isinstance(node, promql_parser.Call):
        return list(node.args)
    if isinstance(node, promql_parser.MatrixSelector):
        return [node.vector_selector]
    if isinstance(node, promql_parser.ParenExpr | promql_parser.UnaryExpr | promql_parser.SubqueryExpr):
        return [node.expr]
    return []


def _matchers(vs: Any) -> tuple[str | None, tuple[tuple[str, str], ...]]:
    name = vs.name
    out: list[tuple[str, str]] = []
    groups = [vs.matchers.matchers, *vs.matchers.or_matchers]
    for group in groups:
        for m in group:
            if m.name == "__name__":
                name = name or m.value
            else:
                out.append((m.name, str(m.op)))
    return name, tuple(out)


def selectors(node: Any, inside: tuple[str, ...] = ()) -> Iterator[Selector]:
    if isinstance(node, promql_parser.VectorSelector):
        name, matchers = _matchers(node)
        if name:
            yield Selector(name, matchers, inside)
        return
    if isinstance(node, promql_parser.Call):
        inside = (node.func.name, *inside)
    for child in _children(node):
        yield from selectors(child, inside)


def written_labels(node: Any) -> set[str]:
    """Labels label_replace / label_join calls in the subtree write (their first string argument)."""
    out: set[str] = set()
    if isinstance(node, promql_parser.Call) and node.func.name in LABEL_WRITERS and len(node.args) > 1:
        if isinstance(node.args[1], promql_parser.StringLiteral):
            out.add(node.args[1].val)
    for child in _children(node):
        out |= written_labels(child)
    return out


def groupings(node: Any) -> Iterator[tuple[str, tuple[str, ...], list[Any]]]:
    """(clause, labels, the subtrees the labels must come from) for by/without and on/ignoring/group_x."""
    if isinstance(node, promql_parser.AggregateExpr) and node.modifier is not None and node.modifier.labels:
        yield f"{node.op} {str(node.modifier.type).rsplit('.', 1)[-1].lower()}", tuple(node.modifier.labels), [node.expr]
    if isinstance(node, promql_parser.BinaryExpr) and node.modifier is not None:
        matching = node.modifier.matching
        if matching is not None and matching.labels:
            yield f"{node.op} {str(matching.type).rsplit('.', 1)[-1].lower()}", tuple(matching.labels), [node.lhs, node.rhs]
        # group_left(labels) copies `labels` from the right-hand ("one") side onto each left-hand series, and
        # group_right from the left: the labels must exist on that side (Prometheus docs, "Many-to-one and
        # one-to-many vector matches"). promql_parser keeps them in `group_labels`, the side in `card`.
        extra = tuple(node.modifier.group_labels or ())
        if extra:
            many_to_one = node.modifier.card == promql_parser.VectorMatchCardinality.ManyToOne
            yield ("group_left" if many_to_one else "group_right"), extra, [node.rhs if many_to_one else node.lhs]
    for child in _children(node):
        yield from groupings(child)


# ---- checks -----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Candidate:
    exporter: ex.Exporter
    scrape: ex.Scrape

    def labels(self, series: str, static: frozenset[str]) -> frozenset[str]:
        return self.scrape.labels(self.exporter.series_labels(series)) | static | {"__name__"}

    def renamed(self, series: str) -> dict[str, str]:
        """Exporter labels the scrape stored under another name (label → exported_label)."""
        stored = self.scrape.stored(self.exporter.series_labels(series))
        return {label: name for label, name in stored.items() if name != label}


def candidates(source: Source, series: str) -> list[Candidate]:
    return [Candidate(e, source.scrapes[e.name]) for e in source.exporters if e.family(series) is not None]


def _known_anywhere(series: str) -> list[str]:
    return [e.name for e in ex.EXPORTERS if e.family(series) is not None]


def _series_labels(source: Source, node: Any) -> set[str]:
    out: set[str] = set(written_labels(node))
    for sel in selectors(node):
        for c in candidates(source, sel.name):
            out |= c.labels(sel.name, source.static_labels)
    return out


@dataclass(frozen=True)
class Finding:
    rule: str
    why: str


def check(expression: Expression) -> list[Finding]:
    """Every finding for one expression (pure: used by the rules and by tests)."""
    try:
        ast = parse(expression.text)
    except ValueError as error:
        return [Finding(PARSES, f"{expression.text!r} does not parse: {error}")]
    source = expression.source
    found: list[Finding] = []
    all_known = True
    for sel in selectors(ast):
        cands = candidates(source, sel.name)
        if not cands:
            all_known = False
            elsewhere = _known_anywhere(sel.name)
            found.append(
                Finding(
                    METRIC,
                    (
                        f"{sel.name} is emitted by {', '.join(elsewhere)}, which this stack does not run"
                        if elsewhere
                        else f"no exporter the stack runs emits {sel.name} (a misspelt or renamed metric)"
                    ),
                )
            )
            continue
        scraped = [c for c in cands if c.scrape.name != ex.LOG_BASED_METRIC.name]  # a log metric is no scrape's to drop
        if source.keep is not None and scraped and not source.keep.fullmatch(sel.name):
            found.append(Finding(METRIC, f"{sel.name} is dropped by the scrape's metric_relabel keep ({source.keep.pattern})"))
        allowed = set[str]().union(*(c.labels(sel.name, source.static_labels) for c in cands))
        renamed = {label: name for c in cands for label, name in c.renamed(sel.name).items()}
        for label, _op in sel.matchers:
            if label in renamed and label in ex.WORKLOAD_LABELS:
                found.append(
                    Finding(
                        WORKLOAD,
                        (
                            f"{sel.name}{{{label}…}}: the {cands[0].scrape.name} scrape stores the exporter's {label} "
                            f"(the workload's) as {renamed[label]}; {label} is the exporter's own, so this never matches the workload"
                        ),
                    )
                )
            elif label not in allowed:
                found.append(
                    Finding(LABEL, (f"{sel.name} has no label {label!r} as scraped ({', '.join(sorted(allowed - {'__name__'}))})"))
                )
        types = {c.exporter.series_type(sel.name) for c in cands}
        if sel.inside and sel.inside[0] in COUNTER_FUNCTIONS and types == {ex.GAUGE}:
            found.append(Finding(COUNTER_FN, f"{sel.inside[0]}() over {sel.name}, a gauge: use the value (or deriv/delta)"))
        family = cands[0].exporter.family(sel.name)
        if family is not None and family in ex.LAST_VALUE_GAUGES:
            code_label, reason = ex.LAST_VALUE_GAUGES[family]
            if code_label not in {label for label, _ in sel.matchers}:
                found.append(Finding(LAST_VALUE, f"{sel.name} {reason}; select the codes by {code_label}"))
    if all_known:
        for clause, labels, subtrees in groupings(ast):
            available = set[str]().union(*(_series_labels(source, s) for s in subtrees))
            for label in labels:
                if label not in available:
                    found.append(Finding(LABEL, f"{clause} ({label}): no series of the expression carries {label!r} as scraped"))
    return found


_FINDINGS: dict[object, list[tuple[Expression, Finding]]] = {}


def _fingerprint(view: PlanView) -> str:
    return hashlib.sha256(
        json.dumps([view.stack, view.settings, view.resources, view.manifests], sort_keys=True, default=str).encode()
    ).hexdigest()


def _findings(view: PlanView) -> list[tuple[Expression, Finding]]:
    """Every finding of every expression of the plan, computed once for the six rules below. Keyed by the pass of
    run_rules and the view (registry.RUN: the view doesn't change while its rules run), or, for a rule called on
    its own, by the plan's content, not the object: a view is mutable (a seed changes one thing and runs the
    rules again). Serializing the plan for that key was 8 ms of an onprem plan's CPU, 24 of prod's."""
    run = RUN.get()
    key: object = (run, id(view)) if run is not None else _fingerprint(view)
    if key not in _FINDINGS:
        _FINDINGS.clear()  # rules run plan by plan: keep the last one only
        _FINDINGS[key] = [(e, f) for e in expressions(view) for f in check(e)]
    return _FINDINGS[key]


def _rule_of(name: str, doc: str):
    def run(view: PlanView) -> Iterator[Violation]:
        for expression, finding in _findings(view):
            if finding.rule == name:
                yield violation(view, expression.resource, name, f"{expression.where}: {finding.why}")

    run.__name__ = name.rsplit(".", 1)[-1].replace("-", "_")
    run.__doc__ = doc
    return rule(name)(run)


promql_parses = _rule_of(
    PARSES,
    (
        "Every PromQL expression of the plan (PrometheusRule and GMP Rules, Grafana dashboard panels, KEDA "
        "prometheus triggers, prometheus-adapter rules, GCP and Azure PromQL alerts) parses with Prometheus' "
        "grammar, Grafana variables substituted."
    ),
)
metric_exists = _rule_of(
    METRIC,
    (
        "Each metric an expression selects is emitted by an exporter the stack runs, at its pinned version "
        "(facts/exporters.py), and not dropped by the scrape's metric_relabel keep."
    ),
)
label_exists = _rule_of(
    LABEL,
    (
        "Each label an expression matches or groups by is on the series as scraped: the exporter's labels, "
        "the scrape's target labels, clashing exporter labels renamed exported_* unless honorLabels."
    ),
)
workload_label = _rule_of(
    WORKLOAD,
    (
        "No expression reads the workload's pod/namespace/container of an exporter that reports on other "
        "pods (dcgm-exporter) from the label the scrape gave to the exporter's own pod; it must use exported_*."
    ),
)
counter_function = _rule_of(COUNTER_FN, "rate(), irate(), increase() and resets() are applied to counters, never to a gauge.")
last_value_gauge = _rule_of(
    LAST_VALUE,
    (
        "A gauge whose value is a code (dcgm-exporter's last XID) is selected by its code label, not "
        "compared with 0 or watched with changes()."
    ),
)
