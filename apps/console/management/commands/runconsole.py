"""`make run`: the web server, a Celery worker, celery beat and the API stand-in, stopped together by Ctrl-C."""

from __future__ import annotations

import contextlib
import ctypes
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import requests
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.cx.roles import SUPERVISOR
from apps.cx.services import tenant_resolve, user_roles_set

DEMO_USERNAME = "supervisor"
STOP_GRACE_SECONDS = 10
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Linux: a child gets SIGTERM if this supervisor dies, even by SIGKILL, so nothing is left running."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    os.setsid()  # own process group: the terminal's Ctrl-C reaches only the supervisor, which stops us in order


def gunicorn_command(python: str, port: int) -> list[str]:
    """The web server as `make run` starts it (the integration tests start the same)."""
    return [
        python,
        "-m",
        "gunicorn",
        "cxconsole.wsgi",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        "2",
        "--threads",
        "4",
        "--access-logfile",
        "-",
        "--logger-class",
        "cxconsole.gunicorn_logging.RedactingLogger",
        "--graceful-timeout",
        "5",
        # Previewing a 50,000-row callback file reads and checks it in the request: up to about 11 s (XLSX) on a
        # 2-core machine (bench/import_preview.py); its confirm runs in a worker (callbacks.confirm_upload).
        "--timeout",
        "120",
    ]


def worker_command(python: str, hostname: str, *, queues: str, concurrency: int = 2, nice: int = 0) -> list[str]:
    """A Celery worker as `make run` starts it (the integration tests start the same)."""
    command = [python, "-m", "celery", "-A", "cxconsole", "worker", "--loglevel", "INFO"]
    command += ["--queues", queues, "--concurrency", str(concurrency), "--hostname", hostname]
    return ["nice", "-n", str(nice), *command] if nice else command


def worker_commands(python: str, name: str) -> dict[str, list[str]]:
    """The two workers: one for what a customer is waiting for, one for everything else.

    A customer's message to the bot is sent to its own queue (``CX_BOT_QUEUE``), which only the bot worker
    takes, so the answer never waits behind a backlog of other events (the platform sends four more for
    each bot reply). The general worker runs at a lower CPU priority, so on a busy machine the bot's answer
    gets the CPU first. It does not take the bot's queue too: a second main process receiving those tasks
    cost each answer about 4 ms of CPU, and if the bot worker is down the sweep still maps and answers a
    customer's message (after ``SWEEP_GRACE``).
    """
    bot_queue = settings.CX_BOT_QUEUE
    return {
        "worker": worker_command(python, f"{name}@%h", queues="celery", nice=10),
        "bot-worker": worker_command(python, f"{name}-bot@%h", queues=bot_queue),
    }


@dataclass
class Child:
    name: str
    command: list[str]
    # Set for this child only, over the environment all children share.
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[str] | None = None
    ready: threading.Event = field(default_factory=threading.Event)


class Command(BaseCommand):
    help = "Run the whole console: web server, Celery worker and beat, and (by default) the local API stand-in."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", 8000)))
        parser.add_argument("--sandbox-port", type=int, default=settings.CX_SANDBOX_PORT)
        parser.add_argument(
            "--no-sandbox",
            action="store_true",
            help="do not start the local API stand-in (CX_API_BASE_URL points at a real tenant)",
        )
        parser.add_argument("--no-demo-traffic", action="store_true", help="the stand-in plays no customers")

    def handle(self, *args: Any, **options: Any) -> None:
        self.children: list[Child] = []
        self.stopping = threading.Event()
        port, sandbox_port = options["port"], options["sandbox_port"]
        use_sandbox = not options["no_sandbox"]
        tenant = tenant_resolve()
        login = self._demo_login() if settings.DEMO_MODE else None

        env = {**os.environ, "PYTHONUNBUFFERED": "1", "PORT": str(port)}
        if use_sandbox:
            env["CX_SANDBOX_PORT"] = str(sandbox_port)
            # The stand-in runs here, so it reaches this console on loopback at the port we serve.
            settings.CONSOLE_PUBLIC_URL = env["CONSOLE_PUBLIC_URL"] = f"http://127.0.0.1:{port}"
            # This process talks to the stand-in too (demo wiring): same defaults as the children get.
            if "CX_API_BASE_URL" not in os.environ:
                settings.CX_API_BASE_URL = f"http://127.0.0.1:{sandbox_port}/cx/api/v1/"
            if "CX_TOKEN_URL" not in os.environ:
                settings.CX_TOKEN_URL = f"http://127.0.0.1:{sandbox_port}/oauth/token"
        python = sys.executable
        celery = [python, "-m", "celery", "-A", "cxconsole"]
        if use_sandbox:
            # Fresh ids each start (100 a second of headroom): rows of earlier runs keep theirs.
            id_start = max(1, int(time.time() - 1_700_000_000) * 100)
            sandbox_args = ["--port", str(sandbox_port), "--seed-tenant", tenant.domain, "--id-start", str(id_start)]
            if not options["no_demo_traffic"]:
                sandbox_args.append("--demo")
            # The stand-in is its own program (python -m standin); it accepts the credentials this console
            # signs in with, passed in its environment rather than on a command line anyone can read.
            credentials = {"CX_CLIENT_ID": settings.CX_CLIENT_ID, "CX_CLIENT_SECRET": settings.CX_CLIENT_SECRET}
            sandbox_env = {name: value for name, value in credentials.items() if value}
            self.children.append(Child("sandbox", [python, "-m", "standin", *sandbox_args], env=sandbox_env))
        self.children += [
            Child("web", gunicorn_command(python, port)),
            *(Child(name, command) for name, command in worker_commands(python, f"worker-{port}").items()),
            Child("beat", [*celery, "beat", "--loglevel", "INFO", "--schedule", str(settings.VAR_DIR / "beat")]),
        ]

        signal.signal(signal.SIGINT, self._on_signal)
        signal.signal(signal.SIGTERM, self._on_signal)
        try:
            for child in self.children:
                self._start(child, env)
            if use_sandbox:
                self._wait_for(f"http://127.0.0.1:{sandbox_port}/_sandbox/health", "the API stand-in")
            self._wait_for(f"http://127.0.0.1:{port}/healthz", "the web server")
            if use_sandbox:
                # First look at the demo tenant's inboxes, through the worker like any other sync.
                from apps.inboxes.tasks import inbox_sync_task

                inbox_sync_task.delay(tenant.pk)
            wiring = self._wire_demo(tenant) if use_sandbox else []
            self._banner(port, login, use_sandbox, sandbox_port, wiring)
            self._supervise()
        finally:
            self._stop_all()

    # -- set-up ----------------------------------------------------------------------------------------------
    def _demo_login(self) -> tuple[str, str]:
        """A supervisor login for the demo: a plain member of the Supervisor role (not a superuser), so the demo
        shows what a supervisor really sees; a new password each start, so none is ever stored in clear."""
        password = secrets.token_urlsafe(9)
        user, _ = get_user_model().objects.get_or_create(username=DEMO_USERNAME, defaults={"email": ""})
        user.is_superuser = False  # a var/ from before this change made it one
        user.set_password(password)
        user.save()
        user_roles_set(user=user, roles=[SUPERVISOR])
        return DEMO_USERNAME, password

    def _wire_demo(self, tenant: Any) -> list[str]:
        """Sends the stand-in's events to this console; a failure is reported, the console still runs."""
        from apps.console.demo import prepare_demo, wire_demo
        from apps.cx.exceptions import CxError

        try:
            lines = wire_demo(tenant)
        except (CxError, ValueError) as exc:
            lines = [f"  Events:            not wired to the stand-in ({exc})"]
        return lines + prepare_demo(tenant)

    # -- children ----------------------------------------------------------------------------------------------
    def _start(self, child: Child, env: dict[str, str]) -> None:
        child.process = subprocess.Popen(
            child.command,
            env={**env, **child.env},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
            preexec_fn=_die_with_parent,
            cwd=settings.BASE_DIR,
        )
        threading.Thread(target=self._pump, args=(child,), daemon=True).start()

    def _pump(self, child: Child) -> None:
        assert child.process and child.process.stdout
        width = max(len(c.name) for c in self.children)
        for line in child.process.stdout:
            sys.stdout.write(f"{child.name:<{width}} | {line}")
            sys.stdout.flush()

    def _wait_for(self, url: str, what: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self.stopping.is_set():
            self._check_children()
            try:
                if requests.get(url, timeout=1).ok:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.3)
        if not self.stopping.is_set():
            raise CommandError(f"{what} did not come up at {url}")

    def _check_children(self) -> None:
        for child in self.children:
            if child.process and child.process.poll() is not None and not self.stopping.is_set():
                raise CommandError(f"{child.name} exited with status {child.process.returncode}; stopping the rest.")

    def _supervise(self) -> None:
        while not self.stopping.wait(0.5):
            self._check_children()

    def _on_signal(self, signum: int, frame: object) -> None:
        self.stopping.set()

    def _stop_all(self) -> None:
        self.stopping.set()
        running = [c for c in self.children if c.process and c.process.poll() is None]
        # SIGTERM to each main process only: celery and gunicorn then stop their own children in order
        # (a worker finishes its current task). Whatever is left of a group after the grace time is killed.
        for child in running:
            assert child.process
            child.process.terminate()
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for child in running:
            assert child.process
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.process.pid, signal.SIGKILL)
            child.process.wait()
        if running:
            self.stdout.write("CX Console stopped; nothing left running.")

    def _banner(
        self, port: int, login: tuple[str, str] | None, use_sandbox: bool, sandbox_port: int, wiring: list[str]
    ) -> None:
        lines = ["", "=" * 64, f"  CX Console is up:  http://127.0.0.1:{port}/admin/"]
        if login:
            lines.append(f"  Demo login:        {login[0]} / {login[1]}")
        if use_sandbox:
            lines.append(
                f"  API stand-in:      http://127.0.0.1:{sandbox_port}/cx/api/v1/  (demo tenant "
                f"{settings.CX_TENANT_DOMAIN})"
            )
        lines += [*wiring, "  Stop everything:   Ctrl-C", "=" * 64, ""]
        self.stdout.write("\n".join(lines))
        self.stdout.flush()
