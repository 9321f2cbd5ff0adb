"""`make run`'s console on the embedded default: every process comes up, works together, and Ctrl-C ends all."""

from __future__ import annotations

import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

BASE_DIR = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def descendants(pid: int) -> set[int]:
    found: set[int] = set()
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return found
    for child in map(int, children):
        found |= {child} | descendants(child)
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.fixture
def embedded_env(tmp_path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "CELERY_", "CACHE_URL", "CX_"))}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "cxconsole.settings",
            "CX_VAR_DIR": str(tmp_path / "var"),
            "PORT": str(free_port()),
            "CX_SANDBOX_PORT": str(free_port()),
            "PYTHONUNBUFFERED": "1",
        }
    )
    for command in (["migrate", "--noinput", "-v0"], ["createcachetable"], ["collectstatic", "--noinput", "-v0"]):
        subprocess.run([sys.executable, "manage.py", *command], cwd=BASE_DIR, env=env, check=True)
    return env


def test_run_starts_everything_prints_a_login_and_ctrl_c_leaves_nothing_running(embedded_env):
    port = embedded_env["PORT"]
    console = subprocess.Popen(
        [sys.executable, "manage.py", "runconsole", "--no-demo-traffic"],
        cwd=BASE_DIR,
        env=embedded_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output: list[str] = []
    login: dict[str, str] = {}
    banner = threading.Event()

    def pump() -> None:
        assert console.stdout
        for line in console.stdout:
            output.append(line)
            match = re.search(r"Demo login:\s+(\S+) / (\S+)", line)
            if match:
                login.update(username=match.group(1), password=match.group(2))
                banner.set()

    threading.Thread(target=pump, daemon=True).start()
    try:
        assert banner.wait(90), "no demo login printed:\n" + "".join(output[-40:])
        base = f"http://127.0.0.1:{port}"
        processes = descendants(console.pid)
        assert len(processes) >= 4  # web, worker, beat, sandbox (and their own children)

        # A supervisor can log in, and the admin's static files are served.
        web = requests.Session()
        web.get(f"{base}/admin/login/", timeout=5)
        page = web.post(
            f"{base}/admin/login/",
            data={**login, "csrfmiddlewaretoken": web.cookies["csrftoken"], "next": "/admin/"},
            timeout=5,
        )
        assert page.status_code == 200 and "Log out" in page.text and "CX Console" in page.text
        assert web.get(f"{base}/static/admin/css/base.css", timeout=5).status_code == 200

        # The worker, on the serverless broker, synced the demo tenant's inboxes from the stand-in.
        db = Path(embedded_env["CX_VAR_DIR"]) / "db.sqlite3"

        def inbox_names() -> list[str]:
            with sqlite3.connect(db) as conn:
                return sorted(row[0] for row in conn.execute("SELECT name FROM inboxes_inbox"))

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not inbox_names():
            time.sleep(0.5)
        assert inbox_names() == ["Sales widget", "Support widget", "Website chat"]

        # The stand-in's events reach the console: a customer writes in the demo bot's inbox, the bot
        # greets them, and on "agent" hands the conversation over — all visible in the admin.
        assert "answers inbox “Website chat”" in "".join(output)
        control = f"http://127.0.0.1:{embedded_env['CX_SANDBOX_PORT']}/_sandbox"
        domain = "demo.cx.sangoma.com"
        started = requests.post(
            f"{control}/customer-conversation",
            json={"tenant_domain": domain, "inbox_id": 1, "name": "Ada", "email": "ada@example.com", "content": "Hi"},
            timeout=5,
        ).json()

        def bot_messages() -> list[str]:
            with sqlite3.connect(db) as conn:
                query = "SELECT content FROM conversations_message WHERE sender_kind = 'bot' ORDER BY id"
                return [row[0] for row in conn.execute(query)]

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not bot_messages():
            time.sleep(0.5)
        assert bot_messages() and "virtual assistant" in bot_messages()[0]
        requests.post(
            f"{control}/customer-message",
            json={"tenant_domain": domain, "conversation_id": started["id"], "content": "I want an agent please"},
            timeout=5,
        )
        while time.monotonic() < deadline and len(bot_messages()) < 2:
            time.sleep(0.5)
        assert bot_messages()[1] == "Connecting you with an agent now."
        audit = f"{base}/admin/cx/auditentry/?action__exact=deliver_to_agent"
        while time.monotonic() < deadline and "bot:Demo bot" not in web.get(audit, timeout=5).text:
            time.sleep(0.5)
        assert "bot:Demo bot" in web.get(audit, timeout=5).text
        assert "Connecting you with an agent now." in web.get(f"{base}/admin/conversations/message/", timeout=5).text
    finally:
        console.send_signal(signal.SIGINT)
        console.wait(timeout=30)

    assert console.returncode == 0, "".join(output[-40:])
    time.sleep(0.5)
    assert [pid for pid in processes if alive(pid)] == []
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
