"""Pulumi's mock runtime, recording every registration the program makes.

`MockMonitor` answers the program exactly as the engine would in shape (URNs, ids, outputs), but
does not tell us parents or providers; `RecordingMonitor` captures them from the same requests.
It also enforces `pulumi:disable-default-providers`, which the real engine checks and the mock
runtime does not, so a component that forgets to pass its provider fails here as it would in `up`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, cast

import pulumi
from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockCallArgs, MockMonitor, MockResourceArgs, Mocks

from . import invokes

SECRET = "[secret]"


@dataclass
class Record:
    urn: str
    type: str
    name: str
    parent: str | None
    custom: bool
    provider: str | None
    inputs: dict[str, Any]
    id: str = ""
    """The id the mocks answered with (what other resources' inputs carry when they reference this one)."""
    depends_on: tuple[str, ...] = ()
    """URNs the engine would wait for before creating this resource: explicit `depends_on` and the
    resources whose outputs flow into its inputs (the SDK expands components to their children)."""


class DefaultProviderDisabled(Exception):
    pass


def mock_arn(typ: str, name: str, region: str, bucket: str | None = None) -> str:
    """The ARN the mocks give an AWS resource that doesn't carry one in its inputs (one home for the
    scheme: the plan's verify pass resolves ARNs in other resources' inputs with it)."""
    if typ == "aws:s3/bucket:Bucket" and bucket:
        return f"arn:aws:s3:::{bucket}"
    service = typ.split(":")[1].split("/")[0]
    return f"arn:aws:{service}:{region}:{invokes.ACCOUNT_ID}:{name}"


class PlanMocks(Mocks):
    """Outputs = inputs plus the identifiers clouds compute (ids, ARNs), all derived from names."""

    def __init__(self, region: str) -> None:
        self.region = region

    def new_resource(self, args: MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        # pulumi annotates MockResourceArgs.inputs as a bare dict; the engine's inputs are keyed by property name
        state: dict[str, Any] = dict(args.inputs)  # pyright: ignore[reportUnknownMemberType, reportUnknownArgumentType]
        digest = hashlib.sha256(f"{args.typ}::{args.name}".encode()).hexdigest()[:12]
        resource_id = f"{args.name}-{digest}"
        if args.typ.startswith("aws:"):
            state.setdefault("arn", mock_arn(args.typ, args.name, self.region))
            if args.typ == "aws:s3/bucket:Bucket":
                bucket = state.get("bucket") or f"{args.name}-{digest[:7]}"
                state["bucket"] = bucket
                state["arn"] = mock_arn(args.typ, args.name, self.region, bucket=bucket)
                resource_id = bucket
            if args.typ == "aws:lambda/function:Function":
                state["invokeArn"] = f"arn:aws:apigateway:{self.region}:lambda:path/2015-03-31/functions/{state['arn']}/invocations"
            if args.typ == "aws:apigateway/restApi:RestApi":
                state["executionArn"] = f"arn:aws:execute-api:{self.region}:{invokes.ACCOUNT_ID}:{resource_id}"
            if args.typ == "aws:kms/key:Key":
                state["keyId"] = resource_id
            if args.typ == "aws:ecr/repository:Repository":
                repo = state.get("name") or args.name
                state.setdefault("registryId", invokes.ACCOUNT_ID)
                state["repositoryUrl"] = f"{invokes.ACCOUNT_ID}.dkr.ecr.{self.region}.amazonaws.com/{repo}"
        if args.typ in ("docker-build:index:Image", "docker-build:index:Index"):
            # What a push reports: the manifest digest, and the first tag pinned to it.
            image_digest = "sha256:" + hashlib.sha256(args.name.encode()).hexdigest()
            tags = state.get("tags") or ([state["tag"]] if state.get("tag") else [])
            state["digest"] = image_digest
            if tags:
                state["ref"] = f"{tags[0]}@{image_digest}"
        if args.typ.startswith("azure-native:"):
            self._azure(args, state, digest)
        if args.typ.startswith("pulumi:providers:"):
            resource_id = f"{digest}-provider"
        return resource_id, state

    @staticmethod
    def _azure(args: MockResourceArgs, state: dict[str, Any], digest: str) -> None:
        """What Azure computes: a name for auto-named resources, identity GUIDs, and the identity map
        Azure returns where the request sent a list of identity ids."""
        state.setdefault("name", args.name)
        identity: dict[str, Any] = state["identity"] if isinstance(state.get("identity"), dict) else {}
        ids = identity.get("userAssignedIdentities")
        if isinstance(ids, list):
            identity["userAssignedIdentities"] = {i: {} for i in cast("list[str]", ids)}
        if args.typ == "azure-native:managedidentity:UserAssignedIdentity":
            guid = azure_principal_id(digest)
            state.update({"principalId": guid, "clientId": guid[::-1].replace("-", "0")[:8] + guid[8:], "tenantId": invokes.AZURE_TENANT})

    def call(self, args: MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        # pulumi annotates MockCallArgs.args as a bare dict; an invoke's arguments are keyed by name
        return invokes.answer(args.token, args.args, self.region), []  # pyright: ignore[reportUnknownMemberType, reportUnknownArgumentType]


def azure_principal_id(digest: str) -> str:
    """The principal id (a GUID) the mocks give the user-assigned identity whose mock id ends in `digest`; verify
    compares role assignments' principalId with it."""
    return f"{digest[:8]}-{digest[8:12]}-4000-8000-{hashlib.sha256(digest.encode()).hexdigest()[:12]}"


class RecordingMonitor(MockMonitor):
    def __init__(self, mocks: Mocks, disabled_default_providers: list[str]) -> None:
        super().__init__(mocks)
        self.records: list[Record] = []
        self.disabled = disabled_default_providers

    def RegisterResource(self, request: Any) -> Any:
        response = super().RegisterResource(request)  # pyright: ignore[reportUnknownMemberType]  # pulumi leaves request unannotated
        if request.type == "pulumi:pulumi:Stack":
            parent = None
        else:
            parent = request.parent or None
        self._check_provider(request, response.urn)
        inputs: dict[str, Any] = _plain(rpc.deserialize_properties(request.object)) if request.type != "pulumi:pulumi:Stack" else {}
        self.records.append(
            Record(
                urn=response.urn,
                type=request.type,
                name=request.name,
                parent=parent,
                custom=bool(request.custom),
                # A provider reference is "<urn>::<id>"; the URN is what names the provider.
                provider=request.provider.rsplit("::", 1)[0] if request.provider else None,
                inputs=inputs,
                id=response.id,
                depends_on=tuple(sorted(set(request.dependencies))),
            )
        )
        return response

    def _check_provider(self, request: Any, urn: str) -> None:
        if not request.custom or request.type.startswith("pulumi:providers:") or request.provider:
            return
        package = request.type.split(":")[0]
        if "*" in self.disabled or package in self.disabled:
            # The engine's own wording, so the offline plan fails exactly where `pulumi up` would.
            raise DefaultProviderDisabled(f"Default provider for '{package}' disabled. '{urn}' must use an explicit provider.")


def _plain(value: Any) -> Any:
    """Inputs as JSON-able data: secrets masked, resource references as URNs, assets by their source."""
    if rpc.is_rpc_secret(value):
        return SECRET
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in sorted(cast("dict[str, Any]", value).items()) if not k.startswith("__")}
    if isinstance(value, list):
        return [_plain(v) for v in cast("list[Any]", value)]
    if isinstance(value, pulumi.Resource):
        return getattr(value, "_pulumi_llm_urn", None) or "[resource]"
    if isinstance(value, float) and value.is_integer():
        # The wire format carries every number as a double; whole numbers go back to ints so that
        # manifests keep `replicas: 2`, which strict Kubernetes schema validation requires.
        return int(value)
    if isinstance(value, pulumi.asset.StringAsset):
        return {"asset": "text", "text": value.text}
    if isinstance(value, pulumi.asset.FileAsset):
        return {"asset": "file", "path": value.path}
    if isinstance(value, pulumi.asset.Archive):
        return {"archive": type(value).__name__}
    return value
