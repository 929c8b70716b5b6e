"""The Azure drain before a delete (gpu_vm/azure_drain.py, azure_boot's drain pieces): the handler's pure decisions,
the terminate notification's timeout, and the unit the boot script ships. The handler run against a fake IMDS is
tests/integration/test_azure_drain_events.py."""

from __future__ import annotations

import dataclasses
import shlex
from typing import Any, cast

import pytest
import yaml
from pulumi_llm import pins
from pulumi_llm.gpu_vm import azure_boot, azure_drain, router_vm
from pulumi_llm.gpu_vm.server_unit import UNIT as SERVER_UNIT
from pulumi_llm.gpu_vm.server_unit import stop_seconds
from pulumi_llm.kubernetes import resilience
from pulumi_llm.kubernetes.router_render import RouterOptions
from pulumi_llm.runtimes import triton, vllm
from pulumi_llm.sizing import fit, get_instance_type

ME = "llm-vmss_3"
OTHER = "llm-vmss_4"


def event(event_id: str, kind: str = "Terminate", resources: tuple[str, ...] = (ME,), status: str = "Scheduled") -> dict[str, Any]:
    return {
        "EventId": event_id,
        "EventType": kind,
        "ResourceType": "VirtualMachine",
        "Resources": list(resources),
        "EventStatus": status,
        "NotBefore": "Mon, 07 Dec 2026 14:00:00 GMT",
        "EventSource": "Platform",
        "DurationInSeconds": -1,
    }


def doc(*events: dict[str, Any]) -> dict[str, Any]:
    return {"DocumentIncarnation": 2, "Events": list(events)}


NONE: frozenset[str] = frozenset()


def test_a_terminate_of_this_vm_alone_is_drained_then_approved() -> None:
    assert azure_drain.decide(doc(event("e1")), ME, NONE, NONE) == azure_drain.Decision(drain=("e1",), approve=("e1",))


def test_an_event_of_another_vm_does_nothing() -> None:
    assert azure_drain.decide(doc(event("e1", resources=(OTHER,))), ME, NONE, NONE) == azure_drain.Decision()


def test_an_event_naming_this_vm_and_others_is_drained_but_never_approved() -> None:
    # Approval releases the event for all its Resources: the other VM may still be draining.
    decision = azure_drain.decide(doc(event("e1", resources=(ME, OTHER))), ME, NONE, NONE)
    assert decision == azure_drain.Decision(drain=("e1",), approve=())


@pytest.mark.parametrize("kind", ["Freeze", "Reboot", "Redeploy"])
def test_other_event_types_are_left_alone(kind: str) -> None:
    assert azure_drain.decide(doc(event("e1", kind=kind)), ME, NONE, NONE) == azure_drain.Decision()


def test_a_preempt_is_drained_and_not_approved() -> None:
    assert azure_drain.decide(doc(event("e1", kind="Preempt")), ME, NONE, NONE) == azure_drain.Decision(drain=("e1",))


def test_a_started_terminate_is_drained_but_there_is_nothing_to_approve() -> None:
    assert azure_drain.decide(doc(event("e1", status="Started")), ME, NONE, NONE) == azure_drain.Decision(drain=("e1",))


def test_done_work_is_not_redone() -> None:
    assert azure_drain.decide(doc(event("e1")), ME, frozenset({"e1"}), frozenset({"e1"})) == azure_drain.Decision()
    # drained, approval failed last round: approve again, do not stop again
    assert azure_drain.decide(doc(event("e1")), ME, frozenset({"e1"}), NONE) == azure_drain.Decision(approve=("e1",))


def test_a_cancelled_event_restores_the_units_unless_another_still_deletes_the_vm() -> None:
    assert azure_drain.decide(doc(), ME, frozenset({"e1"}), frozenset({"e1"})) == azure_drain.Decision(restore=("e1",))
    still = azure_drain.decide(doc(event("e2")), ME, frozenset({"e1"}), NONE)
    assert still == azure_drain.Decision(drain=("e2",), approve=("e2",))


def test_a_document_without_events_is_an_error_not_a_decision() -> None:
    with pytest.raises(ValueError, match="Events"):
        azure_drain.decide({"DocumentIncarnation": 1}, ME, NONE, NONE)
    with pytest.raises(ValueError, match="not a JSON object"):
        azure_drain.decide(cast(dict[str, Any], ["garbled"]), ME, NONE, NONE)


def test_start_requests_body() -> None:
    assert azure_drain.start_requests(["e1"]) == b'{"StartRequests": [{"EventId": "e1"}]}'


@pytest.mark.parametrize(
    ("stop", "minutes", "capped"),
    [(60, 5, False), (225, 5, False), (301, 6, False), (600, 10, False), (900, 15, False), (901, 15, True), (3615, 15, True)],
)
def test_terminate_notice_is_the_stop_time_in_whole_minutes_within_azure_bounds(stop: int, minutes: int, capped: bool) -> None:
    notice = azure_boot.decide_terminate_notice(stop)
    assert (notice.minutes, notice.capped, notice.not_before_timeout) == (minutes, capped, f"PT{minutes}M")


@pytest.fixture(scope="module")
def vllm_spec():
    the_fit = fit("llama-3.1-8b-instruct", get_instance_type("Standard_NC24ads_A100_v4"), context=8192)
    spec = vllm.vllm_container(
        "chat", the_fit, vllm.Weights("volume", "/models/llama-3.1-8b"), vllm.VllmOptions(image=pins.VLLM_OPENAI.ref)
    )
    # as serving.py gives a stack's servers the longest stream (here 420 s) as their drain flag
    return dataclasses.replace(spec, args=(*spec.args, *resilience.drain_args("vllm", resilience.decide_drain(420))))


def test_the_notice_follows_the_servers_stop_time(vllm_spec) -> None:
    assert stop_seconds(vllm_spec) == 435  # 420 s of drain flag + 15 s of teardown
    assert azure_boot.terminate_notification(vllm_spec) == azure_boot.TerminateNotice(minutes=8, capped=False)


def _document(spec, router: RouterOptions | None) -> dict[str, Any]:
    text = azure_boot.azure_custom_data(
        spec, container_url="https://a.blob.core.windows.net/m", key_prefix="p", client_id="c", deployment="d", router=router
    )
    return yaml.safe_load(text)


def _exec_start(document: dict[str, Any]) -> list[str]:
    files = {f["path"]: f["content"] for f in document["write_files"]}
    unit = files[f"/etc/systemd/system/{azure_boot.DRAIN_UNIT}"]
    (line,) = [x for x in unit.splitlines() if x.startswith("ExecStart=")]
    return shlex.split(line.removeprefix("ExecStart="))


def test_the_boot_script_ships_the_handler_verbatim_and_starts_it(vllm_spec) -> None:
    document = _document(vllm_spec, RouterOptions(policy="cache_aware"))
    files = {f["path"]: f["content"] for f in document["write_files"]}
    assert files[azure_boot.DRAIN_HANDLER] == azure_boot.drain_source()
    assert f"systemctl enable --now --no-block {azure_boot.DRAIN_UNIT}" in files["/usr/local/lib/llm-server/metrics-agent"]
    argv = _exec_start(document)
    assert argv[:2] == ["/usr/bin/python3", azure_boot.DRAIN_HANDLER]
    assert argv[argv.index("--imds") + 1] == "http://169.254.169.254"
    units = [argv[i + 1] for i, token in enumerate(argv) if token == "--unit"]
    assert units == [router_vm.UNIT, SERVER_UNIT]  # the router drains first, as at shutdown


def test_without_a_router_only_the_server_is_stopped() -> None:
    the_fit = fit("llama-3.1-8b-instruct", get_instance_type("Standard_NC24ads_A100_v4"), runtime="triton")
    spec = triton.triton_container("llama-8b", the_fit, image=pins.TRITON_VLLM.ref)
    argv = _exec_start(_document(spec, RouterOptions(policy="cache_aware")))  # Triton: no router
    assert [argv[i + 1] for i, token in enumerate(argv) if token == "--unit"] == [SERVER_UNIT]
