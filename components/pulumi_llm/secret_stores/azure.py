"""Azure Key Vault over its REST API: `pulumi-llm secrets` for Azure stacks (no SDK: the project adds no
dependency for two calls).

The stack's vault is ``kv<stack><hash>`` (platform.azure.global_name: the stack and its region name it) and
the gateway reads each secret by its short name there (``https://<vault>.vault.azure.net/secrets/<name>``,
versionless). `put` sets a new version (``PUT /secrets/<name>?api-version=7.4`` with ``{"value": …}``; Key
Vault creates the secret on its first version — the stack creates no empty container as on AWS and GCP);
`check` lists the secret's versions (``GET /secrets/<name>/versions``: ids and attributes, never a value)
and never calls ``GET /secrets/<name>``, which returns the value.

Authentication: a bearer token for ``https://vault.azure.net`` from azure-identity's DefaultAzureCredential
when that library is installed (it is not a dependency of this project), else from
``az account get-access-token --resource https://vault.azure.net``. It is sent only to the vault and never
printed. The signed-in identity needs `Key Vault Secrets Officer` (put) or `Key Vault Reader` (check) on
the vault (RBAC mode).

Network: the stack's vault has public network access disabled and is reached through its private
endpoint only, so these commands work only from a machine whose DNS resolves ``<vault>.vault.azure.net``
to that endpoint (inside the VNet, or peered/VPN-connected with the private DNS zone linked) — anywhere
else Key Vault answers 403 (public access disabled) or the name does not resolve, and the command says so.

How a new value reaches the gateway: the Container App reads its Key Vault references versionless and
fetches a new version within 30 minutes, but a running revision keeps the values it started with until it
is restarted (Container Apps "Manage secrets"); APIM refreshes its named value (the edge key) within 4
hours. The README's rotation steps order both.
"""

from __future__ import annotations

import urllib.error
import urllib.parse
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, cast

from pulumi_llm.errors import UserError
from pulumi_llm.gateway.engine import MASTER_KEY_SECRET

from . import rest
from .check_table import print_states

NAME = "Azure Key Vault"
API_VERSION = "7.4"
"""Key Vault data-plane API version (learn.microsoft.com/rest/api/keyvault/secrets, 7.4)."""
VAULT_RESOURCE = "https://vault.azure.net"
"""The audience of a Key Vault access token (scope ``https://vault.azure.net/.default``)."""
VAULT_DNS_SUFFIX = "vault.azure.net"
EXTRA_SECRETS = (f"{MASTER_KEY_SECRET}-previous",)
"""The second edge key the engine's front accepts (AzureGateway reads it; rotation stages a new key in it)."""

if TYPE_CHECKING:
    from pulumi_llm.settings import Settings


def location(settings: Settings) -> str:
    """The stack's region: with the stack's name it names the vault (`vault_name`)."""
    return (settings.region or "").strip().lower()


def vault_name(stack: str, region: str) -> str:
    """The stack's Key Vault, as the platform names it (global_name('kv', stack, region))."""
    from pulumi_llm.platform.azure import global_name

    return global_name("kv", stack, region)


def default_client(vault: str) -> KeyVaultSecrets:
    """vault name → a Key Vault client (tests pass one aimed at a local fake server)."""
    return KeyVaultSecrets(f"https://{vault}.{VAULT_DNS_SUFFIX}")


def put(where: str, stack: str, region: str, provider: str, value: str, client_factory: Callable[[str], KeyVaultSecrets]) -> int:
    vault = vault_name(stack, region)
    client = client_factory(vault)
    try:
        version = client.set_secret(provider, value)
    except KeyVaultError as err:
        raise UserError(f"{where}: {err}{_hint(err, vault)}") from None
    print(f"{provider}: new version {version} is current in Key Vault {vault}; restart the engine's revision to use it (README)")
    return 0


def check(where: str, stack: str, region: str, known: Sequence[str], client_factory: Callable[[str], KeyVaultSecrets]) -> int:
    vault = vault_name(stack, region)
    client = client_factory(vault)

    def row(provider: str) -> tuple[str, str]:
        try:
            return secret_state(client, provider, stack), f"{vault}/{provider}"
        except KeyVaultError as err:
            raise UserError(f"{where}: {err}{_hint(err, vault)}") from None

    return print_states(known, row, f"Key Vault {vault}")


def secret_state(client: KeyVaultSecrets, secret: str, stack: str) -> str:
    """'set (…)' or 'missing (…)', from the attributes of the secret's versions (never a value)."""
    versions = client.versions(secret)
    if not versions:
        return f"missing (no value: pulumi-llm secrets put {secret} --stack {stack})"
    newest = max(versions, key=lambda v: _number(v.get("attributes", {}).get("created")))
    attributes = newest.get("attributes", {})
    if attributes.get("enabled") is False:
        return "missing (newest version is disabled)"
    created = _number(attributes.get("created"))
    return f"set (created {_utc(created)} UTC)" if created else "set"


def _number(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _utc(seconds: int) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%d %H:%M")


def _hint(err: KeyVaultError, vault: str) -> str:
    if err.status == 0 or err.code == "ForbiddenByConnection" or "public network access" in str(err).lower():
        return (
            f"; Key Vault {vault} is reachable only through its private endpoint: run this from inside the stack's VNet "
            "(or a network linked to its privatelink.vaultcore.azure.net zone)"
        )
    if err.status == 403:
        return f"; grant your identity Key Vault Secrets Officer (put) or Key Vault Reader (check) on {vault}"
    return ""


class KeyVaultError(Exception):
    """A Key Vault answer other than success, as one line (no request body, which may hold a value)."""

    def __init__(self, status: int, message: str, code: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class KeyVaultSecrets:
    """The two Key Vault calls the commands make: set a secret (a new version) and list a secret's
    versions (attributes only). There is deliberately no call that reads a value."""

    def __init__(self, base_url: str, *, token: Callable[[], str] | None = None, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._token = token or access_token
        self.timeout = timeout

    def set_secret(self, secret: str, value: str) -> str:
        """A new version of `secret` holding `value`; returns the version id."""
        answer = self._call("PUT", f"/secrets/{urllib.parse.quote(secret, safe='')}", {"value": value, "contentType": "text/plain"})
        assert answer is not None  # 404 raised for a PUT
        return str(answer.get("id", "?")).rstrip("/").rsplit("/", 1)[-1]

    def versions(self, secret: str) -> list[dict[str, Any]]:
        """Every version's id and attributes (enabled, created, updated; Key Vault returns no value here);
        an empty list when the secret does not exist."""
        out: list[dict[str, Any]] = []
        path: str | None = f"/secrets/{urllib.parse.quote(secret, safe='')}/versions"
        while path is not None:
            answer = self._call("GET", path, missing_ok=True)
            if answer is None:
                return []
            items: list[Any] = answer.get("value") or []
            out.extend(cast(dict[str, Any], v) for v in items if isinstance(v, dict))
            path = self._next(answer.get("nextLink"))
        return out

    def _next(self, link: object) -> str | None:
        """The path of a nextLink on this vault (a link elsewhere is not followed: the token goes nowhere else)."""
        if not isinstance(link, str) or not link:
            return None
        if not link.startswith(self.base_url + "/"):
            raise KeyVaultError(0, f"Key Vault sent a nextLink outside {self.base_url}; not followed")
        return link[len(self.base_url) :]

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None, *, missing_ok: bool = False) -> dict[str, Any] | None:
        separator = "&" if "?" in path else "?"
        url = f"{self.base_url}{path}" if "api-version=" in path else f"{self.base_url}{path}{separator}api-version={API_VERSION}"
        return rest.call_json(_API, self.base_url, url, method, self._token, self.timeout, body, missing_ok=missing_ok)


def _vault_error(err: urllib.error.HTTPError) -> KeyVaultError:
    detail = rest.error_detail(err)
    code = str(detail.get("code") or err.code)
    inner: Any = detail.get("innererror")
    if isinstance(inner, dict):
        # Key Vault's specific reason (e.g. ForbiddenByConnection: public network access is disabled).
        inner_code = cast(dict[str, Any], inner).get("code")
        if inner_code:
            code = str(inner_code)
    message = " ".join(str(detail.get("message", "")).split())
    return KeyVaultError(err.code, f"Key Vault refused: {code}: {message}".rstrip(": "), code)


_API = rest.Api("Key Vault", "an Azure token", KeyVaultError, _vault_error)


def access_token() -> str:
    """An access token for Key Vault: azure-identity's DefaultAzureCredential when that library is installed,
    else `az account get-access-token`. Never printed or logged."""
    hint = "sign in with az login and retry"
    return rest.access_token(
        ["azure.identity"],
        lambda sdk: str(sdk[0].DefaultAzureCredential().get_token(f"{VAULT_RESOURCE}/.default").token),
        ["az", "account", "get-access-token", "--resource", VAULT_RESOURCE, "--query", "accessToken", "--output", "tsv"],
        no_cli=f"pulumi-llm secrets: no Azure credentials (azure-identity is not installed and az is not on PATH); {hint}",
        no_token=f"pulumi-llm secrets: az gave no access token for Key Vault; {hint}",
    )
