"""Benchmark: `pulumi-llm plan STACK` against the floor, side by side in one run.

The floor is what no plan can avoid: a fresh interpreter that imports pulumi and the SDK submodules
the stack uses (measured: the modules a plan of that stack loads, lazy placeholders excluded). The plan pays for that plus settings, the program and writing files. Goal: ratio
plan / floor <= 1.3 for every stack. Runs are interleaved (floor, plan, floor, plan, …) so that
machine noise hits both alike, and the median of each is reported.

    uv run python bench/plan_time.py [--runs N] [STACK ...]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GOAL = 1.3

SDK_PACKAGES = ("pulumi", "pulumi_aws", "pulumi_gcp", "pulumi_azure_native", "pulumi_kubernetes")

PROBE = """
import sys, json
from pulumi_llm.cli import main
main(["plan", sys.argv[1], "--quiet", "--out", sys.argv[2]])
loaded = [
    name for name, module in sys.modules.items()
    if name.split(".")[0] in %r and type(module).__name__ != "_LazyModule"
]
print(json.dumps(sorted(loaded)))
""" % (SDK_PACKAGES,)


def floor_modules(stack: str, out: str) -> list[str]:
    """The SDK modules planning `stack` really loads (lazy placeholders excluded): the floor imports these."""
    result = subprocess.run([sys.executable, "-c", PROBE, stack, out], cwd=ROOT, check=True, capture_output=True, text=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def timed(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("stacks", nargs="*")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    stacks = args.stacks or sorted(p.name[7:-5] for p in (ROOT / "stacks").glob("Pulumi.*.yaml"))
    print(f"{'stack':<16}{'floor s':>10}{'plan s':>10}{'ratio':>8}  goal <= {GOAL}")
    worst = 0.0
    with tempfile.TemporaryDirectory() as out:
        for stack in stacks:
            floor_cmd = [sys.executable, "-c", "; ".join(f"import {m}" for m in floor_modules(stack, out))]
            plan_cmd = [sys.executable, "-m", "pulumi_llm.cli", "plan", stack, "--quiet", "--out", f"{out}/{stack}"]
            timed(plan_cmd)  # warm the file cache once so neither side pays for cold disk reads
            floors, plans = [], []
            for _ in range(args.runs):
                floors.append(timed(floor_cmd))
                plans.append(timed(plan_cmd))
            floor, plan = statistics.median(floors), statistics.median(plans)
            worst = max(worst, plan / floor)
            print(f"{stack:<16}{floor:>10.2f}{plan:>10.2f}{plan / floor:>8.2f}")
    print(f"worst ratio {worst:.2f} ({'meets' if worst <= GOAL else 'misses'} the goal {GOAL})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
