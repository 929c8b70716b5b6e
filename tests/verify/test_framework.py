"""The verification pass itself: report format, exit codes, and that every shipped stack is clean."""

from __future__ import annotations

import subprocess
import sys

from pulumi_llm.verify import Violation, format_report
from pulumi_llm.verify.rules import RULES

from .conftest import ROOT, fired


def test_report_lists_each_violation_then_a_table():
    found = [
        Violation("prod", "llm-gateway-tasks-sg", "network.aws-sg", "egress 443 only; the model listens on 80"),
        Violation("prod", "llm-gateway-tasks-sg", "network.aws-sg", "egress 443 only; the model listens on 80"),
    ]
    text = format_report(["dev", "prod"], found).splitlines()
    assert text[0] == "prod: llm-gateway-tasks-sg: network.aws-sg: egress 443 only; the model listens on 80"
    assert text[1].split() == ["stack", "violations"]
    assert text[2].split() == ["dev", "0", "clean"]
    assert text[3].split() == ["prod", "1", "network.aws-sg", "1"]


def test_every_shipped_stack_verifies_clean(recorded):
    for stack in ["azure-dev", "azure-prod", "dev", "edge", "gcp-dev", "gcp-prod", "onprem", "onprem-triton", "prod", "staging"]:
        assert fired(recorded(stack)) == set(), stack


def test_verify_all_exits_0_when_clean_and_names_each_stack():
    result = subprocess.run(
        [sys.executable, "-m", "pulumi_llm.cli", "verify", "--all"], cwd=ROOT, capture_output=True, text=True, timeout=900
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    table = lines[next(i for i, line in enumerate(lines) if line.split() == ["stack", "violations"]) + 1 :]
    # Warnings (shown, never failing) come before the table.
    assert [line.split()[0] for line in table] == sorted(
        p.name[len("Pulumi.") : -len(".yaml")] for p in (ROOT / "stacks").glob("Pulumi.*.yaml")
    )


def test_an_unknown_rule_is_one_line_exit_2():
    result = subprocess.run(
        [sys.executable, "-m", "pulumi_llm.cli", "verify", "prod", "--rule", "no.such"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "no.such: no such rule" in result.stderr


def test_rules_are_registered_under_their_family():
    from pulumi_llm.verify.rules import load_families

    load_families()
    assert all("." in name for name in RULES)


def test_warnings_are_shown_but_not_counted():
    found = [Violation("dev", "llm-gateway", "models.deprecation", "claude-x retires on 2027-01-15", severity="warning")]
    text = format_report(["dev"], found).splitlines()
    assert text[0] == "dev: llm-gateway: warning: models.deprecation: claude-x retires on 2027-01-15"
    assert text[-1].split() == ["dev", "0", "clean"]
