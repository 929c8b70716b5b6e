"""The caches and shortcuts that keep `pulumi-llm plan` near its import floor (bench/plan_time.py) give
the same results as the work they save."""

from __future__ import annotations

import base64
import json
import zlib
from pathlib import Path
from typing import Any

import pulumi
from pulumi_llm.gateway import engine
from pulumi_llm.offline.plan import execute


def test_shipped_source_cached_equals_uncached():
    engine.shipped_source.cache_clear()
    here = Path(engine.__file__).parent
    for name in engine.FRONT_MODULES:
        text = (here / name).read_text(encoding="utf-8")
        uncached = engine.shipped_source.__wrapped__(text)
        assert engine.shipped_source(text) == uncached  # a miss
        assert engine.shipped_source(text) == uncached  # a hit
        assert '"""' not in uncached.split("\n", 1)[0]  # the docstring-free text, not the file
    assert engine.shipped_source.cache_info().hits == len(engine.FRONT_MODULES)


def test_boot_commands_ship_the_uncached_sources():
    here = Path(engine.__file__).parent
    for command in (engine.BOOT, engine.BOOT_WITH_SECRET_FILES):
        blob = command.split("base64.b64decode('", 1)[1].split("'", 1)[0]
        files = json.loads(zlib.decompress(base64.b64decode(blob)))
        for name in engine.FRONT_MODULES:
            assert files[name] == engine.shipped_source.__wrapped__((here / name).read_text(encoding="utf-8"))


class _Aliased(pulumi.ComponentResource):
    def __init__(self, name: str, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("test:index:Aliased", name, None, opts)
        self.register_outputs({})


def test_the_plan_records_an_aliased_resource_as_without_its_aliases():
    """The plan drops aliases (offline/plan.py `_without_aliases`): what it records is the same."""

    built: list[_Aliased] = []

    def program(aliases: list[pulumi.Alias] | None) -> None:
        parent = _Aliased("parent", pulumi.ResourceOptions(aliases=aliases))
        built.extend([parent, _Aliased("child", pulumi.ResourceOptions(parent=parent, aliases=aliases))])

    def records(aliases: list[pulumi.Alias] | None) -> list[tuple[str, str | None, bool]]:
        recorded = execute(lambda: program(aliases), project="p", stack="s", config={})
        return [(r.urn, r.parent, r.custom) for r in recorded]

    aliased = records([pulumi.Alias(name="old"), pulumi.Alias(type_="test:index:Older")])
    assert aliased == records(None)
    assert [urn.rsplit("::", 1)[1] for urn, _, _ in aliased] == ["p-s", "parent", "child"]
    # the SDK built no alias URN Output for them: the work the plan saves
    assert [resource._aliases for resource in built] == [[], [], [], []]  # pyright: ignore[reportPrivateUsage]


def test_fewer_collections_stops_the_collector_and_gives_the_callers_back():
    import gc

    from pulumi_llm.offline.plan import fewer_collections

    assert gc.isenabled()
    try:
        with fewer_collections():
            assert not gc.isenabled()
            with fewer_collections():
                assert not gc.isenabled()
            assert not gc.isenabled()  # an inner block leaves the outer's choice alone
        assert gc.isenabled()
        try:
            with fewer_collections():
                raise RuntimeError("a plan that fails")
        except RuntimeError:
            pass
        assert gc.isenabled()
        gc.disable()
        with fewer_collections():
            pass
        assert not gc.isenabled()  # a caller that had it off keeps it off
    finally:
        gc.enable()


def test_a_plan_records_the_same_with_the_collector_running(monkeypatch):
    """Collection timing changes nothing the plan records: the same program with the collector at its defaults."""
    import contextlib
    import gc

    from pulumi_llm.offline import plan as offline

    def program() -> None:
        parent = _Aliased("parent")
        for index in range(50):
            _Aliased(f"child-{index}", pulumi.ResourceOptions(parent=parent))

    def records() -> list[tuple[str, str]]:
        # Sorted: the mock runtime registers siblings concurrently, so their order varies run to run
        # whatever the collector does; what a plan writes is keyed by URN.
        return sorted((r.urn, r.parent or "") for r in execute(program, project="p", stack="s", config={}))

    tuned = records()
    monkeypatch.setattr(offline, "fewer_collections", contextlib.nullcontext)
    before = gc.get_threshold()
    gc.set_threshold(1, 1, 1)  # a collection at nearly every allocation
    try:
        collected = records()
    finally:
        gc.set_threshold(*before)
    assert collected == tuned and len(tuned) == 52


def test_the_command_skips_the_exit_collection_and_a_caller_keeps_its_collector(capsys, monkeypatch):
    """`main()` as the command (no argv) runs without the collector (cli.as_command) and leaves the objects
    alive at its end out of the exit's collections (cli.skip_exit_collection); a caller that passes argv (this
    test) keeps its collector untouched."""
    import gc
    import os
    import subprocess
    import sys

    from pulumi_llm.cli import main

    probe = (
        "import atexit, gc, sys\n"
        "from pulumi_llm.cli import main\n"
        "import os\n"
        "atexit.register(lambda: print('frozen', gc.get_freeze_count() > 0, 'collecting', gc.isenabled(),"
        " 'plugins', os.environ.get('PYDANTIC_DISABLE_PLUGINS')))\n"
        "sys.argv = ['pulumi-llm', 'schema']\n"
        "sys.exit(main())\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYDANTIC_DISABLE_PLUGINS"}
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, env=env)
    assert done.stdout.splitlines()[-1] == "frozen True collecting False plugins __all__"
    env["PYDANTIC_DISABLE_PLUGINS"] = "logfire"  # a user's own choice is kept
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, env=env)
    assert done.stdout.splitlines()[-1] == "frozen True collecting False plugins logfire"
    assert json.loads(done.stdout.rsplit("frozen", 1)[0])["title"]  # the command's output came first, whole

    monkeypatch.delenv("PYDANTIC_DISABLE_PLUGINS", raising=False)
    before = gc.get_freeze_count()
    assert main(["schema"]) == 0
    assert gc.get_freeze_count() == before
    assert gc.isenabled()
    assert "PYDANTIC_DISABLE_PLUGINS" not in os.environ
    assert json.loads(capsys.readouterr().out)["title"]


def test_a_plan_records_the_same_without_the_sdks_stack_traces(monkeypatch):
    """offline.plan._without_stack_traces: the SDK's per-registration stack trace is left empty while the program
    runs (nothing under the mocks reads it) and is the SDK's own again after; what the plan records is the same."""
    import contextlib

    from pulumi.runtime import resource as sdk_resource
    from pulumi_llm.offline import plan as offline

    original = sdk_resource._get_stack_trace  # pyright: ignore[reportPrivateUsage]
    seen: list[Any] = []

    def program() -> None:
        seen.append(sdk_resource._get_stack_trace)  # pyright: ignore[reportPrivateUsage]
        parent = _Aliased("parent")
        for index in range(5):
            _Aliased(f"child-{index}", pulumi.ResourceOptions(parent=parent))

    def records() -> list[tuple[str, str]]:
        return sorted((r.urn, r.parent or "") for r in execute(program, project="p", stack="s", config={}))

    without = records()
    assert seen[-1] is not original and len(seen[-1]().frames) == 0
    assert sdk_resource._get_stack_trace is original  # pyright: ignore[reportPrivateUsage]
    monkeypatch.setattr(offline, "_without_stack_traces", contextlib.nullcontext)
    assert records() == without and len(without) == 7
    assert seen[-1] is original
