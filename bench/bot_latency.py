"""How long a customer waits for the bot: from their message event reaching the console to the bot's reply POST.

Run from the repository root: ``.venv/bin/python bench/bot_latency.py`` (``--help`` for the options). See
bench/README.md. Each message is a new customer's first message in a new conversation: the stand-in makes the
conversation and hands back, unsent, the ``message_created`` event the platform sends to the inbox's agent bot;
this script POSTs it to the bot's endpoint (``/hooks/bot/<secret>/``) at the given rate, open-loop, and the
stand-in notes when the bot's reply POST for that conversation arrives. Only HTTP in and HTTP out are used, so
the figures hold whatever the console does in between.
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import requests

REPO = Path(__file__).resolve().parent.parent
# Run as a script (`python bench/bot_latency.py`), so the repository is not on the path yet.
sys.path.insert(0, str(REPO))
from bench.common import (  # noqa: E402
    busy_share,
    check_redis,
    code_version,
    default_database_url,
    free_port,
    fresh_database,
)

FORMS = ("production", "embedded")
INLINE_BOT_PATH = "/bench/inline-bot/"  # bench/floor.py: the floor, a bot answering inside the request
# Text with no hand-off or closing phrase: the bot greets and answers, the conversation stays with it.
CUSTOMER_TEXT = "Hello, my parcel from order 48213-B has not arrived yet. Could you check where it is?"
HIGHEST_UNDER = 1.0  # seconds: the script reports the highest rate whose p99 stays under this
READY_TIMEOUT = 180.0  # seconds for `runconsole` to migrate nothing, start everything and wire the bot
SENDERS = 64  # threads sending events: a console slower than this many in flight shows as late sends
LATE_SEND = 0.05  # seconds behind schedule before a send counts as late (the client, not the console)
IDLE_CORES = 0.15  # the console is settled when its processes use less than this many CPUs over a second


@dataclass(frozen=True)
class Target:
    rate: float
    p99: float
    lossless: bool

    def describe(self) -> str:
        return f"{self.rate:g} msg/s, p99 < {self.p99 * 1000:.0f} ms" + (", none lost" if self.lossless else "")


TARGETS = {
    "production": Target(rate=50, p99=0.5, lossless=True),
    "embedded": Target(rate=5, p99=1.0, lossless=False),
}


# ------------------------------------------------------------------------------
# Options
# ------------------------------------------------------------------------------
def parse_args() -> argparse.Namespace:
    env = os.environ.get
    parser = argparse.ArgumentParser(
        description=" ".join(__doc__.split("\n\n")[:2]), formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument(
        "--forms",
        default=",".join(FORMS),
        help="which forms to run, comma-separated: production (PostgreSQL, Redis) and/or embedded (make run's)",
    )
    parser.add_argument(
        "--rates",
        default="1,5,20,50",
        help="messages per second, comma-separated, run in increasing order; a form stops climbing at the "
        "first rate where the bot leaves a message unanswered",
    )
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of sending per rate")
    parser.add_argument("--count", type=int, help="messages per rate instead of rate x duration")
    parser.add_argument(
        "--timeout", type=float, default=30.0, help="seconds after the last send before a message counts unanswered"
    )
    parser.add_argument("--no-floor", action="store_true", help="skip the inline responder's runs")
    parser.add_argument(
        "--echoes",
        choices=("on", "off"),
        default="on",
        help="on: the stand-in sends the events each reply causes (its message_created to the bot and to the "
        "account webhook), as the platform does; off: it sends none, so only the customer's events arrive",
    )
    parser.add_argument("--log-dir", type=Path, help="keep runconsole's output of each form here (default: dropped)")
    parser.add_argument(
        "--settle-timeout",
        type=float,
        default=60.0,
        help="at most this long between runs waiting for the console's processes to go idle",
    )
    stores = parser.add_argument_group("production form's stores (each also from the environment variable shown)")
    stores.add_argument(
        "--database-url",
        default=env("BENCH_DATABASE_URL", default_database_url()),
        help="BENCH_DATABASE_URL; dropped, created and migrated at the start",
    )
    stores.add_argument(
        "--broker-url", default=env("BENCH_BROKER_URL", "redis://127.0.0.1:6379/13"), help="BENCH_BROKER_URL; flushed"
    )
    stores.add_argument(
        "--cache-url", default=env("BENCH_CACHE_URL", "redis://127.0.0.1:6379/12"), help="BENCH_CACHE_URL; flushed"
    )
    args = parser.parse_args()
    args.forms = [form.strip() for form in args.forms.split(",") if form.strip()]
    if not args.forms or set(args.forms) - set(FORMS):
        parser.error(f"--forms takes {', '.join(FORMS)}")
    try:
        args.rates = sorted({float(rate) for rate in args.rates.split(",") if rate.strip()})
    except ValueError:
        parser.error("--rates takes numbers, e.g. 1,5,20,50")
    if not args.rates or not all(0 < rate <= 200 for rate in args.rates):
        parser.error("--rates: each between 0 and 200 messages per second")
    if args.count is not None and not 1 <= args.count <= 10_000:
        parser.error("--count: 1 to 10,000 messages per rate")
    if not 0 < args.duration <= 120 or not 0 < args.timeout <= 300:
        parser.error("--duration: up to 120 s; --timeout: up to 300 s")
    return args


def messages_for(args: argparse.Namespace, rate: float) -> int:
    return args.count or max(1, min(10_000, round(rate * args.duration)))


# ------------------------------------------------------------------------------
# The two forms: the environment `manage.py runconsole` runs with
# ------------------------------------------------------------------------------
# The stores' variables are dropped from the embedded form's environment, so it runs make run's defaults.
_STORE_VARIABLES = ("DATABASE_URL", "CELERY_BROKER_URL", "CACHE_URL")


def base_env() -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in _STORE_VARIABLES}
    # bench/settings.py: the production settings plus the floor at /bench/inline-bot/.
    env.update({"DJANGO_SETTINGS_MODULE": "bench.settings", "PYTHONUNBUFFERED": "1"})
    return env


def production_env(args: argparse.Namespace) -> dict[str, str]:
    fresh_database(args.database_url)
    for url in (args.broker_url, args.cache_url):
        check_redis(url)
        import redis

        redis.Redis.from_url(url).flushdb()  # leftovers of an earlier run: queued tasks, a stale API token
    return {
        **base_env(),
        "DATABASE_URL": args.database_url,
        "CELERY_BROKER_URL": args.broker_url,
        "CACHE_URL": args.cache_url,
        "DJANGO_SECRET_KEY": "bench-only-not-a-secret-5f0c2d1e8a7b4c3d9e6f",
        # Out of demo mode the credentials have no default: the stand-in's own.
        "CX_CLIENT_ID": "demo-client",
        "CX_CLIENT_SECRET": "demo-secret",
    }


def embedded_env(var_dir: Path) -> dict[str, str]:
    dotenv = REPO / ".env"
    if dotenv.exists() and any(name in dotenv.read_text() for name in _STORE_VARIABLES):
        sys.exit(
            f"{dotenv} names a store (DATABASE_URL, CELERY_BROKER_URL or CACHE_URL): the embedded form would use it."
        )
    return {**base_env(), "CX_VAR_DIR": str(var_dir)}


def prepare(form: str, env: dict[str, str]) -> None:
    """`make migrate` for the form (without collectstatic: no page is served)."""
    print(f"[{form}] migrating ...", flush=True)
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "--noinput", "-v", "0"], cwd=REPO, env=env, check=True)
    if form == "embedded":  # the database cache holds the API token there
        subprocess.run([*manage, "createcachetable"], cwd=REPO, env=env, check=True)


# ------------------------------------------------------------------------------
# The console, as `make run` starts it, and its stand-in
# ------------------------------------------------------------------------------
@dataclass
class Console:
    """`manage.py runconsole`: gunicorn, the Celery worker and beat, the API stand-in, the demo bot wired."""

    form: str
    env: dict[str, str]
    log_path: Path
    echoes: bool = True  # the stand-in sends the events its API's writes cause (the bot's replies' echoes)
    port: int = field(default_factory=free_port)
    sandbox_port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    bot_url: str = ""
    inbox_id: int = 0
    tenant_domain: str = ""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def sandbox_url(self) -> str:
        return f"http://127.0.0.1:{self.sandbox_port}"

    def start(self) -> None:
        command = [sys.executable, "manage.py", "runconsole", "--port", str(self.port)]
        command += ["--sandbox-port", str(self.sandbox_port), "--no-demo-traffic"]
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                command, cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + READY_TIMEOUT
        while "CX Console is up" not in self.log_path.read_text(errors="replace"):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                sys.exit(f"[{self.form}] runconsole did not come up; its log:\n{self.log_tail()}")
            time.sleep(0.3)
        state = requests.get(f"{self.sandbox_url}/_sandbox/state", timeout=10).json()
        if not state["assignments"]:
            self.stop()
            sys.exit(f"[{self.form}] the demo bot was not assigned to an inbox; runconsole's log:\n{self.log_tail()}")
        assignment = state["assignments"][0]
        bot = next(bot for bot in state["bots"] if bot["id"] == assignment["agent_bot_id"])
        self.bot_url, self.inbox_id = bot["outgoing_url"], assignment["inbox_id"]
        self.tenant_domain = assignment["tenant_domain"]
        config = {"send_events": self.echoes}
        requests.post(f"{self.sandbox_url}/_sandbox/config", json=config, timeout=10).raise_for_status()
        if urlsplit(self.bot_url).netloc != f"127.0.0.1:{self.port}":
            self.stop()
            sys.exit(f"[{self.form}] the bot's endpoint {self.bot_url} is not this console on loopback")

    def log_tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        """SIGTERM to runconsole, which stops its children in order; they die with it if it must be killed."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def cpu_seconds(self) -> float:
        """CPU time used so far by runconsole and every process under it (those still alive)."""
        assert self.process is not None
        return sum(process_cpu(pid) for pid in descendants(self.process.pid))


def descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def process_cpu(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def machine_ticks() -> tuple[float, float]:
    """CPU seconds of the whole machine so far: (all, busy)."""
    with open("/proc/stat") as stat:
        ticks = [int(value) for value in stat.readline().split()[1:]]
    rate = os.sysconf("SC_CLK_TCK")
    return sum(ticks) / rate, (sum(ticks) - ticks[3] - ticks[4]) / rate


def settle(console: Console, timeout: float) -> float:
    """Waits until the console's processes are idle (the last run's follow-up work done); returns the wait."""
    started = time.monotonic()
    before = console.cpu_seconds()
    while time.monotonic() - started < timeout:
        time.sleep(1.0)
        now = console.cpu_seconds()
        if now - before < IDLE_CORES:
            break
        before = now
    return time.monotonic() - started


class StandIn:
    """The stand-in's control API: conversations with their events unsent, and when each reply arrived."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = requests.Session()
        self.http.trust_env = False
        self._last_post = 0
        self.first_reply: dict[int, float] = {}  # conversation id -> when its first reply POST arrived

    def new_customer(self, *, tenant_domain: str, inbox_id: int, email: str, bot_url: str) -> tuple[int, bytes]:
        """A new conversation of a new customer; its id and the message_created event meant for the bot."""
        answer = self.http.post(
            f"{self.url}/_sandbox/customer-conversation/unsent",
            json={
                "tenant_domain": tenant_domain,
                "inbox_id": inbox_id,
                "name": "Bench Customer",
                "email": email,
                "content": CUSTOMER_TEXT,
            },
            timeout=10,
        )
        answer.raise_for_status()
        held = answer.json()
        (event,) = [e for e in held["events"] if e["url"] == bot_url and e["event"] == "message_created"]
        return held["conversation"]["id"], json.dumps(event["body"], separators=(",", ":")).encode()

    def poll_replies(self) -> None:
        answer = self.http.get(f"{self.url}/_sandbox/message-posts", params={"after": self._last_post}, timeout=10)
        answer.raise_for_status()
        for post in answer.json():
            self._last_post = max(self._last_post, post["id"])
            conversation = post["conversation_id"]
            if isinstance(conversation, int) and post["message_type"] == "outgoing":
                self.first_reply.setdefault(conversation, post["received_at"])


# ------------------------------------------------------------------------------
# One run: N messages at a rate, open-loop, to the bot's endpoint or the inline floor
# ------------------------------------------------------------------------------
@dataclass
class Message:
    conversation_id: int
    body: bytes
    due: float = 0.0  # wall-clock time it was due to be sent
    sent_at: float = 0.0  # wall-clock time the POST started
    status: int | None = None  # the console's answer to the event POST (None: no answer)


@dataclass
class Result:
    form: str
    responder: str  # "bot" or "inline" (the floor)
    rate: float
    latencies: list[float]  # seconds, one per message; math.inf for one never answered
    refused: int  # event POSTs not answered 2xx
    late_sends: int  # sends that started more than LATE_SEND behind schedule (the client was saturated)
    busy: float  # share of the machine's CPUs busy during the run
    console_share: float  # share of the machine's CPUs the console's processes used during the run
    console_cpu_at_start: float = 0.0  # the console's CPU seconds when the run began
    cpu_per_message: float = 0.0  # the console's CPU seconds per message, from the start until it settled
    settled_after: float = 0.0

    @property
    def sent(self) -> int:
        return len(self.latencies)

    @property
    def unanswered(self) -> int:
        return sum(1 for latency in self.latencies if math.isinf(latency))

    def percentile(self, share: float) -> float:
        """Nearest rank over every message sent, an unanswered one counting as infinitely late."""
        ordered = sorted(self.latencies)
        return ordered[max(0, math.ceil(share * len(ordered)) - 1)]

    @property
    def worst_answered(self) -> float:
        return max((latency for latency in self.latencies if not math.isinf(latency)), default=math.inf)


def post_event(target: str, message: Message) -> None:
    parts = urlsplit(target)
    message.sent_at = time.time()
    # A connection per event, as the platform delivers them.
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=10)
    try:
        connection.request(
            "POST",
            parts.path,
            body=message.body,
            headers={"Content-Type": "application/json", "User-Agent": "cx-bench/bot_latency"},
        )
        answer = connection.getresponse()
        answer.read()
        message.status = answer.status
    except OSError:
        message.status = None
    finally:
        connection.close()


def send_paced(target: str, messages: list[Message], rate: float) -> threading.Thread:
    """Starts the scheduler thread: message i goes at start + i / rate, whatever the earlier ones' fate."""

    def schedule() -> None:
        with ThreadPoolExecutor(max_workers=SENDERS, thread_name_prefix="bench-send") as senders:
            start_monotonic, start_wall = time.monotonic() + 0.05, time.time() + 0.05
            for index, message in enumerate(messages):
                offset = index / rate
                message.due = start_wall + offset
                delay = start_monotonic + offset - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                senders.submit(post_event, target, message)

    thread = threading.Thread(target=schedule, name="bench-scheduler", daemon=True)
    thread.start()
    return thread


def run_rate(console: Console, stand_in: StandIn, *, responder: str, rate: float, count: int, timeout: float) -> Result:
    tag = secrets.token_hex(4)
    target = console.bot_url if responder == "bot" else console.url + INLINE_BOT_PATH
    messages = []
    for number in range(count):
        conversation_id, body = stand_in.new_customer(
            tenant_domain=console.tenant_domain,
            inbox_id=console.inbox_id,
            email=f"bench-{tag}-{number}@example.org",
            bot_url=console.bot_url,
        )
        messages.append(Message(conversation_id, body))

    cpu_all, cpu_busy = machine_ticks()
    console_cpu = console.cpu_seconds()
    scheduler = send_paced(target, messages, rate)
    deadline = None
    waiting = {message.conversation_id for message in messages}
    while waiting:
        time.sleep(0.3)
        stand_in.poll_replies()
        waiting -= stand_in.first_reply.keys()
        if deadline is None and not scheduler.is_alive():
            deadline = time.monotonic() + timeout  # every event has been sent (or is being sent)
        if deadline is not None and time.monotonic() > deadline:
            break
    scheduler.join()
    cpu_all_after, cpu_busy_after = machine_ticks()
    elapsed = max(cpu_all_after - cpu_all, 1e-9)

    latencies = []
    for message in messages:
        reply = stand_in.first_reply.get(message.conversation_id)
        latencies.append(reply - message.sent_at if reply is not None and message.sent_at else math.inf)
    return Result(
        form=console.form,
        responder=responder,
        rate=rate,
        latencies=latencies,
        refused=sum(1 for message in messages if message.status is None or not 200 <= message.status < 300),
        late_sends=sum(1 for message in messages if message.sent_at - message.due > LATE_SEND),
        busy=(cpu_busy_after - cpu_busy) / elapsed,
        console_share=(console.cpu_seconds() - console_cpu) / elapsed,
        console_cpu_at_start=console_cpu,
    )


# ------------------------------------------------------------------------------
# Report
# ------------------------------------------------------------------------------
def seconds(value: float, timeout: float) -> str:
    if math.isinf(value):
        return f">{timeout:g} s"
    return f"{value * 1000:,.0f} ms" if value < 10 else f"{value:,.1f} s"


def print_result(result: Result, timeout: float) -> None:
    notes = []
    if result.refused:
        notes.append(f"{result.refused} event POSTs not answered 2xx")
    if result.late_sends:
        notes.append(f"{result.late_sends} sends started >{LATE_SEND * 1000:.0f} ms late (sender saturated)")
    print(
        f"  {result.form:<11}{result.responder:<8}{result.rate:>6g}/s{result.sent:>6}"
        f"{result.sent - result.unanswered:>9}{result.unanswered:>11}"
        f"{seconds(result.percentile(0.5), timeout):>10}{seconds(result.percentile(0.99), timeout):>10}"
        f"{seconds(result.worst_answered, timeout):>10}"
        f"{result.busy:>10.0%}{max(result.busy - result.console_share, 0):>8.0%}{result.settled_after:>8.1f} s"
        f"{result.cpu_per_message * 1000:>8.1f} ms" + (f"  ({'; '.join(notes)})" if notes else ""),
        flush=True,
    )


HEADER = (
    f"  {'form':<11}{'answer':<8}{'rate':>8}{'sent':>6}{'answered':>9}{'unanswered':>11}"
    f"{'p50':>10}{'p99':>10}{'max':>10}{'CPU busy':>10}{'others':>8}{'settled':>10}{'CPU/msg':>11}"
)


def highest_under(results: list[Result], responder: str) -> str:
    rates = [r.rate for r in results if r.responder == responder and r.percentile(0.99) < HIGHEST_UNDER]
    return f"{max(rates):g} msg/s" if rates else "none"


def verdict(form: str, results: list[Result], timeout: float) -> bool:
    target = TARGETS[form]
    bot = {result.rate: result for result in results if result.responder == "bot"}
    measured = bot.get(target.rate)
    if measured is None:
        print(f"  target {form}: {target.describe()}  -> FAIL (that rate was not run, or skipped)")
        return False
    p99 = measured.percentile(0.99)
    met = p99 < target.p99 and not (target.lossless and (measured.unanswered or measured.refused))
    lost = f", {measured.unanswered} unanswered, {measured.refused} refused"
    print(
        f"  target {form}: {target.describe()}; measured p99 {seconds(p99, timeout)}{lost}  "
        f"-> {'PASS' if met else 'FAIL'}"
    )
    return met


# ------------------------------------------------------------------------------
# Main
# ------------------------------------------------------------------------------
@contextmanager
def running(form: str, args: argparse.Namespace, scratch: Path) -> Iterator[Console]:
    if form == "production":
        env = production_env(args)
    else:
        var_dir = scratch / "embedded-var"
        var_dir.mkdir()
        env = embedded_env(var_dir)
    prepare(form, env)
    log_dir = args.log_dir or scratch
    log_dir.mkdir(parents=True, exist_ok=True)
    console = Console(form, env, log_dir / f"runconsole-{form}.log", echoes=args.echoes == "on")
    try:
        console.start()
        yield console
    finally:
        console.stop()


def run_form(form: str, args: argparse.Namespace, scratch: Path) -> list[Result]:
    results: list[Result] = []
    responders = ["bot"] if args.no_floor else ["inline", "bot"]
    with running(form, args, scratch) as console:
        stores = "PostgreSQL, Redis" if form == "production" else "SQLite in a throwaway CX_VAR_DIR, filesystem broker"
        print(f"[{form}] up: {console.url} ({stores}), stand-in {console.sandbox_url}", flush=True)
        stand_in = StandIn(console.sandbox_url)
        for responder in responders:  # unmeasured: the first requests of each process import and connect
            run_rate(console, stand_in, responder=responder, rate=2, count=4, timeout=args.timeout)
        settle(console, args.settle_timeout)
        print(HEADER, flush=True)
        for rate in args.rates:
            for responder in responders:
                result = run_rate(
                    console,
                    stand_in,
                    responder=responder,
                    rate=rate,
                    count=messages_for(args, rate),
                    timeout=args.timeout,
                )
                result.settled_after = settle(console, args.settle_timeout)
                result.cpu_per_message = (console.cpu_seconds() - result.console_cpu_at_start) / max(result.sent, 1)
                results.append(result)
                print_result(result, args.timeout)
            if results[-1].unanswered:
                skipped = [f"{r:g}" for r in args.rates if r > rate]
                if skipped:
                    print(f"  [{form}] fell behind at {rate:g} msg/s: {', '.join(skipped)} msg/s skipped")
                break
    return results


def main() -> int:
    args = parse_args()
    os.chdir(REPO)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # like Ctrl-C: `finally` stops the console
    per_form = sum(messages_for(args, rate) for rate in args.rates) * (1 if args.no_floor else 2)
    print(f"Machine: nproc {len(os.sched_getaffinity(0))}, Python {sys.version.split()[0]}")
    print(f"Code:    {code_version()}")
    busy = busy_share()
    noisy = "  - other processes compete for the CPUs: figures will be high and noisy" if busy > 0.1 else ""
    print(f"Quiet?   CPUs {busy:.0%} busy in the 2 s before starting{noisy}")
    print(
        f"Load:    {', '.join(f'{rate:g}' for rate in args.rates)} msg/s, "
        + (f"{args.count} messages" if args.count else f"{args.duration:g} s")
        + f" per rate, at most {per_form:,} messages per form; unanswered after {args.timeout:g} s"
    )
    print(
        "Echoes:  "
        + (
            "on: the stand-in sends the events each reply causes (message_created to the bot and the webhook)"
            if args.echoes == "on"
            else "off: the stand-in sends no event of its own; only the customer's message events arrive"
        )
    )
    print(
        "Each:    a new customer's first message in a new conversation, the stand-in's message_created event "
        "POSTed open-loop to the bot's endpoint (answer: bot) or to the inline floor (answer: inline); latency = "
        "the stand-in's arrival time of the first reply POST minus the event POST's send time"
    )
    print(
        "Columns: CPU busy = the machine's CPUs busy during the run; others = the part the console's processes did "
        "not use (other work on the machine, and this script); settled = the wait until the console was idle again; "
        "CPU/msg = CPU seconds the console's processes (the stand-in among them) used from the run's start until "
        "settled, per customer message: the cost of a message whatever else runs on the machine"
    )

    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="cx-bench-bot-") as scratch:
        for form in args.forms:
            print()
            results += run_form(form, args, Path(scratch))

    print()
    print("Summary (p99 counts an unanswered message as infinitely late):")
    passed = True
    for form in args.forms:
        mine = [result for result in results if result.form == form]
        print(
            f"  {form}: highest rate with p99 under {HIGHEST_UNDER:g} s: bot {highest_under(mine, 'bot')}"
            + ("" if args.no_floor else f", inline floor {highest_under(mine, 'inline')}")
        )
        passed = verdict(form, mine, args.timeout) and passed
    return 0 if passed else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit("\nInterrupted; the console was stopped.")
