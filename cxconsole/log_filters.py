"""Logging filters: a refused or missing page is logged as one line, never with a traceback."""

from __future__ import annotations

import logging


class OneLineRefusals(logging.Filter):
    """Django's request logger passes the PermissionDenied (or Http404) to every 4xx line it writes, so each
    refusal printed a full traceback. A 4xx is the console answering as designed: keep the line (path,
    status) and the reason it was refused, drop the traceback. 5xx records keep theirs."""

    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "status_code", None)
        if isinstance(status, int) and 400 <= status < 500 and record.exc_info:
            error = record.exc_info[1]
            reason = error.args[0] if error is not None and error.args else None
            if isinstance(reason, str) and reason and isinstance(record.args, tuple):
                record.msg = f"{record.msg} (%s)"
                record.args = (*record.args, reason.encode("unicode_escape").decode("ascii"))
            record.exc_info = None
            record.exc_text = None
        return True
