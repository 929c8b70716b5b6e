"""The `pulumi-llm` command.

    pulumi-llm plan STACK [--out DIR]     the offline plan of one stack (default DIR: out/STACK)
    pulumi-llm plan --all [--out DIR]     every stack file, each into DIR/<stack> (default DIR: out)
    pulumi-llm verify STACK | --all       check the plan against what the real control planes enforce
    pulumi-llm preflight STACK            check what must exist before `pulumi up` in the live cluster/account
    pulumi-llm schema [--write]           JSON Schema of the stack files (stacks/schema.json)
    pulumi-llm size / compare             will it fit, what will it cost, when does self-hosting win
    pulumi-llm secrets put|check          provider keys straight into the cloud's secret store

User mistakes print one line and exit 2; nothing else is printed for them.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from .choices import allowed
from .errors import UserError
from .offline import out_dir

if TYPE_CHECKING:
    from .offline.plan import Plan, Project
    from .verify import Violation


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # argparse prints the whole usage block; one line says the same, with any pasted key masked as in UserError.
        from .secret_values import mask_secrets

        self.exit(2, f"{self.prog}: {mask_secrets(message)} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="pulumi-llm", description="Deploy LLMs with Pulumi: plan, size and compare.")
    parser.add_argument("--project-dir", type=Path, default=None, help="Pulumi project directory (default: search up from here)")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    plan = commands.add_parser("plan", help="run a stack's program offline under Pulumi's mock runtime")
    which = plan.add_mutually_exclusive_group(required=True)
    which.add_argument("stack", nargs="?", help="stack name: stacks/Pulumi.STACK.yaml")
    which.add_argument("--all", action="store_true", help="plan every stack file")
    plan.add_argument("--out", type=Path, default=None, help="output directory (default out/STACK, or out/ with --all)")
    plan.add_argument("--quiet", action="store_true", help="print only the summary line")
    plan.add_argument("--no-verify", action="store_true", help="record only; skip the verification pass")
    plan.set_defaults(handler=_plan)

    verify = commands.add_parser("verify", help="plan offline and check the plan against what the real control planes enforce")
    which = verify.add_mutually_exclusive_group(required=True)
    which.add_argument("stack", nargs="?", help="stack name: stacks/Pulumi.STACK.yaml")
    which.add_argument("--all", action="store_true", help="verify every stack file")
    verify.add_argument("--rule", action="append", default=None, help="run only this rule (repeatable)")
    verify.set_defaults(handler=_verify)

    schema = commands.add_parser("schema", help="print the JSON Schema of the stack files")
    schema.add_argument("--write", action="store_true", help="write it to stacks/schema.json instead")
    schema.set_defaults(handler=_schema)

    from . import cli_secrets, cli_sizing, preflight

    cli_sizing.add_parsers(commands)
    cli_secrets.add_parsers(commands)
    preflight.add_parsers(commands)
    for name in ("plan", "verify", "schema"):
        # Their errors name a stack file first; argument errors of the other commands name the program.
        commands.choices[name].set_defaults(error_prefix="")
    return parser


_NEGATIVE_VALUE = re.compile(r"^-\d")


def attach_negative_values(argv: Sequence[str]) -> list[str]:
    """`--opt -5M` as `--opt=-5M`: argparse takes a value that starts with '-' for an option unless it is a plain
    number (-5, -0.5), so `compare --tokens-per-month -5M` failed with "expected one argument" instead of reaching
    the option's own check. No option or command of ours starts with a dash and a digit, so nothing else changes."""
    out: list[str] = []
    for token in argv:
        previous = out[-1] if out else ""
        if _NEGATIVE_VALUE.match(token) and previous.startswith("--") and "=" not in previous and previous != "--":
            out[-1] = f"{previous}={token}"
        else:
            out.append(token)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    # Cache our own compiled modules even where PYTHONDONTWRITEBYTECODE is set (common in CI images):
    # an editable install is otherwise recompiled at every start. Only this command does it, never
    # a program that imports the library.
    sys.dont_write_bytecode = False
    if argv is None:
        # The command itself (the console script and `python -m` pass no argv): see as_command.
        as_command()
    try:
        return _run(argv)
    finally:
        if argv is None:
            skip_exit_collection()


def _run(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(attach_negative_values(sys.argv[1:] if argv is None else argv))
    try:
        return int(args.handler(args) or 0)
    except UserError as err:
        print(f"{getattr(args, 'error_prefix', 'pulumi-llm: ')}{err}", file=sys.stderr)
        return err.exit_code
    except OSError as err:
        # A file the command reads or writes that the checks before it could not foresee (a disk that
        # fills, a permission that changes): still the user's to fix, still one line.
        print(f"pulumi-llm: {err.filename or 'a file'}: {err.strerror or err}", file=sys.stderr)
        return UserError.exit_code


def as_command() -> None:
    """What the command's own process does unlike a caller of `main`: no garbage collection, as it imports the
    SDKs (a few hundred thousand objects) and allocates fast, for little garbage, and ends when the command does;
    no pydantic plugins.

    offline.plan.fewer_collections already stops the collector over each stack's plan; this covers what
    runs before it, the imports of the SDKs and pydantic, where Python's default thresholds ran ~100 young
    collections (onprem: ~0.015 s of CPU). `plan --all` measured: 8.1 -> 7.3 s of CPU, peak memory 504 ->
    535 MB for the ten stacks. A caller that passes argv (the tests, a program importing the CLI) keeps its
    collector as it was (and pydantic its plugins)."""
    import gc

    gc.disable()
    # pydantic looks for plugins in every installed distribution's entry points before it builds its first
    # model (~5 ms); the command's settings and args models are observed by none. A user's own setting wins.
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")


def skip_exit_collection() -> None:
    """Leave the objects alive now out of the garbage collections the interpreter runs as it exits.

    The command's process ends right after `main`: at exit the interpreter walks every object it tracks in
    full collections, about half a million after a plan (the SDK modules' classes and functions), to free
    what the OS frees anyway. Measured on onprem: 0.23 s of CPU of a 1.1 s plan. Frozen objects are still
    finalized by reference counting; files are flushed and atexit handlers run as before."""
    import gc

    gc.freeze()


def _project(args: argparse.Namespace):
    from .offline.plan import Project

    return Project.find((args.project_dir or Path.cwd()).resolve())


def _plan(args: argparse.Namespace) -> int:
    from .offline.plan import check_stack_name, fewer_collections

    project = _project(args)
    stacks = project.stacks() if args.all else [args.stack]
    if args.all and not stacks:
        raise UserError(f"{project.relative(project.stacks_dir)}: no stack files (Pulumi.<stack>.yaml)")
    failed = 0
    violations: list[Violation] = []
    verified: list[str] = []
    if args.all:
        # Checked once for every stack: each plan goes into a directory of its own under it.
        out_dir.writable_directory(args.out or project.root / "out", _out_shown(args, args.out or project.root / "out"))
    for stack in stacks:
        check_stack_name(stack)
        out = (args.out or project.root / "out") / stack if args.all else (args.out or project.root / "out" / stack)
        try:
            # Before the stack is read: a plan that fails leaves no earlier plan to be mistaken for it.
            out_dir.prepare(out, _out_shown(args, out))
            with fewer_collections():
                summary = plan_stack(
                    project, stack, out, quiet=args.quiet, verify=None if args.no_verify else violations, shown=_out_shown(args, out)
                )
            if not summary.get("program"):
                verified.append(stack)  # a program of its own is not verified (plan_stack says why)
        except UserError as err:
            if not args.all:
                raise
            print(str(err), file=sys.stderr)
            failed += 1
    if not args.no_verify and verified:
        _print_violations(verified, violations)
    return 2 if failed or _errors(violations) else 0


def _out_shown(args: argparse.Namespace, out: Path) -> str:
    """How messages name a plan directory: the flag and the path as given, or the default's path."""
    from .offline.stack_yaml import shown

    return f"plan --out {shown(str(out))}" if args.out is not None else f"plan output {_shown(out)} (the default of --out)"


def _verify(args: argparse.Namespace) -> int:
    from .offline import plan as offline
    from .verify import PlanView, run_rules

    project = _project(args)
    stacks = project.stacks() if args.all else [args.stack]
    if args.rule:
        from .verify.rules import RULES, load_families

        load_families()
        unknown = sorted(set(args.rule) - set(RULES))
        if unknown:
            raise UserError(f"verify --rule {unknown[0]}: no such rule; {allowed(unknown[0], sorted(RULES), 'rules')}")
    violations: list[Violation] = []
    failed = 0
    for stack in stacks:
        try:
            plan = offline.run(project, stack)
            if plan.settings is None:
                # Several rules read pulumi-llm stack settings (CI runners, claims named as preconditions): judged
                # without them, a program of its own would get findings that are not its own.
                raise UserError(
                    f"{project.relative(project.stack_file(stack))}: project {project.name} configures a program of its own: "
                    "verify checks pulumi-llm stacks only (plan still records it)"
                )
            violations.extend(run_rules(PlanView.from_plan(plan), args.rule))
        except UserError as err:
            if not args.all:
                raise
            print(str(err), file=sys.stderr)
            failed += 1
    _print_violations(stacks, violations)
    return 2 if failed or _errors(violations) else 0


def _errors(violations: list[Violation]) -> list[Violation]:
    from .verify import errors

    return errors(violations)


def _print_violations(stacks: Sequence[str], violations: list[Violation]) -> None:
    from .verify import format_report

    print(format_report(stacks, violations), file=sys.stderr if _errors(violations) else sys.stdout)


def plan_stack(
    project: Project, stack: str, out: Path, quiet: bool = False, verify: list[Violation] | None = None, shown: str | None = None
) -> dict[str, Any]:
    """Plan one stack into `out` (`shown`: how messages name it); with `verify` (a list), run the
    verification pass and add its violations to that list."""
    from .offline import plan as offline
    from .offline.cost_block import render_cost_block
    from .offline.words import plural
    from .serving import stack_sizing
    from .stack_cost import price_stack

    result = offline.run(project, stack)
    if result.settings is None:
        return _plan_program(result, out, quiet=quiet, shown=shown)
    sizing = stack_sizing(result.settings)
    # The region, schedule and spot share of the stack file, not the catalog's list price all month.
    stack_cost = price_stack(result.settings, sizing)
    extra: dict[str, Any] = {"sizing": sizing, "cost": stack_cost}
    if "gateway" in result.settings.methods and result.settings.gateway is not None:
        # Imported here: a stack without a gateway has no sizing of it (stack_gateway_sizing's None) to import for.
        from .gateway.sizing import gateway_summary, stack_gateway_sizing

        gateway = stack_gateway_sizing(result.settings)
        if gateway is not None:
            # Its instances, autoscaling target and list price, from the measured engine cost (gateway/sizing.py).
            extra["gateway"] = gateway_summary(gateway)
    try:
        summary = offline.write(result, out, extra)
    except OSError as err:
        raise UserError(f"{shown or out}: cannot write the plan ({err.strerror or err})") from None
    if verify is not None:
        from .verify import PlanView, run_rules

        verify.extend(run_rules(PlanView.from_plan(result)))
    if not quiet:
        print(f"Plan of stack {stack} (cloud {summary['cloud']}, methods: {', '.join(summary['methods']) or 'none'})")
        print(offline.tree(result))
        print("Resources by type:")
        for type_, count in summary["resources"]["byType"].items():
            print(f"  {count:4d}  {type_}")
        block = render_cost_block(summary, color=sys.stdout.isatty())
        if block:
            print(block)
    # Printed with --quiet too: a server deployed with less context than the model holds is worth one line.
    for model in sizing:
        if model["context_capped"]:
            print(
                f"{stack}: model {model['served_name']}: context capped to {model['context_deployed']:,} tokens "
                f"of {model['context_asked']:,} (context: max takes the most that fits on {model['hardware']['instance_type'] or model['hardware']['accelerator']})"
            )
    manifests = len(list((out / out_dir.MANIFEST_DIR).glob("*.yaml")))
    print(f"{stack}: {plural(summary['resources']['total'], 'resource')}, {plural(manifests, 'manifest')} -> {_shown(out)}")
    return summary


def _plan_program(result: Plan, out: Path, quiet: bool, shown: str | None) -> dict[str, Any]:
    """`plan` of a project with a program of its own (offline.plan.decide_plan_mode): its resources and manifests.

    Sizing and cost come from pulumi-llm's stack settings, which such a project does not have; nor does verify
    run, as several of its rules read those settings (CI runners, claims a stack names as preconditions) and
    would judge what they cannot see. Both are said in one line each, not left out silently."""
    from .offline import plan as offline
    from .offline.words import plural

    try:
        summary = offline.write(result, out, {"program": True})
    except OSError as err:
        raise UserError(f"{shown or out}: cannot write the plan ({err.strerror or err})") from None
    if not quiet:
        print(f"Plan of stack {result.stack} (project {result.project}, a program of its own; cloud {summary['cloud']})")
        print(offline.tree(result))
        print("Resources by type:")
        for type_, count in summary["resources"]["byType"].items():
            print(f"  {count:4d}  {type_}")
    print(
        f"{result.stack}: sizing, cost and verify read pulumi-llm stack settings (pulumi-llm:* keys), which project "
        f"{result.project} does not use: not run (pulumi-llm size MODEL --gpu GPU sizes a model)"
    )
    manifests = len(list((out / out_dir.MANIFEST_DIR).glob("*.yaml")))
    print(f"{result.stack}: {plural(summary['resources']['total'], 'resource')}, {plural(manifests, 'manifest')} -> {_shown(out)}")
    return summary


def _schema(args: argparse.Namespace) -> int:
    from .settings import stack_file_schema

    text = json.dumps(stack_file_schema(), indent=2, sort_keys=True) + "\n"
    if args.write:
        project = _project(args)
        target = project.stacks_dir / "schema.json"
        try:
            target.write_text(text)
        except OSError as err:
            raise UserError(f"schema --write: cannot write {project.relative(target)} ({err.strerror or err})") from None
        print(f"wrote {project.relative(target)}")
    else:
        sys.stdout.write(text)
    return 0


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


if __name__ == "__main__":
    sys.exit(main())
