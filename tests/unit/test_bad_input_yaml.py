"""Issue 16, family 8 — YAML: a stack file is read the way the Pulumi CLI reads it, and what YAML makes
ambiguous or dangerous (duplicate keys, YAML 1.1 booleans, alias bombs, huge values) is refused in one line.

Each case drives `pulumi-llm plan` in-process on a scratch project (tests/bad_input.py) and checks the
user's view: exit 2, one line naming the stack file, the key path as written, the value and what is
allowed, nothing registered, no plan written.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import bad_input
import pytest
from bad_input import assert_one_line_refusal
from pulumi_llm.offline import stack_yaml
from pulumi_llm.offline.plan import engine_config

ROOT = Path(__file__).resolve().parents[2]
DEV = (ROOT / "stacks" / "Pulumi.dev.yaml").read_text()
MODEL = "pulumi-llm:models.llama-3-1-8b-instruct"


def edited(old: str, new: str) -> str:
    assert old in DEV
    return DEV.replace(old, new, 1)


def test_a_duplicate_key_is_refused_with_both_line_numbers(scratch_project: Path) -> None:
    # Before: the second context silently won.
    bad_input.write_stack(scratch_project, "dup", edited("      context: 8192\n", "      context: 8192\n      context: 4096\n"))
    line = assert_one_line_refusal(bad_input.plan(scratch_project, "dup"), "dup", f"{MODEL}.context")
    context_line = DEV.splitlines().index("      context: 8192") + 1
    assert f"defined twice (lines {context_line} and {context_line + 1}); keep one" in line


def test_a_duplicate_config_key_is_refused(scratch_project: Path) -> None:
    bad_input.write_stack(scratch_project, "dup-top", DEV + "  pulumi-llm:region: us-west-2\n")
    assert_one_line_refusal(bad_input.plan(scratch_project, "dup-top"), "dup-top", "pulumi-llm:region", "defined twice")


@pytest.mark.parametrize("word", ["yes", "no", "on", "off", "y", "N", "Off"])
def test_a_yaml_1_1_boolean_inside_a_map_is_refused_not_guessed(scratch_project: Path, word: str) -> None:
    bad_input.write_stack(scratch_project, "bool", edited("context: 8192", f"context: {word}"))
    assert_one_line_refusal(
        bad_input.plan(scratch_project, "bool"), "bool", f"{MODEL}.context = {word}", "write true or false, or quote it"
    )


def test_top_level_scalars_reach_the_program_as_written(tmp_path: Path) -> None:
    # The engine unmarshals a top-level value into a Go string: the characters of the file, not YAML 1.1's
    # reading (off → false, 010 → 8, 1:30 → 5400, 0x1F → 31, 1_000 → 1000).
    path = tmp_path / "Pulumi.s.yaml"
    path.write_text(
        "config:\n  a:off: off\n  a:oct: 010\n  a:sexa: 1:30\n  a:hex: 0x1F\n  a:under: 1_000\n  a:float: 0.90\n"
        "  a:null: ~\n  a:quoted: '010'\n  a:true: True\n"
    )
    config, secrets = engine_config(path, "s")
    assert config == {
        "a:off": "off",
        "a:oct": "010",
        "a:sexa": "1:30",
        "a:hex": "0x1F",
        "a:under": "1_000",
        "a:float": "0.90",
        "a:null": "",
        "a:quoted": "010",
        "a:true": "True",
    }
    assert secrets == []


def test_values_inside_maps_resolve_as_go_yaml_does(tmp_path: Path) -> None:
    # go-yaml v3 resolve.go: Go base-0 integers with underscores removed, no sexagesimal, timestamps and
    # 1.1-only words left as strings; sent as JSON with sorted keys and whole floats as integers.
    path = tmp_path / "Pulumi.s.yaml"
    path.write_text(
        "config:\n  a:m:\n    oct: 010\n    hex: 0x1F\n    under: 1_000\n    sexa: 1:30\n    date: 2024-01-01\n"
        "    whole: 1e3\n    frac: 0.5\n    t: True\n    nul: ~\n    quoted: 'yes'\n    big: 99999999999999999999999\n"
    )
    text = engine_config(path, "s")[0]["a:m"]
    assert json.loads(text) == {
        "oct": 8,
        "hex": 31,
        "under": 1000,
        "sexa": "1:30",
        "date": "2024-01-01",
        "whole": 1000,
        "frac": 0.5,
        "t": True,
        "nul": None,
        "quoted": "yes",
        "big": 1e23,
    }
    assert list(json.loads(text)) == sorted(json.loads(text))


def test_a_hex_context_plans_as_the_number_pulumi_reads(scratch_project: Path) -> None:
    bad_input.write_stack(scratch_project, "hex", edited("context: 8192", "context: 0x2000"))
    outcome = bad_input.plan(scratch_project, "hex")
    assert outcome.code == 0, outcome.stderr
    summary = json.loads((scratch_project / "out" / "hex" / "summary.json").read_text())
    assert summary["sizing"][0]["max_model_len"] == 8192


def test_a_sexagesimal_value_stays_text_and_is_refused_by_its_field(scratch_project: Path) -> None:
    bad_input.write_stack(scratch_project, "sexa", edited("context: 8192", "context: 1:30"))
    assert_one_line_refusal(bad_input.plan(scratch_project, "sexa"), "sexa", f"{MODEL}.context = 1:30", "whole number")


def test_an_alias_bomb_is_refused_without_expanding_it(scratch_project: Path) -> None:
    anchors = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n" + "".join(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]\n" for i in range(1, 9))
    text = anchors + DEV.replace("config:\n", "config:\n  pulumi-llm:tags: {team: *a8}\n", 1)
    bad_input.write_stack(scratch_project, "bomb", text)
    started = time.monotonic()
    outcome = bad_input.plan(scratch_project, "bomb")
    assert time.monotonic() - started < 5  # 10^9 values if expanded
    assert_one_line_refusal(outcome, "bomb", "pulumi-llm:tags.team", f"more than {stack_yaml.MAX_VALUES:,} values")


def test_an_alias_inside_itself_is_refused(scratch_project: Path) -> None:
    bad_input.write_stack(scratch_project, "loop", DEV.replace("config:\n", "config:\n  pulumi-llm:tags: &t {a: *t}\n", 1))
    assert_one_line_refusal(bad_input.plan(scratch_project, "loop"), "loop", "pulumi-llm:tags", "nested more than")


def test_an_unknown_tag_and_a_non_finite_number_are_refused(scratch_project: Path) -> None:
    bad_input.write_stack(scratch_project, "tag", edited("context: 8192", "context: !custom 8192"))
    assert_one_line_refusal(bad_input.plan(scratch_project, "tag"), "tag", f"{MODEL}.context", "tag !custom", "not supported")
    bad_input.write_stack(scratch_project, "inf", edited("context: 8192", "context: .inf"))
    assert_one_line_refusal(bad_input.plan(scratch_project, "inf"), "inf", f"{MODEL}.context = .inf", "not a finite number")


def test_a_huge_key_or_value_is_cut_in_the_message(scratch_project: Path) -> None:
    bad_input.write_stack(scratch_project, "huge", DEV + "  " + "k" * 1000 + ": 1\n")  # YAML caps a plain key at 1024
    line = assert_one_line_refusal(bad_input.plan(scratch_project, "huge"), "huge", "keys need a namespace", "(1000 characters)")
    assert "k" * 101 not in line
    assert stack_yaml.shown("x" * 5000) == "x" * stack_yaml.SHOWN + "… (5000 characters)"


def test_a_huge_or_deeply_nested_file_is_refused(scratch_project: Path) -> None:
    bad_input.write_stack(scratch_project, "big", DEV + "# " + "x" * stack_yaml.MAX_BYTES + "\n")
    assert_one_line_refusal(bad_input.plan(scratch_project, "big"), "big", "larger than 1024 KiB")
    bad_input.write_stack(scratch_project, "deep", DEV + "  pulumi-llm:tags: " + "[" * 3000 + "]" * 3000 + "\n")
    assert_one_line_refusal(bad_input.plan(scratch_project, "deep"), "deep", "nested too deeply")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("- a\n- b\n", "must be a map with a config: key, not a list"),
        ("config: [a, b]\n", "config: must be a map of keys to values, not a list"),
        ("config:\n  region: x\n", "config.region: keys need a namespace, e.g. pulumi-llm:region"),
        ("config:\n  pulumi-llm:tags: {[a]: b}\n", "a key must be a name, not a map or list"),
        ("config:\n  pulumi-llm:tags: *nope\n", "not valid YAML"),
    ],
)
def test_a_malformed_document_is_one_line(scratch_project: Path, text: str, expected: str) -> None:
    bad_input.write_stack(scratch_project, "shape", text)
    assert_one_line_refusal(bad_input.plan(scratch_project, "shape"), "shape", expected)


@pytest.mark.parametrize("value", ['"dev\\nprod"', '"dev\\u0000"', '"\\e[31mdev"', "|\n    dev\n    prod"])
def test_a_value_with_control_characters_stays_one_line(scratch_project: Path, value: str) -> None:
    bad_input.write_stack(scratch_project, "ctl", DEV.replace("pulumi-llm:environment: dev", f"pulumi-llm:environment: {value}", 1))
    line = assert_one_line_refusal(bad_input.plan(scratch_project, "ctl"), "ctl", "pulumi-llm:environment = ")
    assert "\x00" not in line and "\x1b" not in line


@pytest.mark.parametrize("value", ["", "null", "'*'", "[1]", "{a: b}", "['']"])
def test_disable_default_providers_must_be_a_list_of_packages(scratch_project: Path, value: str) -> None:
    text = DEV.replace('pulumi:disable-default-providers: ["*"]', f"pulumi:disable-default-providers: {value}", 1)
    bad_input.write_stack(scratch_project, "ddp", text)
    assert_one_line_refusal(
        bad_input.plan(scratch_project, "ddp"), "ddp", "pulumi:disable-default-providers = ", "must be a list of package names"
    )


def test_a_huge_value_the_settings_refuse_is_cut_in_the_message(scratch_project: Path) -> None:
    # The value appears twice (as written, and in the region check's own words): each time cut.
    bad_input.write_stack(scratch_project, "huge", edited("region: us-east-1", "region: " + "r" * 50_000))
    outcome = bad_input.plan(scratch_project, "huge")
    assert (outcome.code, outcome.registered, len(outcome.stderr)) == (2, 0, 1)
    line = outcome.stderr[0]
    assert line.startswith("stacks/Pulumi.huge.yaml: pulumi-llm:region = rrr") and "has no aws GPU type" in line
    assert "r" * 201 not in line and len(line) < 700
