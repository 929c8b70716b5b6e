"""GPU/model sizing and economics: the single source of truth for "will it fit, how fast, at what cost".

Pure Python, no Pulumi, no network; `rich` and `matplotlib` are only imported by the CLI handlers.

Catalogs
    MODELS / get_model, ModelSpec            model architectures (custom models: fill a ModelSpec)
    ACCELERATORS / get_accelerator, cpu_host GPUs, Jetson modules, CPU-only hosts
    INSTANCE_TYPES / get_instance_type       cloud types with list prices and regions
    PRECISIONS / get_precision, KV_DTYPES    weight and KV-cache precisions, per-runtime support
    API_PRICES / get_api_price               API list prices per provider and tier
Sizing
    weight_bytes, kv_bytes_per_token, runtime_overhead_bytes, valid_tensor_parallel_sizes
    fit → FitResult (tensor_parallel_size, max_model_len, max_num_seqs, .vllm settings, memory, notes)
    choose_instance / fitting_instances      the cheapest type of a cloud and region that fits
    startup_probe_budget                     startup-probe seconds from the weight size
    estimate_throughput → ThroughputEstimate (with printable assumptions)
Money
    self_hosted_cost_per_million, monthly_capacity_tokens, self_hosted_monthly_cost,
    break_even_tokens_per_month, monthly_stack_cost (with EXCLUDED_COSTS), compare_costs
    sizing_summary                           plain JSON-serialisable dict for summary.json

Units: bytes internally; "GB" in messages is 10⁹ bytes; device memory is in GiB as CUDA reports it.
"""

from pulumi_llm.sizing._common import GB, GIB, HOURS_PER_MONTH
from pulumi_llm.sizing.economics import (
    API_PRICES,
    API_PROVIDERS,
    DEFAULT_UTILIZATION,
    EXCLUDED_COSTS,
    ApiPrice,
    CostItem,
    MonthlyCost,
    SelfHostedBill,
    TokenMix,
    break_even_tokens_per_month,
    comparable_api_prices,
    comparable_tier,
    get_api_price,
    monthly_capacity_tokens,
    monthly_stack_cost,
    self_hosted_cost_per_million,
    self_hosted_monthly_cost,
)
from pulumi_llm.sizing.fit import (
    DEFAULT_GPU_MEMORY_UTILIZATION,
    MIN_CONTEXT,
    FitResult,
    LlamaCppSettings,
    MemoryBreakdown,
    StartupBudget,
    VllmSettings,
    choose_instance,
    fit,
    fits,
    fitting_instances,
    kv_bytes_per_token,
    resolve_precision,
    runtime_overhead_bytes,
    startup_probe_budget,
    valid_tensor_parallel_sizes,
    weight_bytes,
)
from pulumi_llm.sizing.hardware import (
    ACCELERATORS,
    CLOUDS,
    DEFAULT_REGION,
    INSTANCE_TYPES,
    Accelerator,
    Hardware,
    InstanceType,
    check_instance_region,
    check_region,
    cpu_host,
    get_accelerator,
    get_cloud,
    get_instance_type,
    infer_cloud,
    instance_types,
    regions_of,
)
from pulumi_llm.sizing.lora import LoraSlots, decide_lora_slots, lora_bytes_per_gpu
from pulumi_llm.sizing.models import MODEL_ALIASES, MODELS, ModelSpec, get_model
from pulumi_llm.sizing.precision import (
    KV_DTYPES,
    PRECISIONS,
    RUNTIME_PRECISIONS,
    RUNTIMES,
    KvDtype,
    Precision,
    check_runtime_precision,
    get_kv_dtype,
    get_precision,
    get_runtime,
    supported_precisions,
)
from pulumi_llm.sizing.report import (
    ApiOption,
    Comparison,
    SelfHostedOption,
    compare_costs,
    sizing_summary,
    workload_for,
)
from pulumi_llm.sizing.throughput import (
    ThroughputEstimate,
    Workload,
    estimate_throughput,
)

__all__ = [
    "ACCELERATORS",
    "API_PRICES",
    "API_PROVIDERS",
    "CLOUDS",
    "DEFAULT_GPU_MEMORY_UTILIZATION",
    "DEFAULT_REGION",
    "DEFAULT_UTILIZATION",
    "EXCLUDED_COSTS",
    "GB",
    "GIB",
    "HOURS_PER_MONTH",
    "INSTANCE_TYPES",
    "KV_DTYPES",
    "MIN_CONTEXT",
    "MODELS",
    "MODEL_ALIASES",
    "PRECISIONS",
    "RUNTIMES",
    "RUNTIME_PRECISIONS",
    "Accelerator",
    "LoraSlots",
    "ApiOption",
    "ApiPrice",
    "Comparison",
    "CostItem",
    "FitResult",
    "Hardware",
    "InstanceType",
    "KvDtype",
    "LlamaCppSettings",
    "MemoryBreakdown",
    "ModelSpec",
    "MonthlyCost",
    "Precision",
    "SelfHostedBill",
    "SelfHostedOption",
    "StartupBudget",
    "ThroughputEstimate",
    "TokenMix",
    "VllmSettings",
    "Workload",
    "break_even_tokens_per_month",
    "check_instance_region",
    "check_region",
    "check_runtime_precision",
    "choose_instance",
    "comparable_api_prices",
    "comparable_tier",
    "compare_costs",
    "cpu_host",
    "decide_lora_slots",
    "estimate_throughput",
    "fit",
    "fits",
    "fitting_instances",
    "get_accelerator",
    "get_api_price",
    "get_cloud",
    "get_instance_type",
    "get_kv_dtype",
    "get_model",
    "get_precision",
    "get_runtime",
    "infer_cloud",
    "instance_types",
    "kv_bytes_per_token",
    "lora_bytes_per_gpu",
    "monthly_capacity_tokens",
    "monthly_stack_cost",
    "regions_of",
    "resolve_precision",
    "runtime_overhead_bytes",
    "self_hosted_cost_per_million",
    "self_hosted_monthly_cost",
    "sizing_summary",
    "startup_probe_budget",
    "supported_precisions",
    "valid_tensor_parallel_sizes",
    "weight_bytes",
    "workload_for",
]
