"""Contact writes: creating a customer's contact and pushing it to the CX API; mirroring what the platform says.

``contact_upsert_from_remote`` is the one place a contact the platform describes (an event, a
conversation's sender) is written, whoever read it.
"""

from __future__ import annotations

from apps.cx.client import Actor, CxClient
from apps.cx.mirror import (
    changed_fields,
    mirror_get_or_create,
    remote_object_push,
    says_nothing_new,
    synced_fields,
    update_fields,
)
from apps.cx.models import AuditAction, SyncSource, Tenant
from apps.cx.validation import check_email, contact_phone
from apps.inboxes.models import Inbox

from .models import Contact
from .parsing import ContactPayload


def contact_create(*, tenant: Tenant, actor: Actor, name: str, email: str, phone_number: str, inbox: Inbox) -> Contact:
    """Saves the contact first so a remote refusal leaves it visible with the API's reason."""
    if not inbox.remote_id:
        raise ValueError("The inbox must exist remotely before a contact can be created in it.")
    email = check_email(email)
    # Not dialled: any number the platform takes (see contact_phone); a callback checks it strictly itself.
    phone_number = contact_phone(phone_number, default_region=tenant.default_region).number
    contact = Contact.objects.create(tenant=tenant, name=name, email=email, phone_number=phone_number, inbox=inbox)
    client = CxClient(tenant, actor=actor)
    remote_object_push(
        contact,
        actor=actor,
        action=AuditAction.CREATE_CONTACT,
        create=lambda: client.create_contact(
            name=name, email=email, phone_number=phone_number, inbox_id=str(inbox.remote_id)
        ),
    )
    return contact


def contact_upsert_from_remote(*, tenant: Tenant, payload: ContactPayload, source: str = SyncSource.WEBHOOK) -> Contact:
    """The contact ``payload`` describes, created or filled in; keyed by the vendor's id, so the same payload
    twice leaves one row. Blanks and unreadable values are not in ``payload.fields``: they never erase what
    the console knows."""
    synced = synced_fields(payload.raw, source=source)
    contact, created = mirror_get_or_create(
        Contact.objects.all(), tenant=tenant, remote_id=payload.remote_id, defaults={**payload.fields, **synced}
    )
    if not created and not says_nothing_new(contact, payload.fields):
        update_fields(contact, {**changed_fields(contact, payload.fields), **synced})
    return contact
