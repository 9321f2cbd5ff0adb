"""Searching what was said: a GIN-indexed vector on PostgreSQL, an FTS5 table kept by triggers on SQLite.

Django's SQLite schema editor rebuilds a table for some later changes (altering a field of
conversations_message): that drops these triggers, so such a migration must run ``sqlite_fts_create`` again.
"""

from django.contrib.postgres.search import SearchVectorField
from django.db import migrations

from apps.conversations.search_text import SEARCH_CONFIG, fold

GIN_INDEX = "conversations_message_search_gin"

SQLITE_FTS = [
    "CREATE VIRTUAL TABLE conversations_message_fts USING fts5("
    "content, content='conversations_message', content_rowid='id', tokenize=\"unicode61 remove_diacritics 2\")",
    "CREATE TRIGGER conversations_message_fts_insert AFTER INSERT ON conversations_message BEGIN "
    "INSERT INTO conversations_message_fts(rowid, content) VALUES (new.id, new.content); END",
    "CREATE TRIGGER conversations_message_fts_delete AFTER DELETE ON conversations_message BEGIN "
    "INSERT INTO conversations_message_fts(conversations_message_fts, rowid, content) "
    "VALUES ('delete', old.id, old.content); END",
    "CREATE TRIGGER conversations_message_fts_update AFTER UPDATE OF content ON conversations_message BEGIN "
    "INSERT INTO conversations_message_fts(conversations_message_fts, rowid, content) "
    "VALUES ('delete', old.id, old.content); "
    "INSERT INTO conversations_message_fts(rowid, content) VALUES (new.id, new.content); END",
    # The messages already there.
    "INSERT INTO conversations_message_fts(conversations_message_fts) VALUES ('rebuild')",
]
SQLITE_FTS_DROP = [
    "DROP TRIGGER IF EXISTS conversations_message_fts_insert",
    "DROP TRIGGER IF EXISTS conversations_message_fts_delete",
    "DROP TRIGGER IF EXISTS conversations_message_fts_update",
    "DROP TABLE IF EXISTS conversations_message_fts",
]


def sqlite_fts_create(cursor):
    for statement in SQLITE_FTS_DROP + SQLITE_FTS:
        cursor.execute(statement)


def search_index_create(apps, schema_editor):
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            sqlite_fts_create(cursor)
        elif connection.vendor == "postgresql":
            cursor.execute(f"CREATE INDEX {GIN_INDEX} ON conversations_message USING gin (search_vector)")
            cursor.execute("SELECT id, content FROM conversations_message WHERE content <> ''")
            rows = [(fold(content), pk) for pk, content in cursor.fetchall()]
            cursor.executemany(
                f"UPDATE conversations_message SET search_vector = to_tsvector('{SEARCH_CONFIG}', %s) WHERE id = %s",
                rows,
            )


def search_index_drop(apps, schema_editor):
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            for statement in SQLITE_FTS_DROP:
                cursor.execute(statement)
        elif connection.vendor == "postgresql":
            cursor.execute(f"DROP INDEX IF EXISTS {GIN_INDEX}")


class Migration(migrations.Migration):
    dependencies = [
        ("conversations", "0005_conversation_remote_updated_at"),
    ]

    operations = [
        migrations.AddField(
            model_name="message",
            name="search_vector",
            field=SearchVectorField(editable=False, null=True),
        ),
        migrations.RunPython(search_index_create, search_index_drop),
    ]
