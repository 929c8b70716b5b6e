"""Benchmark: `pulumi-llm plan STACK` against the floor, side by side in one run.

The floor is what no plan can avoid: a fresh interpreter that imports pulumi and the SDK submodules
the stack uses (measured: the modules a plan of that stack loads, lazy placeholders excluded). The plan
pays for that plus settings, the program, the verify pass and writing files. Goal: ratio plan / floor
<= 1.3 for every stack. Runs are interleaved (floor, plan, floor, plan, …) so that machine noise hits both
alike, and the median of each is reported, as wall seconds and as CPU seconds (user + system of the
child): on a machine shared with other work the CPU ratio is the steadier of the two, as waiting for a
core counts in wall time only.

`--base DIR` adds a second plan column from another checkout of the repository (e.g. a `git worktree`
of the commit before a change), run in the same interleaving: a before/after table in one run.

    uv run python bench/plan_time.py [--runs N] [--base DIR] [STACK ...]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GOAL = 1.3

SDK_PACKAGES = ("pulumi", "pulumi_aws", "pulumi_gcp", "pulumi_azure_native", "pulumi_kubernetes", "pulumi_docker_build")

# The probe plans into a directory of its own and fails unless the plan was written: a plan that stops
# early (a refused --out, a bad stack file) loads fewer modules and would make the floor look cheap.
PROBE = """
import sys, json, pathlib
from pulumi_llm.cli import main
main(["plan", sys.argv[1], "--quiet", "--out", sys.argv[2]])
if not (pathlib.Path(sys.argv[2]) / "summary.json").is_file():
    sys.exit("plan_time: the probe's plan of " + sys.argv[1] + " wrote no summary.json")
loaded = [
    name for name, module in sys.modules.items()
    if name.split(".")[0] in %r and type(module).__name__ != "_LazyModule"
]
print(json.dumps(sorted(loaded)))
""" % (SDK_PACKAGES,)


@dataclass
class Side:
    """One command of the interleaving and its measured runs."""

    command: list[str]
    cwd: Path
    env: dict[str, str]
    wall: list[float] = field(default_factory=lambda: [])
    cpu: list[float] = field(default_factory=lambda: [])

    def run(self) -> None:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(self.command, cwd=self.cwd, env=self.env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.wall.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.cpu.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)


def checkout_env(checkout: Path) -> dict[str, str]:
    """The environment that makes `python -m pulumi_llm.cli` import the components of `checkout`."""
    return {**os.environ, "PYTHONPATH": str(checkout / "components")}


def floor_modules(stack: str, out: Path) -> list[str]:
    """The SDK modules planning `stack` really loads (lazy placeholders excluded): the floor imports these."""
    result = subprocess.run(
        [sys.executable, "-c", PROBE, stack, str(out)], cwd=ROOT, env=checkout_env(ROOT), check=True, capture_output=True, text=True
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("stacks", nargs="*")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--base", type=Path, help="another checkout whose plan is timed beside this one's (before/after)")
    args = parser.parse_args()
    stacks = args.stacks or sorted(p.name[7:-5] for p in (ROOT / "stacks").glob("Pulumi.*.yaml"))
    base: Path | None = args.base.resolve() if args.base else None
    header = f"{'stack':<16}{'floor s':>9}{'plan s':>9}{'ratio':>7}{'floor cpu':>11}{'plan cpu':>10}{'ratio':>7}"
    if base:
        header += f"{'base s':>9}{'ratio':>7}{'base cpu':>10}{'ratio':>7}"
    print(f"{header}  goal <= {GOAL}  (median of {args.runs}; ratio = plan / floor)")
    worst_wall = worst_cpu = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        for stack in stacks:
            floor = Side(
                [sys.executable, "-c", "; ".join(f"import {m}" for m in floor_modules(stack, out / f"probe-{stack}"))],
                ROOT,
                checkout_env(ROOT),
            )
            plan_args = ["-m", "pulumi_llm.cli", "plan", stack, "--quiet", "--out"]
            plan = Side([sys.executable, *plan_args, str(out / stack)], ROOT, checkout_env(ROOT))
            sides = [floor, plan]
            if base:
                sides.append(Side([sys.executable, *plan_args, str(out / f"base-{stack}")], base, checkout_env(base)))
            for side in sides[1:]:
                side.run()  # warm the file cache once so no side pays for cold disk reads
                side.wall.clear()
                side.cpu.clear()
            for _ in range(args.runs):
                for side in sides:
                    side.run()
            f_wall, f_cpu = statistics.median(floor.wall), statistics.median(floor.cpu)
            p_wall, p_cpu = statistics.median(plan.wall), statistics.median(plan.cpu)
            worst_wall, worst_cpu = max(worst_wall, p_wall / f_wall), max(worst_cpu, p_cpu / f_cpu)
            line = f"{stack:<16}{f_wall:>9.2f}{p_wall:>9.2f}{p_wall / f_wall:>7.2f}{f_cpu:>11.2f}{p_cpu:>10.2f}{p_cpu / f_cpu:>7.2f}"
            if base:
                b_wall, b_cpu = statistics.median(sides[2].wall), statistics.median(sides[2].cpu)
                line += f"{b_wall:>9.2f}{b_wall / f_wall:>7.2f}{b_cpu:>10.2f}{b_cpu / f_cpu:>7.2f}"
            print(line, flush=True)
    for kind, worst in (("wall", worst_wall), ("cpu", worst_cpu)):
        print(f"worst {kind} ratio {worst:.2f} ({'meets' if worst <= GOAL else 'misses'} the goal {GOAL})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
