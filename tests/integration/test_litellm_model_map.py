"""The model-map fact (``verify/facts/_litellm_model_ids.py``) is exactly what the pinned engine ships.

The installed LiteLLM's own ``litellm.model_cost`` (loaded from its bundled map, as the engine does with
``LITELLM_LOCAL_MODEL_COST_MAP=True``) is extracted with the same generator; any difference means the
fact was edited by hand or the pin moved without regenerating it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pulumi_llm import pins  # noqa: E402
from pulumi_llm.verify.facts import _litellm_model_ids, litellm_models  # noqa: E402
from support.litellm_env import LITELLM_VERSION, ensure_litellm_env  # noqa: E402

pytestmark = pytest.mark.integration

DUMP = (
    "import json, os, sys; os.environ['LITELLM_LOCAL_MODEL_COST_MAP'] = 'True'; import litellm; json.dump(litellm.model_cost, sys.stdout)"
)


def test_the_fact_is_the_engine_map_at_the_pinned_tag() -> None:
    assert pins.LITELLM.tag == litellm_models.LITELLM_TAG == f"v{LITELLM_VERSION}"
    python = ensure_litellm_env()
    out = subprocess.run([str(python), "-c", DUMP], capture_output=True, text=True, timeout=600, check=True).stdout
    known, deprecation = litellm_models.extract(json.loads(out))
    assert known == _litellm_model_ids.KNOWN  # what litellm_models reads
    assert deprecation == _litellm_model_ids.DEPRECATION
