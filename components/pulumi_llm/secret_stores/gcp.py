"""GCP Secret Manager over REST: `pulumi-llm secrets` for GCP stacks (no client library: the project adds
no dependency for two calls).

GcpGateway creates Secret Manager secrets ``pulumi-llm-<stack>-<provider>`` in the stack's project; `put` adds
a secret version (``…/secrets/ID:addVersion``, payload base64 with its CRC32C), `check` reads the secret's and
its ``versions/latest`` metadata and never calls ``:access``. The token comes from google-auth's application
default credentials when that library is installed, else from ``gcloud auth print-access-token``; it is sent
only to Secret Manager and never printed. Cloud Run mounts the secrets at version ``latest``, so instances
started after `put` read the new value without a redeploy.
"""

from __future__ import annotations

import base64
import urllib.error
import urllib.parse
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from pulumi_llm.errors import UserError
from pulumi_llm.gateway.engine import secret_id as gcp_secret_id

from . import rest
from .check_table import print_states

SECRET_MANAGER_URL = "https://secretmanager.googleapis.com/v1"
NAME = "GCP Secret Manager"

if TYPE_CHECKING:
    from pulumi_llm.settings import Settings


def location(settings: Settings) -> str:
    """The stack's project: its secrets live in that project's Secret Manager."""
    return settings.gcp.project if settings.gcp is not None else ""


def default_client(project: str) -> GcpSecretManager:
    """project id → a Secret Manager client (tests pass one aimed at a local fake server)."""
    return GcpSecretManager(project)


def put(where: str, stack: str, project: str, provider: str, value: str, client_factory: Callable[[str], GcpSecretManager]) -> int:
    secret = gcp_secret_id(stack, provider)
    manager = client_factory(project)
    try:
        version = manager.add_version(secret, value)
    except GcpApiError as err:
        if err.status == 404:
            raise UserError(
                f"{where}: {secret} does not exist in project {project}; run pulumi up on stack {stack} first "
                "(the stack creates the secret, this command sets its value)"
            ) from None
        raise UserError(f"{where}: {err}") from None
    number = str(version.get("name", "?")).rsplit("/", 1)[-1]
    print(f"{secret}: new version {number} is latest in project {project}; gateway instances started from now on read it")
    return 0


def check(where: str, stack: str, project: str, known: Sequence[str], client_factory: Callable[[str], GcpSecretManager]) -> int:
    manager = client_factory(project)

    def row(provider: str) -> tuple[str, str]:
        secret = gcp_secret_id(stack, provider)
        try:
            return gcp_secret_state(manager, secret, stack), secret
        except GcpApiError as err:
            raise UserError(f"{where}: {err}") from None

    return print_states(known, row, f"project {project}")


def gcp_secret_state(manager: GcpSecretManager, secret: str, stack: str) -> str:
    """'set (…)' or 'missing (…)', from the secret's and its latest version's metadata (never the payload)."""
    if manager.secret(secret) is None:
        return "missing (no secret: run pulumi up first)"
    latest = manager.latest_version(secret)
    if latest is None:
        return f"missing (no value: pulumi-llm secrets put … --stack {stack})"
    state = str(latest.get("state", ""))
    if state != "ENABLED":
        return f"missing (latest version is {state.lower() or 'unknown'})"
    created = str(latest.get("createTime", ""))
    return f"set (created {created[:16].replace('T', ' ')} UTC)" if created else "set"


class GcpApiError(Exception):
    """A Secret Manager answer other than success, as one line (no request body, which may hold a value)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class GcpSecretManager:
    """The three Secret Manager calls the commands make: add a version, read a secret's metadata, read
    its latest version's metadata. There is deliberately no call that reads a payload (`:access`)."""

    def __init__(
        self, project: str, *, base_url: str = SECRET_MANAGER_URL, token: Callable[[], str] | None = None, timeout: float = 30.0
    ) -> None:
        self.project = project
        self.base_url = base_url.rstrip("/")
        self._token = token or access_token
        self.timeout = timeout

    def _path(self, secret: str) -> str:
        return f"projects/{urllib.parse.quote(self.project, safe='')}/secrets/{urllib.parse.quote(secret, safe='')}"

    def add_version(self, secret: str, value: str) -> dict[str, Any]:
        data = value.encode()
        body = {"payload": {"data": base64.b64encode(data).decode(), "dataCrc32c": str(crc32c(data))}}
        answer = self._call("POST", f"{self._path(secret)}:addVersion", body)
        assert answer is not None  # 404 raised for add_version
        return answer

    def secret(self, secret: str) -> dict[str, Any] | None:
        """The secret's metadata, or None when it does not exist."""
        return self._call("GET", self._path(secret), missing_ok=True)

    def latest_version(self, secret: str) -> dict[str, Any] | None:
        """Metadata of the newest version (name, state, createTime; no payload), or None without versions."""
        return self._call("GET", f"{self._path(secret)}/versions/latest", missing_ok=True)

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None, *, missing_ok: bool = False) -> dict[str, Any] | None:
        url = f"{self.base_url}/{path}"
        return rest.call_json(_API, self.base_url, url, method, self._token, self.timeout, body, missing_ok=missing_ok)


def _google_error(err: urllib.error.HTTPError) -> GcpApiError:
    detail = rest.error_detail(err)
    status = detail.get("status") or str(err.code)
    message = " ".join(str(detail.get("message", "")).split())
    return GcpApiError(err.code, f"Google refused: {status}: {message}".rstrip(": "))


_API = rest.Api("Secret Manager", "a Google token", GcpApiError, _google_error)


def _from_google_auth(sdk: list[Any]) -> str:
    google_auth, transport = sdk
    credentials, _ = google_auth.default(scopes=["https://www.googleapis.com/auth/cloud-platform"])
    credentials.refresh(transport.Request())
    return str(credentials.token)


def access_token() -> str:
    """An OAuth access token of the caller: google-auth's application default credentials when the
    library is installed, else `gcloud auth print-access-token`. Never printed or logged."""
    hint = "sign in with gcloud auth login (or gcloud auth application-default login) and retry"
    return rest.access_token(
        ["google.auth", "google.auth.transport.requests"],
        _from_google_auth,
        ["gcloud", "auth", "print-access-token"],
        no_cli=f"pulumi-llm secrets: no Google credentials (google-auth is not installed and gcloud is not on PATH); {hint}",
        no_token=f"pulumi-llm secrets: gcloud gave no access token; {hint}",
    )


def _crc32c_table() -> list[int]:
    table: list[int] = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
        table.append(crc)
    return table


_CRC32C = _crc32c_table()


def crc32c(data: bytes) -> int:
    """CRC32C (Castagnoli) of `data`: Secret Manager checks the payload against it."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc = _CRC32C[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF
