"""`compare --plot` (issue 19, item 4), read from matplotlib's own figure objects (Agg), not from pixels: one colour
per family and never shared between families, line style per kind, no line hidden under another, a label at every
break-even, the legend outside the axes, and the default file under out/."""

from __future__ import annotations

from itertools import combinations
from pathlib import Path

import numpy as np
import pytest
from matplotlib.lines import Line2D
from pulumi_llm import sizing as s
from pulumi_llm.compare_plot import decide_plot, draw_comparison
from pulumi_llm.sizing._common import fmt_tokens


@pytest.fixture(scope="module")
def comparison() -> s.Comparison:
    # openai/gpt-4o-mini and azure-openai/gpt-4o-mini share a list price: two series, one line.
    return s.compare_costs("llama-3.1-8b-instruct", 2e9)


def _series_lines(fig) -> list[Line2D]:
    ax = fig.axes[0]
    return [line for line in ax.get_lines() if str(line.get_label()).startswith(("self-hosted ", "API "))]


def _family(label: str) -> str:
    kind, name = label.split(" ", 1)
    return name.split(" ", 1)[0] if kind == "self-hosted" else name.split("/", 1)[0]


def test_each_family_has_one_colour_and_no_two_families_share_one(comparison: s.Comparison) -> None:
    lines = _series_lines(draw_comparison(comparison))
    colours: dict[str, set[str]] = {}
    for line in lines:
        colours.setdefault(_family(str(line.get_label())), set()).add(str(line.get_color()))
    assert {"aws", "gcp", "azure", "openai", "bedrock"} <= set(colours)
    assert all(len(c) == 1 for c in colours.values()), colours
    flat = [next(iter(c)) for c in colours.values()]
    assert len(flat) == len(set(flat)), colours
    assert "grey" not in flat  # kept for "your volume"


def test_line_style_is_the_kind_and_members_of_a_family_differ_by_marker(comparison: s.Comparison) -> None:
    lines = _series_lines(draw_comparison(comparison))
    for line in lines:
        expected = "-" if str(line.get_label()).startswith("self-hosted ") else "--"
        assert line.get_linestyle() == expected, line.get_label()
    by_family: dict[str, list[str]] = {}
    for line in lines:
        by_family.setdefault(_family(str(line.get_label())), []).append(str(line.get_marker()))
    for family, markers in by_family.items():
        assert len(markers) == len(set(markers)), family


def test_no_line_lies_exactly_on_another_identical_series_are_one_labelled_line(comparison: s.Comparison) -> None:
    lines = _series_lines(draw_comparison(comparison))
    for a, b in combinations(lines, 2):
        assert not np.allclose(np.asarray(a.get_ydata(), float), np.asarray(b.get_ydata(), float), rtol=1e-9), (
            a.get_label(),
            b.get_label(),
        )
    labels = [str(line.get_label()) for line in lines]
    assert "API azure-openai/gpt-4o-mini = openai/gpt-4o-mini" in labels
    # Every series of the comparison is named by exactly one line.
    named = [n for label in labels for n in label.split(" ", 1)[1].split(" = ")]
    assert sorted(named) == sorted([o.label for o in comparison.self_hosted] + [a.price.key for a in comparison.api])


def test_every_break_even_in_range_is_marked_and_labelled_with_its_volume(comparison: s.Comparison) -> None:
    fig = draw_comparison(comparison)
    texts = [t.get_text() for t in fig.axes[0].texts]
    plan = decide_plot(comparison)
    expected = {
        fmt_tokens(a.break_even_tokens_per_month)
        for a in comparison.api
        if a.break_even_tokens_per_month is not None and plan.xs[0] <= a.break_even_tokens_per_month <= plan.xs[-1]
    }
    assert len(expected) >= 4
    for volume in expected:
        assert any(t.startswith(f"{volume}/month vs ") for t in texts), (volume, texts)
    assert len(texts) == len(plan.break_evens)
    # The point sits on its API line, in that line's colour.
    for point in plan.break_evens:
        line = next(x for x in plan.series if x.label == point.against)
        assert point.color == line.color


def test_the_legend_lies_outside_the_axes_and_inside_the_figure(comparison: s.Comparison) -> None:
    fig = draw_comparison(comparison)
    fig.canvas.draw()
    ax = fig.axes[0]
    legend = ax.get_legend()
    assert legend is not None
    box, axes_box = legend.get_window_extent(), ax.get_window_extent()
    assert box.x0 > axes_box.x1
    assert box.x1 <= fig.bbox.x1 and box.y0 >= fig.bbox.y0


def test_a_bare_plot_flag_writes_under_out_which_it_creates(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, _ = cli("compare", "--model", "llama-3.1-8b-instruct", "--tokens-per-month", "2B", "--plot")
    assert code == 0
    target = Path("out") / "compare-llama-3.1-8b-instruct.png"
    assert (tmp_path / target).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"Plot written to {target}" in out
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # nothing at the root
