"""Who took part in a conversation, as columns the list's "who handled it" filter reads (at 1,000,000 messages
looking through every conversation's messages took most of a second); filled in for the rows already there."""

from django.db import migrations, models
from django.db.models import Exists, OuterRef, Q


def who_took_part_fill(apps, schema_editor):
    Conversation = apps.get_model("conversations", "Conversation")
    Message = apps.get_model("conversations", "Message")
    BotReply = apps.get_model("bots", "BotReply")

    def wrote(kind):
        return Exists(Message.objects.filter(conversation=OuterRef("pk"), sender_kind=kind))

    handoff = Exists(BotReply.objects.filter(conversation=OuterRef("pk"), decision="handoff"))
    replied = Exists(BotReply.objects.filter(conversation=OuterRef("pk")))
    Conversation.objects.filter(Q(holder="agent") | wrote("agent") | handoff).update(handed_to_agent=True)
    Conversation.objects.filter(wrote("bot") | replied).update(answered_by_bot=True)


class Migration(migrations.Migration):
    dependencies = [
        ("conversations", "0007_message_source_event"),
        ("bots", "0004_behaviour_defaults_and_roles"),
    ]

    operations = [
        migrations.AddField(
            model_name="conversation",
            name="answered_by_bot",
            field=models.BooleanField(default=False, help_text="A bot wrote in it."),
        ),
        migrations.AddField(
            model_name="conversation",
            name="handed_to_agent",
            field=models.BooleanField(
                default=False, help_text="An agent held it, it was delivered to one, or an agent wrote in it."
            ),
        ),
        migrations.RunPython(who_took_part_fill, migrations.RunPython.noop),
    ]
