"""The rule catalogue as Markdown: name, family module and what each rule checks (its docstring's first
paragraph), generated into verify/README.md between markers and kept equal to the registry by a test."""

from __future__ import annotations

import inspect
import re
import sys
from pathlib import Path

from .rules import RULES, load_families

README = Path(__file__).with_name("README.md")
START, END = "<!-- rules -->\n", "<!-- /rules -->\n"


def description(name: str) -> str:
    """What rule `name` proves: its docstring's first paragraph, or else the `* name: …` bullet of its
    module's docstring (family modules describe their rules together)."""
    fn = RULES[name]
    own = inspect.getdoc(fn)
    if own:
        return " ".join(own.split("\n\n", 1)[0].split())
    module_doc = inspect.getdoc(sys.modules[fn.__module__]) or ""
    bullet = re.search(rf"^\* {re.escape(name)}: (.*?)(?=^\* |^\S|\Z)", module_doc, re.S | re.M)
    return " ".join(bullet.group(1).split()) if bullet else ""


def table() -> str:
    load_families()
    rows = ["| rule | module | what it proves |", "|---|---|---|"]
    for name in sorted(RULES):
        fn = RULES[name]
        doc = description(name)
        module = fn.__module__.rsplit(".", 1)[-1]
        cell = doc.replace("|", r"\|")
        rows.append(f"| `{name}` | `rules/{module}.py` | {cell} |")
    return "\n".join(rows) + "\n"


def rendered(text: str) -> str:
    """`text` (the README) with the block between the markers replaced by the current table."""
    pattern = re.compile(re.escape(START) + ".*?" + re.escape(END), re.S)
    if not pattern.search(text):
        raise ValueError(f"{README.name}: no {START.strip()} … {END.strip()} block")
    return pattern.sub(lambda _m: START + table() + END, text)


if __name__ == "__main__":
    README.write_text(rendered(README.read_text()))
    print(f"wrote {README}")
