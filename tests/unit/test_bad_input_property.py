"""Issue 16, Verify — every mutation of every shipped stack file ends one of two ways.

Hypothesis mutates `stacks/Pulumi.*.yaml`: values of other types and out of range, deleted keys, unknown
and misspelt keys at every level of the tree, YAML oddities (YAML 1.1 scalars, duplicate keys, anchors and
aliases, tags, truncation, stray characters) and encodings (UTF-16, Latin-1, a BOM, NUL and random bytes).
Each case runs `pulumi-llm plan STACK --no-verify` in-process (tests/bad_input.py) on a scratch project and
must end in exactly one of:

- exit 0, a complete plan (resources.json, manifests/, summary.json) and resources registered; or
- exit 2, exactly one line on stderr naming the stack file, no resource registered, no plan written.

Anything else — a traceback, exit 1, two lines, a partial plan — fails the test with the case that caused it.
(`--no-verify`: verify judges a plan that was made; this test judges the input that was refused or planned.)

Budget: derandomized (the same cases on every run, so CI is reproducible), 40 cases by default, which cost
about a minute on a 2-core machine. A longer local run draws more, e.g.

    PULUMI_LLM_FUZZ_EXAMPLES=2000 uv run pytest tests/unit/test_bad_input_property.py
    PULUMI_LLM_FUZZ_EXAMPLES=2000 PULUMI_LLM_FUZZ_SEED=7 uv run pytest tests/unit/test_bad_input_property.py

(a seed other than 0 draws a different, still reproducible, sequence). The tried cases and their outcome
counts are printed and written to out/bad-input-property.json.
"""

from __future__ import annotations

import json
import os
import random
import re
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import bad_input
import helpers
import pytest
import yaml
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[2]
STACKS = sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in (ROOT / "stacks").glob("Pulumi.*.yaml"))
TEXTS = {name: (ROOT / "stacks" / f"Pulumi.{name}.yaml").read_text() for name in STACKS}
EXAMPLES = int(os.environ.get("PULUMI_LLM_FUZZ_EXAMPLES", "40"))
SEED = int(os.environ.get("PULUMI_LLM_FUZZ_SEED", "0"))
REPORT = ROOT / "out" / "bad-input-property.json"
FUZZ = "fuzz"  # the stack name every case is planned under

# Values of every YAML type, in and out of range, for any key.
ODD_VALUES: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    1,
    2,
    7,
    65536,
    2**31,
    10**10,
    10**25,
    -(10**25),
    0.5,
    -0.0,
    1e30,
    "",
    " ",
    "x",
    "none",
    "null",
    "true",
    "0",
    "-1",
    "1e30",
    "10%",
    "a" * 300,
    "sk-" + "A" * 48,
    "hf_" + "b" * 34,
    "ghp_" + "c" * 36,
    "https://example.com",
    "http://",
    "s3://bucket/key",
    "gs://bucket/key",
    "pvc://claim/../x",
    "store://a/b",
    "*",
    "0 99 * * *",
    "Mars/Olympus",
    "UPPER_case",
    "a..b",
    "-leading",
    "é",
    "🙂",
    "line\nbreak",
    "tab\tchar",
    [],
    [None],
    ["*"],
    [1, 2],
    {},
    {"x": 1},
    {"secure": "v1:abc"},
]
# Scalars as YAML text, for the text mutations (YAML 1.1 readings, tags, aliases, odd numbers).
ODD_SCALARS = [
    "off",
    "no",
    "yes",
    "on",
    "Y",
    "n",
    "010",
    "0x1F",
    "0o17",
    "0b101",
    "1_000",
    "1:30",
    "190:20:30",
    "2024-01-01",
    "~",
    "null",
    ".inf",
    "-.inf",
    ".nan",
    "1e3",
    "+12",
    "!!binary aGVsbG8=",
    "!!str 5",
    "!!int x",
    "!custom 5",
    "*undefined",
    "&anchor 5",
    "[unclosed",
    "{a: 1",
    "'quoted",
    "|",
    ">-",
    "@reserved",
    "`backtick",
    "%directive",
    "- item",
    "a: b",
    "99999999999999999999999999",
    "-0",
    "0.0000001",
    '"\\x00"',
    '"\\u0085"',
]
ENCODINGS = ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "latin-1", "cp1252"]
BOMB = "".join(f"b{i}: &b{i} [{', '.join([f'*b{i - 1}' if i else 'x'] * 9)}]\n" for i in range(8))


def paths(node: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every key path in a parsed stack file's config, at every level."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield (*prefix, key)
            yield from paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield (*prefix, index)
            yield from paths(value, (*prefix, index))


PATHS = {name: list(paths(yaml.safe_load(text)["config"])) for name, text in TEXTS.items()}


def _parent(tree: Any, path: tuple[Any, ...]) -> Any:
    for part in path[:-1]:
        tree = tree[part]
    return tree


def misspelt(key: str, rng: random.Random) -> str:
    """`key` with one character dropped, doubled, swapped or changed: the typos a user makes."""
    if len(key) < 2:
        return key + "x"
    i = rng.randrange(len(key) - 1)
    return rng.choice(
        [key[:i] + key[i + 1 :], key[:i] + key[i] + key[i:], key[:i] + key[i + 1] + key[i] + key[i + 2 :], key[:i] + "q" + key[i + 1 :]]
    )


def tree_mutation(config: dict[str, Any], path: tuple[Any, ...], kind: str, value: Any, rng: random.Random) -> str:
    """Apply one mutation to the parsed config at `path`; describe it."""
    parent, last = _parent(config, path), path[-1]
    if kind == "delete":
        del parent[last]
    elif kind == "replace":
        parent[last] = value
    elif kind == "misspell" and isinstance(last, str):
        parent[misspelt(last, rng)] = parent.pop(last)
    elif kind == "misspell":  # a list item has no key to misspell: it goes
        del parent[last]
    elif kind == "unknown-key":
        target = parent[last] if isinstance(parent[last], dict) else parent
        if isinstance(target, dict):
            target[rng.choice(["unknown", "extra_key", "Region", "enabled", "x-y"])] = value
    elif kind == "wrap":
        parent[last] = [parent[last]] if rng.random() < 0.5 else {"value": parent[last]}
    return f"{kind} {'.'.join(map(str, path))} ({value!r:.60})"


def text_mutation(text: str, kind: str, rng: random.Random) -> str:
    """A YAML oddity written into the file's text."""
    lines = text.splitlines(keepends=True)
    # "  key: value" lines at any level; a key may hold a colon (pulumi-llm:region), a separator is ": ".
    keyed = [(i, m.group(1)) for i, line in enumerate(lines) if (m := re.match(r"^(\s+[^#\s-].*?):\s+\S", line))]
    i, key = rng.choice(keyed)
    if kind == "odd-scalar":
        lines[i] = f"{key}: {rng.choice(ODD_SCALARS)}\n"
    elif kind == "duplicate-line":
        lines.insert(i + 1, lines[i])
    elif kind == "alias-bomb":
        return BOMB + text.replace("config:\n", "config:\n  pulumi-llm:tags: {team: *b7}\n", 1)
    elif kind == "truncate":
        return text[: rng.randrange(len(text))]
    elif kind == "stray-char":
        at = rng.randrange(len(text))
        return text[:at] + rng.choice(["\t", ":", "- ", "\x00", "\x1b", "\u2028", "{", "&", "*", "#", "'", '"', "\n  "]) + text[at:]
    elif kind == "indent":
        lines[i] = (" " if rng.random() < 0.5 else "") + lines[i][rng.choice([0, 1, 2]) :]
    return "".join(lines)


def encoded(text: str, kind: str, rng: random.Random, junk: bytes) -> bytes:
    if kind == "encoding":
        return text.encode(rng.choice(ENCODINGS), errors="replace")
    at = rng.randrange(len(text))
    data = text.encode()
    return data[:at] + junk + data[at:]


@st.composite
def cases(draw: st.DrawFn) -> tuple[str, bytes]:
    """(description, file content) of one mutated shipped stack file."""
    stack = draw(st.sampled_from(STACKS))
    rng = random.Random(draw(st.integers(0, 2**32)))
    family = draw(st.sampled_from(["tree", "tree", "tree", "text", "bytes"]))
    if family == "tree":
        document = yaml.safe_load(TEXTS[stack])
        path = draw(st.sampled_from(PATHS[stack]))
        kind = draw(st.sampled_from(["delete", "replace", "replace", "misspell", "unknown-key", "wrap"]))
        value = draw(st.sampled_from(ODD_VALUES))
        what = tree_mutation(document["config"], path, kind, value, rng)
        return f"{stack}: {what}", yaml.safe_dump(document, sort_keys=False, allow_unicode=True).encode()
    if family == "text":
        kind = draw(st.sampled_from(["odd-scalar", "odd-scalar", "duplicate-line", "alias-bomb", "truncate", "stray-char", "indent"]))
        return f"{stack}: text {kind}", text_mutation(TEXTS[stack], kind, rng).encode()
    kind = draw(st.sampled_from(["encoding", "bytes"]))
    junk = draw(st.binary(min_size=1, max_size=4))
    return f"{stack}: {kind} {junk!r}", encoded(TEXTS[stack], kind, rng, junk)


@pytest.fixture(scope="module")
def project() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="pulumi-llm-fuzz-") as base:
        yield helpers.scratch_project(Path(base), {})


@pytest.fixture(scope="module")
def tally() -> Iterator[Counter[str]]:
    counts: Counter[str] = Counter()
    yield counts
    report = {"cases": sum(counts.values()), "exit 0": counts["exit 0"], "exit 2": counts["exit 2"], "examples": EXAMPLES, "seed": SEED}
    REPORT.parent.mkdir(exist_ok=True)
    REPORT.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nbad-input property: {report['cases']} cases, {report['exit 0']} planned (exit 0), {report['exit 2']} refused (exit 2)")


@seed(SEED)
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=SEED == 0,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
)
@given(case=cases())
def test_a_mutated_stack_file_plans_or_is_refused_in_one_line(project: Path, tally: Counter[str], case: tuple[str, bytes]) -> None:
    what, content = case
    bad_input.write_stack(project, FUZZ, content)
    out = project / "out" / FUZZ
    outcome = bad_input.plan(project, FUZZ, out)
    assert not any("Traceback" in line for line in outcome.stderr + outcome.stdout), (what, outcome)
    assert outcome.code in (0, 2), (what, outcome)
    if outcome.code == 0:
        assert outcome.written == bad_input.PLAN_FILES, (what, outcome)
        assert outcome.registered > 0, (what, outcome)
        assert json.loads((out / "summary.json").read_text())["stack"] == FUZZ
    else:
        assert len(outcome.stderr) == 1, (what, outcome.stderr)
        assert outcome.stderr[0].startswith(f"stacks/Pulumi.{FUZZ}.yaml"), (what, outcome.stderr)
        assert len(outcome.stderr[0]) <= 400, (what, outcome.stderr)
        assert outcome.registered == 0, (what, outcome)
        assert outcome.written == (), (what, outcome)
    tally[f"exit {outcome.code}"] += 1
