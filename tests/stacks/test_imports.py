"""A stack imports the SDK of its own cloud only (docs/ARCHITECTURE.md, "Lazy per-cloud imports")."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from pulumi_llm.clouds import CLOUDS

ROOT = Path(__file__).resolve().parents[2]
CLOUD_SDKS = {cloud.name: cloud.sdk for cloud in CLOUDS}

PROBE = """
import json, sys
from pathlib import Path
from pulumi_llm.cli import main
code = main(["plan", sys.argv[1], "--quiet", "--out", sys.argv[2]])
print(json.dumps({"code": code, "modules": sorted(m.split(".")[0] for m in sys.modules)}))
"""


def modules_after_planning(stack: str, out: Path) -> set[str]:
    result = subprocess.run([sys.executable, "-c", PROBE, stack, str(out)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["code"] == 0
    return set(report["modules"])


@pytest.mark.parametrize(
    ("stack", "cloud"),
    [
        ("onprem", None),
        ("dev", "aws"),
        ("prod", "aws"),
        ("gcp-dev", "gcp"),
        ("gcp-prod", "gcp"),
        ("azure-dev", "azure"),
        ("azure-prod", "azure"),
    ],
)
def test_stack_imports_only_its_own_cloud_sdk(tmp_path: Path, stack: str, cloud: str | None) -> None:
    loaded = modules_after_planning(stack, tmp_path)
    for name, module in CLOUD_SDKS.items():
        if name == cloud:
            assert module in loaded
        else:
            assert module not in loaded, f"planning {stack} imported {module}"
