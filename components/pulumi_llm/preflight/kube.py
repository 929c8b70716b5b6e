"""A read-only Kubernetes REST client from a kubeconfig context: just the GETs preflight needs.

The same kubeconfig and context the stack's provider uses (`onprem.kubeconfig`, else $KUBECONFIG, else
~/.kube/config; `onprem.kube_context`, never the current context). Credentials: a bearer token, a client
certificate, or an exec plugin (client.authentication.k8s.io ExecCredential: the plugin's token); nothing
read from the kubeconfig is ever printed.
"""

from __future__ import annotations

import base64
import json
import os
import ssl
import subprocess  # nosec B404 - runs the kubeconfig's own exec plugin, no shell
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import yaml

from ..errors import UserError


def kubeconfig_path(explicit: str | None) -> Path:
    if explicit:
        return Path(explicit).expanduser()
    env = os.environ.get("KUBECONFIG", "")
    first = next((p for p in env.split(os.pathsep) if p), "")
    return Path(first).expanduser() if first else Path.home() / ".kube" / "config"


def _named(entries: list[dict[str, Any]] | None, name: str, what: str, path: Path) -> dict[str, Any]:
    for entry in entries or []:
        if entry.get("name") == name:
            return entry.get(what) or {}
    raise UserError(f"{path}: no {what} named {name}")


def _material(section: dict[str, Any], key: str, base: Path, keep: list[str]) -> str | None:
    """A file path for `key` (a path) or `key-data` (base64 content, written to a private temp file)."""
    if data := section.get(f"{key}-data"):
        handle = tempfile.NamedTemporaryFile(delete=False, prefix="pulumi-llm-", suffix=".pem")  # noqa: SIM115
        with handle:
            handle.write(base64.b64decode(data))
        os.chmod(handle.name, 0o600)
        keep.append(handle.name)
        return handle.name
    if path := section.get(key):
        return str((base / path).expanduser()) if not Path(path).is_absolute() else path
    return None


@dataclass
class KubeClient:
    """GET-only access to one cluster's API server."""

    server: str
    context: ssl.SSLContext | None
    token: str | None

    @classmethod
    def from_kubeconfig(cls, path: Path, context_name: str) -> KubeClient:
        if not path.is_file():
            raise UserError(f"{path}: no kubeconfig (set onprem.kubeconfig or KUBECONFIG)")
        try:
            loaded: Any = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
            # Only the error's kind: a kubeconfig holds credentials, and a YAML error quotes the text.
            raise UserError(f"{path}: not a readable kubeconfig ({type(err).__name__})") from None
        if not isinstance(loaded, dict):
            raise UserError(f"{path}: not a kubeconfig (a map with contexts, clusters and users)")
        config = cast(dict[str, Any], loaded)  # YAML's keys; _named checks the entries it reads
        context = _named(config.get("contexts"), context_name, "context", path)
        cluster = _named(config.get("clusters"), context.get("cluster", ""), "cluster", path)
        user = _named(config.get("users"), context.get("user", ""), "user", path) if context.get("user") else {}
        server = str(cluster.get("server") or "").rstrip("/")
        if not server:
            raise UserError(f"{path}: cluster of context {context_name} has no server")
        temp: list[str] = []
        ssl_context = None
        if server.startswith("https://"):
            ssl_context = ssl.create_default_context(cafile=_material(cluster, "certificate-authority", path.parent, temp))
            if cluster.get("insecure-skip-tls-verify"):
                ssl_context.check_hostname = False
                ssl_context.verify_mode = ssl.CERT_NONE
            cert = _material(user, "client-certificate", path.parent, temp)
            key = _material(user, "client-key", path.parent, temp)
            if cert and key:
                ssl_context.load_cert_chain(cert, key)
        for name in temp:
            os.unlink(name)  # loaded into the SSL context; never left on disk
        token = user.get("token")
        if not token and user.get("tokenFile"):
            try:
                token = Path(user["tokenFile"]).read_text(encoding="utf-8").strip()
            except (OSError, UnicodeDecodeError) as err:
                raise UserError(f"{path}: tokenFile of context {context_name} cannot be read ({type(err).__name__})") from None
        if not token and user.get("exec"):
            token = _exec_token(user["exec"])
        return cls(server=server, context=ssl_context, token=token)

    def get(self, path: str) -> dict[str, Any] | None:
        """The JSON at `path`, or None when the API server answers 404 (no such object or kind)."""
        request = urllib.request.Request(self.server + path, headers={"Accept": "application/json"})
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=15, context=self.context) as response:  # nosec B310 - the kubeconfig's server
                return json.load(response)
        except urllib.error.HTTPError as err:
            if err.code == 404:
                return None
            raise UserError(f"{self.server}{path}: HTTP {err.code} from the API server (credentials or RBAC)") from None
        except (urllib.error.URLError, OSError) as err:
            raise UserError(f"{self.server}: cannot reach the API server ({getattr(err, 'reason', err)})") from None


def _exec_token(spec: dict[str, Any]) -> str | None:
    entries: list[dict[str, str]] = spec.get("env") or []
    env = {**os.environ, **{e["name"]: e["value"] for e in entries}}
    try:
        result = subprocess.run(  # nosec B603 - argv from the user's own kubeconfig
            [spec["command"], *(spec.get("args") or [])], capture_output=True, text=True, timeout=60, env=env, check=True
        )
    except (OSError, subprocess.SubprocessError):
        raise UserError(f"kubeconfig exec plugin {spec.get('command')} failed") from None
    status: dict[str, Any] = json.loads(result.stdout).get("status") or {}
    return status.get("token")
