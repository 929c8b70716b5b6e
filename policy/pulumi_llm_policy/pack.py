"""The CrossGuard policies: each wraps one pure rule and adapts Pulumi's args to resource dicts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyConfigSchema,
    ResourceValidationPolicy,
    StackValidationPolicy,
)

from pulumi_llm_policy import adapter, budget, rules

NAME = "pulumi-llm"
ENFORCEMENT = EnforcementLevel.MANDATORY
BUDGET_POLICY = "monthly-gpu-budget"
BUDGETS_FILE = Path(__file__).resolve().parents[1] / "budgets.json"


def _resource_policy(rule: rules.Rule) -> ResourceValidationPolicy:
    def validate(args: Any, report_violation: Any) -> None:
        for message in rule.check(adapter.from_resource_args(args)):
            report_violation(str(message))

    return ResourceValidationPolicy(name=rule.name, description=rule.description, validate=validate)


def _stack_policy(rule: rules.Rule) -> StackValidationPolicy:
    def validate(args: Any, report_violation: Any) -> None:
        for message in rule.check(adapter.from_stack_args(args)):
            report_violation(str(message), getattr(message, "urn", None))

    return StackValidationPolicy(name=rule.name, description=rule.description, validate=validate)


def _validate_budget(args: Any, report_violation: Any) -> None:
    config = dict(args.get_config())
    if config.get("monthlyBudgetUsd") is None and not config.get("stackBudgetsUsd"):
        args.not_applicable("no monthlyBudgetUsd or stackBudgetsUsd configured")
    for message in budget.monthly_budget(adapter.from_stack_args(args), config):
        report_violation(str(message), getattr(message, "urn", None))


def policies() -> list[Policy]:
    return [
        *(_resource_policy(rule) for rule in rules.RESOURCE_RULES),
        *(_stack_policy(rule) for rule in rules.STACK_RULES),
        StackValidationPolicy(
            name=BUDGET_POLICY,
            description="Monthly GPU cost at maximum scale (max replicas × list price × 730 h, sizing catalog) is within budget.",
            validate=_validate_budget,
            config_schema=PolicyConfigSchema(properties=budget.CONFIG_SCHEMA["properties"]),
        ),
    ]


def initial_config() -> dict[str, Any]:
    """The repository's own per-stack budgets (budgets.json); ``--policy-pack-config`` overrides them."""
    return {BUDGET_POLICY: json.loads(BUDGETS_FILE.read_text())}
