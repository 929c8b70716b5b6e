"""`size` and `compare` through argparse: output, every error path with its exact line, the PNG plot,
and that rich/matplotlib stay out of a plain import."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from pulumi_llm.cli_sizing import parse_tokens

H100_70B_NO_FIT = (
    "llama-3.1-70b-instruct in bf16 needs 147.1 GB (141.1 GB weights + 5.4 GB runtime + 0.7 GB KV for 2,048 "
    "tokens) but 1× H100-80GB offers 76.5 GB at memory utilization 0.90; ways out: more GPUs: --count 4; "
    "--quant awq (needs 45.8 GB); fp8 on 2× H100-80GB: --quant fp8 --count 2 (TP 2, context 131,072)"
)
L4_70B_NO_FIT = (
    "llama-3.1-70b-instruct in bf16 needs 147.1 GB (141.1 GB weights + 5.4 GB runtime + 0.7 GB KV for 2,048 "
    "tokens) but 1× L4 offers 21.3 GB at memory utilization 0.90; ways out: fp8 on 8× L4: --quant fp8 --count 8 "
    "(TP 8, context 131,072)"
)
G5_70B_NO_FIT = (
    "llama-3.1-70b-instruct in bf16 needs 147.1 GB (141.1 GB weights + 5.4 GB runtime + 0.7 GB KV for 2,048 "
    "tokens) but g5.xlarge (1× A10G) offers 21.3 GB at memory utilization 0.90; ways out: a bigger type: "
    "g6e.12xlarge (4× L40S, $10.49/h)"
)
AZURE_405B_NO_FIT = (
    "no azure type in eastus fits: the largest is Standard_ND96amsr_A100_v4; llama-3.1-405b-instruct in bf16 "
    "needs 876.1 GB (811.7 GB weights + 63.4 GB runtime + 1.1 GB KV for 2,048 tokens) but "
    "Standard_ND96amsr_A100_v4 (8× A100-80GB) offers 612.3 GB at memory utilization 0.90; ways out: "
    "--quant fp8 (needs 474.5 GB)"
)
M = "llama-3.1-8b-instruct"

SIZE_ERRORS = [
    (
        ["llama-3.1-9b"],
        "unknown model 'llama-3.1-9b'; did you mean llama-3.1-8b-instruct or llama-3.1-70b-instruct or llama-3.1-405b-instruct?",
    ),
    ([M, "--gpu", "L4", "--count", "two"], "--count must be a whole number, not 'two'"),
    ([M, "--gpu", "L4", "--count", "0"], "--count must be at least 1, not 0"),
    ([M, "--cpu-ram", "lots"], "--cpu-ram must be a number, not 'lots'"),
    ([M, "--context", "8k"], "--context must be a whole number, not '8k'"),
    ([M, "--gpu-memory-utilization", "1.5"], "--gpu-memory-utilization must be above 0 and at most 1, not 1.5"),
    ([M, "--gpu-memory-utilization", "0.05"], "--gpu-memory-utilization must be between 0.1 and 1, not 0.05"),
    ([M, "--replicas", "3:1"], "--replicas needs MIN <= MAX and MAX >= 1, not '3:1'"),
    ([M, "--replicas", "many"], "--replicas must be MIN or MIN:MAX (e.g. 1:3), not 'many'"),
    ([M, "--runtime", "tgi"], "unknown runtime 'tgi'; known: llamacpp, triton, vllm"),
    ([M, "--instance", "g5.xlarge", "--gpu", "L4"], "--instance cannot be combined with --gpu or --cpu-ram"),
    ([M, "--gpu", "L4", "--cpu-ram", "16"], "--gpu and --cpu-ram exclude each other"),
    ([M, "--count", "2"], "--count needs --gpu"),
    ([M, "--gpu", "L4", "--cloud", "aws"], "--cloud and --region pick cloud instance types; they do not apply to --gpu or --cpu-ram"),
    ([M, "--instance", "g5.xlarg"], "unknown instance type 'g5.xlarg'; did you mean g5.xlarge or g5.8xlarge or g5.4xlarge?"),
    ([M, "--instance", "g5.xlarge", "--cloud", "azure"], "instance type g5.xlarge belongs to aws, not azure"),
    (
        [M, "--instance", "g6e.xlarge", "--region", "sa-east-1"],
        "instance type g6e.xlarge is not offered in sa-east-1 in the catalog; it is in: us-east-1, us-east-2, "
        "us-west-2, eu-central-1, ap-northeast-1",
    ),
    ([M, "--gpu", "B200"], "unknown GPU 'B200'; did you mean H200?"),
    ([M, "--cloud", "oracle"], "unknown cloud 'oracle'; known: aws, azure, gcp"),
    (
        [M, "--cloud", "gcp", "--region", "us-east-1"],
        "region 'us-east-1' has no gcp GPU type in the catalog; did you mean us-east1 or us-west1 or us-east5?",
    ),
    ([M, "--region", "mars-1"], "cannot tell the cloud of region 'mars-1'; pass --cloud aws, gcp or azure"),
    ([M, "--quant", "int3"], "unknown quantization 'int3'; did you mean int8?"),
    ([M, "--quant", "q4_k_m"], "quantization 'q4_k_m' is not served by vllm; vllm takes: bf16, fp16, fp8, int8, awq, gptq, mxfp4"),
    ([M, "--gpu", "T4", "--quant", "bf16"], "quantization 'bf16' needs compute capability 8.0 or newer; T4 is 7.5; use --quant fp16"),
    (
        [M, "--quant", "mxfp4"],
        "quantization 'mxfp4' needs a checkpoint published in MXFP4 (gpt-oss-20b, gpt-oss-120b); "
        "llama-3.1-8b-instruct is published in bf16",
    ),
    ([M, "--kv-cache-dtype", "q8_0"], "KV-cache dtype 'q8_0' is not available in vllm; vllm takes: auto, fp8"),
    (
        [M, "--runtime", "llamacpp", "--gpu", "L4", "--kv-cache-dtype", "fp8"],
        "KV-cache dtype 'fp8' is not available in llamacpp; llamacpp takes: f16, q8_0, q4_0",
    ),
    ([M, "--gpu", "T4", "--kv-cache-dtype", "fp8"], "KV-cache dtype 'fp8' needs compute capability 8.0 or newer; T4 is older"),
    ([M, "--runtime", "llamacpp"], "--runtime llamacpp needs --gpu or --cpu-ram: cloud types are sized for vLLM/Triton"),
    (["llama-3.1-70b-instruct", "--gpu", "H100-80GB"], H100_70B_NO_FIT),
    (["llama-3.1-70b-instruct", "--gpu", "L4"], L4_70B_NO_FIT),
    (["llama-3.1-70b-instruct", "--instance", "g5.xlarge"], G5_70B_NO_FIT),
    (["llama-3.1-405b-instruct", "--cloud", "azure"], AZURE_405B_NO_FIT),
]


@pytest.mark.parametrize(("argv", "message"), SIZE_ERRORS, ids=[" ".join(a) for a, _ in SIZE_ERRORS])
def test_size_errors_are_one_line_and_exit_2(cli, argv: list[str], message: str):
    code, out, err = cli("size", *argv)
    assert code == 2
    assert out == ""
    assert err == f"pulumi-llm: {message}\n"


C = ["--model", M, "--tokens-per-month", "1B"]
COMPARE_ERRORS = [
    (["--tokens-per-month", "1B"], "compare needs --model MODEL (or --stack STACK)"),
    (["--model", M], "compare needs --tokens-per-month N (e.g. 500M)"),
    (["--model", M, "--tokens-per-month", "lots"], "--tokens-per-month must be a number of tokens such as 500M, 2B or 2e9, not 'lots'"),
    (["--model", M, "--tokens-per-month", "0"], "--tokens-per-month must be positive, not '0'"),
    (
        ["--model", "mistral-7b", "--tokens-per-month", "1B"],
        "unknown model 'mistral-7b'; did you mean mixtral-8x7b-instruct-v0.1 or mistral-7b-instruct-v0.3?",
    ),
    ([*C, "--plot", "out.jpg"], "--plot must name a .png file, not 'out.jpg'"),
    ([*C, "--plot", "/nonexistent/dir/p.png"], "--plot: directory '/nonexistent/dir' does not exist"),
    ([*C, "--mix", "3"], "--mix must look like INPUT:OUTPUT (e.g. 3:1), not '3'"),
    ([*C, "--region", "us-east-1"], "--region needs exactly one --cloud"),
    ([*C, "--cloud", "aws", "--cloud", "gcp", "--region", "us-east-1"], "--region needs exactly one --cloud"),
    ([*C, "--cloud", "ibm"], "unknown cloud 'ibm'; known: aws, azure, gcp"),
    ([*C, "--utilization", "0"], "--utilization must be above 0 and at most 1, not 0"),
    ([*C, "--quant", "q4_k_m"], "quantization 'q4_k_m' is not served by vllm; vllm takes: bf16, fp16, fp8, int8, awq, gptq, mxfp4"),
    ([*C, "--replicas", "2:1"], "--replicas needs MIN <= MAX and MAX >= 1, not '2:1'"),
    ([*C, "--context", "0"], "--context must be at least 1, not 0"),
    (["--model", "llama-3.1-405b-instruct", "--tokens-per-month", "1B", "--cloud", "azure"], AZURE_405B_NO_FIT),
]


@pytest.mark.parametrize(("argv", "message"), COMPARE_ERRORS, ids=[" ".join(a) for a, _ in COMPARE_ERRORS])
def test_compare_errors_are_one_line_and_exit_2(cli, argv: list[str], message: str, tmp_path: Path):
    code, out, err = cli("compare", *argv)
    assert code == 2
    assert out == ""
    assert err == f"pulumi-llm: {message}\n"
    assert not (tmp_path / "p.png").exists()


def test_size_prints_fit_memory_settings_throughput_and_cost(cli):
    code, out, err = cli("size", M, "--instance", "g6e.xlarge", "--context", "32768", "--replicas", "1:3")
    assert (code, err) == (0, "")
    assert out.startswith("llama-3.1-8b-instruct (Llama 3.1 8B Instruct) in bf16 on g6e.xlarge (1× L40S): fits, tensor parallel 1\n")
    for fragment in (
        "32,768 tokens (asked 32,768, model max 131,072)",
        "Memory (GB = 10⁹ bytes)",
        "│ weights          │",
        "--max-model-len",
        "32768",
        "--gpu-memory-utilization",
        "startupProbe",
        "60 × 10 s = 600 s",
        "Throughput (estimate)",
        "Assumptions:\n- workload: 1,536 prompt + 512 output tokens per request",
        "$1.86/h — list price as published in 2025-06 for us-east-1",
        "$1,359 – $4,076",
        "Left out: data egress and cross-zone traffic;",
    ):
        assert fragment in out, fragment


def test_size_without_hardware_chooses_the_cheapest_type(cli):
    code, out, _ = cli("size", M, "--region", "europe-west4")
    assert code == 0
    assert "on g2-standard-4 (1× L4)" in out
    assert "no --instance/--gpu given: the cheapest gcp type in europe-west4 that fits was chosen" in out
    assert "Price read for us-central1; europe-west4 may differ." in out


def test_size_on_jetson_prints_llama_cpp_settings(cli):
    code, out, _ = cli("size", "llama-3.2-3b-instruct", "--gpu", "AGX-Orin-32GB", "--runtime", "llamacpp")
    assert code == 0
    assert "llama.cpp settings" in out and "--n-gpu-layers" in out and "--ctx-size" in out
    assert "Cost (USD" not in out


def test_size_on_a_cpu_host(cli):
    code, out, _ = cli("size", "llama-3.2-1b-instruct", "--cpu-ram", "8", "--runtime", "llamacpp", "--quant", "Q8_0")
    assert code == 0
    assert "in q8_0 on CPU host, 8 GiB RAM, 8 cores: fits" in out


def test_compare_prints_options_providers_and_break_even(cli):
    code, out, err = cli("compare", "--model", M, "--tokens-per-month", "2B")
    assert (code, err) == (0, "")
    assert out.startswith("llama-3.1-8b-instruct at 2.0B tokens/month (3:1 input:output)\n")
    for fragment in (
        "Self-hosted (on-demand list prices)",
        "lowest $/h",
        "lowest bill",
        "openai/gpt-4o-mini",
        "anthropic/claude-3.5-haiku",
        "google/gemini-2.5-flash-lite",
        "cohere/command-r7b",
        "bedrock/llama-3.1-8b-instruct",
        "azure-openai/gpt-4o-mini",
        "self-hosting cheaper from",
        "never",
        "At this volume: ",
        "API prices as listed in 2025-08",
        "Left out of self-hosted costs:",
    ):
        assert fragment in out, fragment


def test_compare_writes_a_png_that_matplotlib_reads_back(cli, tmp_path: Path):
    target = tmp_path / "cost.png"
    code, out, _ = cli("compare", "--model", "llama-3.3-70b-instruct", "--tokens-per-month", "5e9", "--plot", str(target))
    assert code == 0
    assert f"Plot written to {target}" in out.replace("\n", "")
    data = target.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    import matplotlib.image as mpimg

    image = mpimg.imread(str(target))
    height, width = image.shape[:2]
    assert (width, height) == (1300, 650)  # the right third holds the legend, outside the axes
    assert image.std() > 0.05  # not a blank canvas


@pytest.mark.parametrize(
    ("text", "value"),
    [("500M", 5e8), ("2B", 2e9), ("2e9", 2e9), ("1,000,000", 1e6), ("750k", 7.5e5), ("1.5T", 1.5e12), ("3g", 3e9)],
)
def test_token_volumes_parse(text: str, value: float):
    assert parse_tokens(text) == value


def test_importing_sizing_and_the_cli_module_loads_neither_rich_nor_matplotlib():
    code = (
        "import sys, pulumi_llm.sizing, pulumi_llm.cli_sizing; "
        "print(sorted(m for m in ('rich', 'matplotlib', 'numpy', 'pulumi', 'pydantic') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
