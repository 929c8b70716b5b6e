"""Issue 18, fix 2: a context the hardware can't hold is refused, or (with `context: max`) deployed capped and said so.

Llama 3.1 8B asks 131,072 tokens; one L4 holds a 9,728-token max-model-len (sizing/fit.py). Before the fix the
stack deployed 9,728 and summary.json said `context_capped: false`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from helpers import scratch_project
from pulumi_llm import serving
from pulumi_llm.cli import main
from pulumi_llm.errors import UserError
from pulumi_llm.settings import load

SOURCE = "stacks/Pulumi.lab.yaml"
FITS_ON_L4 = 9728
"""max-model-len of Llama 3.1 8B (bf16) on one L4 at gpu_memory_utilization 0.9 (sizing/fit.py's estimate)."""


def config(context: object = None) -> dict[str, str]:
    model: dict[str, object] = {"catalog": "llama-3.1-8b-instruct", "source": "pvc://w/m"}
    if context is not None:
        model["context"] = context
    return {
        "pulumi-llm:environment": "lab",
        "pulumi-llm:cloud": "onprem",
        "pulumi-llm:methods": '["onprem"]',
        "pulumi-llm:onprem": json.dumps({"kube_context": "lab", "gpus": {"accelerator": "L4", "per_node": 1}}),
        "pulumi-llm:models": json.dumps({"chat": model}),
    }


def test_a_demanded_context_that_does_not_fit_is_refused_in_one_line() -> None:
    with pytest.raises(UserError) as caught:
        load(config(131072), SOURCE)
    assert str(caught.value) == (
        f"{SOURCE}: pulumi-llm:models.chat.context = 131072: only {FITS_ON_L4} tokens fit on 1× L4 "
        f"(KV cache ~11,001 tokens); ask for {FITS_ON_L4} or less, or write `context: max` to deploy the most that fits"
    )


def test_a_demanded_context_that_fits_is_deployed_as_asked() -> None:
    settings = load(config(FITS_ON_L4), SOURCE)
    (figures,) = serving.stack_sizing(settings)
    assert (figures["context_asked"], figures["context_deployed"], figures["context_capped"]) == (FITS_ON_L4, FITS_ON_L4, False)
    assert figures["context_policy"] == "exact"


@pytest.mark.parametrize("context", ["max", None])
def test_max_deploys_the_most_that_fits_and_the_summary_says_it_was_capped(context: object) -> None:
    settings = load(config(context), SOURCE)
    (figures,) = serving.stack_sizing(settings)
    assert figures["max_model_len"] == FITS_ON_L4
    # Before the fix: context_capped False while the server ran 9,728 of the model's 131,072 tokens.
    assert figures["context_capped"] is True
    assert (figures["context_asked"], figures["context_deployed"], figures["context_policy"]) == (131072, FITS_ON_L4, "max")
    args = serving.container(settings, "chat").args
    assert f"--max-model-len={FITS_ON_L4}" in args


@pytest.mark.parametrize("value", [True, "most", 0])
def test_context_takes_a_number_or_max_only(value: object) -> None:
    with pytest.raises(UserError) as caught:
        load(config(value), SOURCE)
    assert f"{SOURCE}: pulumi-llm:models.chat.context = " in str(caught.value)
    assert "\n" not in str(caught.value)


def _stack(context: object) -> dict[str, object]:
    cfg = config(context)
    values: dict[str, object] = {"pulumi:disable-default-providers": ["*"]}
    for key, value in cfg.items():
        values[key] = json.loads(value) if value.startswith(("{", "[")) else value
    return {"config": values}


def test_plan_prints_the_cap_and_writes_it_to_the_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = tmp_path / "project"
    base.mkdir()
    base = scratch_project(base, {"lab": _stack("max")})
    out = tmp_path / "plan"
    assert main(["--project-dir", str(base), "plan", "lab", "--quiet", "--no-verify", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"lab: model chat: context capped to {FITS_ON_L4:,} tokens of 131,072" in printed
    (figures,) = json.loads((out / "summary.json").read_text())["sizing"]
    assert (figures["context_capped"], figures["context_asked"], figures["context_deployed"]) == (True, 131072, FITS_ON_L4)


def test_plan_of_a_demand_that_does_not_fit_exits_2_with_the_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = tmp_path / "project"
    base.mkdir()
    base = scratch_project(base, {"lab": _stack(131072)})
    assert main(["--project-dir", str(base), "plan", "lab", "--quiet", "--no-verify", "--out", str(tmp_path / "plan")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "pulumi-llm:models.chat.context = 131072: only 9728 tokens fit on 1× L4" in err[0]
    assert yaml.safe_load((base / "stacks" / "Pulumi.lab.yaml").read_text())["config"]["pulumi-llm:models"]["chat"]["context"] == 131072
