"""A dedicated virtual environment for the ONNX Runtime GenAI server and its model builder, for integration tests.

    python tests/integration/support/onnx_env.py      # installs if needed, prints the venv's python

The server's own packages (onnxruntime-genai, onnxruntime and their closure) are installed from the very file
the image installs, ``images/edge-onnx/requirements.txt``, with ``--require-hashes``: the tests run what
ships. The model builder (``python -m onnxruntime_genai.models.builder``) additionally needs torch,
transformers, onnx and onnx-ir; those are test-side only (the image serves models built elsewhere).

Install recipe, into a CPython 3.11 venv (the only torch CPU wheel here is cp311):

1. ``torch==2.13.0+cpu`` from the wheel in ``/opt/wheels``, as the vLLM env does (PyPI's Linux torch is the
   CUDA build and pulls gigabytes of NVIDIA libraries);
2. ``images/edge-onnx/requirements.txt`` with ``--require-hashes --only-binary=:all:``;
3. the builder's packages under ``BUILDER_PINS`` as constraints (a ``pip freeze`` of a working install;
   transformers 5.23.0 converts the tiny Llama to int4 with the 0.18.0 builder);
4. an import check of the runtime and the builder; only then is the marker file written.

Only the standard library is used here, so the project's venv can import this module.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

try:
    from support import vllm_env as _torch_source
    from support.cached_env import CACHE_ROOT, CachedEnv, venv_python
except ImportError:  # run as a script: this directory is sys.path[0]
    import vllm_env as _torch_source  # type: ignore[no-redef]
    from cached_env import CACHE_ROOT, CachedEnv, venv_python  # type: ignore[no-redef]

ROOT = Path(__file__).resolve().parents[3]
REQUIREMENTS = ROOT / "images" / "edge-onnx" / "requirements.txt"
GENAI_VERSION = "0.18.0"
TORCH_VERSION = _torch_source.TORCH_VERSION
PYTHON_VERSION = _torch_source.PYTHON_VERSION

# What the builder imports beyond the runtime (onnx, onnx_ir, torch, transformers, safetensors, tqdm,
# huggingface_hub) and their closure, exact versions. The runtime's packages are pinned (with hashes)
# by REQUIREMENTS; torch by TORCH_VERSION.
BUILDER_REQUIREMENTS = ("onnx", "onnx-ir", "transformers", "tokenizers", "safetensors")
BUILDER_PINS = (
    "annotated-doc==0.0.7",
    "annotated-types==0.8.0",
    "anyio==4.16.0",
    "click==8.5.1",
    "filelock==4.2.11",
    "fsspec==2026.9.0",
    "h11==0.16.0",
    "hf-xet==1.8.0",
    "httpcore2==2.16.2",
    "httpx2==2.16.2",
    "huggingface-hub==2.4.0",
    "idna==3.20",
    "jinja2==3.1.6",
    "markdown-it-py==4.3.0",
    "markupsafe==3.0.4",
    "mdurl==0.1.2",
    "ml-dtypes==0.6.0",
    "mpmath==1.3.0",
    "networkx==3.6.1",
    "onnx==1.23.2",
    "onnx-ir==1.1.0",
    "pydantic==2.14.3",
    "pydantic-core==2.50.4",
    "pygments==2.21.0",
    "pyyaml==6.0.3",
    "regex==2026.11.15",
    "rich==15.0.0",
    "safetensors==0.8.0",
    "shellingham==1.5.4",
    "sympy==1.14.0",
    "tokenizers==0.23.3",
    "tqdm==4.70.1",
    "transformers==5.23.0",
    "truststore==0.10.5",
    "typer==0.29.2",
    "typing-inspection==0.4.5",
    "typing-extensions==4.16.0",
)

ENV_VENV = "PULUMI_LLM_ONNX_VENV"
DEFAULT_VENV = CACHE_ROOT / f"onnxruntime-genai-{GENAI_VERSION}"

_CHECK_SCRIPT = r"""
import json, importlib.metadata as md
import onnxruntime_genai, onnxruntime, onnx, onnx_ir, torch, transformers
import onnxruntime_genai.models.builder
print(json.dumps({
    "onnxruntime-genai": md.version("onnxruntime-genai"),
    "onnxruntime": onnxruntime.__version__,
    "onnx": onnx.__version__,
    "torch": torch.__version__,
    "transformers": transformers.__version__,
}))
"""


class OnnxEnvError(RuntimeError):
    """The ONNX Runtime GenAI environment could not be installed or does not work."""


def _spec() -> dict[str, object]:
    """What the marker records; a change here (or in the image's requirements) forces a reinstall."""
    return {
        "torch": TORCH_VERSION,
        "requirements": REQUIREMENTS.read_text(),
        "builder": list(BUILDER_REQUIREMENTS),
        "pins": list(BUILDER_PINS),
    }


_ENV = CachedEnv("onnx-env", OnnxEnvError, ENV_VENV, DEFAULT_VENV, _spec)
MARKER_NAME = _ENV.marker_name
_log = _ENV.log
_run = _ENV.run


def venv_dir() -> Path:
    """Where the venv lives: $PULUMI_LLM_ONNX_VENV or ~/.cache/pulumi-llm/onnxruntime-genai-<version>."""
    return _ENV.location()


def _base_python() -> str:
    return _ENV.base_python(PYTHON_VERSION, override_var=_torch_source.ENV_BASE_PYTHON, why=f"for the torch {TORCH_VERSION} wheel")


def _install(venv: Path) -> dict[str, str]:
    started = time.monotonic()
    _log(f"creating venv at {venv}")
    _run([_base_python(), "-m", "venv", "--clear", str(venv)])
    py = str(venv_python(venv))
    pip = [py, "-m", "pip", "install", "--progress-bar", "off"]

    torch_req, torch_opts = _torch_source._torch_requirement()
    _log(f"step 1/4: torch {TORCH_VERSION}")
    _run(pip + torch_opts + [torch_req])

    _log(f"step 2/4: the image's runtime packages, hash-checked ({REQUIREMENTS.relative_to(ROOT)})")
    _run(pip + ["--require-hashes", "--only-binary=:all:", "-r", str(REQUIREMENTS)])

    _log(f"step 3/4: the model builder's packages ({', '.join(BUILDER_REQUIREMENTS)})")
    constraints = venv / "pulumi-llm-constraints.txt"
    runtime_pins = [line.split()[0] for line in REQUIREMENTS.read_text().splitlines() if "==" in line and not line.startswith("#")]
    constraints.write_text("\n".join([f"torch=={TORCH_VERSION}", *runtime_pins, *BUILDER_PINS]) + "\n")
    _run(pip + torch_opts + ["-c", str(constraints), *BUILDER_REQUIREMENTS])

    _log("step 4/4: import check")
    versions = json.loads(_run([py, "-c", _CHECK_SCRIPT], capture=True).strip().splitlines()[-1])
    if versions["onnxruntime-genai"] != GENAI_VERSION or versions["torch"] != TORCH_VERSION:
        raise OnnxEnvError(f"unexpected versions after install: {versions}")
    elapsed = time.monotonic() - started
    _ENV.write_marker(venv, versions=versions, install_seconds=round(elapsed, 1))
    _log(f"installed {versions} in {elapsed:.0f} s")
    return versions


def ensure_onnx_env() -> Path:
    """The python of a venv with onnxruntime-genai and its model builder, installed first if needed."""
    return venv_python(_ENV.ensure(_install))


def main() -> int:
    return _ENV.main(ensure_onnx_env)


if __name__ == "__main__":
    sys.exit(main())
