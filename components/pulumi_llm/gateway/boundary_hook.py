"""The engine-side half of private model groups: a LiteLLM callback that answers 503 with Retry-After when
no self-hosted deployment of a private group can serve.

Why a hook: LiteLLM 1.103.1 answers a group whose deployments all failed with the failure's own status
(a refused connection is an ``APIConnectionError``, 500) and, once they are cooling down, with 429 "No
deployments available" (``ProxyException`` maps that message to 429; ``litellm/proxy/_types.py``) — neither
tells a client that the service, not its own rate, is the problem. The proxy lets a callback's
``async_post_call_failure_hook`` return an ``HTTPException`` that replaces the error sent to the client,
headers included (``ProxyLogging.post_call_failure_hook`` in ``litellm/proxy/utils.py``,
``_handle_llm_api_exception`` in ``litellm/proxy/common_request_processing.py``, both at v1.103.1 as at v1.103.0). The
hook runs after the router has tried the group's routes and its (self-hosted only) fallbacks, so nothing
else is called; a client's own error (4xx other than 408 and 429) passes through unchanged.

LiteLLM loads ``litellm_settings.callbacks: [<module>.<instance>]`` from ``<module>.py`` beside its config
file (``get_instance_fn``); ``engine.boot`` writes ``SOURCE`` there when the rendered config names
``HOOK_CALLBACK``. ``SOURCE`` is text run by the engine's own Python (LiteLLM and FastAPI are installed
there, not in this package); the integration tests run it in the real engine.
"""

from __future__ import annotations

from .boundary import PRIVATE_MARK

HOOK_MODULE = "pulumi_llm_boundary"
"""Module name of the hook, as the engine config names it and the file the boot writes is called."""

HOOK_CALLBACK = f"{HOOK_MODULE}.handler"
"""What ``litellm_settings.callbacks`` lists when a group is private."""

RETRY_AFTER_FALLBACK_SECONDS = 60
"""Retry-After when neither the error nor the router says how long its deployments cool down."""

SOURCE = f'''"""pulumi-llm: a private model group that cannot be served answers 503 with Retry-After."""
import math

from fastapi import HTTPException
from litellm.integrations.custom_logger import CustomLogger

MARK = {PRIVATE_MARK!r}
CLIENT_ERRORS_PASSED = range(400, 500)
SERVER_SIDE = (408, 429)


def _router():
    from litellm.proxy import proxy_server

    return proxy_server.llm_router


def _private(router, group):
    for deployment in getattr(router, "model_list", None) or []:
        info = deployment.get("model_info") or {{}}
        if deployment.get("model_name") == group and info.get(MARK) == "private":
            return True
    return False


class PrivateBoundary(CustomLogger):
    async def async_post_call_failure_hook(self, request_data, original_exception, user_api_key_dict, traceback_str=None):
        router = _router()
        group = request_data.get("model")
        if router is None or not _private(router, group):
            return None
        status = getattr(original_exception, "status_code", None)
        if isinstance(status, int) and status in CLIENT_ERRORS_PASSED and status not in SERVER_SIDE:
            return None
        wait = getattr(original_exception, "cooldown_time", None) or getattr(router, "cooldown_time", None)
        seconds = max(1, math.ceil(wait or {RETRY_AFTER_FALLBACK_SECONDS}))
        detail = (
            f"{{group}} is private and none of its self-hosted deployments can serve right now; "
            f"no external provider is called. Retry after {{seconds}} s."
        )
        return HTTPException(status_code=503, detail=detail, headers={{"Retry-After": str(seconds)}})


handler = PrivateBoundary()
'''
"""The hook's module text, as the engine's boot writes it beside the config."""
