"""The distribution other repositories install (`pip install "pulumi-llm @ git+…@vX.Y.Z"`) and the
flat, lazy public API of `pulumi_llm`."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pulumi_llm
import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "components" / "pulumi_llm"
CLOUD_SDKS = ("pulumi_aws", "pulumi_gcp", "pulumi_azure_native", "pulumi_kubernetes", "pulumi_docker_build")


def source_files() -> set[str]:
    """Every file of the package as the wheel must hold it (`pulumi_llm/...`): modules, READMEs, py.typed
    and any data file the code reads at run time."""
    return {
        "pulumi_llm/" + path.relative_to(PACKAGE).as_posix()
        for path in PACKAGE.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix not in {".pyc", ".pyo"}
    }


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    uv = shutil.which("uv")
    assert uv, "uv is the project's build front-end (README: pip install uv)"
    out = tmp_path_factory.mktemp("dist")
    result = subprocess.run([uv, "build", "--wheel", "--out-dir", str(out), str(ROOT)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    [built] = out.glob("*.whl")
    return built


def test_wheel_is_named_for_the_package_version(wheel: Path) -> None:
    assert wheel.name == f"pulumi_llm-{pulumi_llm.__version__}-py3-none-any.whl"


def test_wheel_holds_every_module_subpackage_and_data_file(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    packaged = {n for n in names if n.startswith("pulumi_llm/")}
    expected = source_files()
    assert "pulumi_llm/py.typed" in packaged
    for package in (
        "cluster",
        "edge",
        "gateway",
        "gpu_vm",
        "kubernetes",
        "monitoring",
        "network",
        "offline",
        "onprem",
        "runtimes",
        "security",
        "sizing",
        "storage",
    ):
        assert f"pulumi_llm/{package}/__init__.py" in packaged, package
    assert expected - packaged == set()
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)
    # Nothing but the package and its metadata: no tests or stacks ride along …
    assert {n.split("/")[0] for n in names} == {"pulumi_llm", f"pulumi_llm-{pulumi_llm.__version__}.dist-info"}
    # … but the edge image's build context does, byte for byte, so installed copies can build it.
    archive = zipfile.ZipFile(wheel)
    for image, file in (
        ("edge-llamacpp", "Dockerfile"),
        ("edge-llamacpp", "README.md"),
        ("edge-llamacpp", "prepare_model.py"),
        ("edge-onnx", "Dockerfile"),
        ("edge-onnx", "requirements.txt"),
        ("edge-onnx", "server.py"),
    ):
        packed = archive.read(f"pulumi_llm/_images/{image}/{file}")
        assert packed == (ROOT / "images" / image / file).read_bytes(), f"{image}/{file}"


def test_wheel_metadata_declares_the_console_script_and_version(wheel: Path) -> None:
    archive = zipfile.ZipFile(wheel)
    info = f"pulumi_llm-{pulumi_llm.__version__}.dist-info"
    entry_points = archive.read(f"{info}/entry_points.txt").decode()
    assert re.search(r"^\[console_scripts\]\s*^pulumi-llm = pulumi_llm\.cli:main$", entry_points, re.M)
    metadata = archive.read(f"{info}/METADATA").decode()
    assert re.search(r"^Name: pulumi-llm$", metadata, re.M)
    assert re.search(rf"^Version: {re.escape(pulumi_llm.__version__)}$", metadata, re.M)
    assert re.search(r"^Requires-Python: <3\.14,>=3\.11$", metadata, re.M)


def test_installed_wheel_reports_its_version_and_runs_its_console_script(wheel: Path, tmp_path: Path) -> None:
    """Installed (without deps, which this environment already has) into its own directory that
    shadows the editable checkout: the distribution's version is the module's, and the script runs."""
    target = tmp_path / "site"
    result = subprocess.run(
        [shutil.which("uv") or "uv", "pip", "install", "--no-deps", "--python", sys.executable, "--target", str(target), str(wheel)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    env = {**os.environ, "PYTHONPATH": str(target)}
    probe = (
        "import importlib.metadata as m, json, pulumi_llm;"
        "d = m.distribution('pulumi-llm');"
        "print(json.dumps({'file': pulumi_llm.__file__, 'version': d.version, 'module': pulumi_llm.__version__,"
        " 'typed': (d.locate_file('pulumi_llm/py.typed')).is_file()}))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert Path(report["file"]).is_relative_to(target)
    assert report["version"] == report["module"] == pulumi_llm.__version__
    assert report["typed"] is True
    context = subprocess.run(
        [sys.executable, "-c", "from pulumi_llm.edge.image import default_build_context as d; print(d()); print(d('onnx'))"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )
    assert context.returncode == 0, context.stderr
    assert [Path(line) for line in context.stdout.split()] == [
        target / "pulumi_llm" / "_images" / "edge-llamacpp",
        target / "pulumi_llm" / "_images" / "edge-onnx",
    ]
    script = target / "bin" / "pulumi-llm"
    run = subprocess.run(
        [sys.executable, str(script), "size", "llama-3.1-8b-instruct", "--gpu", "L4"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("llama-3.1-8b-instruct (Llama 3.1 8B Instruct) in bf16 on 1× L4: fits")


# --- the public API ---------------------------------------------------------------------------------


def test_every_public_name_resolves_to_the_object_its_module_defines() -> None:
    import importlib

    # __all__ is spelled out for type checkers; it must list exactly the lazily served names, in order.
    assert pulumi_llm.__all__ == ["__version__", *pulumi_llm._EXPORTS]
    assert len(set(pulumi_llm.__all__)) == len(pulumi_llm.__all__)
    for name, module in pulumi_llm._EXPORTS.items():
        assert getattr(pulumi_llm, name) is getattr(importlib.import_module(module), name), name
    for component in (
        "LlmPlatform",
        "AwsGateway",
        "GcpGateway",
        "AzureGateway",
        "AwsGpuVm",
        "GcpGpuVm",
        "AzureGpuVm",
        "EksCluster",
        "GkeCluster",
        "AksCluster",
        "OnPremCluster",
        "ModelServing",
        "ModelServer",
        "EdgeImage",
        "EdgeRollout",
        "AwsNetwork",
        "GcpNetwork",
        "AzureNetwork",
        "AwsModelStore",
        "GcpModelStore",
        "AzureModelStore",
        "AwsStackKey",
        "AwsMonitoring",
    ):
        assert component in pulumi_llm.__all__ and f"{component}Args" in pulumi_llm.__all__, component
    with pytest.raises(AttributeError, match="has no attribute 'NoSuchThing'"):
        pulumi_llm.NoSuchThing  # noqa: B018


def test_every_component_class_of_the_package_is_exported() -> None:
    """A new component can't be forgotten in the public API."""
    # By class name, not type token: AWS tokens keep their names before 0.2.0 (ModelStore, StackKey, …) so
    # that no resource is replaced, while the classes follow the naming rule (AwsModelStore, …).
    defined = set()
    for path in PACKAGE.rglob("*.py"):
        if "provider" not in path.relative_to(PACKAGE).parts:  # the adapters for other languages, not Python API
            defined.update(re.findall(r"^class (\w+)\(pulumi\.ComponentResource\)", path.read_text(), re.M))
    assert defined, "no components found"
    assert defined - set(pulumi_llm.__all__) == set()


IMPORT_PROBE = """
import json, sys
import pulumi_llm
before = sorted(m for m in sys.modules if m.split(".")[0] in {sdks})
from pulumi_llm import AwsGateway, AwsGatewayArgs, fit, CommonLabels
after = sorted({{m.split(".")[0] for m in sys.modules}} & set({sdks}))
print(json.dumps({{"before": before, "after": after, "dir": "AwsGateway" in dir(pulumi_llm)}}))
"""


def test_importing_the_package_loads_no_cloud_sdk() -> None:
    probe = IMPORT_PROBE.format(sdks=repr(set(CLOUD_SDKS)))
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["before"] == []
    # Using an AWS component loads the AWS SDK and nothing of the other clouds.
    assert report["after"] == ["pulumi_aws"]
    assert report["dir"] is True


# --- the changelog ----------------------------------------------------------------------------------

RELEASE = re.compile(r"^## \[(?P<version>\d+\.\d+\.\d+)\] - (?P<date>\d{4}-\d{2}-\d{2})$", re.M)
SECTIONS = ("Upgrade notes", "Added", "Changed", "Deprecated", "Removed", "Fixed", "Security")


def test_changelog_top_release_is_the_package_version() -> None:
    text = (ROOT / "CHANGELOG.md").read_text()
    releases = [m["version"] for m in RELEASE.finditer(text)]
    assert releases, "CHANGELOG.md has no '## [X.Y.Z] - YYYY-MM-DD' release heading"
    assert releases[0] == pulumi_llm.__version__
    # Newest first, each version once; [Unreleased] above them; every heading has its link.
    keyed = [tuple(map(int, v.split("."))) for v in releases]
    assert keyed == sorted(set(keyed), reverse=True)
    assert text.index("## [Unreleased]") < text.index(f"## [{releases[0]}]")
    for version in ["Unreleased", *releases]:
        assert re.search(rf"^\[{re.escape(version)}\]: https://", text, re.M), version
    # Only Keep a Changelog sections (plus the upgrade notes), in the documented order.
    for body in re.split(r"^## ", text, flags=re.M)[1:]:
        found = re.findall(r"^### (.+)$", body, re.M)
        assert all(s in SECTIONS for s in found), found
        assert found == sorted(found, key=SECTIONS.index)
