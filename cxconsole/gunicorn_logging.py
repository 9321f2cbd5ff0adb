"""Gunicorn's access log without secrets: inbound event URLs carry one (/hooks/<kind>/<secret>/)."""

from __future__ import annotations

from typing import Any

from gunicorn.glogging import Logger

from apps.cx.redaction import redact_text


class RedactingLogger(Logger):
    def atoms(self, resp: Any, req: Any, environ: Any, request_time: Any) -> dict[str, Any]:
        atoms = super().atoms(resp, req, environ, request_time)
        for key in ("r", "U", "f", "{raw_uri}e"):
            if isinstance(atoms.get(key), str):
                atoms[key] = redact_text(atoms[key])
        return atoms
