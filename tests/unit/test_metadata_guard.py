"""The metadata guard unit (gpu_vm.metadata_guard): its rules go in once however often it runs, and every unit it is
given waits for it. Its place in each cloud's boot script: tests/stacks/test_vm_metadata_guard.py."""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path

from pulumi_llm.gpu_vm import metadata_guard

GUARD = metadata_guard.MetadataGuard(
    rules=("-d 169.254.169.254/32 -j DROP", "-d 168.63.129.16/32 -p tcp --dport 80 -j DROP"), description="test rules"
)

# A stand-in iptables keeping DOCKER-USER in a file: -C answers whether the rule is there, -I inserts it at the top.
FAKE_IPTABLES = """#!/bin/sh
state="$IPTABLES_STATE"; touch "$state"
op="$1"; chain="$2"; shift 2
[ "$chain" = DOCKER-USER ] || exit 2
case "$op" in
  -C) grep -qxF -- "$*" "$state" ;;
  -I) { printf '%s\\n' "$*"; cat "$state"; } > "$state.new" && mv "$state.new" "$state" ;;
  *) exit 2 ;;
esac
"""


def _exec_starts(unit: str) -> list[str]:
    return [line.removeprefix("ExecStart=") for line in unit.splitlines() if line.startswith("ExecStart=")]


def test_each_rule_is_inserted_once_however_often_the_guard_runs(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "iptables").write_text(FAKE_IPTABLES)
    (bin_dir / "iptables").chmod(0o755)
    state = tmp_path / "docker-user"
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "IPTABLES_STATE": str(state)}
    commands = _exec_starts(metadata_guard.guard_unit(GUARD))
    assert len(commands) == len(GUARD.rules)
    for _ in range(3):  # boot, then two Docker restarts: the chain kept its rules
        for command in commands:
            argv = shlex.split(command)
            assert argv[:2] == ["/bin/sh", "-c"]
            assert subprocess.run(["sh", "-c", argv[2]], env=env).returncode == 0
    assert sorted(state.read_text().splitlines()) == sorted(GUARD.rules)
    state.write_text("")  # a chain emptied behind the guard's back: the next run puts them back
    for command in commands:
        subprocess.run(["sh", "-c", shlex.split(command)[2]], env=env, check=True)
    assert sorted(state.read_text().splitlines()) == sorted(GUARD.rules)


def test_the_guard_lives_and_dies_with_docker_and_holds_after_its_commands() -> None:
    lines = metadata_guard.guard_unit(GUARD).splitlines()
    assert {"BindsTo=docker.service", "After=docker.service", "Type=oneshot", "RemainAfterExit=yes"} <= set(lines)
    assert not [line for line in lines if line.startswith(("ExecStop", "[Install]", "WantedBy"))]  # started by its users


def test_every_given_unit_requires_the_guard_and_starts_after_it() -> None:
    written = dict(metadata_guard.files(GUARD, ["llm-server.service", "llm-router.service"]))
    assert sorted(written) == [
        "/etc/systemd/system/llm-metadata-guard.service",
        "/etc/systemd/system/llm-router.service.d/10-metadata-guard.conf",
        "/etc/systemd/system/llm-server.service.d/10-metadata-guard.conf",
    ]
    for unit in ("llm-server", "llm-router"):
        drop_in = written[f"/etc/systemd/system/{unit}.service.d/10-metadata-guard.conf"].splitlines()
        assert drop_in == ["[Unit]", "Requires=llm-metadata-guard.service", "After=llm-metadata-guard.service"]
