"""gateway/engine.py checks the environment every cloud shell hands the engine, with one set of messages."""

from __future__ import annotations

import pytest
from pulumi_llm.errors import UserError
from pulumi_llm.gateway.engine import MASTER_KEY_ENV, MASTER_KEY_SECRET, check_plain_env, check_secret_env

RESERVED = frozenset({"HOME", MASTER_KEY_ENV})


@pytest.mark.parametrize(
    ("secrets", "message"),
    [
        ({"openai_key": "openai"}, "g.provider_secrets.openai_key: not an environment variable name ([A-Z_][A-Z0-9_]*)"),
        ({"HOME": "openai"}, "g.provider_secrets.HOME: set by the gateway itself; use another name"),
        ({"OPENAI_API_KEY": "Open_AI"}, "g.provider_secrets.OPENAI_API_KEY = 'Open_AI': a secret short name is lower-case"),
        (
            {"OPENAI_API_KEY": MASTER_KEY_SECRET},
            "g.provider_secrets.OPENAI_API_KEY = 'litellm-master': reserved for the LiteLLM master key",
        ),
        ({"A_KEY": "openai", "B_KEY": "openai"}, "g.provider_secrets: secret 'openai' is mapped from both A_KEY and B_KEY; one secret"),
    ],
)
def test_provider_secrets_are_refused_in_one_line_naming_the_key(secrets, message):
    with pytest.raises(UserError) as caught:
        check_secret_env(secrets, reserved=RESERVED, where="g")
    assert str(caught.value).startswith(message) and "\n" not in str(caught.value)


def test_the_master_key_pair_passes_only_where_the_shell_wires_it_itself():
    pair = {MASTER_KEY_ENV: MASTER_KEY_SECRET, "OPENAI_API_KEY": "openai"}
    check_secret_env(pair, reserved=RESERVED, where="g", master_pair_allowed=True)
    with pytest.raises(UserError, match="set by the gateway itself"):
        check_secret_env(pair, reserved=RESERVED, where="g")


def test_plain_env_may_not_shadow_what_is_already_set():
    check_plain_env(["LOG_LEVEL"], key="environment", taken=RESERVED, where="g")
    with pytest.raises(UserError, match=r"^g\.environment\.HOME: already set by the gateway or a provider secret$"):
        check_plain_env(["HOME"], key="environment", taken=RESERVED, where="g")
    with pytest.raises(UserError, match=r"^g\.external_secrets\.log-level: not an environment variable name"):
        check_plain_env(["log-level"], key="external_secrets", taken=RESERVED, where="g")


def test_the_fronts_drain_fits_each_platforms_grace_and_leaves_time_to_stop_litellm() -> None:
    from pulumi_llm.gateway import gcp
    from pulumi_llm.gateway.azure import termination_grace_seconds
    from pulumi_llm.gateway.engine import STOP_MARGIN_SECONDS, decide_drain_seconds

    assert decide_drain_seconds(120) == 120 - STOP_MARGIN_SECONDS  # Fargate's stopTimeout maximum
    # Azure: the replica's grace follows the engine timeout up to Container Apps' 600 s; the drain follows it.
    assert [termination_grace_seconds(t) for t in (300, 570, 900)] == [300, 570, 600]
    assert decide_drain_seconds(termination_grace_seconds(570)) == 560
    assert decide_drain_seconds(5) == 1.0  # never zero: an instance always drains a little
    assert gcp.DRAIN_SECONDS < 10  # Cloud Run kills 10 s after SIGTERM; GCP keeps its own 8 s
