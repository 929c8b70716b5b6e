"""Bad serving input from the Kubernetes issue: each one clear line naming file, key, value and rule."""

from __future__ import annotations

import json

import pytest
from pulumi_llm.errors import UserError
from pulumi_llm.runtimes import registry
from pulumi_llm.settings import load

SOURCE = "stacks/Pulumi.lab.yaml"


def config(models: dict | None = None, serving: dict | None = None, onprem: dict | None = None) -> dict[str, str]:
    return {
        "pulumi-llm:environment": "lab",
        "pulumi-llm:cloud": "onprem",
        "pulumi-llm:methods": '["onprem"]',
        "pulumi-llm:onprem": json.dumps(onprem or {"kube_context": "lab", "gpus": {"accelerator": "L40S", "per_node": 8}}),
        "pulumi-llm:models": json.dumps(models or {"m": {"catalog": "llama-3.1-8b-instruct", "source": "pvc://w/m"}}),
        **({"pulumi-llm:serving": json.dumps(serving)} if serving else {}),
    }


def message(cfg: dict[str, str]) -> str:
    with pytest.raises(UserError) as caught:
        load(cfg, SOURCE)
    assert "\n" not in str(caught.value)
    return str(caught.value)


def model(**fields: object) -> dict:
    return {"m": {"catalog": "llama-3.1-8b-instruct", "source": "pvc://w/m", **fields}}


@pytest.mark.parametrize(
    ("cfg", "expected"),
    [
        (config(model(runtime="tgi")), f"pulumi-llm:models.m.runtime = tgi: must be one of: {', '.join(registry.NAMES)}"),
        (
            config(model(gpus=3)),
            # the key the planner refused, not the whole model
            "pulumi-llm:models.m.gpus = 3: the tensor "
            "parallel size must divide the model's 32 attention heads and 8 KV heads; allowed: 1, 2, 4, 8",
        ),
        (config(model(context=200000)), "pulumi-llm:models.m.context = 200000: above the model's maximum context (131072)"),
        (
            config(model(extra_args=["--max-model-len=4096"])),
            'pulumi-llm:models.m.extra_args = ["--max-model-len=4096"]: --max-model-len is managed by pulumi-llm '
            "(from sizing and settings); set the matching setting instead",
        ),
        (config(serving={"replicas": {"min": -1}}), "pulumi-llm:serving.replicas.min = -1: must be >= 0"),
        (config(serving={"replicas": {"max": 0}}), "pulumi-llm:serving.replicas.max = 0: must be >= 1"),
        (config(serving={"replicas": {"min": 3, "max": 2}}), "pulumi-llm:serving.replicas.max = 2: must be >= replicas.min (3)"),
        (
            config(serving={"replicas": {"min": 0, "max": 2}}),
            "pulumi-llm:serving.replicas.min = 0: 0 replicas needs autoscaling.scale_to_zero: true (with KEDA)",
        ),
        (
            config(serving={"replicas": {"min": 0, "max": 2}, "autoscaling": {"engine": "hpa", "scale_to_zero": True}}),
            "pulumi-llm:serving.autoscaling.scale_to_zero = true: scale to zero needs autoscaling.engine keda "
            "(an HPA cannot scale to zero), not hpa",
        ),
        (
            config(model(source="https://huggingface.co/meta-llama")),
            "pulumi-llm:models.m.source = https://huggingface.co/meta-llama: "
            "must be store://<key>, pvc://<claim>/<path>, s3://<bucket>/<prefix>, gs://<bucket>/<prefix> or node://<file>.gguf",
        ),
        (
            config({"m": {"catalog": "llama-3.1-8b-instruct"}}),
            "pulumi-llm:models.m.source: required to serve the model (store://, pvc://, s3:// or gs://)",
        ),
        (
            config(model(source="store://llama/abc")),
            "pulumi-llm:models.m.source = store://llama/abc: store:// is a cloud stack's model store; on-prem use pvc://<claim>/<path>",
        ),
        (
            config(model(source="s3://weights/llama", runtime="triton")),
            "pulumi-llm:models.m.source = s3://weights/llama: Triton reads weights from a volume, not a stream: use pvc://<claim>/<path>",
        ),
        (
            config(model(catalog="lama-3.1-8b-instruct")),
            "pulumi-llm:models.m.catalog = lama-3.1-8b-instruct: unknown model "
            "'lama-3.1-8b-instruct'; did you mean llama-3.1-8b-instruct or llama-3-8b-instruct or llama-3.1-70b-instruct?",
        ),
        (
            config(onprem={"kube_context": "lab", "gpus": {"accelerator": "T4", "per_node": 1}}),
            None,
        ),
        (
            config(onprem={"kube_context": "lab", "gpus": {"accelerator": "L40", "per_node": 1}}),
            "pulumi-llm:onprem.gpus.accelerator = L40: ",
        ),
        (
            config(onprem={"kube_context": "lab", "prometheus": {"install": False}}),
            "pulumi-llm:onprem.prometheus.url: required when install is false (KEDA and the adapter query it)",
        ),
        (
            config(onprem={"kube_context": "lab", "prometheus": {"install": False, "url": "https://metrics.example.com"}}),
            "pulumi-llm:onprem.prometheus.namespace: required when url is not an in-cluster <service>.<namespace>.svc address (the servers admit only the scraper's namespace)",
        ),
        (
            config(
                serving={"replicas": {"min": 0, "max": 2}, "autoscaling": {"scale_to_zero": True}},
                onprem={"kube_context": "lab", "ingress": {"install": False}},
            ),
            "pulumi-llm:serving.autoscaling.scale_to_zero = true: scale to zero wakes on ingress-nginx request metrics: "
            "set onprem.ingress.install true",
        ),
    ],
)
def test_bad_serving_input(cfg: dict[str, str], expected: str | None) -> None:
    if expected is None:
        # A model too big for the device fails with the need, the offer and the ways out.
        text = message(cfg)
        assert text.startswith(f"{SOURCE}: pulumi-llm:models.m = ")
        assert " needs " in text and " offers " in text and "ways out" in text
        return
    text = message(cfg)
    assert text.startswith(f"{SOURCE}: {expected}")
    if not expected.endswith(": "):
        assert text == f"{SOURCE}: {expected}"
