"""A real llama.cpp `llama-server` (and `llama-quantize`) built from source, for integration tests.

No Docker engine runs here and llama.cpp publishes no binaries on the package registries this machine
reaches, so the server is compiled from the llama.cpp source tree that the llama-cpp-python sdist on PyPI
vendors (`vendor/llama.cpp`, the full tree: server, quantizer, `convert_hf_to_gguf.py`, `gguf-py`). The
sdist is downloaded from PyPI's files host, pinned by version and sha256, built once per machine and cached:

    python tests/integration/support/llamacpp_build.py     # builds if needed, prints the bin directory

Cache: ~/.cache/pulumi-llm/llama.cpp-<sdist version>-<flags hash>/ (or $PULUMI_LLM_LLAMA_CPP_DIR) with
`src/` (the source tree; its converter is used too), `bin/llama-server`, `bin/llama-quantize` and a marker
recording the build's seconds. A changed version or flag set builds into a new directory.

The build is native (`GGML_NATIVE=ON`: the cache is per machine) and static, with the web UI off (its
assets would be downloaded) and `-O1`: the tests serve a 3 MB model, so compile time matters more than
kernel speed. The edge image builds the same tree from the same sdist, portably (its Dockerfile's
source stage checks the same sha256: images/edge-llamacpp/Dockerfile, and the `edge` stack pins it);
the environment variables it reads (`LLAMA_ARG_*`) are the same.

Only the standard library is used here, so the project's venv can import this module.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request
from pathlib import Path

try:  # as a package (tests) or as a script run from this directory
    from .cached_env import CACHE_ROOT, CachedEnv, sha256_file
except ImportError:
    from cached_env import CACHE_ROOT, CachedEnv, sha256_file  # type: ignore[no-redef]

SDIST = "llama-cpp-python"
SDIST_VERSION = "0.3.36"
SDIST_SHA256 = "832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e"
"""As PyPI publishes it (simple API, application/vnd.pypi.simple.v1+json, for llama-cpp-python)."""
SDIST_URL = (
    "https://files.pythonhosted.org/packages/ec/e9/e7de2b0463ea3ffbf0ede6cb21b58c1258a8f6521aae45ca773a59fe7cf3/"
    "llama_cpp_python-0.3.36.tar.gz"
)
LLAMA_CPP_COMMIT = "0c1e57098"
"""The llama.cpp commit llama-cpp-python 0.3.36 vendors (its CHANGELOG)."""
TARGETS = ("llama-server", "llama-quantize")
CMAKE_FLAGS = (
    "-DCMAKE_BUILD_TYPE=Release",
    "-DCMAKE_C_FLAGS_RELEASE=-O1 -DNDEBUG",
    "-DCMAKE_CXX_FLAGS_RELEASE=-O1 -DNDEBUG",
    "-DGGML_NATIVE=ON",
    "-DBUILD_SHARED_LIBS=OFF",
    "-DLLAMA_BUILD_TESTS=OFF",
    "-DLLAMA_BUILD_EXAMPLES=OFF",
    "-DLLAMA_BUILD_UI=OFF",
    "-DLLAMA_USE_PREBUILT_UI=OFF",
    "-DLLAMA_OPENSSL=OFF",
)
ENV_DIR = "PULUMI_LLM_LLAMA_CPP_DIR"
MARKER_NAME = ".pulumi-llm-built.json"


class LlamaCppBuildError(RuntimeError):
    """The source could not be fetched or the build failed."""


def _spec() -> dict[str, object]:
    return {"sdist": f"{SDIST}=={SDIST_VERSION}", "sha256": SDIST_SHA256, "flags": list(CMAKE_FLAGS), "targets": list(TARGETS)}


# A changed version or flag set builds into a new directory.
DEFAULT_DIR = CACHE_ROOT / f"llama.cpp-{SDIST_VERSION}-{hashlib.sha256(json.dumps(_spec(), sort_keys=True).encode()).hexdigest()[:8]}"
_ENV = CachedEnv(
    "llamacpp-build",
    LlamaCppBuildError,
    ENV_DIR,
    DEFAULT_DIR,
    _spec,
    marker_name=MARKER_NAME,
    ready=lambda root: all((root / "bin" / t).is_file() for t in TARGETS),
    doing="building",
)
_log = _ENV.log


def cache_dir() -> Path:
    """$PULUMI_LLM_LLAMA_CPP_DIR or ~/.cache/pulumi-llm/llama.cpp-<sdist version>-<flags hash>."""
    return _ENV.location()


def source_dir() -> Path:
    """The llama.cpp source tree (convert_hf_to_gguf.py lives at its top)."""
    return cache_dir() / "src"


def _run(cmd: list[str], *, cwd: Path | None = None, log: Path | None = None, timeout: float = 5400) -> None:
    _log("$ " + " ".join(cmd))
    out = open(log, "a") if log else None  # noqa: SIM115 - closed below
    try:
        proc = subprocess.run(cmd, cwd=cwd, stdout=out or sys.stderr, stderr=subprocess.STDOUT, timeout=timeout, check=False)
    finally:
        if out:
            out.close()
    if proc.returncode != 0:
        tail = ""
        if log and log.is_file():
            tail = "\n" + "\n".join(log.read_text(errors="replace").splitlines()[-30:])
        raise LlamaCppBuildError(f"command failed with exit code {proc.returncode}: {' '.join(cmd)}{tail}")


def download_sdist(dest: Path) -> Path:
    """The sdist in `dest`, downloaded from PyPI's files host and checked against SDIST_SHA256.

    The same URL and checksum the edge image's Dockerfile uses (images/edge-llamacpp: source stage). A
    plain download: `pip download` would also build the sdist's metadata, a minute of CMake probing."""
    dest.mkdir(parents=True, exist_ok=True)
    archive = dest / SDIST_URL.rsplit("/", 1)[1]
    partial = archive.with_suffix(".partial")
    _log(f"GET {SDIST_URL}")
    with urllib.request.urlopen(SDIST_URL, timeout=300) as response, partial.open("wb") as out:  # noqa: S310 - fixed https URL
        shutil.copyfileobj(response, out)
    if sha256_file(partial) != SDIST_SHA256:
        partial.unlink()
        raise LlamaCppBuildError(f"{archive.name}: sha256 does not match {SDIST_SHA256}")
    partial.rename(archive)
    return archive


def _fetch_source(root: Path) -> Path:
    """Download the sdist (sha256-checked) and unpack its vendor/llama.cpp into root/src."""
    src = root / "src"
    if (src / "CMakeLists.txt").is_file() and (src / "tools" / "server").is_dir():
        return src
    with tempfile.TemporaryDirectory() as tmp:
        archive = download_sdist(Path(tmp))
        prefix = f"{SDIST.replace('-', '_')}-{SDIST_VERSION}/vendor/llama.cpp/"
        staging = root / "src.partial"
        shutil.rmtree(staging, ignore_errors=True)
        with tarfile.open(archive) as tar:
            members = []
            for m in tar.getmembers():
                if m.name.startswith(prefix) and (m.isfile() or m.isdir() or m.issym()):
                    m.name = m.name[len(prefix) :]
                    if m.name:
                        members.append(m)
            tar.extractall(staging, members=members, filter="data")
        shutil.rmtree(src, ignore_errors=True)
        staging.rename(src)
    return src


def _build(root: Path) -> dict[str, object]:
    started = time.monotonic()
    root.mkdir(parents=True, exist_ok=True)
    log = root / "build.log"
    log.write_text("")
    src = _fetch_source(root)
    fetched = time.monotonic()
    build = root / "build"
    generator = ["-G", "Ninja"] if shutil.which("ninja") else []
    _run(["cmake", "-S", str(src), "-B", str(build), *generator, *CMAKE_FLAGS], log=log)
    jobs = str(os.cpu_count() or 2)
    _run(["cmake", "--build", str(build), "--target", *TARGETS, "-j", jobs], log=log)
    bin_dir = root / "bin"
    bin_dir.mkdir(exist_ok=True)
    for target in TARGETS:
        shutil.copy2(build / "bin" / target, bin_dir / target)
    version = subprocess.run([str(bin_dir / "llama-server"), "--version"], capture_output=True, text=True, timeout=60)
    if version.returncode != 0:
        raise LlamaCppBuildError(f"llama-server --version failed: {version.stderr.strip()[-500:]}")
    done = time.monotonic()
    info = {
        "fetch_seconds": round(fetched - started, 1),
        "build_seconds": round(done - fetched, 1),
        "cpus": os.cpu_count(),
        "version": (version.stdout + version.stderr).strip().splitlines()[0:2],
    }
    _ENV.write_marker(root, **info)
    shutil.rmtree(build, ignore_errors=True)  # ~1 GB of objects; the binaries are static
    _log(f"built {', '.join(TARGETS)} in {info['build_seconds']} s (fetch {info['fetch_seconds']} s)")
    return info


def ensure_llamacpp() -> Path:
    """The bin directory holding llama-server and llama-quantize, building them first if needed.

    A file read when the marker of a finished build is present; concurrent callers wait on a lock.
    """
    return _ENV.ensure(_build) / "bin"


def build_info() -> dict[str, object]:
    return json.loads((cache_dir() / MARKER_NAME).read_text())


def main() -> int:
    return _ENV.main(ensure_llamacpp, also=(subprocess.TimeoutExpired,))


if __name__ == "__main__":
    sys.exit(main())
