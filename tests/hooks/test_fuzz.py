"""Thousands of generated bodies and headers at both endpoints, signed and unsigned (hypothesis).

The oracles, checked after every request: never a 5xx; a 2xx is stored exactly once; a 4xx stores nothing
and maps nothing; and a valid delivery sent right after each bad one is acknowledged and stored. Bodies sent
to the webhook endpoint are also mapped (the mapping task runs on commit), so the mapper meets every shape
too: whatever it cannot read leaves the event failed or noted, never an error page.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.contacts.models import Contact
from apps.conversations.models import Conversation, Message
from apps.hooks.models import InboundEvent

from . import events

pytestmark = pytest.mark.django_db

FUZZ = settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,  # the same examples every run: CI is not a lottery
)
SIGNING_SECRET = "whsec-fuzz"
_ids = itertools.count(1)

# Any code point, lone surrogates included (a truncated emoji arrives as "\ud83d").
any_text = st.text(st.characters(codec=None, exclude_categories=()), max_size=40)
scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | any_text
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(any_text, inner, max_size=4),
    max_leaves=20,
)
LOOSE = {"1", "0", "-1", "1.5", "abc", "true", "false", "no", "²", "٣", "\x00", "9" * 400, "", " ", "inf"}
odd_values = json_values | st.sampled_from(sorted(LOOSE)) | st.integers(min_value=-(2**70), max_value=2**70)


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    return found


@st.composite
def mutated_events(draw) -> bytes:
    """A real-shape event with some fields replaced by values of the wrong type or form."""
    base = draw(
        st.sampled_from(
            [
                events.message_event(),
                events.conversation_event(),
                {**events.contact(), "event": "contact_created"},
                events.message_event(event="message_updated"),
            ]
        )
    )
    data = json.loads(json.dumps(base))
    for _ in range(draw(st.integers(1, 4))):
        path = draw(st.sampled_from([p for p in _paths(data) if p]))
        target = data
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = draw(odd_values)
    return json.dumps(data).encode()


def _raw_utf8(value: Any) -> bytes:
    """JSON with its text as UTF-8 bytes, not escapes (a lone surrogate then makes the bytes invalid)."""
    return json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")


nested = st.integers(1, 3000).map(lambda n: b'{"event":"x","a":' + b"[" * n + b"]" * n + b"}")
bodies = (
    st.binary(max_size=300)
    | json_values.map(lambda v: json.dumps(v).encode())
    | st.dictionaries(any_text, json_values, max_size=5).map(
        lambda v: json.dumps(v, ensure_ascii=False).encode("utf-8", "surrogatepass")
    )
    | mutated_events()
    | nested
)
header_text = st.text(st.characters(min_codepoint=0, max_codepoint=255), max_size=80)
headers = st.fixed_dictionaries(
    {},
    optional={
        "HTTP_X_CHATWOOT_TIMESTAMP": header_text | st.integers().map(str),
        "HTTP_X_CHATWOOT_SIGNATURE": header_text | header_text.map(lambda t: "sha256=" + t),
        "HTTP_X_CHATWOOT_DELIVERY": header_text,
        "HTTP_X_ANYTHING": header_text,
        "HTTP_USER_AGENT": header_text,
    },
)


def _counts() -> tuple[int, ...]:
    return tuple(model.objects.count() for model in (InboundEvent, Message, Conversation, Contact))


def _valid(n: int) -> bytes:
    return events.raw(events.message_event(message_id=10_000_000 + n, content=f"valid {n}"))


def _check(post, path: str, body: bytes, sent_headers: dict[str, str], *, signed: bool) -> None:
    before = _counts()
    answer = post(path, body, **sent_headers)
    assert answer.status_code < 500, (answer.status_code, body[:200], sent_headers)
    after = _counts()
    if 200 <= answer.status_code < 300:
        stored = after[0] - before[0]
        assert stored == (0 if answer.json()["message"] == "Already stored." else 1)
    else:
        assert answer.status_code in (400, 401, 404, 413), answer.status_code
        assert after == before, "a refused delivery changed the store or the mirror"
    # A good delivery right after the bad one is not harmed by it.
    n = next(_ids)
    good = _valid(n)
    good_headers = events.signed_headers(SIGNING_SECRET, good) if signed else {}
    assert post(path, good, **good_headers).status_code == 200
    assert InboundEvent.objects.filter(body=good.decode()).count() == 1


@FUZZ
@given(body=bodies, sent_headers=headers)
def test_the_webhook_endpoint_unsigned(post, webhook, body, sent_headers):
    _check(post, webhook.path, body, sent_headers, signed=False)


@FUZZ
@given(body=bodies, sent_headers=headers)
def test_the_bot_endpoint_unsigned(post_unmapped, bot_hook, body, sent_headers):
    _check(post_unmapped, bot_hook.path, body, sent_headers, signed=False)


@pytest.fixture
def signing(webhook):
    tenant = webhook.obj.tenant
    tenant.set_event_signing_secret(SIGNING_SECRET)
    tenant.save()


@FUZZ
@given(body=bodies, sent_headers=headers, sign=st.booleans())
def test_the_webhook_endpoint_signed(post, webhook, signing, body, sent_headers, sign):
    if sign:  # a correctly signed odd body gets past the signature to the parser and the mapper
        sent_headers = {**sent_headers, **events.signed_headers(SIGNING_SECRET, body)}
    _check(post, webhook.path, body, sent_headers, signed=True)
