"""`pulumi-llm compare --plot`: monthly cost against monthly volume, self-hosted options against API models.

How a reader tells the lines apart (issue 19, item 4):
- colour is the family: the cloud of a self-hosted option (aws, gcp, azure) or the API's provider (openai,
  anthropic, ...); no two families share a colour, grey is left for "your volume";
- line style is the kind: solid steps for self-hosted (replicas are bought whole), dashed for APIs;
- a marker tells the members of one family apart (two AWS types, two OpenAI models);
- series that would be drawn exactly on top of each other (the same list price at two providers, e.g.
  gpt-4o-mini on OpenAI and on Azure OpenAI) are one line whose label names all of them;
- every break-even point (the volume from which the reference self-hosted option is cheaper than an API)
  carries its volume as a label; the legend sits outside the plot area, right of it.

`decide_plot` is the pure part (what to draw, no matplotlib); `draw_comparison` builds the figure (Agg, no
display); `plot_comparison` writes the PNG. matplotlib is imported inside the functions that draw.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from .errors import UserError
from .sizing._common import fmt_tokens

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from .sizing import Comparison

Kind = Literal["self-hosted", "API"]

KIND_LINESTYLE: dict[Kind, str] = {"self-hosted": "-", "API": "--"}
"""Line style per kind: solid for self-hosted, dashed for APIs."""
FAMILY_COLORS: tuple[str, ...] = (
    "tab:blue",
    "tab:orange",
    "tab:green",
    "tab:red",
    "tab:purple",
    "tab:brown",
    "tab:pink",
    "tab:olive",
    "tab:cyan",
    "navy",
    "gold",
    "black",
)
"""Colours given to families in order of appearance: matplotlib's ten qualitative colours without grey (kept
for "your volume"), then two more so the three clouds and six providers never wrap."""
MEMBER_MARKERS: tuple[str, ...] = ("o", "s", "^", "D", "v", "P", "X", "*")
"""Marker of the n-th member of a family."""
SAMPLES = 600
"""Points per line over the volume axis."""
MARK_EVERY = 75
"""A marker every this many points (8 per line), offset per member so markers of one family do not coincide."""
SAME = 1e-9
"""Relative difference below which two series are the same line."""


@dataclass(frozen=True)
class PlotSeries:
    """One drawn line: the series it stands for (more than one when they coincide) and how it looks."""

    kind: Kind
    names: tuple[str, ...]
    """Each series this line stands for: a self-hosted option ('aws g6e.xlarge') or an API ('openai/gpt-5-nano')."""
    family: str
    """The cloud or provider of the first name, which gives the colour."""
    ys: tuple[float, ...]
    color: str
    linestyle: str
    marker: str
    member: int
    """Index of this line within its family (offsets its markers)."""

    @property
    def label(self) -> str:
        return f"{self.kind} " + " = ".join(self.names)


@dataclass(frozen=True)
class BreakEvenPoint:
    """Where an API line crosses the reference self-hosted option's cost."""

    tokens_per_month: float
    cost: float
    color: str
    text: str
    """The label drawn beside the point: the volume and the API, e.g. '5.2B/month vs openai/gpt-4o-mini (+1)'."""
    against: str
    """The API line it belongs to (its label)."""


@dataclass(frozen=True)
class PlotPlan:
    xs: tuple[float, ...]
    series: tuple[PlotSeries, ...]
    break_evens: tuple[BreakEvenPoint, ...]


def volume_axis(c: Comparison) -> tuple[float, ...]:
    """Log-spaced volumes two decades either side of the asked volume and every break-even, within 1e4..1e14."""
    volumes = [c.tokens_per_month, *(a.break_even_tokens_per_month for a in c.api if a.break_even_tokens_per_month)]
    lo = max(4.0, math.floor(math.log10(min(volumes))) - 2)
    hi = min(14.0, math.ceil(math.log10(max(volumes))) + 2)
    return tuple(10 ** (lo + (hi - lo) * i / (SAMPLES - 1)) for i in range(SAMPLES))


def _family(kind: Kind, name: str) -> str:
    # "aws g6e.xlarge" -> aws; "openai/gpt-5-nano" -> openai
    return name.split(" ", 1)[0] if kind == "self-hosted" else name.split("/", 1)[0]


def _same(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return all(math.isclose(x, y, rel_tol=SAME) for x, y in zip(a, b, strict=True))


def decide_plot(c: Comparison) -> PlotPlan:
    """What the plot draws: one line per distinct series, styled by family and kind, and the labelled break-evens."""
    xs = volume_axis(c)
    raw: list[tuple[Kind, str, tuple[float, ...]]] = []
    for opt in c.self_hosted:
        raw.append(("self-hosted", opt.label, tuple(opt.monthly_cost_at(x, max(1, c.min_replicas), None) for x in xs)))
    for a in c.api:
        per_m = a.price.blended_per_m(c.mix)
        raw.append(("API", a.price.key, tuple(x / 1e6 * per_m for x in xs)))

    merged: list[tuple[Kind, list[str], tuple[float, ...]]] = []
    for kind, name, ys in raw:
        twin = next((m for m in merged if m[0] == kind and _same(m[2], ys)), None)
        if twin is not None:
            twin[1].append(name)
        else:
            merged.append((kind, [name], ys))

    colors: dict[str, str] = {}
    members: dict[str, int] = {}
    series: list[PlotSeries] = []
    for kind, names, ys in merged:
        family = _family(kind, names[0])
        color = colors.setdefault(family, FAMILY_COLORS[len(colors) % len(FAMILY_COLORS)])
        member = members.get(family, 0)
        members[family] = member + 1
        series.append(
            PlotSeries(kind, tuple(names), family, ys, color, KIND_LINESTYLE[kind], MEMBER_MARKERS[member % len(MEMBER_MARKERS)], member)
        )

    by_name = {name: s for s in series for name in s.names}
    points: dict[str, BreakEvenPoint] = {}
    for a in c.api:
        be = a.break_even_tokens_per_month
        line = by_name[a.price.key]
        if be is None or not (xs[0] <= be <= xs[-1]) or line.label in points:
            continue
        text = f"{fmt_tokens(be)}/month vs {line.names[0]}" + (f" (+{len(line.names) - 1})" if len(line.names) > 1 else "")
        points[line.label] = BreakEvenPoint(be, be / 1e6 * a.price.blended_per_m(c.mix), line.color, text, line.label)
    return PlotPlan(xs, tuple(series), tuple(points.values()))


def draw_comparison(c: Comparison) -> Figure:
    """The figure `compare --plot` writes (Agg canvas, never a window)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    plan = decide_plot(c)
    # matplotlib annotates its Artist **kwargs as unknown: the ignores below are for that stub, one per call
    fig = Figure(figsize=(13, 6.5), dpi=100)
    FigureCanvasAgg(fig)
    # The right third holds the legend, outside the axes.
    fig.subplots_adjust(left=0.07, right=0.64, top=0.92, bottom=0.1)
    ax = fig.add_subplot()
    for s in plan.series:
        ax.plot(  # pyright: ignore[reportUnknownMemberType]
            plan.xs,
            s.ys,
            drawstyle="steps-post" if s.kind == "self-hosted" else "default",
            color=s.color,
            linestyle=s.linestyle,
            linewidth=2 if s.kind == "self-hosted" else 1.3,
            marker=s.marker,
            markersize=5,
            markevery=((s.member * 9) % MARK_EVERY, MARK_EVERY),
            label=s.label,
        )
    for rank, p in enumerate(sorted(plan.break_evens, key=lambda p: p.tokens_per_month)):
        ax.plot([p.tokens_per_month], [p.cost], marker="o", color=p.color, markeredgecolor="black", markersize=7, linestyle="none")  # pyright: ignore[reportUnknownMemberType]
        # Break-evens crowd within a decade: each label one row lower than the one to its left, tied to its point.
        ax.annotate(  # pyright: ignore[reportUnknownMemberType]
            p.text,
            (p.tokens_per_month, p.cost),
            xytext=(10, -16 - 11 * rank),
            textcoords="offset points",
            fontsize=7,
            color=p.color,
            arrowprops={"arrowstyle": "-", "color": p.color, "linewidth": 0.6},
            bbox={"boxstyle": "square,pad=0.1", "facecolor": "white", "edgecolor": "none", "alpha": 0.8},
        )
    ax.axvline(c.tokens_per_month, color="grey", linestyle=":", label=f"your volume ({fmt_tokens(c.tokens_per_month)}/month)")  # pyright: ignore[reportUnknownMemberType]
    ax.set_xscale("log")  # pyright: ignore[reportUnknownMemberType]
    ax.set_yscale("log")  # pyright: ignore[reportUnknownMemberType]
    ax.set_xlabel(f"tokens per month (input + output, {c.mix.label} mix)")  # pyright: ignore[reportUnknownMemberType]
    ax.set_ylabel("USD per month (list prices)")  # pyright: ignore[reportUnknownMemberType]
    ax.set_title(f"{c.model.key}: self-hosted (solid) vs API (dashed); ● break-even vs {c.reference.label}", fontsize=10)  # pyright: ignore[reportUnknownMemberType]
    ax.grid(True, which="major", alpha=0.3)  # pyright: ignore[reportUnknownMemberType]
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0)  # pyright: ignore[reportUnknownMemberType]
    return fig


def plot_comparison(c: Comparison, path: Path | str) -> None:
    """Write the comparison's plot as a PNG at `path`."""
    fig = draw_comparison(c)
    try:
        fig.savefig(str(path), format="png")  # pyright: ignore[reportUnknownMemberType]
    except OSError as err:
        raise UserError(f"--plot {path}: cannot write ({err.strerror or err})") from None


DEFAULT_PLOT_DIR = Path("out")
"""Where `--plot` without a file name writes (created when missing): generated files stay out of the checkout's root."""


def default_plot_path(model_key: str, out_dir: Path = DEFAULT_PLOT_DIR) -> Path:
    """out/compare-<model>.png."""
    return out_dir / f"compare-{model_key}.png"
