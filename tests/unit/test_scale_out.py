"""decide_scale_out (runtimes/vllm.py): a vLLM server behind a cache_aware router gets --enable-scale-out once;
nothing else changes, whatever the target."""

from __future__ import annotations

import pytest
from pulumi_llm import pins
from pulumi_llm.kubernetes import router_render as rr
from pulumi_llm.runtimes import vllm
from pulumi_llm.runtimes.vllm import SCALE_OUT_FLAG, decide_scale_out
from pulumi_llm.sizing import FitResult, Hardware, fit, get_accelerator


@pytest.fixture(scope="module")
def fit_8b() -> FitResult:
    return fit("llama-3.1-8b-instruct", Hardware(get_accelerator("L40S"), 1), context=8192)


def test_vllm_behind_cache_aware_gets_the_flag_after_the_users_args() -> None:
    assert decide_scale_out("vllm", "cache_aware", ()) == ("--enable-scale-out",)
    assert decide_scale_out("vllm", "cache_aware", ["--seed=7", "--enforce-eager"]) == ("--seed=7", "--enforce-eager", "--enable-scale-out")


@pytest.mark.parametrize("written", ["--enable-scale-out", "--enable_scale_out"])
def test_a_flag_the_user_already_wrote_is_not_repeated(written: str) -> None:
    assert decide_scale_out("vllm", "cache_aware", ["--seed=7", written]) == ("--seed=7", written)


@pytest.mark.parametrize("policy", [p for p in rr.POLICIES if p != "cache_aware"])
def test_other_policies_leave_the_args_alone(policy: str) -> None:
    assert decide_scale_out("vllm", policy, ["--seed=7"]) == ("--seed=7",)


def test_no_router_leaves_the_args_alone() -> None:
    assert decide_scale_out("vllm", None, ()) == ()
    # A user who sets the flag without a router keeps it: the stack only adds, never removes.
    assert decide_scale_out("vllm", None, ["--enable-scale-out"]) == ("--enable-scale-out",)


@pytest.mark.parametrize("runtime", ["triton", "llamacpp", "onnx"])
def test_other_runtimes_never_get_it(runtime: str) -> None:
    assert decide_scale_out(runtime, "cache_aware", ["--x=1"]) == ("--x=1",)


def test_the_policies_that_need_it_are_router_policies() -> None:
    # Guards a rename on either side: every policy named here is one the router renders.
    assert set(vllm.SCALE_OUT_POLICIES) <= set(rr.POLICIES)
    assert SCALE_OUT_FLAG not in vllm.managed_flags()  # the user may still write it; decide_scale_out dedupes


def test_the_flag_passes_the_extra_args_check_and_lands_before_the_lora_list(fit_8b: FitResult) -> None:
    options = vllm.VllmOptions(
        image=pins.VLLM_OPENAI.ref,
        lora_adapters={"sql": "/models/llama/sql"},
        extra_args=decide_scale_out("vllm", "cache_aware", ()),
    )
    args = vllm.vllm_args("chat", fit_8b, vllm.Weights("volume", "/models/llama"), options)
    assert args.count(SCALE_OUT_FLAG) == 1
    # --lora-modules takes every following non-flag token; the flag comes before it, so it is not read as an item.
    assert args.index(SCALE_OUT_FLAG) < args.index("--lora-modules")
