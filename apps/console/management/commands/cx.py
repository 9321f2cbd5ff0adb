"""The operator CLI: ``manage.py cx SUBCOMMAND`` calls the CX API and prints its JSON answer."""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import getpass
import json
import os
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db.models.functions import Coalesce
from django.utils import timezone

from apps.bots.models import AgentBot
from apps.bots.services import agent_bot_assign, agent_bot_create, agent_bot_unassign
from apps.callbacks import importing
from apps.callbacks.models import BatchSource
from apps.callbacks.services import queue_callback_place_now
from apps.console.seeding import history_seed
from apps.contacts.models import Contact
from apps.contacts.services import contact_create
from apps.conversations.exports import FORMATS, conversations_export
from apps.conversations.models import Conversation, MessageType
from apps.conversations.selectors import message_search
from apps.conversations.services import (
    conversation_deliver_to_agent,
    conversation_finish,
    conversation_start,
    message_send,
)
from apps.cx.audit import collect_api_answers
from apps.cx.client import Actor
from apps.cx.exceptions import CxError, error_text
from apps.cx.mirror import get_or_reference
from apps.cx.models import Tenant
from apps.cx.services import UnknownTenant, agent_call_place, tenant_resolve
from apps.cx.validation import contact_phone
from apps.inboxes.models import Inbox
from apps.inboxes.services import inbox_sync
from apps.webhooks.models import WebhookEvent
from apps.webhooks.services import webhook_subscription_create


class CliError(Exception):
    pass


class Command(BaseCommand):
    help = "Call the CX API from the command line. Ids are the vendor's ids; output is the API's JSON answer."

    def add_arguments(self, parser: CommandParser) -> None:
        tenant = CommandParser(add_help=False)
        tenant.add_argument("--tenant", metavar="DOMAIN", help="tenant domain (default: CX_TENANT_DOMAIN)")
        sub = parser.add_subparsers(dest="subcommand", metavar="SUBCOMMAND", required=True, parser_class=type(parser))

        def add(name: str, help_text: str) -> argparse.ArgumentParser:
            return sub.add_parser(name, help=help_text, parents=[tenant], called_from_command_line=True)

        p = add("queue-call", "ring DESTINATION and put the answered call in queue NAME")
        p.add_argument("--queue", required=True, metavar="NAME")
        p.add_argument("--destination", required=True, metavar="NUMBER")
        p = add("agent-call", "place an outbound call for agent NAME")
        p.add_argument("--agent", required=True, metavar="NAME")
        p.add_argument("--destination", required=True, metavar="NUMBER")
        add("inboxes", "list the tenant's inboxes (and refresh the local mirror)")
        p = add("create-bot", "create an agent bot")
        p.add_argument("--name", required=True)
        p.add_argument("--description", default="")
        p.add_argument("--outgoing-url", metavar="URL", help="default: this console's bot endpoint")
        p = add("assign-bot", "assign an agent bot to an inbox")
        p.add_argument("--inbox", required=True, metavar="ID")
        p.add_argument("--bot", required=True, metavar="ID")
        p = add("unassign-bot", "take an agent bot off an inbox (the inbox is left with no bot)")
        p.add_argument("--inbox", required=True, metavar="ID")
        p.add_argument("--bot", required=True, metavar="ID")
        p = add("create-webhook", "register a webhook (default: this console's ingest endpoint, both events)")
        p.add_argument("--url")
        p.add_argument(
            "--subscription",
            action="append",
            choices=WebhookEvent.values,
            metavar="EVENT",
            help="repeatable; default: conversation_created and message_created",
        )
        p = add("create-contact", "create a contact in an inbox")
        p.add_argument("--name", required=True)
        p.add_argument("--email", required=True)
        p.add_argument("--phone", required=True, metavar="E164")
        p.add_argument("--inbox", required=True, metavar="ID")
        p = add("start-conversation", "start a conversation for a contact")
        p.add_argument("--contact", required=True, metavar="ID")
        p.add_argument("--inbox", required=True, metavar="ID")
        p.add_argument("--source-id", help="default: the contact's email")
        p.add_argument("--priority", type=int, default=0, choices=range(0, 5), metavar="0-4")
        p.add_argument("--message", required=True, metavar="TEXT")
        p = add("send-message", "send a message into a conversation")
        p.add_argument("--conversation", required=True, metavar="ID")
        p.add_argument("--content", required=True, metavar="TEXT")
        direction = p.add_mutually_exclusive_group()
        direction.add_argument(
            "--incoming", dest="message_type", action="store_const", const="incoming", help="as the customer"
        )
        direction.add_argument(
            "--outgoing", dest="message_type", action="store_const", const="outgoing", help="as the bot (default)"
        )
        p.add_argument("--bot", metavar="ID", help="the agent bot that speaks")
        p = add("deliver-to-agent", "hand a conversation to a human agent")
        p.add_argument("--conversation", required=True, metavar="ID")
        p = add("finish", "close a conversation")
        p.add_argument("--conversation", required=True, metavar="ID")
        p = add("import-callbacks", "queue callbacks from a CSV or XLSX file as one batch; row errors on stderr")
        p.add_argument("file", metavar="FILE")
        p.add_argument("--queue", required=True, metavar="NAME", help="the queue of rows that name none")
        p.add_argument("--batch", metavar="NAME", help="batch name (default: the file's name and the time)")
        p.add_argument("--dry-run", action="store_true", help="only check the file: print its errors, create nothing")
        p.add_argument("--strict", action="store_true", help="create nothing if any row has an error")
        p = add("seed-history", "bulk-load realistic conversation history (demos, bench/audit.py); no API call")
        p.add_argument("--conversations", type=int, required=True, metavar="N")
        p.add_argument("--messages-per-conversation", type=int, default=10, metavar="M")
        p.add_argument("--months", type=int, default=6, help="spread over this many months back (default 6)")
        p.add_argument("--seed", type=int, help="random seed, for the same history again")
        p = add(
            "export-conversations",
            "write transcripts (CSV: a row per message and action; JSON Lines) or a summary (a row per conversation)",
        )
        p.add_argument("--format", choices=FORMATS, default="csv")
        p.add_argument("--since", type=_date, metavar="YYYY-MM-DD", help="created on or after this day")
        p.add_argument("--until", type=_date, metavar="YYYY-MM-DD", help="created before this day")
        p.add_argument("--search", metavar="WORDS", help="only conversations where a message holds all the words")
        p.add_argument("--output", metavar="FILE", help="default: standard output")

    def handle(self, *args: Any, **options: Any) -> None:
        subcommand = options["subcommand"]
        try:
            tenant = tenant_resolve(domain=options.get("tenant"))
            actor = Actor.system(f"cli:{getpass.getuser()}")
            handler = getattr(self, "do_" + subcommand.replace("-", "_"))
            with collect_api_answers() as answers:
                done = handler(tenant, actor, options)
            # The API's own answer to the call the subcommand made (its last), else what the handler read.
            answer = done if done is not None else (answers[-1] if answers else None)
        except (CxError, CliError, UnknownTenant, ValueError) as exc:
            self.stderr.write(f"cx {subcommand}: {error_text(exc)}".replace("\n", " "))
            sys.exit(1)
        if answer is not WRITTEN:
            self.stdout.write(json.dumps(answer, indent=2, default=str))

    # -- subcommands: each makes its calls; what they return (if anything) is printed, else the API's answer
    def do_queue_call(self, tenant: Tenant, actor: Actor, o: dict[str, Any]) -> Any:
        queue_callback_place_now(tenant=tenant, actor=actor, queue_name=o["queue"], destination=o["destination"])

    def do_agent_call(self, tenant: Tenant, actor: Actor, o: dict[str, Any]) -> Any:
        return agent_call_place(tenant=tenant, actor=actor, agent_name=o["agent"], destination=o["destination"])

    def do_inboxes(self, tenant: Tenant, actor: Actor, o: dict[str, Any]) -> Any:
        return [inbox.remote_data for inbox in inbox_sync(tenant=tenant, actor=actor)]

    def do_create_bot(self, tenant: Tenant, actor: Actor, o: dict[str, Any]) -> Any:
        agent_bot_create(
            tenant=tenant, actor=actor, name=o["name"], description=o["description"], outgoing_url=o["outgoing_url"]
        )

    def do_assign_bot(self, tenant: Tenant, actor: Actor, o: dict[str, Any]) -> Any:
        bot = get_or_reference(AgentBot, tenant, o["bot"])
        inbox = get_or_reference(Inbox, tenant, o["inbox"])
        agent_bot_assign(bot=bot, inbox=inbox, actor=actor)

    def do_unassign_bot(self, tenant: Tenant, actor: Actor, o: dict[str, Any]) -> Any:
        bot = get_or_reference(AgentBot, tenant, o["bot"])
        inbox = get_or_reference(Inbox, tenant, o["inbox"])
        agent_bot_unassign(bot=bot, inbox=inbox, actor=actor)

    def do_create_webhook(self, tenant: Tenant, actor: Actor, o: dict[str, Any]) -> Any:
        webhook_subscription_create(tenant=tenant, actor=actor, url=o["url"], subscriptions=o["subscription"])

    def do_create_contact(self, tenant: Tenant, actor: Actor, o: dict[str, Any]) -> Any:
        inbox = get_or_reference(Inbox, tenant, o["inbox"])
        contact_create(
            tenant=tenant, actor=actor, name=o["name"], email=o["email"], phone_number=o["phone"], inbox=inbox
        )
        warning = contact_phone(o["phone"], default_region=tenant.default_region).warning
        if warning:
            self.stderr.write(f"cx create-contact: warning: {warning}")

    def do_start_conversation(self, tenant: Tenant, actor: Actor, o: dict[str, Any]) -> Any:
        contact = get_or_reference(Contact, tenant, o["contact"])
        inbox = get_or_reference(Inbox, tenant, o["inbox"])
        if not (o["source_id"] or contact.email):
            raise CliError(
                "--source-id is needed: this console does not know contact "
                f"{o['contact']}'s email (it was not created here)."
            )
        conversation_start(
            contact=contact,
            inbox=inbox,
            actor=actor,
            initial_message=o["message"],
            priority=o["priority"],
            source_id=o["source_id"],
        )

    def do_send_message(self, tenant: Tenant, actor: Actor, o: dict[str, Any]) -> Any:
        conversation = get_or_reference(Conversation, tenant, o["conversation"])
        bot = get_or_reference(AgentBot, tenant, o["bot"]) if o["bot"] else None
        message_send(
            conversation=conversation,
            actor=actor,
            content=o["content"],
            message_type=o["message_type"] or MessageType.OUTGOING,
            bot=bot,
        )

    def do_deliver_to_agent(self, tenant: Tenant, actor: Actor, o: dict[str, Any]) -> Any:
        conversation = get_or_reference(Conversation, tenant, o["conversation"])
        conversation_deliver_to_agent(conversation=conversation, actor=actor)

    def do_finish(self, tenant: Tenant, actor: Actor, o: dict[str, Any]) -> Any:
        conversation = get_or_reference(Conversation, tenant, o["conversation"])
        conversation_finish(conversation=conversation, actor=actor)

    def do_import_callbacks(self, tenant: Tenant, actor: Actor, o: dict[str, Any]) -> Any:
        path = o["file"]
        if o["batch"] is not None and not 0 < len(o["batch"].strip()) <= 200:
            raise CliError("--batch: give a name of 1 to 200 characters.")
        try:
            with open(path, "rb") as file:
                content = file.read()
        except OSError as exc:
            raise CliError(f"{path}: {exc.strerror or exc}") from None
        file_name = os.path.basename(path)
        with importing.preview(content, file_name, tenant=tenant, default_queue=o["queue"]) as preview:
            # One line per problem, as compilers print them, so a nightly job's log can be grepped and clicked.
            for error in preview.file_errors:
                self.stderr.write(f"{path}: {error}")
            for row in preview.every_error_row():
                for reason in row.errors:
                    self.stderr.write(f"{path}:{row.line}: {reason}")
            valid, bad = preview.valid_count, preview.error_count
            self.stderr.write(f"{valid} valid, {bad} with errors")
            if preview.file_errors:
                raise CliError(f"{path} cannot be imported; nothing was created.")
            if o["strict"] and bad:
                raise CliError(
                    f"--strict and {bad} {'row has' if bad == 1 else 'rows have'} errors; nothing was created."
                )
            if not valid:
                raise CliError("no row can be created; nothing was created.")
            if o["dry_run"]:
                return {"batch": None, "callbacks": valid, "dry_run": True}
            batch = importing.confirm(
                preview,
                tenant=tenant,
                actor=actor,
                batch_name=(o["batch"] or "").strip() or f"{file_name[:180]} {timezone.localtime():%Y-%m-%d %H:%M}",
                default_queue=o["queue"],
                source=BatchSource.CLI,
                strict=o["strict"],
            )
        return {"batch": batch.pk, "name": batch.name, "callbacks": batch.total}

    def do_export_conversations(self, tenant: Tenant, actor: Actor, o: dict[str, Any]) -> Any:
        conversations = Conversation.objects.filter(tenant=tenant).annotate(
            began=Coalesce("remote_created_at", "created_at")
        )
        described = []
        if o["since"]:
            conversations = conversations.filter(began__date__gte=o["since"])
            described.append(f"since {o['since']}")
        if o["until"]:
            conversations = conversations.filter(began__date__lt=o["until"])
            described.append(f"until {o['until']}")
        if o["search"]:
            conversations = conversations.filter(pk__in=message_search(o["search"]).values("conversation_id"))
            described.append(f"search {o['search']!r}")
        out = conversations_export(
            conversations=conversations, actor=actor, fmt=o["format"], described=", ".join(described) or "all"
        )
        target = open(o["output"], "w", newline="", encoding="utf-8") if o["output"] else None  # noqa: SIM115
        try:
            stream = target or self.stdout
            if o["format"] in ("csv", "summary"):
                writer = csv.writer(stream)
                for row in out:
                    writer.writerow(row)
            else:
                for line in out:
                    stream.write(line)
        finally:
            if target is not None:
                target.close()
        self.stderr.write(f"exported {conversations.count()} conversation(s) as {o['format']}")
        return WRITTEN

    def do_seed_history(self, tenant: Tenant, actor: Actor, o: dict[str, Any]) -> Any:
        done = history_seed(
            tenant=tenant,
            conversations=o["conversations"],
            messages_per_conversation=o["messages_per_conversation"],
            months=o["months"],
            seed=o["seed"],
            progress=lambda n: self.stderr.write(f"{n} conversation(s) written"),
        )
        return {"conversations": done.conversations, "messages": done.messages, "seconds": done.seconds}


# A handler that wrote its own output returns this: nothing more is printed.
WRITTEN = object()


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date (YYYY-MM-DD)") from None
