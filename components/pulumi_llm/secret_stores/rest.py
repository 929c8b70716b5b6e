"""What the Azure and GCP secret stores share: one JSON call over REST with a bearer token, and the token
lookup (an optional SDK first, else the cloud's CLI). No client library: the project adds no dependency for
the two or three calls each store makes.

Each store keeps its own error type and error parser (the clouds word their error bodies differently); the
rules live here once: the token goes over https:// (or to a local test server) only, an error is one line
without the request body (which may hold a value), and a token is never printed.
"""

from __future__ import annotations

import importlib
import json
import shutil
import subprocess  # nosec B404 - runs the cloud's CLI by absolute path, no shell
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pulumi_llm.errors import UserError

TOKEN_DESTINATIONS = ("https://", "http://127.0.0.1", "http://localhost")
"""Where a bearer token may go: TLS, or a fake server on this machine (the unit tests)."""


@dataclass(frozen=True)
class Api:
    """How one cloud's REST API fails, for `call_json`."""

    service: str
    """How messages name the API: "Key Vault", "Secret Manager"."""
    token_name: str
    """How messages name the token: "an Azure token", "a Google token"."""
    error: Callable[[int, str], Exception]
    """(status, one-line message) → the cloud's exception; status 0 when there was no HTTP answer."""
    http_error: Callable[[urllib.error.HTTPError], Exception]
    """The cloud's error parser: an HTTP error answer → its exception (status and one line from the body)."""


def call_json(
    api: Api,
    base_url: str,
    url: str,
    method: str,
    token: Callable[[], str],
    timeout: float,
    body: dict[str, Any] | None = None,
    *,
    missing_ok: bool = False,
) -> dict[str, Any] | None:
    """`method` on `url` (below `base_url`) with a bearer token from `token()` and `body` as JSON; the answer's
    JSON object, or None for a 404 when `missing_ok`. Every failure raises `api`'s exception."""
    if not url.startswith(TOKEN_DESTINATIONS):
        raise api.error(0, f"refusing to send {api.token_name} to {base_url}: https:// only")
    headers = {"Authorization": f"Bearer {token()}", "Accept": "application/json"}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # nosec B310 - scheme checked above
            return json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as err:
        if err.code == 404 and missing_ok:
            return None
        raise api.http_error(err) from None
    except (urllib.error.URLError, TimeoutError, OSError) as err:
        reason = getattr(err, "reason", err)
        raise api.error(0, f"cannot reach {api.service} ({' '.join(str(reason).split())})") from None


def error_detail(err: urllib.error.HTTPError) -> dict[str, Any]:
    """The ``error`` object of an error answer's JSON body (both clouds wrap it so), or {} when there is none."""
    try:
        return json.loads(err.read() or b"{}").get("error", {})
    except (ValueError, AttributeError):
        return {}


def access_token(sdk: Sequence[str], from_sdk: Callable[[list[Any]], str], cli: Sequence[str], *, no_cli: str, no_token: str) -> str:
    """A bearer token: `from_sdk(the imported sdk modules)` when all of `sdk` import (optional libraries, not
    dependencies of this project), else — also when the SDK fails — the output of the CLI `cli[0]` found on
    PATH run with `cli[1:]`. `no_cli` / `no_token` are the one-line errors when the CLI is missing or gives no
    token. Never printed or logged."""
    try:
        # Optional libraries without stubs here: imported by name, their objects typed Any.
        modules: list[Any] = [importlib.import_module(name) for name in sdk]
    except ImportError:
        pass
    else:
        try:
            return from_sdk(modules)
        except Exception:  # noqa: BLE001 - fall back to the CLI, which explains itself
            pass
    found = shutil.which(cli[0])
    if found is None:
        raise UserError(no_cli)
    result = subprocess.run([found, *cli[1:]], capture_output=True, text=True, timeout=60, check=False)  # nosec B603 - fixed argv, no shell
    token = result.stdout.strip()
    if result.returncode != 0 or not token:
        raise UserError(no_token)
    return token
