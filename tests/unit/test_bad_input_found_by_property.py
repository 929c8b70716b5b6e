"""Cases the bad-input property test (test_bad_input_property.py) found in other families, kept as examples:
each must be refused in one line before anything registers."""

from __future__ import annotations

from pathlib import Path

import bad_input
import pytest
from bad_input import assert_one_line_refusal

ROOT = Path(__file__).resolve().parents[2]
SHA = "0e9e39f249a16976918f6564b8830bc894c89659"


@pytest.mark.parametrize("stack", ["gcp-dev", "dev"])
@pytest.mark.parametrize("bad", ["[", "*", "?", "\\", "$", "%"])
def test_a_store_path_an_object_prefix_cannot_hold_is_refused_before_registration(scratch_project: Path, stack: str, bad: str) -> None:
    # gcp-dev with a '[' in its store:// path passed the settings and failed in GcpGpuVm after 15 resources.
    text = (ROOT / "stacks" / f"Pulumi.{stack}.yaml").read_text()
    source = f"store://meta-llama/Llama-3.1-8B-Instruct/{SHA}"
    assert source in text
    edited = text.replace(source, f"'store://meta-llama/Llama-3.1-8B{bad}Instruct/{SHA}'", 1)
    bad_input.write_stack(scratch_project, "fuzz", edited)
    assert_one_line_refusal(
        bad_input.plan(scratch_project, "fuzz"),
        "fuzz",
        "pulumi-llm:models.llama-3-1-8b-instruct.source = store://meta-llama/Llama-3.1-8B",
        "letters, digits, !_.()'- and / only",
    )


def test_an_unknown_instance_type_lists_known_types_within_one_short_line(scratch_project: Path) -> None:
    # gcp-dev with instance_type "\0" listed twelve Azure-length type names: a 432-character line.
    text = (ROOT / "stacks" / "Pulumi.azure-dev.yaml").read_text()
    bad_input.write_stack(scratch_project, "fuzz", text.replace("vm_size: Standard_NC24ads_A100_v4", 'vm_size: "\\0"', 1))
    line = assert_one_line_refusal(bad_input.plan(scratch_project, "fuzz"), "fuzz", "pulumi-llm:azure.gpu_vm.vm_size = \\x00", " more")
    assert len(line) <= 300
