#!/usr/bin/env python3
"""Keep the local vllm-router's workers equal to the group's in-service instances (pulumi-llm, gpu_vm/router_vm.py).

Every --interval seconds: run --lister (one IPv4 address a line), probe /health of each listed instance the
router does not have yet (the router's POST /add_worker blocks until the worker is healthy), add those that
answer 200, and remove the router's workers that are no longer listed. A failed or garbled listing changes
nothing: a cloud API hiccup must not empty the router. Standard library only (the VM's python3).
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import subprocess  # nosec B404 - runs the boot script's own lister, no shell
import sys
import time
import urllib.parse
import urllib.request


def parse_listing(text: str) -> set[str]:
    """The lister's output → the set of IPv4 addresses; ValueError on any other non-blank line."""
    return {str(ipaddress.IPv4Address(line.strip())) for line in text.splitlines() if line.strip()}


def worker_url(ip: str, port: int) -> str:
    return f"http://{ip}:{port}"


def decide_changes(current: set[str], listed: set[str], healthy: set[str]) -> tuple[list[str], list[str]]:
    """(worker URLs to add, to remove): add the listed ones that answered /health and are not there yet; remove
    those no longer listed. A listed worker that turns unhealthy stays: the router stops routing to it itself."""
    return sorted((listed & healthy) - current), sorted(current - listed)


def _call(url: str, method: str = "GET", timeout: float = 5.0) -> tuple[int, str]:
    if not url.startswith("http://"):
        raise ValueError(f"{url}: the router and the workers are plain http:// on the private network")
    request = urllib.request.Request(url, method=method)  # noqa: S310  # nosec B310 - scheme checked above
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310  # nosec B310 - scheme checked above
            return response.status, response.read().decode()
    except OSError as err:  # URLError, HTTPError, timeouts
        return getattr(err, "code", 0) or 0, str(err)


def router_workers(router: str) -> set[str]:
    """GET /workers → the URLs the router holds."""
    status, body = _call(f"{router}/workers")
    if status != 200:
        raise OSError(f"GET {router}/workers: {status} {body[:200]}")
    return {worker["url"] for worker in json.loads(body)["workers"]}


def reconcile_once(lister: str, router: str, port: int, timeout: float) -> tuple[list[str], list[str]]:
    """One round; returns (added, removed). Raises on a failed listing or an unreachable router (no change)."""
    done = subprocess.run([lister], capture_output=True, text=True, timeout=timeout, check=False)  # noqa: S603  # nosec B603 - our own script
    if done.returncode != 0:
        raise OSError(f"{lister} exited {done.returncode}: {done.stderr.strip()[-500:]}")
    listed = {worker_url(ip, port) for ip in parse_listing(done.stdout)}
    current = router_workers(router)
    healthy = {url for url in listed - current if _call(f"{url}/health", timeout=3.0)[0] == 200}
    add, remove = decide_changes(current, listed, healthy)
    for route, urls in (("add_worker", add), ("remove_worker", remove)):
        for url in urls:
            status, body = _call(f"{router}/{route}?url={urllib.parse.quote(url, safe='')}", "POST", timeout=30.0)
            print(f"{route} {url}: {status} {body.strip()[:200]}", flush=True)
    return add, remove


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Keep the local vllm-router's workers equal to the group's in-service instances.")
    parser.add_argument("--lister", required=True, help="executable printing one IPv4 address a line")
    parser.add_argument("--router", required=True, help="the router's base URL, e.g. http://127.0.0.1:8080")
    parser.add_argument("--port", type=int, required=True, help="the model server's port on every instance")
    parser.add_argument("--interval", type=float, default=15.0, help="seconds between rounds")
    parser.add_argument("--once", action="store_true", help="one round, then exit (1 if it failed)")
    args = parser.parse_args(argv)
    while True:
        started = time.monotonic()
        try:
            reconcile_once(args.lister, args.router.rstrip("/"), args.port, timeout=max(args.interval * 4, 60.0))
            failed = False
        except (OSError, ValueError, KeyError, subprocess.TimeoutExpired) as err:
            print(f"router-workers: no change this round: {err}", file=sys.stderr, flush=True)
            failed = True
        if args.once:
            return 1 if failed else 0
        time.sleep(max(0.0, args.interval - (time.monotonic() - started)))


if __name__ == "__main__":
    sys.exit(main())
