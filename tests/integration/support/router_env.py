"""A dedicated virtual environment holding the vLLM project's router (``vllm-router``), for the router test
and bench/router_prefix.py.

The router is a Rust binary wheel; the venv gets exactly the wheel the cluster pods install — the
requirements text of ``pulumi_llm.kubernetes.router_render.requirements_text()`` (version and sha256 hashes),
installed with ``pip --require-hashes --no-deps --only-binary=:all:`` — and the router runs as the pods run
it: ``python -c LAUNCHER <flags>``. Installed once per machine and reused:

    python tests/integration/support/router_env.py      # installs if needed, prints the venv's python

Only the standard library is used here, so the project's venv can import this module; the requirements
text is passed in (the project's venv reads it from the component) and recorded in the marker, so a new pin
reinstalls.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

try:  # as a package (tests, bench) or as a script run from this directory
    from .cached_env import CACHE_ROOT, CachedEnv, venv_python
except ImportError:
    from cached_env import CACHE_ROOT, CachedEnv, venv_python  # type: ignore[no-redef]

ENV_VENV = "PULUMI_LLM_ROUTER_VENV"


class RouterEnvError(RuntimeError):
    """The router could not be installed or does not run."""


def _version(requirements: str) -> str:
    """`vllm-router==X hashes…` → X."""
    first = requirements.split()[0]
    if not first.startswith("vllm-router=="):
        raise RouterEnvError(f"not a pinned vllm-router requirement: {first!r}")
    return first.split("==", 1)[1]


def _env(requirements: str) -> CachedEnv:
    version = _version(requirements)
    spec = {"requirements": requirements, "python": f"{sys.version_info[0]}.{sys.version_info[1]}"}
    return CachedEnv("router-env", RouterEnvError, ENV_VENV, CACHE_ROOT / f"vllm-router-{version}", lambda: spec)


def ensure_router_env(requirements: str) -> Path:
    """The venv's python with the pinned router installed (a file read when already there)."""
    env = _env(requirements)

    def install(venv: Path) -> None:
        started = time.monotonic()
        env.run([sys.executable, "-m", "venv", "--clear", str(venv)])
        py = str(venv_python(venv))
        with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as fh:
            fh.write(requirements)
        env.run(
            [py, "-m", "pip", "install", "--quiet", "--no-deps", "--only-binary=:all:", "--require-hashes", "-r", fh.name],
            timeout=900,
        )
        Path(fh.name).unlink(missing_ok=True)
        out = subprocess.run(
            [py, "-c", "import vllm_router_rs, vllm_router.router; from vllm_router.version import __version__; print(__version__)"],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if out.returncode != 0 or out.stdout.strip() != _version(requirements):
            raise RouterEnvError(f"the installed router does not import or reports {out.stdout.strip()!r}: {out.stderr[-1500:]}")
        env.write_marker(venv, install_seconds=round(time.monotonic() - started, 1))

    return venv_python(env.ensure(install))


def main() -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "components"))
    from pulumi_llm.kubernetes.router_render import requirements_text

    return _env(requirements_text()).main(lambda: ensure_router_env(requirements_text()))


if __name__ == "__main__":
    sys.exit(main())
