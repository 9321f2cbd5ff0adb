"""Demo mode: a background player that acts as web-widget customers chatting with a seeded tenant."""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable, Iterable

from .errors import ApiError
from .events import Delivery
from .state import SandboxState

logger = logging.getLogger(__name__)

# Fictional people; example.* domains and 555-01xx numbers are reserved for exactly this.
CUSTOMERS = (
    ("Maya Okafor", "maya.okafor@example.com", "+14155550101"),
    ("Lukas Brenner", "lukas.brenner@example.org", "+14155550102"),
    ("Priya Raman", "priya.raman@example.net", "+14155550103"),
    ("Tom Achterberg", "tom.achterberg@example.com", "+14155550104"),
    ("Sofia Marquez", "sofia.marquez@example.org", "+14155550105"),
    ("Kenji Watanabe", "kenji.watanabe@example.net", "+14155550106"),
    ("Aisha Bello", "aisha.bello@example.com", "+14155550107"),
    ("Jonas Lindqvist", "jonas.lindqvist@example.org", "+14155550108"),
)
OPENING_LINES = (
    "Hi, my order #4411 hasn't arrived",
    "Hello, I'd like to change the delivery address on order #5172",
    "Is the blue rain jacket back in stock in size M?",
    "My last invoice shows a double charge",
    "How do I reset my password? The link in the email has expired",
    "Do you ship to Norway?",
    "I received the wrong colour, can I swap it?",
    "Can I still cancel my subscription before the renewal on Friday?",
)
FOLLOW_UPS = (
    "Can I talk to an agent?",
    "thanks, that's all",
    "What are your opening hours?",
    "Any update on this?",
    "The tracking number is 1Z999AA10123456784",
    "Sorry, I was away for a minute",
    "That worked, thank you!",
)


class DemoPlayer:
    """Every ``interval`` seconds (jittered) one customer starts a conversation or writes a follow-up.

    It uses the same operations as the control API's customer endpoints, so every event fires as it would
    for a real widget visitor. It does nothing while no tenant exists.
    """

    def __init__(
        self,
        state: SandboxState,
        deliver: Callable[[Iterable[Delivery]], None],
        interval: float,
        rng: random.Random | None = None,
    ) -> None:
        self._state = state
        self._deliver = deliver
        self._interval = interval
        self._rng = rng or random.Random()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cx-sandbox-demo", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2)

    def _run(self) -> None:
        while not self._stopped.wait(self._interval * self._rng.uniform(0.5, 1.5)):
            try:
                self.play_once()
            except ApiError as error:  # the state was reset between choosing and acting
                logger.debug("CX sandbox demo: skipped a turn (%s)", error.description)

    def play_once(self) -> str | None:
        """One customer action; returns a short description of it, or None when there is no tenant yet."""
        targets = self._state.demo_targets()
        if not targets:
            return None
        domain = self._rng.choice(sorted(targets))
        inbox_ids, active = targets[domain]
        if active and self._rng.random() < 0.5:
            conversation_id = self._rng.choice(active)
            outcome = self._state.customer_message(
                {"tenant_domain": domain, "conversation_id": conversation_id, "content": self._rng.choice(FOLLOW_UPS)}
            )
            self._deliver(outcome.deliveries)
            return f"follow-up in conversation {conversation_id} of {domain}"
        if not inbox_ids:
            return None
        name, email, phone = self._rng.choice(CUSTOMERS)
        outcome = self._state.customer_conversation(
            {
                "tenant_domain": domain,
                "inbox_id": self._rng.choice(inbox_ids),
                "name": name,
                "email": email,
                "phone_number": phone,
                "content": self._rng.choice(OPENING_LINES),
            }
        )
        self._deliver(outcome.deliveries)
        return f"{name} started conversation {outcome.body['id']} in {domain}"
