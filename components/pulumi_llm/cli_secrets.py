"""`pulumi-llm secrets put` and `pulumi-llm secrets check`: provider keys straight into the secret store.

The stack creates the secret containers (AwsGateway: ``pulumi-llm/<stack>/<provider>``, encrypted with
the stack key, no value). This command writes a value from standard input with the caller's own AWS
credentials, so a key never passes through Pulumi config or state, a command line or shell history::

    pbpaste | pulumi-llm secrets put openai --stack prod      # or type it: a hidden prompt on a terminal
    pulumi-llm secrets check --stack prod                     # set / missing, from metadata only

`check` reads metadata only (DescribeSecret: which versions exist and which one is AWSCURRENT); neither
command ever reads a secret's value or prints the one it writes. The running gateway picks a new value up
without `pulumi up`: its EventBridge rule sees the PutSecretValue call and forces a new ECS deployment.

GCP stacks (GcpGateway: Secret Manager secrets ``pulumi-llm-<stack>-<provider>`` in the stack's project)
go through Secret Manager's REST API with the caller's own Google credentials: ``put`` adds a secret
version (``…/secrets/ID:addVersion``, payload base64 with its CRC32C), ``check`` reads the secret's and its
``versions/latest`` metadata and never calls ``:access``. The token comes from google-auth's application
default credentials when that library is installed, else from ``gcloud auth print-access-token``; it is
sent only to Secret Manager and never printed. Cloud Run mounts the secrets at version ``latest``, so
instances started after ``put`` read the new value without a redeploy.

Wiring: `add_parsers(subparsers)` registers `secrets` with its two sub-commands; each sets `handler` in
its defaults, a function `handler(args) -> int`. Bad input raises `pulumi_llm.errors.UserError`, one line.

Which secrets a stack expects is `pulumi_llm.gateway.expected_secrets(settings)`, imported lazily; every
handler takes it as the `expected` parameter, and `--provider` (repeatable) overrides it.
"""

from __future__ import annotations

import argparse
import base64
import functools
import getpass
import json
import shutil
import subprocess  # nosec B404 - runs gcloud by absolute path, no shell
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from pulumi_llm.errors import UserError
from pulumi_llm.gateway.engine import MASTER_KEY_SECRET
from pulumi_llm.gateway.engine import secret_id as gcp_secret_id
from pulumi_llm.gateway.engine import secret_name as secret_name
from pulumi_llm.validation import SHORT_NAME as _NAME

if TYPE_CHECKING:
    from pulumi_llm.settings import Settings

Expected = Callable[["Settings"], Sequence[str]]
"""Which provider secrets a stack's settings call for (short names, e.g. ['openai', 'anthropic'])."""
SessionFactory = Callable[[str], Any]
"""region → a boto3 Session (tests pass their own)."""

GcpClientFactory = Callable[[str], "GcpSecretManager"]
"""project id → a Secret Manager client (tests pass one aimed at a local fake server)."""

SECRET_MANAGER_URL = "https://secretmanager.googleapis.com/v1"
CURRENT = "AWSCURRENT"


def default_expected(settings: Settings) -> Sequence[str]:
    """The lead's `pulumi_llm.gateway.expected_secrets`, imported only when a command needs it."""
    try:
        from pulumi_llm.gateway import expected_secrets  # type: ignore[attr-defined]
    except ImportError:
        raise UserError(
            "pulumi-llm secrets: this version cannot tell which secrets a stack expects; name them with --provider NAME"
        ) from None
    return expected_secrets(settings)


def default_session(region: str) -> Any:
    from boto3.session import Session

    return Session(region_name=region)


def default_gcp_client(project: str) -> GcpSecretManager:
    return GcpSecretManager(project)


def add_parsers(
    subparsers: Any,
    *,
    expected: Expected = default_expected,
    session_factory: SessionFactory = default_session,
    gcp_client_factory: GcpClientFactory = default_gcp_client,
) -> None:
    """Register `secrets put` and `secrets check` on an argparse sub-parsers object."""
    secrets = subparsers.add_parser(
        "secrets",
        help="write provider API keys into the stack's secret store; check which are set",
        description="Provider keys go straight into the cloud's secret store, never through Pulumi.",
    )
    commands = secrets.add_subparsers(dest="secrets_command", required=True, parser_class=type(secrets))

    put = commands.add_parser(
        "put",
        help="set a provider's key from standard input (hidden prompt on a terminal)",
        description=(
            "Read PROVIDER's key from standard input (one trailing newline is dropped; on a terminal, a prompt "
            "that does not echo) and store it as a new version of pulumi-llm/STACK/PROVIDER (AWS) or "
            "pulumi-llm-STACK-PROVIDER (GCP). Nothing is printed back."
        ),
    )
    put.add_argument("provider", metavar="PROVIDER", help="secret short name, e.g. openai, anthropic, litellm-master")
    put.add_argument("--stack", required=True, help="stack name: stacks/Pulumi.STACK.yaml (its cloud and region)")
    put.add_argument(
        "--provider",
        dest="providers",
        action="append",
        metavar="NAME",
        help="a secret the stack expects (repeatable; default: from its settings)",
    )
    put.set_defaults(
        handler=functools.partial(handle_put, expected=expected, session_factory=session_factory, gcp_client_factory=gcp_client_factory)
    )

    check = commands.add_parser(
        "check",
        help="list each secret the stack expects as set or missing (never reads values)",
        description="Exit status 0 when every expected secret has a current value, 1 otherwise.",
    )
    check.add_argument("--stack", required=True, help="stack name: stacks/Pulumi.STACK.yaml")
    check.add_argument(
        "--provider",
        dest="providers",
        action="append",
        metavar="NAME",
        help="a secret the stack expects (repeatable; default: from its settings)",
    )
    check.set_defaults(
        handler=functools.partial(handle_check, expected=expected, session_factory=session_factory, gcp_client_factory=gcp_client_factory)
    )


# ---------------------------------------------------------------------------------------------
# Handlers
# ---------------------------------------------------------------------------------------------


def handle_put(
    args: argparse.Namespace,
    *,
    expected: Expected = default_expected,
    session_factory: SessionFactory = default_session,
    gcp_client_factory: GcpClientFactory = default_gcp_client,
    stdin: TextIO | None = None,
) -> int:
    provider = args.provider
    where = f"secrets put {provider}"
    if not _NAME.match(provider):
        raise UserError(f"{where}: not a secret name; lower-case letters, digits and '-', e.g. openai")
    target = _stack(args, expected, where)
    region, known = target.region, target.known
    if provider not in known:
        raise UserError(f"{where}: stack {args.stack} expects no such secret; expected: {', '.join(known)}")
    value = read_value(stdin or sys.stdin, prompt=f"{provider} key for stack {args.stack} (input hidden): ")
    if not value:
        raise UserError(
            f"{where}: empty key on standard input; pipe it in, e.g. pbpaste | pulumi-llm secrets put {provider} --stack {args.stack}"
        )
    if provider == MASTER_KEY_SECRET and not value.startswith("sk-"):
        raise UserError(f"{where}: a LiteLLM master key starts with 'sk-'")
    if target.cloud == "gcp":
        secret = gcp_secret_id(args.stack, provider)
        manager = gcp_client_factory(target.project)
        try:
            version = manager.add_version(secret, value)
        except GcpApiError as err:
            if err.status == 404:
                raise UserError(
                    f"{where}: {secret} does not exist in project {target.project}; run pulumi up on stack {args.stack} first "
                    "(the stack creates the secret, this command sets its value)"
                ) from None
            raise UserError(f"{where}: {err}") from None
        number = str(version.get("name", "?")).rsplit("/", 1)[-1]
        print(f"{secret}: new version {number} is latest in project {target.project}; gateway instances started from now on read it")
        return 0
    name = secret_name(args.stack, provider)
    client = _client(session_factory, region)
    answer = _call(where, args.stack, name, region, lambda: client.put_secret_value(SecretId=name, SecretString=value))
    print(f"{name}: new version {answer.get('VersionId', '?')} is current in {region}; the gateway redeploys to pick it up")
    return 0


def handle_check(
    args: argparse.Namespace,
    *,
    expected: Expected = default_expected,
    session_factory: SessionFactory = default_session,
    gcp_client_factory: GcpClientFactory = default_gcp_client,
) -> int:
    where = "secrets check"
    target = _stack(args, expected, where)
    region, known = target.region, target.known
    if target.cloud == "gcp":
        return _check_gcp(where, args.stack, target, gcp_client_factory(target.project))
    client = _client(session_factory, region)
    missing = 0
    width = max(len(p) for p in known)
    for provider in known:
        name = secret_name(args.stack, provider)
        state = secret_state(where, args.stack, region, client, name)
        if not state.startswith("set"):
            missing += 1
        print(f"{provider:<{width}}  {state:<48}  {name}")
    print(f"{len(known) - missing} of {len(known)} set in {region}")
    return 1 if missing else 0


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------


def read_value(stream: TextIO, *, prompt: str) -> str:
    """The secret from `stream`, less one trailing newline; on a terminal, a prompt that does not echo."""
    if stream.isatty():
        return getpass.getpass(prompt, stream=sys.stderr)
    try:
        text = stream.read()
    except UnicodeDecodeError:
        # Never echo what was read: it is a secret.
        raise UserError("secrets put: standard input is not UTF-8 text; pipe the key as UTF-8") from None
    if text.endswith("\r\n"):
        return text[:-2]
    if text.endswith("\n"):
        return text[:-1]
    return text


def secret_state(where: str, stack: str, region: str, client: Any, name: str) -> str:
    """'set (…)' or 'missing (…)', from DescribeSecret alone (metadata, never the value)."""
    from botocore.exceptions import ClientError

    try:
        meta = client.describe_secret(SecretId=name)
    except ClientError as err:
        if _code(err) == "ResourceNotFoundException":
            return "missing (no secret: run pulumi up first)"
        raise _aws_error(where, err) from None
    except Exception as err:  # credentials, network: one line
        raise _other_error(where, err) from None
    if meta.get("DeletedDate"):
        return "missing (scheduled for deletion)"
    stages = meta.get("VersionIdsToStages") or {}
    if any(CURRENT in s for s in stages.values()):
        changed = meta.get("LastChangedDate")
        return f"set (changed {changed:%Y-%m-%d %H:%M} UTC)" if hasattr(changed, "strftime") else "set"
    return f"missing (no value: pulumi-llm secrets put … --stack {stack})"


def _check_gcp(where: str, stack: str, target: _Target, manager: GcpSecretManager) -> int:
    missing = 0
    width = max(len(p) for p in target.known)
    for provider in target.known:
        secret = gcp_secret_id(stack, provider)
        try:
            state = gcp_secret_state(manager, secret, stack)
        except GcpApiError as err:
            raise UserError(f"{where}: {err}") from None
        if not state.startswith("set"):
            missing += 1
        print(f"{provider:<{width}}  {state:<48}  {secret}")
    print(f"{len(target.known) - missing} of {len(target.known)} set in project {target.project}")
    return 1 if missing else 0


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


class _Target:
    """Where a stack's secrets live: cloud, region, GCP project, and the secrets it expects."""

    def __init__(self, cloud: str, region: str, project: str, known: list[str]) -> None:
        self.cloud, self.region, self.project, self.known = cloud, region, project, known


def _stack(args: argparse.Namespace, expected: Expected, where: str) -> _Target:
    """The stack's cloud, region (and GCP project) and the secrets it expects (master key included)."""
    from pulumi_llm.offline.plan import Project, load_settings

    project_dir = getattr(args, "project_dir", None) or Path.cwd()
    settings = load_settings(Project.find(Path(project_dir).resolve()), args.stack)
    if settings.cloud not in ("aws", "gcp"):
        raise UserError(
            f"{where}: stack {args.stack} deploys to {settings.cloud}; `pulumi-llm secrets` writes AWS Secrets Manager "
            "and GCP Secret Manager only"
        )
    names = list(args.providers) if getattr(args, "providers", None) else list(expected(settings))
    for name in names:
        if not _NAME.match(name):
            raise UserError(f"{where}: --provider {name!r}: not a secret name; lower-case letters, digits and '-'")
    if not names:
        raise UserError(f"{where}: stack {args.stack} expects no provider secrets (no gateway); name them with --provider NAME")
    known = sorted(set(names) | {MASTER_KEY_SECRET})
    project = settings.gcp.project if settings.cloud == "gcp" and settings.gcp is not None else ""
    return _Target(settings.cloud, str(settings.region), project, known)


def _client(session_factory: SessionFactory, region: str) -> Any:
    return session_factory(region).client("secretsmanager")


def _call(where: str, stack: str, name: str, region: str, call: Callable[[], Any]) -> Any:
    from botocore.exceptions import ClientError

    try:
        return call()
    except ClientError as err:
        if _code(err) == "ResourceNotFoundException":
            raise UserError(
                f"{where}: {name} does not exist in {region}; run pulumi up on stack {stack} first "
                "(the stack creates the secret, this command sets its value)"
            ) from None
        raise _aws_error(where, err) from None
    except Exception as err:
        raise _other_error(where, err) from None


def _code(err: Any) -> str:
    return str(err.response.get("Error", {}).get("Code", "")) if hasattr(err, "response") else ""


def _aws_error(where: str, err: Any) -> UserError:
    message = " ".join(str(err.response.get("Error", {}).get("Message", "")).split())
    return UserError(f"{where}: AWS refused: {_code(err)}: {message}".rstrip(": "))


def _other_error(where: str, err: Exception) -> UserError:
    from botocore.exceptions import BotoCoreError, NoCredentialsError

    if isinstance(err, NoCredentialsError):
        return UserError(f"{where}: no AWS credentials found; sign in (e.g. aws sso login, or set AWS_PROFILE) and retry")
    if isinstance(err, BotoCoreError):
        return UserError(f"{where}: {' '.join(str(err).split())}")
    raise err


# ---------------------------------------------------------------------------------------------
# GCP Secret Manager over REST (no client library: the project adds no dependency for two calls)
# ---------------------------------------------------------------------------------------------


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
        if not url.startswith(("https://", "http://127.0.0.1", "http://localhost")):
            raise GcpApiError(0, f"refusing to send a Google token to {self.base_url}: https:// only")
        headers = {"Authorization": f"Bearer {self._token()}", "Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(url, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # nosec B310 - scheme checked above
                return json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as err:
            if err.code == 404 and missing_ok:
                return None
            raise GcpApiError(err.code, _google_error(err)) from None
        except (urllib.error.URLError, TimeoutError, OSError) as err:
            reason = getattr(err, "reason", err)
            raise GcpApiError(0, f"cannot reach Secret Manager ({' '.join(str(reason).split())})") from None


def _google_error(err: urllib.error.HTTPError) -> str:
    try:
        detail = json.loads(err.read() or b"{}").get("error", {})
    except (ValueError, AttributeError):
        detail = {}
    status = detail.get("status") or str(err.code)
    message = " ".join(str(detail.get("message", "")).split())
    return f"Google refused: {status}: {message}".rstrip(": ")


def access_token() -> str:
    """An OAuth access token of the caller: google-auth's application default credentials when the
    library is installed, else `gcloud auth print-access-token`. Never printed or logged."""
    try:
        import google.auth  # type: ignore[import-not-found]
        import google.auth.transport.requests  # type: ignore[import-not-found]
    except ImportError:
        pass
    else:
        try:
            credentials, _ = google.auth.default(scopes=["https://www.googleapis.com/auth/cloud-platform"])
            credentials.refresh(google.auth.transport.requests.Request())
            return str(credentials.token)
        except Exception:  # noqa: BLE001 - fall back to gcloud, which explains itself
            pass
    gcloud = shutil.which("gcloud")
    hint = "sign in with gcloud auth login (or gcloud auth application-default login) and retry"
    if gcloud is None:
        raise UserError(f"pulumi-llm secrets: no Google credentials (google-auth is not installed and gcloud is not on PATH); {hint}")
    result = subprocess.run([gcloud, "auth", "print-access-token"], capture_output=True, text=True, timeout=60, check=False)  # nosec B603
    token = result.stdout.strip()
    if result.returncode != 0 or not token:
        raise UserError(f"pulumi-llm secrets: gcloud gave no access token; {hint}")
    return token


def _crc32c_table() -> list[int]:
    table = []
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
