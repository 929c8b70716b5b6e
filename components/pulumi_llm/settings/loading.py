"""Reading a stack's config into `Settings` (`load`, `from_pulumi`), the one-line message of a bad value,
and the JSON Schema of a stack file."""

from __future__ import annotations

import json
import re
import types
import typing
from collections.abc import Mapping
from typing import Annotated, Any, cast

from pydantic import BaseModel, ValidationError

from ..choices import close_to, listing
from ..errors import FieldProblem, UserError
from ..secret_values import mask, mask_secrets, secret_kind
from ..validation import PATTERN_WORDS
from .checks_effect import check_blocks_early, check_effect, misspelt_namespace, nested_key_hint
from .checks_providers import decide_contradiction
from .checks_secrets import check_secret_names
from .core import NAMESPACE
from .moved import find_moved_key
from .root import Settings


def load(config: Mapping[str, Any], source: str) -> Settings:
    """Validate a Pulumi config map (`{"pulumi-llm:cloud": "aws", …}`) into Settings.

    `config` is what the Pulumi engine hands the program: scalar values as strings, objects and
    lists as JSON text. Native YAML values (as the offline plan reads them) are accepted too.
    `source` names the stack file in messages. Raises UserError whose text is one line per problem.

    Two steps, in this order and both before any resource registers: the schema (`Settings`, pure: fields
    and cross-field rules over the settings alone), then the checks that need the sizing planner
    (`serving.check_sizing`: every model fits its hardware). They are separate so that the schema never
    calls into serving, which reads Settings: serving imports settings for types only, this function
    imports serving, and the import graph has no cycle (tests/unit/test_import_graph.py). Every reader of a
    stack's settings goes through here, so none sees settings whose models do not fit.
    """
    # Imported here, not at the top, so that importing the settings package for the schema alone (stack_file_schema,
    # `pulumi-llm schema`) loads no more modules than before.
    from ..serving import check_sizing
    from .checks_deploy import check_deploy, check_gpu_capacity

    _check_namespaces(config, source)
    raw = raw_settings(config)
    moved = find_moved_key(raw)
    if moved is not None:
        raise UserError(problem_line(source, raw, list(moved[0]), moved[1]))
    try:
        # Before the schema: a pasted key is the mistake to report, whatever format its field wants, and a block
        # nothing reads is to be removed, not fixed (when cloud and methods are readable already).
        check_secret_names(raw)
        check_blocks_early(raw)
    except FieldProblem as problem:
        raise UserError(problem_line(source, raw, list(problem.field), problem.message)) from None
    try:
        settings = Settings.model_validate(raw)
    except ValidationError as err:
        raise UserError(_first_problem(err, raw, source)) from None
    contradiction = decide_contradiction(config, settings.cloud, settings)
    if contradiction is not None:
        theirs = contradiction.theirs
        raise UserError(f"{source}: {theirs} = {_render(contradiction.their_value)}: {contradiction.reason(settings.cloud)}")
    try:
        check_effect(raw, settings.cloud, list(settings.methods))
        # What the components would refuse after registering the resources before them, then the sizing.
        check_deploy(settings)
        check_sizing(settings)
        check_gpu_capacity(settings)
    except FieldProblem as problem:
        raise UserError(problem_line(source, raw, list(problem.field), problem.message)) from None
    return settings


def raw_settings(config: Mapping[str, Any]) -> dict[str, Any]:
    """The `pulumi-llm:` keys of a config map, decoded into plain values, namespace removed."""
    prefix = NAMESPACE + ":"
    raw: dict[str, Any] = {}
    for key in sorted(config):
        if key.startswith(prefix):
            raw[key[len(prefix) :]] = _decode(config[key])
    return raw


def _check_namespaces(config: Mapping[str, Any], source: str) -> None:
    """A key meant for pulumi-llm under a misspelt namespace would be dropped by raw_settings: refuse it."""
    for key in sorted(config):
        meant = misspelt_namespace(str(key), Settings.model_fields)
        if meant is not None:
            raise UserError(
                f"{source}: {key} = {_render(_decode(config[key]))}: unknown namespace {str(key).partition(':')[0]} "
                f"(did you mean {meant}?); the program reads {NAMESPACE}:<key> only, so this key would have no effect"
            )


def _decode(value: Any) -> Any:
    # The engine passes objects as JSON text and scalars as plain strings; pydantic's lax mode turns
    # "2" into 2 and "true" into True where a field wants them, so only objects need decoding.
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def from_pulumi() -> Settings:
    """Read and validate the running stack's config. Only called by the Pulumi program."""
    import pulumi
    from pulumi.runtime import config as runtime_config

    config = dict(runtime_config.get_config_env())
    config.update(runtime_config.CONFIG.get())
    return load(config, f"stacks/Pulumi.{pulumi.get_stack()}.yaml")


# --------------------------------------------------------------------------------------------
# Messages


def _first_problem(err: ValidationError, raw: dict[str, Any], source: str) -> str:
    # One line: the first problem in document order, unknown keys first (a misspelt key often also
    # leaves a required one missing, and the misspelling is the thing to fix).
    problems = err.errors(include_url=False)
    problem = next((p for p in problems if p["type"] == "extra_forbidden"), problems[0])
    loc = [p for p in problem["loc"] if not _is_union_tag(p)]
    if problem["loc"][-1:] == ("[key]",):
        return f"{source}: {NAMESPACE}:{_path(loc)}: the name {_message(problem, loc)}"
    context: dict[str, Any] = problem.get("ctx") or {}
    context_error = context.get("error")
    if isinstance(context_error, FieldProblem):
        loc += list(context_error.field)
        message = context_error.message
    else:
        message = _message(problem, loc)
    return problem_line(source, raw, loc, message, missing=problem["type"] == "missing")


def problem_line(source: str, raw: dict[str, Any], loc: list[Any], message: str, *, missing: bool = False) -> str:
    """`<source>: pulumi-llm:<key path> = <value as written>: <message>` (no value when it is missing)."""
    path = f"{NAMESPACE}:{_path(loc)}" if loc else f"{NAMESPACE}"
    found, value = _lookup(raw, loc)
    if missing or not found:
        return f"{source}: {path}: {message}"
    # The value gives way to the rest so the line stays within _LINE (the file, key and rule are the fix).
    budget = max(_LINE - len(f"{source}: {path} = : {message}"), _SHOWN_MIN)
    return f"{source}: {path} = {_cut(_render(value), budget)}: {message}"


def _message(problem: Mapping[str, Any], loc: list[Any]) -> str:
    kind = problem["type"]
    ctx: Mapping[str, Any] = problem.get("ctx") or {}
    if kind == "missing":
        return "required"
    if kind == "extra_forbidden":
        allowed = _allowed_keys(loc[:-1])
        nested = nested_key_hint(str(loc[-1]), allowed)
        if nested is not None:
            return nested
        hint = close_to(str(loc[-1]), allowed, n=1)
        did_you_mean = f" (did you mean {hint[0]}?)" if hint else ""
        return f"unknown key{did_you_mean}; allowed: {listing(allowed)}"
    if kind == "literal_error":
        choices = re.findall(r"'([^']*)'", str(ctx.get("expected", "")))
        hint = close_to(str(problem.get("input")), choices, n=1)
        did_you_mean = f" (did you mean {hint[0]}?)" if hint else ""
        return f"must be one of: {listing(choices)}{did_you_mean}"
    bounds = {"greater_than_equal": ">=", "greater_than": ">", "less_than_equal": "<=", "less_than": "<"}
    if kind in bounds:
        limit = next(v for k, v in ctx.items() if k in ("ge", "gt", "le", "lt"))
        return f"must be {bounds[kind]} {limit}"
    if kind == "int_parsing_size":
        return "must be a whole number; this one is far too large"
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return "must be a whole number"
    if kind in ("float_parsing", "float_type"):
        return "must be a number"
    if kind in ("bool_parsing", "bool_type"):
        return "must be true or false"
    if kind in ("string_type",):
        return "must be a string"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return "must be a map of keys to values"
    if kind in ("list_type",):
        return "must be a list"
    if kind == "string_too_short":
        return "must not be empty"
    if kind == "string_pattern_mismatch":
        # Words, never the regex: every pattern of the schema has them (validation.described).
        return f"must be {PATTERN_WORDS.get(str(ctx.get('pattern')), 'in the form the key description gives (stacks/schema.json)')}"
    if kind == "value_error":
        return str(problem["msg"]).removeprefix("Value error, ")
    return str(problem["msg"])


def _is_union_tag(part: Any) -> bool:
    # pydantic inserts the chosen union member's name (e.g. "function-after[...]") into locations.
    return isinstance(part, str) and ("[" in part or part in ("str", "int"))


def _path(loc: list[Any]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _lookup(raw: Any, loc: list[Any]) -> tuple[bool, Any]:
    node: Any = raw
    for part in loc:
        if isinstance(node, dict) and part in node:
            node = cast("dict[Any, Any]", node)[part]
        elif isinstance(node, list) and isinstance(part, int) and part < len(cast("list[Any]", node)):
            node = cast("list[Any]", node)[part]
        else:
            return False, None
    return True, node


_SHOWN_VALUE = 200
"""Characters of a value a message shows: a huge string would bury the line."""
_SHOWN_BLOCK = 100
"""Characters of a map or list a message shows: its start says which block it is, and the line stays under 300."""


_LINE = 300
"""Longest message line: one terminal line or two, never a wall."""
_SHOWN_MIN = 40
"""The value keeps at least this much when the key path and the rule are long."""


def _render(value: Any) -> str:
    """The value as the user wrote it, secret-looking strings masked, cut to _SHOWN_VALUE (_SHOWN_BLOCK) characters."""
    return _cut(_rendered(_masked(value)), _SHOWN_BLOCK if isinstance(value, (dict, list)) else _SHOWN_VALUE)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _rendered(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if value == "":
        return '""'
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    return str(value)


def _masked(value: Any) -> Any:
    """`value` with every secret-looking string (and map key) masked, whatever key it sits under."""
    if isinstance(value, str):
        # A secret inside a longer value (a path segment, --key=<token>) too: the cut below would otherwise keep
        # its first characters past what mask_secrets, the last guard, still recognises.
        return mask(value) if secret_kind(value) else mask_secrets(value)
    if isinstance(value, dict):
        return {_masked(k): _masked(v) for k, v in cast("dict[Any, Any]", value).items()}
    if isinstance(value, list):
        return [_masked(v) for v in cast("list[Any]", value)]
    return value


def _allowed_keys(loc: list[Any]) -> list[str]:
    """Field names of the model found at `loc` in the Settings tree."""
    node: Any = Settings
    for part in loc:
        node = _step(node, part)
    if isinstance(node, type) and issubclass(node, BaseModel):
        return list(node.model_fields)
    return []


def _step(node: Any, part: Any) -> Any:
    if isinstance(node, type) and issubclass(node, BaseModel):
        field = node.model_fields.get(str(part))
        return unwrap_annotation(field.annotation) if field else None
    origin = typing.get_origin(node)
    if origin in (dict, list, tuple):
        return unwrap_annotation(typing.get_args(node)[-1])
    return None


def unwrap_annotation(annotation: Any) -> Any:
    """The type a field holds: Annotated metadata and an Optional's None removed (a real union stays)."""
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        return unwrap_annotation(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        return unwrap_annotation(members[0]) if len(members) == 1 else annotation
    return annotation


# --------------------------------------------------------------------------------------------
# Schema


def stack_file_schema() -> dict[str, Any]:
    """JSON Schema of a `stacks/Pulumi.<stack>.yaml` file, for editors (committed as stacks/schema.json)."""
    settings = Settings.model_json_schema(ref_template="#/$defs/{model}")
    defs = settings.pop("$defs", {})
    required = settings.get("required", [])
    properties = {f"{NAMESPACE}:{key}": value for key, value in settings["properties"].items()}
    properties["pulumi:disable-default-providers"] = {
        "type": "array",
        "items": {"type": "string"},
        "description": 'Provider packages whose default providers are disabled; every stack sets ["*"].',
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "pulumi-llm stack file",
        "description": "A Pulumi stack file of pulumi-llm: values only, validated by pulumi_llm.settings.",
        "type": "object",
        "properties": {
            "config": {
                "type": "object",
                "properties": properties,
                "required": [f"{NAMESPACE}:{key}" for key in required],
                # Other namespaces (aws:, kubernetes:, …) are not ours to judge.
                "patternProperties": {f"^(?!{NAMESPACE}:|pulumi:)[^:]+:.+$": {}},
                "additionalProperties": False,
            },
            "secretsprovider": {"type": "string"},
            "encryptedkey": {"type": "string"},
            "encryptionsalt": {"type": "string"},
        },
        "required": ["config"],
        "additionalProperties": False,
        "$defs": defs,
    }
