"""A changelist paginator that stops counting at a cap: a list of a million rows says "more than 1000".

Django's changelist counts every row its filters and search select, for the paginator, on every page. That
count grows with the table while the page itself (the newest 100 rows, walked along an index) does not: at
100,000 conversations the count was the slowest query of a search. Nobody pages past the hundredth page;
they narrow the search. So the count is taken over at most ``cap + 1`` rows and the pages offered end there.
"""

from __future__ import annotations

from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.utils.functional import cached_property

COUNT_CAP = 1_000


class CappedCountPaginator(Paginator):
    """``count`` is exact up to ``cap``; above it, ``cap`` with ``capped`` set (the templates say "more than")."""

    cap = COUNT_CAP
    capped = False

    @cached_property
    def count(self) -> int:
        object_list = self.object_list
        if not isinstance(object_list, QuerySet):  # a plain list: its length costs nothing
            return len(object_list)
        # COUNT(*) over a LIMITed subquery: the database stops at the first cap + 1 rows it finds. Only the
        # key is selected, so annotations made for the page (a search's snippets) are not computed for them.
        found = object_list.order_by().values("pk")[: self.cap + 1].count()
        self.capped = found > self.cap
        return min(found, self.cap)
