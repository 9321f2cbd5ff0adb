"""Starts the local API stand-in as its own process and drives its control API (tests, demo, bench)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import requests

BASE_DIR = Path(__file__).resolve().parents[1]
_LISTENING_RE = re.compile(r"CX sandbox listening on (http://\S+)")


class SandboxProcess:
    """A running ``python -m standin`` child; ``stop()`` ends it."""

    def __init__(self, process: subprocess.Popen[str], url: str) -> None:
        self.process = process
        self.url = url.rstrip("/")
        self.control = SandboxControl(self.url)

    @property
    def api_base_url(self) -> str:
        return f"{self.url}/cx/api/v1/"

    @property
    def token_url(self) -> str:
        return f"{self.url}/oauth/token"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_sandbox_process(
    *,
    client_id: str,
    client_secret: str,
    port: int = 0,
    host: str = "127.0.0.1",
    args: list[str] | None = None,
    timeout: float = 20.0,
) -> SandboxProcess:
    command = [
        sys.executable,
        "-m",
        "standin",
        "--host",
        host,
        "--port",
        str(port),
        "--client-id",
        client_id,
        "--client-secret",
        client_secret,
        *(args or []),
    ]
    process = subprocess.Popen(
        command,
        cwd=BASE_DIR,
        stdout=subprocess.PIPE,
        stderr=None,
        text=True,
        bufsize=1,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    deadline = time.monotonic() + timeout
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        match = _LISTENING_RE.search(line)
        if match:
            return SandboxProcess(process, match.group(1))
    process.kill()
    raise RuntimeError(f"The CX sandbox did not start (exit code {process.poll()}).")


class SandboxControl:
    """The stand-in's ``/_sandbox/`` control API."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self.http = requests.Session()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.http.request(method, f"{self.url}/_sandbox/{path}", timeout=10, **kwargs)
        response.raise_for_status()
        return response.json() if response.content else None

    def health(self) -> bool:
        try:
            return bool(self._call("GET", "health").get("ok"))
        except requests.RequestException:
            return False

    def reset(self) -> None:
        self._call("POST", "reset")

    def add_tenant(self, domain: str, inboxes: list[str] | None = None, **extra: Any) -> dict[str, Any]:
        body: dict[str, Any] = {"tenant_domain": domain, **extra}
        if inboxes is not None:
            body["inboxes"] = inboxes
        return self._call("POST", "tenants", json=body)

    def state(self) -> dict[str, Any]:
        return self._call("GET", "state")

    def requests(self, path: str | None = None) -> list[dict[str, Any]]:
        return self._call("GET", "requests", params={"path": path} if path else None)

    def deliveries(self, wait: float | None = None) -> list[dict[str, Any]]:
        """Event deliveries sent so far; with ``wait``, first waits (seconds) until none is in flight."""
        return self._call("GET", "deliveries", params={"wait": wait} if wait else None)

    def set_faults(self, **faults: Any) -> None:
        self._call("POST", "faults", json=faults)

    def clear_faults(self) -> None:
        self._call("DELETE", "faults")

    def configure(self, **config: Any) -> None:
        self._call("POST", "config", json=config)

    def expire_tokens(self) -> None:
        self._call("POST", "tokens/expire")

    def customer_conversation(self, **body: Any) -> dict[str, Any]:
        return self._call("POST", "customer-conversation", json=body)

    def customer_message(self, **body: Any) -> dict[str, Any]:
        return self._call("POST", "customer-message", json=body)
