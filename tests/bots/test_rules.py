"""The bot's rules: defaults, phrase and pattern matching, business hours, the order of decisions, the forms."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest

from apps.bots.forms import BotBehaviourForm, BotRuleForm
from apps.bots.models import AgentBot, BotBehaviour, BotRule
from apps.bots.rules import decide, find_phrase, is_open, parse_phrases, pattern_error, rule_matches
from apps.bots.services import agent_bot_create
from apps.cx.models import Tenant

# A Monday in winter: New York is UTC-5.
MONDAY_NOON_UTC = datetime(2025, 1, 6, 12, 0, tzinfo=UTC)


def behaviour(**fields) -> BotBehaviour:
    """An unsaved behaviour with the defaults, for rules that need no database."""
    bot = AgentBot(name="Helper", tenant=Tenant(domain="t.example.com", time_zone="UTC"))
    return BotBehaviour(bot=bot, **fields)


def rule(match_text: str, reply: str, *, kind: str = "keyword", enabled: bool = True) -> BotRule:
    return BotRule(kind=kind, match_text=match_text, reply=reply, enabled=enabled)


def answer(text: str, *, rules=(), first: bool = False, now: datetime = MONDAY_NOON_UTC, **fields):
    return decide(behaviour=behaviour(**fields), rules=rules, text=text, now=now, first=first)


# -- defaults ------------------------------------------------------------------------------------------------
def test_a_new_bot_starts_with_defaults_a_supervisor_then_edits(sandbox, tenant, actor):
    bot = agent_bot_create(tenant=tenant, actor=actor, name="Helper", outgoing_url="http://127.0.0.1:9/bot")

    defaults = BotBehaviour.objects.get(bot=bot)
    assert defaults.enabled and defaults.greeting and defaults.fallback_reply
    assert parse_phrases(defaults.handoff_phrases) == ["agent", "human", "person", "representative"]
    assert parse_phrases(defaults.closing_phrases) == ["bye", "that's all"]
    assert defaults.handoff_reply == "Connecting you with an agent now."
    assert defaults.closing_reply == "Thanks for reaching out — goodbye!"
    assert defaults.after_hours_reply.startswith("We're closed right now.")
    assert not defaults.business_hours_enabled and not bot.rules.exists()
    assert defaults.history.count() == 1


def test_a_bot_the_api_refused_still_gets_its_defaults(sandbox, tenant, actor):
    from apps.cx.exceptions import CxError

    sandbox.set_faults(next=[{"status": 422}], paths=["agents-bot/"])
    with pytest.raises(CxError):
        agent_bot_create(tenant=tenant, actor=actor, name="Helper")
    assert BotBehaviour.objects.get().bot.sync_state == "error"


# -- phrases and patterns --------------------------------------------------------------------------------------
def test_phrases_are_written_one_per_line_or_comma_separated():
    phrases = parse_phrases("agent\n human ,\n\n person,representative \n")
    assert phrases == ["agent", "human", "person", "representative"]
    assert parse_phrases("") == []


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("I want an agent!", "agent"),
        ("AGENT please", "agent"),
        ("is this agentic?", None),
        ("reagent", None),
        ("Can I talk to a real person?", "person"),
        ("ok that's   ALL", "that's all"),
        ("ok that’s all, thanks", "that's all"),  # a phone's curly apostrophe
        ("that's allowed?", None),
        ("", None),
    ],
)
def test_phrases_match_whole_words_whatever_the_case(text, found):
    assert find_phrase(text, ["agent", "person", "that's all"]) == found


def test_keyword_rules_match_any_of_their_words():
    refund = rule("refund, money back", "Refunds take 5 days.")
    assert rule_matches(refund, "I want my MONEY BACK")
    assert rule_matches(refund, "refund?")
    assert not rule_matches(refund, "refunded already")


def test_pattern_rules_search_the_message_ignoring_case():
    order = rule(r"order\s*#?\d+", "Let me look.", kind="pattern")
    assert rule_matches(order, "Where is ORDER #1234?")
    assert not rule_matches(order, "where is my order")


@pytest.mark.parametrize("pattern", ["order (", "[a-", "*oops", "(?P<x"])
def test_a_bad_pattern_is_refused_by_the_form(pattern):
    assert pattern_error(pattern).startswith("Not a valid regular expression")
    form = BotRuleForm(data={"position": 1, "kind": "pattern", "match_text": pattern, "reply": "Hi", "enabled": "on"})
    assert not form.is_valid()
    assert form.errors["match_text"][0].startswith("Not a valid regular expression")


def test_a_pattern_matching_every_message_is_refused_by_the_form():
    form = BotRuleForm(data={"position": 1, "kind": "pattern", "match_text": ".*", "reply": "Hi"})
    assert not form.is_valid() and "matches an empty message" in form.errors["match_text"][0]


def test_the_same_text_is_a_fine_keyword_rule():
    form = BotRuleForm(data={"position": 1, "kind": "keyword", "match_text": "order (", "reply": "Hi"})
    assert form.is_valid(), form.errors


def test_a_bad_pattern_already_stored_is_skipped_at_runtime_never_crashes():
    rules = [rule("order (", "Never sent", kind="pattern"), rule("order", "Your order is on its way.")]
    assert not rule_matches(rules[0], "order (")
    assert answer("my order (late)", rules=rules).reply == "Your order is on its way."


# -- business hours ---------------------------------------------------------------------------------------------
def hours(**fields) -> BotBehaviour:
    new_york = {"time_zone": "America/New_York", "weekdays": "0,1,2,3,4", "opens_at": time(9), "closes_at": time(17)}
    return behaviour(business_hours_enabled=True, **{**new_york, **fields})


@pytest.mark.parametrize(
    ("moment", "open_"),
    [
        (datetime(2025, 1, 6, 13, 59, tzinfo=UTC), False),  # Monday 08:59 in New York
        (datetime(2025, 1, 6, 14, 0, tzinfo=UTC), True),  # Monday 09:00
        (datetime(2025, 1, 6, 21, 59, tzinfo=UTC), True),  # Monday 16:59
        (datetime(2025, 1, 6, 22, 0, tzinfo=UTC), False),  # Monday 17:00
        (datetime(2025, 1, 11, 15, 0, tzinfo=UTC), False),  # Saturday 10:00
        (datetime(2025, 1, 11, 3, 0, tzinfo=UTC), False),  # Saturday in UTC, Friday 22:00 in New York
        (datetime(2025, 7, 7, 13, 30, tzinfo=UTC), True),  # Monday 09:30 in summer (UTC-4)
    ],
)
def test_business_hours_are_kept_in_the_bots_time_zone(moment, open_):
    assert is_open(hours(), moment) is open_


def test_without_business_hours_the_bot_is_always_open():
    assert is_open(behaviour(), datetime(2025, 1, 11, 3, 0, tzinfo=UTC))


def test_no_time_zone_means_the_tenants():
    tokyo = hours(time_zone="")
    tokyo.bot.tenant.time_zone = "Asia/Tokyo"
    assert is_open(tokyo, datetime(2025, 1, 6, 1, 0, tzinfo=UTC))  # Monday 10:00 in Tokyo
    assert not is_open(tokyo, datetime(2025, 1, 6, 12, 0, tzinfo=UTC))  # Monday 21:00 in Tokyo


def test_a_closing_time_before_the_opening_time_is_open_overnight():
    night = hours(opens_at=time(22, 0), closes_at=time(6, 0), weekdays="4")  # Friday night
    assert is_open(night, datetime(2025, 1, 11, 4, 0, tzinfo=UTC))  # Friday 23:00 in New York
    assert is_open(night, datetime(2025, 1, 11, 10, 0, tzinfo=UTC))  # Saturday 05:00, still Friday's night
    assert not is_open(night, datetime(2025, 1, 11, 12, 0, tzinfo=UTC))  # Saturday 07:00
    assert not is_open(night, datetime(2025, 1, 10, 4, 0, tzinfo=UTC))  # Thursday 23:00


def test_behaviour_form_checks_the_time_zone_and_the_days():
    data = {
        "enabled": "on",
        "handoff_phrases": "agent,\n human",
        "closing_phrases": "bye",
        "business_hours_enabled": "on",
        "time_zone": "Mars/Olympus",
        "weekdays": [],
        "opens_at": "09:00",
        "closes_at": "09:00",
    }
    form = BotBehaviourForm(data=data)
    assert not form.is_valid()
    assert "not a time zone name" in form.errors["time_zone"][0]
    assert "Choose the days" in form.errors["weekdays"][0]
    assert "must differ" in form.errors["closes_at"][0]

    form = BotBehaviourForm(data={**data, "time_zone": "Europe/Paris", "weekdays": ["5", "0"], "closes_at": "18:00"})
    assert form.is_valid(), form.errors
    assert form.cleaned_data["weekdays"] == "0,5"
    assert form.cleaned_data["handoff_phrases"] == "agent\nhuman"


def test_behaviour_form_shows_the_stored_days_ticked():
    form = BotBehaviourForm(instance=behaviour(weekdays="1,3"))
    assert form["weekdays"].value() == [1, 3]


# -- the order of decisions -----------------------------------------------------------------------------------
RULES = [
    rule("refund", "Refunds take 5 days."),
    rule(r"order\s*#?\d+", "Let me look that order up.", kind="pattern"),
    rule("order", "Which order number?"),
    rule("shipping", "Disabled rule", enabled=False),
]


@pytest.mark.parametrize(
    ("text", "decision", "reply"),
    [
        ("A refund for order #12 please", "rule", "Refunds take 5 days."),
        ("Where is order #12?", "rule", "Let me look that order up."),
        ("Where is my order?", "rule", "Which order number?"),
        ("shipping costs?", "fallback", behaviour().fallback_reply),
        ("refund, or an agent", "handoff", "Connecting you with an agent now."),
        ("refund? no, that's all. bye", "closing", "Thanks for reaching out — goodbye!"),
        ("agent, bye", "handoff", "Connecting you with an agent now."),
    ],
)
def test_handoff_then_closing_then_rules_in_order_then_fallback(text, decision, reply):
    plan = answer(text, rules=RULES)
    assert (plan.decision, plan.reply, plan.greet, plan.greeted) == (decision, reply, "", False)


def test_the_first_message_gets_the_greeting_alone_when_it_asks_nothing():
    plan = answer("hello", rules=RULES, first=True)
    assert (plan.decision, plan.reply, plan.greet, plan.greeted) == ("greeting", behaviour().greeting, "", True)


def test_the_first_message_gets_the_greeting_then_what_it_asked():
    plan = answer("I want an agent", first=True)
    assert (plan.decision, plan.matched, plan.greet, plan.greeted) == ("handoff", "agent", behaviour().greeting, True)
    plan = answer("refund?", rules=RULES, first=True)
    assert (plan.decision, plan.reply, plan.greet) == ("rule", "Refunds take 5 days.", behaviour().greeting)


def test_without_a_greeting_the_first_message_is_answered_as_any_other():
    assert answer("hello", first=True, greeting="").decision == "fallback"


def test_outside_business_hours_only_the_after_hours_message_is_sent():
    closed = datetime(2025, 1, 6, 12, 0, tzinfo=UTC)  # 07:00 in New York
    plan = decide(behaviour=hours(), rules=RULES, text="I want an agent", now=closed, first=True)
    assert (plan.decision, plan.greet) == ("after_hours", "")
    assert plan.reply.startswith("We're closed right now.")
