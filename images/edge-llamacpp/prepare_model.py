#!/usr/bin/env python3
"""Prepare a model for the edge image: Hugging Face checkpoint → GGUF → quantized GGUF → model bucket.

    uv run python images/edge-llamacpp/prepare_model.py HF_DIR --name NAME [--quant q4_k_m] \
        --llama-cpp LLAMA_CPP_SRC --quantize-bin llama-quantize [--python PY] \
        [--work DIR] [--upload s3://bucket/prefix]

Steps (the same commands the Kubernetes Job of `pulumi_llm.edge.prepare.prepare_job_spec` runs):

1. convert: `LLAMA_CPP_SRC/convert_hf_to_gguf.py HF_DIR --outtype f16` with `--python` (an interpreter
   with torch, transformers, sentencepiece and numpy; the converter brings its own `gguf-py`);
2. quantize: `llama-quantize model-f16.gguf NAME-QUANT.gguf Q4_K_M` (skipped for f16);
3. checksum: `NAME-QUANT.gguf.sha256` beside it (`sha256sum` format; the `bundled` image target takes the
   hex as MODEL_SHA256);
4. upload (with `--upload`): both files to `s3://bucket/prefix/` with boto3, the object's SHA-256
   checked by S3 (`ChecksumAlgorithm=SHA256`).

LLAMA_CPP_SRC is a llama.cpp source tree of the same release as the server that will load the file (the
release archive, or `vendor/llama.cpp` of the llama-cpp-python sdist); `llama-quantize` comes from a build
of it (`tests/integration/support/llamacpp_build.py` builds one). Prints one JSON object: the file, its
size and sha256, the S3 URIs and the seconds each step took.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pulumi_llm.edge.prepare import (
    DEFAULT_QUANTIZATION,
    check_s3_uri,
    convert_command,
    gguf_file_name,
    gguf_type,
    quantize_command,
    s3_join,
)
from pulumi_llm.errors import UserError


@dataclass
class Prepared:
    path: Path
    sha256: str
    bytes: int
    quantization: str
    uploaded: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["path"] = str(self.path)
        return data


def sha256_of(path: Path, chunk: int = 8 * 1024 * 1024) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def _run(cmd: list[str], step: str, env: dict[str, str] | None = None) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
        raise RuntimeError(f"{step} failed (exit {proc.returncode}): {' '.join(cmd)}\n{tail}")


def _parse_s3(uri: str) -> tuple[str, str]:
    rest = uri.removeprefix("s3://")
    bucket, _, key = rest.partition("/")
    return bucket, key


def upload(files: list[Path], dest: str, client: Any = None) -> list[str]:
    """Upload `files` below the s3:// prefix `dest`; return their URIs. `client`: a boto3 S3 client."""
    check_s3_uri(dest, "--upload")
    if client is None:
        import boto3

        client = boto3.client("s3")
    uris = []
    for path in files:
        uri = s3_join(dest, path.name)
        bucket, key = _parse_s3(uri)
        client.upload_file(str(path), bucket, key, ExtraArgs={"ChecksumAlgorithm": "SHA256"})
        uris.append(uri)
    return uris


def prepare(
    hf_dir: Path,
    *,
    name: str,
    quantization: str = DEFAULT_QUANTIZATION,
    llama_cpp: Path,
    quantize_bin: Path | None,
    work_dir: Path,
    python: str = sys.executable,
    dest: str | None = None,
    s3_client: Any = None,
) -> Prepared:
    """Run the steps; raise UserError for bad input and RuntimeError when a tool fails."""
    qtype = gguf_type(quantization)
    if not (hf_dir / "config.json").is_file():
        raise UserError(f"{hf_dir}: not a Hugging Face checkpoint directory (no config.json)")
    converter = llama_cpp / "convert_hf_to_gguf.py"
    if not converter.is_file():
        raise UserError(f"--llama-cpp {llama_cpp}: no convert_hf_to_gguf.py there (a llama.cpp source tree is expected)")
    if qtype != "F16" and (quantize_bin is None or not os.access(quantize_bin, os.X_OK)):
        raise UserError(f"--quantize-bin {quantize_bin}: an executable llama-quantize is needed for {quantization}")
    if dest is not None:
        check_s3_uri(dest, "--upload")
    work_dir.mkdir(parents=True, exist_ok=True)
    final = work_dir / gguf_file_name(name, quantization)
    seconds: dict[str, float] = {}
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}

    with tempfile.TemporaryDirectory(dir=work_dir, prefix=".convert-") as tmp:
        f16 = final if qtype == "F16" else Path(tmp) / "model-f16.gguf"
        started = time.monotonic()
        _run(convert_command(str(hf_dir), str(f16), converter=str(converter), python=python), "convert", env)
        seconds["convert"] = round(time.monotonic() - started, 2)
        if qtype != "F16":
            assert quantize_bin is not None
            started = time.monotonic()
            _run(quantize_command(str(f16), str(final), quantization, quantizer=str(quantize_bin)), "quantize", env)
            seconds["quantize"] = round(time.monotonic() - started, 2)

    started = time.monotonic()
    digest = sha256_of(final)
    checksum = final.with_name(final.name + ".sha256")
    checksum.write_text(f"{digest}  {final.name}\n")
    seconds["sha256"] = round(time.monotonic() - started, 2)
    result = Prepared(path=final, sha256=digest, bytes=final.stat().st_size, quantization=quantization, seconds=seconds)
    if dest is not None:
        started = time.monotonic()
        result.uploaded = upload([final, checksum], dest, s3_client)
        seconds["upload"] = round(time.monotonic() - started, 2)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("hf_dir", type=Path, help="Hugging Face checkpoint directory (config.json, safetensors, tokenizer)")
    parser.add_argument("--name", required=True, help="model name: the file is NAME-QUANT.gguf")
    parser.add_argument("--quant", default=DEFAULT_QUANTIZATION, help=f"GGUF type (default {DEFAULT_QUANTIZATION})")
    parser.add_argument(
        "--llama-cpp",
        type=Path,
        default=os.environ.get("LLAMA_CPP_DIR"),
        help="llama.cpp source tree with convert_hf_to_gguf.py (default $LLAMA_CPP_DIR)",
    )
    parser.add_argument(
        "--quantize-bin", type=Path, default=os.environ.get("LLAMA_QUANTIZE"), help="llama-quantize binary (default $LLAMA_QUANTIZE)"
    )
    parser.add_argument("--python", default=sys.executable, help="interpreter for the converter (torch, transformers)")
    parser.add_argument("--work", type=Path, default=Path("out/models"), help="output directory (default out/models)")
    parser.add_argument("--upload", default=None, help="s3://bucket/prefix to upload the GGUF and its .sha256 to")
    args = parser.parse_args(argv)
    if args.llama_cpp is None:
        print("prepare_model: --llama-cpp (or $LLAMA_CPP_DIR) is required", file=sys.stderr)
        return 2
    try:
        result = prepare(
            args.hf_dir,
            name=args.name,
            quantization=args.quant,
            llama_cpp=args.llama_cpp,
            quantize_bin=args.quantize_bin,
            work_dir=args.work,
            python=args.python,
            dest=args.upload,
        )
    except UserError as err:
        print(f"prepare_model: {err}", file=sys.stderr)
        return 2
    except RuntimeError as err:
        print(f"prepare_model: {err}", file=sys.stderr)
        return 1
    print(json.dumps(result.as_json(), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
