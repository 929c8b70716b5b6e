#!/usr/bin/env python3
"""Print the private IPv4 address of each in-service VM of one regional managed instance group, one a line
(pulumi-llm, gpu_vm/gcp_boot.py: the GCP `InstanceLister` of the VM router).

Runs on the host as root with the VM's service account, through the metadata server (no gcloud: one process
and two kinds of call per round, where `gcloud` would start a Python interpreter per instance):

1. a token: GET metadata.google.internal/computeMetadata/v1/instance/service-accounts/default/token;
2. the group's managed instances: POST compute/v1/projects/<p>/regions/<r>/instanceGroupManagers/<mig>/
   listManagedInstances — needs `compute.instanceGroupManagers.get` on the group (Compute Engine API reference,
   regionInstanceGroupManagers.listManagedInstances, "IAM Permissions"); its `instance` field is each VM's URL;
3. each kept VM: GET that URL — needs `compute.instances.get` on the VM (instances.get) — for
   `networkInterfaces[0].networkIP`.

Kept: `instanceStatus` RUNNING and `currentAction` NONE or VERIFYING. VERIFYING lasts through the group's
autohealing initial delay (provisioning + the server's startup budget), so a VM whose server is already up would
otherwise wait out the whole delay; the reconciler adds an address only once its /health answers 200.

Exit 0 with the addresses (none: the group has no VM in service); exit 1 on any failed call or unexpected answer,
which the reconciler reads as "unknown" and changes nothing. Standard library only (the image's python3).
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import sys
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from typing import Any

METADATA = "http://metadata.google.internal/computeMetadata/v1"
COMPUTE = "https://compute.googleapis.com/compute/v1"
API_HOSTS = ("https://compute.googleapis.com/compute/v1/", "https://www.googleapis.com/compute/v1/")
"""Where an instance URL of the answer may point: the token is never sent anywhere else."""
IN_SERVICE_STATUS = "RUNNING"
IN_SERVICE_ACTIONS = frozenset({"NONE", "VERIFYING"})

Opener = Callable[..., Any]


def http(url: str, headers: Mapping[str, str], *, method: str = "GET", opener: Opener | None = None) -> Any:
    """One JSON call; raises OSError (URLError, HTTPError, timeouts) or ValueError (not JSON)."""
    request = urllib.request.Request(url, headers=dict(headers), method=method, data=b"" if method == "POST" else None)
    with (opener or urllib.request.urlopen)(request, timeout=20) as response:
        return json.loads(response.read().decode("utf-8"))


def metadata_token(opener: Opener | None = None) -> str:
    answer = http(f"{METADATA}/instance/service-accounts/default/token", {"Metadata-Flavor": "Google"}, opener=opener)
    return str(answer["access_token"])


def project_id(opener: Opener | None = None) -> str:
    request = urllib.request.Request(f"{METADATA}/project/project-id", headers={"Metadata-Flavor": "Google"})
    with (opener or urllib.request.urlopen)(request, timeout=20) as response:
        return response.read().decode("utf-8").strip()


def in_service(managed: Iterable[Mapping[str, Any]]) -> list[str]:
    """The instance URLs of the managed instances that serve (or are being verified), sorted."""
    urls = [
        str(m["instance"])
        for m in managed
        if m.get("instanceStatus") == IN_SERVICE_STATUS and m.get("currentAction") in IN_SERVICE_ACTIONS and m.get("instance")
    ]
    for url in urls:
        if not url.startswith(API_HOSTS):
            raise ValueError(f"unexpected instance URL {url!r}")
    return sorted(urls)


def private_ip(instance: Mapping[str, Any]) -> str:
    """The primary interface's internal IPv4 address (ValueError if it has none yet)."""
    nics: list[Mapping[str, Any]] = instance.get("networkInterfaces") or []
    address = str(nics[0].get("networkIP") or "") if nics else ""
    if not address:
        raise ValueError(f"{instance.get('name')}: no internal address yet")
    return str(ipaddress.IPv4Address(address))


def list_ips(region: str, group: str, *, project: str | None = None, opener: Opener | None = None) -> list[str]:
    token = metadata_token(opener)
    headers = {"Authorization": f"Bearer {token}"}
    project = project or project_id(opener)
    url = f"{COMPUTE}/projects/{project}/regions/{region}/instanceGroupManagers/{group}/listManagedInstances"
    answer = http(url, headers, method="POST", opener=opener)
    ips: list[str] = []
    for instance_url in in_service(answer.get("managedInstances") or []):
        try:
            ips.append(private_ip(http(instance_url, headers, opener=opener)))
        except ValueError:
            continue  # not addressable yet: the next round picks it up
    return sorted(set(ips))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Print the internal IPv4 address of each in-service VM of a regional MIG.")
    parser.add_argument("--region", required=True)
    parser.add_argument("--group", required=True, help="the regional managed instance group's name")
    args = parser.parse_args(argv)
    try:
        ips = list_ips(args.region, args.group)
    except (OSError, ValueError, KeyError) as err:
        sys.stderr.write(f"list-instances: {err}\n")
        return 1
    sys.stdout.write("".join(f"{ip}\n" for ip in ips))
    return 0


if __name__ == "__main__":
    sys.exit(main())
