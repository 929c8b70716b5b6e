"""Each cloud's secret store as `pulumi-llm secrets put|check` writes and reads it: one module per cloud.

A module exports `NAME` (how messages name the store), `location(settings)` (where the stack's secrets live:
an AWS region, a GCP project, an Azure region), `default_client(...)` (tests pass their own), `put(...)` and
`check(...)`.
cli_secrets asks the stack's cloud here; a cloud without a module is refused with the stores that exist.
Explicit import lines, so tests/unit/test_import_graph.py sees the edges. The cloud SDKs are imported inside
the functions that call them. `rest` holds what the Azure and GCP modules share (the REST call, the token
lookup) and `check_table` the table every store's `check` prints; neither is a store.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import aws, azure, gcp

if TYPE_CHECKING:
    from ..settings import Settings

ClientFactory = Callable[[str], Any]
"""location → the store's client."""


@dataclass(frozen=True)
class SecretStore:
    """One cloud's secret store."""

    name: str
    location: Callable[[Settings], str]
    default_client: ClientFactory
    put: Callable[[str, str, str, str, str, ClientFactory], int]
    """(where, stack, location, provider short name, value, client factory) → exit status; prints one line."""
    check: Callable[[str, str, str, Sequence[str], ClientFactory], int]
    """(where, stack, location, expected short names, client factory) → 0 when all are set, else 1; prints a table."""
    extra: tuple[str, ...] = ()
    """Secrets this cloud's gateway reads beyond the providers' and the master key (Azure: the second edge key)."""


BY_CLOUD: dict[str, SecretStore] = {
    "aws": SecretStore(aws.NAME, aws.location, aws.default_session, aws.put, aws.check),
    "gcp": SecretStore(gcp.NAME, gcp.location, gcp.default_client, gcp.put, gcp.check),
    "azure": SecretStore(azure.NAME, azure.location, azure.default_client, azure.put, azure.check, extra=azure.EXTRA_SECRETS),
}
