"""The edge image's source step, run for real on the real file: the llama-cpp-python sdist from PyPI.

The Dockerfile's `source` stage downloads the sdist, checks it against LLAMA_CPP_SHA256 and unpacks its
`vendor/llama.cpp`. Here the same RUN text runs with bash on the sdist pip fetched by hash (the only
substitutions: the download is a copy of that file, and /src, /tmp are test directories), with the
checksum the `edge` stack pins. The tree it unpacks must be the tree the integration build compiled and
served (support/llamacpp_build.py), so the stack's checksum is one a real build verified.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "ci"))
sys.path.insert(0, str(ROOT / "tests" / "integration"))

from support.llamacpp_build import SDIST_SHA256, download_sdist, ensure_llamacpp, source_dir  # noqa: E402
from test_dockerfiles import EDGE, parse  # noqa: E402


@pytest.fixture(scope="module")
def sdist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return download_sdist(tmp_path_factory.mktemp("sdist"))


def source_step(tmp: Path, archive: Path) -> str:
    args, stages = parse(EDGE)
    [stage] = [s for s in stages if s.name == "source"]
    script = stage.values("RUN")[-1]
    download = re.search(r"curl [^&]*\"\$\{LLAMA_CPP_SOURCE_URL\}\"", script)
    assert download, script
    script = script.replace(download[0], "cp @ARCHIVE@ /tmp/llama-cpp-python.tar.gz")
    return script.replace("/tmp/", f"{tmp}/").replace("/src", f"{tmp}/src").replace("@ARCHIVE@", str(archive))


def run_step(tmp: Path, archive: Path, sha256: str) -> subprocess.CompletedProcess[str]:
    (tmp / "src").mkdir(parents=True, exist_ok=True)
    defaults = {
        s.split("=", 1)[0]: s.split("=", 1)[1]
        for s in [v for st in parse(EDGE)[1] if st.name == "source" for v in st.values("ARG")]
        if "=" in s
    }
    env = {"PATH": "/usr/bin:/bin", "LLAMA_CPP_SHA256": sha256, "LLAMA_CPP_SOURCE_VERSION": defaults["LLAMA_CPP_SOURCE_VERSION"]}
    return subprocess.run(["bash", "-o", "pipefail", "-c", source_step(tmp, archive)], capture_output=True, text=True, env=env, timeout=600)


def tree_digest(root: Path) -> str:
    digest = hashlib.sha256()
    # __pycache__ is not source: test_llamacpp_server imports the tree's gguf-py in-process, which writes bytecode
    # into the cached tree, so a second run on the same machine would compare it too.
    for path in sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink() and "__pycache__" not in p.parts):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def test_the_stack_pins_the_sdist_sha256() -> None:
    config = yaml.safe_load((ROOT / "stacks" / "Pulumi.edge.yaml").read_text())["config"]
    assert config["pulumi-llm:edge"]["llama_cpp_sha256"] == SDIST_SHA256


def test_the_source_step_verifies_and_unpacks_the_tree_the_integration_build_serves(sdist: Path, tmp_path: Path) -> None:
    config = yaml.safe_load((ROOT / "stacks" / "Pulumi.edge.yaml").read_text())["config"]
    result = run_step(tmp_path, sdist, config["pulumi-llm:edge"]["llama_cpp_sha256"])
    assert result.returncode == 0, result.stderr
    assert "llama-cpp-python.tar.gz: OK" in result.stdout
    src = tmp_path / "src"
    assert (src / "CMakeLists.txt").is_file() and (src / "tools" / "server" / "server.cpp").is_file()
    assert not (tmp_path / "llama-cpp-python.tar.gz").exists()
    ensure_llamacpp()  # the tree the integration server was compiled from
    assert tree_digest(src) == tree_digest(source_dir())


def test_the_source_step_refuses_a_file_with_another_checksum(sdist: Path, tmp_path: Path) -> None:
    result = run_step(tmp_path, sdist, "0" * 64)
    assert result.returncode != 0 and "FAILED" in result.stdout + result.stderr
    assert not (tmp_path / "src" / "CMakeLists.txt").exists()
