"""The CX API paths, kept in one place: the vendor has renamed some, so each is a setting."""

from __future__ import annotations

from django.conf import settings

DEFAULT_PATHS: dict[str, str] = {
    "queue_call": "queues/call/",
    "agent_call": "agents/call/",
    "list_inboxes": "digital-interactions/inboxes/",
    "create_agent_bot": "digital-interactions/agents-bot/",
    "assign_agent_bot": "digital-interactions/agents-bot/assign/",
    "create_webhook": "digital-interactions/webhooks/",
    "create_contact": "digital-interactions/contacts/",
    "create_conversation": "digital-interactions/conversations/",
    "send_message": "digital-interactions/messages/",
    "deliver_to_agent": "digital-interactions/conversations/deliver-to-agent/",
    "finish_conversation": "digital-interactions/conversations/finish/",
}

# Older names from earlier versions of the vendor's page, tried once when the current path answers 404.
DEFAULT_FALLBACK_PATHS: dict[str, str] = {
    "create_agent_bot": "digital-interactions/agent-bot/",
    "assign_agent_bot": "digital-interactions/assign-agent-bot/",
}


def path_for(operation: str) -> str:
    """The path of ``operation`` relative to ``CX_API_BASE_URL``, with overrides from settings."""
    return {**DEFAULT_PATHS, **settings.CX_API_PATHS}[operation]


def fallback_path_for(operation: str) -> str | None:
    fallback = {**DEFAULT_FALLBACK_PATHS, **settings.CX_API_FALLBACK_PATHS}.get(operation)
    return fallback if fallback and fallback != path_for(operation) else None
