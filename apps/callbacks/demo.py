"""`make run` on the stand-in: a demo queue that may be rung at any hour, so a demo at night still rings.

Real queues start from the defaults (09:00–20:00, Monday to Saturday, in each destination's own time);
the demo queue's row is an ordinary Queue limit a supervisor can edit like any other.
"""

from __future__ import annotations

import datetime as dt

from apps.cx.models import Tenant

from .models import WEEKDAYS, QueueLimit

DEMO_QUEUE = "support"


def prepare_demo(tenant: Tenant) -> list[str]:
    """Makes the demo queue's limits (once; later edits are kept); returns lines for the banner."""
    limit, _ = QueueLimit.objects.get_or_create(
        tenant=tenant,
        queue_name=DEMO_QUEUE,
        defaults={
            "calls_per_minute": 60,
            "max_in_flight": 5,
            "hours_start": dt.time(0),
            "hours_end": dt.time(0),
            "days": ",".join(WEEKDAYS),
        },
    )
    return [
        f"  Callbacks:         queue “{limit.queue_name}”, {limit.calls_per_minute}/min; "
        "try samples/callbacks.csv in Callback batches → Add"
    ]
