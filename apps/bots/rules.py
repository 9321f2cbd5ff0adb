"""What a bot answers to a customer's words: phrase and pattern matching, business hours, the decision.

Pure functions over a bot's behaviour and rules, with no database writes and no API calls, so the
responder acts on a decision made here and the tests check every rule without a conversation.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from .models import BotBehaviour, BotDecision, BotRule, BotRuleKind

logger = logging.getLogger(__name__)

# Phones type curly apostrophes: "that’s all" must match the phrase "that's all".
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'"})


def parse_phrases(text: str) -> list[str]:
    """Phrases written one per line or separated by commas, blanks dropped."""
    return [phrase.strip() for phrase in re.split(r"[\n,]", text or "") if phrase.strip()]


def _normalise(text: str) -> str:
    return text.translate(_APOSTROPHES)


@lru_cache(maxsize=1024)
def _phrase_regex(phrase: str) -> re.Pattern[str]:
    # Whole words, whatever the spacing between them; lookarounds rather than \b so a phrase that starts or
    # ends with punctuation still matches.
    words = r"\s+".join(re.escape(word) for word in _normalise(phrase).split())
    return re.compile(rf"(?<!\w){words}(?!\w)", re.IGNORECASE)


def find_phrase(text: str, phrases: Iterable[str]) -> str | None:
    """The first of ``phrases`` found in ``text`` as whole words ("agent" in "an agent!", not in "agentic")."""
    normalised = _normalise(text)
    for phrase in phrases:
        if phrase.strip() and _phrase_regex(phrase).search(normalised):
            return phrase
    return None


def pattern_error(pattern: str) -> str | None:
    """Why ``pattern`` is not a usable regular expression, or None when it is."""
    try:
        compiled = re.compile(pattern, re.IGNORECASE)
    except re.error as exc:
        return f"Not a valid regular expression: {exc}."
    if compiled.search(""):
        return "This pattern matches an empty message, so it would answer everything."
    return None


@lru_cache(maxsize=1024)
def _pattern_regex(pattern: str) -> re.Pattern[str] | None:
    try:
        return re.compile(pattern, re.IGNORECASE)
    except re.error:
        return None


def rule_matches(rule: BotRule, text: str) -> bool:
    """Whether ``rule`` answers ``text``; a stored pattern that does not compile never matches."""
    if rule.kind == BotRuleKind.PATTERN:
        regex = _pattern_regex(rule.match_text)
        if regex is None:
            logger.warning("Bot rule %s has an invalid pattern %r: skipped", rule.pk, rule.match_text)
            return False
        return regex.search(text) is not None
    return find_phrase(text, parse_phrases(rule.match_text)) is not None


# -- business hours ----------------------------------------------------------------------------------------------
def zone_error(name: str) -> str | None:
    """Why ``name`` is not an IANA time zone, or None when it is."""
    try:
        ZoneInfo(name)
    except (ValueError, KeyError):  # ZoneInfoNotFoundError is a KeyError
        return f"“{name}” is not a time zone name such as Europe/Paris or America/New_York."
    return None


def behaviour_zone(behaviour: BotBehaviour) -> ZoneInfo:
    """The bot's time zone, else its tenant's; a name that does not resolve falls back to UTC."""
    for name in (behaviour.time_zone, behaviour.bot.tenant.time_zone):
        if name and zone_error(name) is None:
            return ZoneInfo(name)
    return ZoneInfo("UTC")


def is_open(behaviour: BotBehaviour, now: datetime) -> bool:
    """Whether ``now`` is within the bot's business hours (always, when it keeps none).

    The hours are the open weekdays from the opening time to the closing time, in the bot's time zone. A
    closing time earlier than the opening time means open overnight: the hours after midnight belong to
    the day that opened.
    """
    if not behaviour.business_hours_enabled:
        return True
    local = now.astimezone(behaviour_zone(behaviour))
    days, opens, closes, moment = behaviour.open_weekdays, behaviour.opens_at, behaviour.closes_at, local.time()
    if opens < closes:
        return local.weekday() in days and opens <= moment < closes
    if opens == closes:
        return False
    yesterday = (local - timedelta(days=1)).weekday()
    return (local.weekday() in days and moment >= opens) or (yesterday in days and moment < closes)


# -- the decision ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Decision:
    """What to answer: an optional greeting first, then the decision's reply and action."""

    decision: str
    reply: str
    matched: str = ""
    greet: str = ""

    @property
    def greeted(self) -> bool:
        return bool(self.greet) or self.decision == BotDecision.GREETING


def decide(*, behaviour: BotBehaviour, rules: Iterable[BotRule], text: str, now: datetime, first: bool) -> Decision:
    """The bot's answer to ``text``, in this order: business hours, handoff, closing, rules, fallback.

    Outside business hours the after-hours reply is all the bot says. On the conversation's ``first``
    message the greeting comes first, and whatever the message also asked is acted on after it (greeting
    then handoff, say); a first message that matches nothing gets the greeting alone, not the fallback.
    """
    if not is_open(behaviour, now):
        return Decision(BotDecision.AFTER_HOURS, behaviour.after_hours_reply)
    greet = behaviour.greeting if first else ""
    phrase = find_phrase(text, parse_phrases(behaviour.handoff_phrases))
    if phrase:
        return Decision(BotDecision.HANDOFF, behaviour.handoff_reply, phrase, greet)
    phrase = find_phrase(text, parse_phrases(behaviour.closing_phrases))
    if phrase:
        return Decision(BotDecision.CLOSING, behaviour.closing_reply, phrase, greet)
    for rule in rules:
        if rule.enabled and rule_matches(rule, text):
            return Decision(BotDecision.RULE, rule.reply, rule.match_text, greet)
    if greet:
        return Decision(BotDecision.GREETING, greet)
    return Decision(BotDecision.FALLBACK, behaviour.fallback_reply)
