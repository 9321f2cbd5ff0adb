"""The production form started from requirements.txt alone: gunicorn, a Celery worker and beat on PostgreSQL and Redis.

Every other integration test runs in the dev venv, where the test tools bring packages of their own (kombu's
Redis transport once worked only because pytest brought `packaging`). Here each process runs in the venv that
scripts/test.sh builds from requirements.txt alone and names in CX_RUNTIME_PYTHON, so a runtime need missing
from requirements.txt fails here before it fails a deployment.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import pytest
import requests

from apps.bots.models import BotBehaviour, BotReply
from apps.bots.services import agent_bot_assign, agent_bot_create
from apps.console.management.commands.runconsole import gunicorn_command, worker_commands
from apps.contacts.services import contact_create
from apps.conversations.services import conversation_start
from apps.hooks.models import EventSource, EventStatus, InboundEvent

from .conftest import BASE_DIR, _free_port, _healthy, _stop, wait_until, worker_env

pytestmark = pytest.mark.django_db(transaction=True)

# The session's dev worker (conftest.celery_worker) consumes the broker of CELERY_BROKER_URL: this form gets a
# Redis database of its own (CX_RUNTIME_BROKER_URL, set by scripts/test.sh), so whatever maps and answers
# here is this form's own worker.
DEFAULT_BROKER_DB = 11
STARTUP_SECONDS = 60


@dataclass
class Child:
    """A process of the production form; its output is kept so a failure shows why it did not come up."""

    name: str
    process: subprocess.Popen[str]
    output: list[str] = field(default_factory=list)
    _lines: threading.Condition = field(default_factory=threading.Condition)

    @classmethod
    def start(cls, name: str, command: list[str], env: dict[str, str]) -> Child:
        process = subprocess.Popen(
            command, cwd=BASE_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        child = cls(name, process)
        threading.Thread(target=child._pump, daemon=True).start()
        return child

    def _pump(self) -> None:
        assert self.process.stdout
        for line in self.process.stdout:
            with self._lines:
                self.output.append(line)
                self._lines.notify_all()
        with self._lines:
            self._lines.notify_all()

    def wait_for(self, text: str, timeout: float = STARTUP_SECONDS) -> bool:
        """Whether ``text`` appears in the output before the process exits or ``timeout`` passes."""
        with self._lines:
            return self._lines.wait_for(
                lambda: any(text in line for line in self.output) or self.process.poll() is not None, timeout
            ) and any(text in line for line in self.output)

    def tail(self, lines: int = 40) -> str:
        return f"--- {self.name} (exit status {self.process.poll()}):\n" + "".join(self.output[-lines:])


@dataclass
class ProductionForm:
    url: str
    children: list[Child]

    def report(self) -> str:
        return "\n".join(child.tail() for child in self.children)


@pytest.fixture(scope="module")
def runtime_python() -> str:
    """The interpreter of the venv built from requirements.txt alone (scripts/test.sh sets CX_RUNTIME_PYTHON)."""
    python = os.environ.get("CX_RUNTIME_PYTHON", "")
    if not python:
        reason = "CX_RUNTIME_PYTHON is not set (scripts/test.sh sets it to the venv built from requirements.txt)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true, and the production form cannot be tested: {reason}")
        pytest.skip(reason)
    assert Path(python).is_file(), f"CX_RUNTIME_PYTHON={python} is not an interpreter"
    # A venv with the test tools in it would prove nothing: it is the one that hid the missing package.
    has_pytest = subprocess.run([python, "-c", "import pytest"], capture_output=True).returncode == 0
    assert not has_pytest, f"CX_RUNTIME_PYTHON={python} has pytest: it is not the venv of requirements.txt alone"
    return python


def _broker_of_its_own() -> str:
    shared = os.environ["CELERY_BROKER_URL"]
    url = os.environ.get("CX_RUNTIME_BROKER_URL") or urlunparse(urlparse(shared)._replace(path=f"/{DEFAULT_BROKER_DB}"))
    assert url != shared, "CX_RUNTIME_BROKER_URL must not be the dev worker's broker"
    return url


@pytest.fixture
def production_form(runtime_python, transactional_db, sandbox_process, tmp_path) -> Iterator[ProductionForm]:
    """Web, worker and beat as `make run` starts them, each from the runtime venv, on the session's test database.

    Stopped before the test's database is flushed: a periodic task still writing would deadlock the flush.
    """
    import redis

    broker = _broker_of_its_own()
    redis.Redis.from_url(broker).flushdb()
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    var_dir = tmp_path
    env = {
        **worker_env(sandbox_process),
        "CELERY_BROKER_URL": broker,
        "CONSOLE_PUBLIC_URL": url,
        "CX_VAR_DIR": str(var_dir),
        "LOG_FORMAT": "json",
    }
    env.pop("PYTHONPATH", None)  # nothing of the dev venv may reach these processes
    celery = [runtime_python, "-m", "celery", "-A", "cxconsole"]
    children = [
        *(
            Child.start(name, command, env)
            for name, command in worker_commands(runtime_python, f"production-{port}").items()
        ),
        Child.start("beat", [*celery, "beat", "--loglevel", "INFO", "--schedule", str(var_dir / "beat")], env),
    ]
    # As `make run` prepares the web server: the admin's styles are served by whitenoise from collected files.
    collected = subprocess.run(
        [runtime_python, "manage.py", "collectstatic", "--noinput", "--verbosity", "0"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
    )
    if collected.returncode == 0:
        children.append(Child.start("web", gunicorn_command(runtime_python, port), env))
    form = ProductionForm(url, children)
    try:
        assert collected.returncode == 0, f"collectstatic failed:\n{collected.stdout}{collected.stderr}"
        *workers, beat, web = children
        for worker in workers:
            assert worker.wait_for(" ready."), f"The Celery {worker.name} did not reach ready:\n" + form.report()
        assert beat.wait_for("beat: Starting..."), "Celery beat did not start:\n" + form.report()
        up = wait_until(lambda: _healthy(requests, url) or web.process.poll() is not None, timeout=STARTUP_SECONDS)
        assert up and web.process.poll() is None, "gunicorn did not answer /healthz:\n" + form.report()
        yield form
    finally:
        for child in children:
            _stop(child.process)


def test_the_production_form_of_requirements_txt_alone_serves_the_admin_and_answers_a_customer(
    production_form, sandbox, tenant, inboxes, actor, settings
):
    url = production_form.url
    assert requests.get(f"{url}/healthz", timeout=5).ok
    # What a load balancer polls: database, broker, cache and the API token all answer.
    health = requests.get(f"{url}/health/", timeout=5)
    assert health.status_code == 200 and health.json()["failed"] == [], health.text
    login = requests.get(f"{url}/admin/login/", timeout=5)
    assert login.status_code == 200 and 'name="username"' in login.text and 'name="password"' in login.text
    styles = requests.get(f"{url}/static/admin/css/base.css", timeout=5)  # whitenoise, from the collected files
    assert styles.status_code == 200 and "text/css" in styles.headers["Content-Type"]

    # The stand-in sends the bot's events to this form's web server, as the platform would.
    settings.CONSOLE_PUBLIC_URL = production_form.url
    inbox = inboxes[0]
    bot = agent_bot_create(tenant=tenant, actor=actor, name="Helper")
    agent_bot_assign(bot=bot, inbox=inbox, actor=actor)
    customer = contact_create(
        tenant=tenant,
        actor=actor,
        name="Grace Hopper",
        email="grace@example.com",
        phone_number="+14155550100",
        inbox=inbox,
    )
    said = "My order never arrived"

    conversation = conversation_start(contact=customer, inbox=inbox, actor=actor, initial_message=said)

    delivered = [d for d in sandbox.deliveries(wait=10) if "/hooks/bot/" in d["url"]]
    assert delivered and all(d["status"] == 200 for d in delivered), delivered
    event = InboundEvent.objects.get(source=EventSource.BOT, bot=bot, event_type="message_created", body__contains=said)
    mapped = wait_until(lambda: InboundEvent.objects.get(pk=event.pk).status == EventStatus.PROCESSED, timeout=30)
    assert mapped, f"the event is {InboundEvent.objects.get(pk=event.pk).status}\n" + production_form.report()

    # The bot's greeting, POSTed by that worker to the API, is what the customer sees.
    greeting = BotBehaviour.objects.get(bot=bot).greeting
    answered = wait_until(
        lambda: [r["body"] for r in sandbox.requests("digital-interactions/messages/") if r["body"].get("is_bot")],
        timeout=30,
    )
    assert answered, "the bot never answered\n" + production_form.report()
    assert [(body["content"], body["conversation_id"]) for body in answered] == [
        (greeting, int(conversation.remote_id))
    ]
    # The reply's row says sent once the API's answer is back (a moment after the stand-in logged the POST).
    sent = wait_until(lambda: BotReply.objects.filter(bot=bot, state="sent").values_list("decision", flat=True))
    replies = list(BotReply.objects.filter(bot=bot).values_list("decision", "state", "error"))
    assert list(sent) == ["greeting"], f"{replies}\n{production_form.report()}"

    # The workers log JSON lines; the task that mapped the delivery ran under the delivery's request id.
    def records() -> list[dict]:
        lines = [line for child in production_form.children[:-2] for line in child.output if line.startswith("{")]
        return [json.loads(line) for line in lines]

    def handled_lines() -> list[dict]:
        return [r for r in records() if "hooks.handle_event" in r["message"] and "succeeded" in r["message"]]

    # The worker logs "succeeded" just after the reply is saved: its line may not have been read from the pipe yet.
    handled = wait_until(handled_lines, timeout=10)
    assert handled and all(len(r.get("request_id", "")) == 32 for r in handled), records()[-20:]
    # Nothing of the form fell over along the way (beat, say, on its first look at the schedule).
    assert [c.name for c in production_form.children if c.process.poll() is not None] == [], production_form.report()
