"""The stack's one grant of Secret Manager's service agent on the model store's key (platform/gcp.py) is the
gateway's former child under a new name: its aliases name that child as it was (same name, the gateway component
as parent), so `pulumi up` on a stack made before moves it without creating a second grant and deleting the first —
which would remove the binding both stand for."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pulumi
import pulumi_gcp as gcp
import pytest
from helpers import by_name, run
from pulumi_llm.offline.plan import Project, load_settings
from pulumi_llm.platform import LlmPlatform, LlmPlatformArgs

ROOT = Path(__file__).resolve().parents[2]


def test_the_shared_secret_manager_grant_is_aliased_to_the_gateways_former_children(monkeypatch: pytest.MonkeyPatch) -> None:
    aliases: dict[str, list[pulumi.Alias]] = {}

    def capturing(cls: Any) -> Any:
        def make(name: str, *args: Any, opts: pulumi.ResourceOptions | None = None, **kwargs: Any) -> Any:
            aliases[name] = [a for a in (opts.aliases or []) if isinstance(a, pulumi.Alias)] if opts else []
            return cls(name, *args, opts=opts, **kwargs)

        return make

    monkeypatch.setattr(gcp.kms, "CryptoKeyIAMMember", capturing(gcp.kms.CryptoKeyIAMMember))
    monkeypatch.setattr(gcp.projects, "ServiceIdentity", capturing(gcp.projects.ServiceIdentity))
    settings = load_settings(Project.find(ROOT), "gcp-prod")
    parents: dict[str, str] = {}

    def program() -> None:
        LlmPlatform("llm", LlmPlatformArgs(settings=settings, stack="gcp-prod"))
        for name, found in aliases.items():
            for alias in found:
                pulumi.Output.from_input(alias.parent).apply(lambda urn, name=name: parents.__setitem__(name, urn))  # type: ignore[arg-type]

    records = by_name(run(program, region="", stack="gcp-prod"))
    gateway_urn = records["llm-gateway-key-run"].parent  # a grant the gateway still makes itself
    assert gateway_urn is not None
    assert {name: [a.name for a in found] for name, found in aliases.items() if found} == {
        "llm-store-key-secretmanager": ["llm-gateway-key-secretmanager"],
        "llm-store-secretmanager-agent": ["llm-gateway-secretmanager-agent"],
    }
    # The mock monitor names a child by its parent's last type only, so under it LlmPlatform's own URN carries the
    # root stack's type (`pulumi:pulumi:Stack$...`), which the engine leaves out; the alias is built from that URN
    # (pulumi.create_urn, the whole chain), so it carries it too. Without it, it is the gateway's URN.
    assert {name: urn.replace("pulumi:pulumi:Stack$", "") for name, urn in parents.items()} == {
        "llm-store-key-secretmanager": gateway_urn,
        "llm-store-secretmanager-agent": gateway_urn,
    }
    assert gateway_urn.endswith("pulumi-llm:index:LlmPlatform$pulumi-llm:index:GcpGateway::llm-gateway")
    assert "llm-gateway-key-secretmanager" not in records and "llm-gateway-secretmanager-agent" not in records
