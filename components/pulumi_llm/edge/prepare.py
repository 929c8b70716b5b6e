"""Model preparation for llama.cpp: a Hugging Face checkpoint → GGUF → quantized GGUF → the model bucket.

Pure: the file naming, the converter and quantizer command lines, and a Kubernetes Job that runs them
(`prepare_job_spec`). `images/edge-llamacpp/prepare_model.py` runs the same commands on a workstation or
in CI; the Job runs them in a cluster next to the bucket, from pinned upstream images only:

    fetch     (init, aws-cli)        aws s3 cp --recursive <source> /work/hf
    convert   (init, llama.cpp full) python3 /app/convert_hf_to_gguf.py /work/hf --outtype f16 …
    quantize  (init, llama.cpp full) /app/llama-quantize /work/model-f16.gguf /work/out/<file> Q4_K_M
    upload    (aws-cli)              sha256sum, then aws s3 cp <file> and <file>.sha256 to <dest>

The `.sha256` file beside each GGUF is what the edge image's `bundled` target takes as MODEL_SHA256.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from typing import Any

from .. import pins
from ..errors import UserError
from ..naming import is_dns_label

GGUF_TYPES: dict[str, str] = {
    "q2_k": "Q2_K",
    "q3_k_m": "Q3_K_M",
    "q4_0": "Q4_0",
    "q4_k_s": "Q4_K_S",
    "q4_k_m": "Q4_K_M",
    "q5_k_m": "Q5_K_M",
    "q6_k": "Q6_K",
    "q8_0": "Q8_0",
    "f16": "F16",
}
"""Sizing's GGUF precision keys → llama-quantize type names (a test holds this equal to sizing's set)."""
DEFAULT_QUANTIZATION = "q4_k_m"
WORK_DIR = "/work"
CONVERTER = "/app/convert_hf_to_gguf.py"
QUANTIZER = "/app/llama-quantize"
"""Where the llama.cpp `full` image keeps the converter and the quantizer."""

_S3 = re.compile(r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/[^\s]*)?$")


def gguf_type(quantization: str) -> str:
    key = quantization.strip().lower().replace("-", "_")
    if key not in GGUF_TYPES:
        raise UserError(f"quantization = {quantization}: llama.cpp quantizes to {', '.join(GGUF_TYPES)}")
    return GGUF_TYPES[key]


def gguf_file_name(name: str, quantization: str = DEFAULT_QUANTIZATION) -> str:
    """`<name>-<quantization>.gguf`, the file the llama.cpp runtime mounts by default."""
    gguf_type(quantization)
    return f"{name}-{quantization.strip().lower().replace('-', '_')}.gguf"


def convert_command(hf_dir: str, outfile: str, *, converter: str = CONVERTER, python: str = "python3", outtype: str = "f16") -> list[str]:
    """llama.cpp's converter: a checkpoint directory to one GGUF file (f16 before quantizing)."""
    return [python, converter, hf_dir, "--outfile", outfile, "--outtype", outtype]


def quantize_command(infile: str, outfile: str, quantization: str, *, quantizer: str = QUANTIZER, threads: int | None = None) -> list[str]:
    cmd = [quantizer, infile, outfile, gguf_type(quantization)]
    return cmd if threads is None else [*cmd, str(threads)]


def s3_join(prefix: str, file_name: str) -> str:
    return prefix.rstrip("/") + "/" + file_name


def check_s3_uri(uri: str, where: str) -> str:
    if not _S3.match(uri):
        raise UserError(f"{where} = {uri}: an s3://bucket/prefix URI is expected")
    return uri


def _container(name: str, image: str, command: list[str], *, cpu: str, memory: str, env: Mapping[str, str] | None = None) -> dict[str, Any]:
    return {
        "name": name,
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "command": command,
        "env": [{"name": k, "value": v} for k, v in sorted({"HOME": "/tmp", **(env or {})}.items())],
        "resources": {"requests": {"cpu": cpu, "memory": memory}, "limits": {"memory": memory}},
        "volumeMounts": [{"name": "work", "mountPath": WORK_DIR}, {"name": "tmp", "mountPath": "/tmp"}],
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
        },
        "terminationMessagePolicy": "FallbackToLogsOnError",
    }


def prepare_job_spec(
    name: str,
    *,
    source: str,
    dest: str,
    quantization: str = DEFAULT_QUANTIZATION,
    service_account: str,
    labels: Mapping[str, str] | None = None,
    converter_image: str = pins.LLAMA_CPP_FULL.ref,
    aws_image: str = pins.AWS_CLI.ref,
    work_size: str = "64Gi",
    cpu: int = 4,
    memory: str = "16Gi",
    region: str | None = None,
    active_deadline_seconds: int = 4 * 3600,
) -> dict[str, Any]:
    """A batch/v1 Job `spec` that turns the checkpoint at `source` into `<dest>/<name>-<quant>.gguf`.

    `service_account` carries the bucket access (IRSA / Pod Identity / Workload Identity). `work_size`
    must hold the checkpoint, the f16 GGUF and the quantized file (≈ 2.5 × the f16 size).
    """
    if not is_dns_label(name):
        raise UserError(f"prepare.name = {name}: a lower-case DNS label (a-z, 0-9, -) is expected")
    check_s3_uri(source, "prepare.source")
    check_s3_uri(dest, "prepare.dest")
    for image, where in ((converter_image, "prepare.converter_image"), (aws_image, "prepare.aws_image")):
        if "@sha256:" not in image:
            raise UserError(f"{where} = {image}: images are pinned as repository:tag@sha256:digest")
    if cpu < 1:
        raise UserError(f"prepare.cpu = {cpu}: at least 1 whole CPU is expected")
    if active_deadline_seconds < 60:
        raise UserError(f"prepare.active_deadline_seconds = {active_deadline_seconds}: at least 60 is expected")
    qtype = gguf_type(quantization)
    file_name = gguf_file_name(name, quantization)
    out = f"{WORK_DIR}/out/{file_name}"
    aws_env = {"AWS_REGION": region} if region else {}
    fetch = f"mkdir -p {WORK_DIR}/out && aws s3 cp --recursive --only-show-errors {shlex.quote(source)} {WORK_DIR}/hf"
    init = [_container("fetch", aws_image, ["sh", "-c", fetch], cpu="1", memory="1Gi", env=aws_env)]
    if qtype == "F16":
        init.append(_container("convert", converter_image, convert_command(f"{WORK_DIR}/hf", out), cpu=str(cpu), memory=memory))
    else:
        f16 = f"{WORK_DIR}/model-f16.gguf"
        init += [
            _container("convert", converter_image, convert_command(f"{WORK_DIR}/hf", f16), cpu=str(cpu), memory=memory),
            _container("quantize", converter_image, quantize_command(f16, out, quantization, threads=cpu), cpu=str(cpu), memory=memory),
        ]
    upload = _container(
        "upload",
        aws_image,
        [
            "sh",
            "-c",
            f"cd {WORK_DIR}/out && sha256sum {file_name} > {file_name}.sha256 && "
            f"aws s3 cp --only-show-errors {file_name} {shlex.quote(s3_join(dest, file_name))} && "
            f"aws s3 cp --only-show-errors {file_name}.sha256 {shlex.quote(s3_join(dest, file_name + '.sha256'))}",
        ],
        cpu="1",
        memory="1Gi",
        env=aws_env,
    )
    pod_labels = dict(labels or {})
    return {
        "backoffLimit": 1,
        "activeDeadlineSeconds": active_deadline_seconds,
        "ttlSecondsAfterFinished": 7 * 24 * 3600,
        "template": {
            "metadata": {"labels": pod_labels} if pod_labels else {},
            "spec": {
                "serviceAccountName": service_account,
                "restartPolicy": "Never",
                "enableServiceLinks": False,
                "securityContext": {
                    "runAsNonRoot": True,
                    "runAsUser": 1000,
                    "runAsGroup": 1000,
                    "fsGroup": 1000,
                    "seccompProfile": {"type": "RuntimeDefault"},
                },
                "initContainers": init,
                "containers": [upload],
                "volumes": [
                    {"name": "work", "emptyDir": {"sizeLimit": work_size}},
                    {"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}},
                ],
            },
        },
    }
