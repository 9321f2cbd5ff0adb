"""Injected failures for API requests: random shares of bad answers, or a scripted queue of them."""

from __future__ import annotations

import random
import threading
from collections import deque
from dataclasses import asdict, dataclass
from typing import Any

from .errors import ApiError, field_error

_RATE_KEYS = ("rate_429", "rate_500", "rate_503", "rate_drop", "rate_slow")
_ALLOWED_KEYS = frozenset(
    {*_RATE_KEYS, "retry_after", "slow_seconds", "drop_after_processing", "paths", "seed", "next", "include_token"}
)
_STEP_KEYS = frozenset({"status", "retry_after", "drop", "after_processing", "delay"})


@dataclass(frozen=True)
class Fault:
    """What to do to one request instead of (or on top of) answering it normally."""

    status: int | None = None
    retry_after: float | None = None
    drop: bool = False
    after_processing: bool = False
    delay: float = 0.0

    def describe(self) -> str:
        parts = []
        if self.status is not None:
            parts.append(f"status {self.status}")
        if self.drop:
            parts.append("drop after processing" if self.after_processing else "drop before processing")
        if self.delay:
            parts.append(f"delay {self.delay:g}s")
        return ", ".join(parts)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _number(spec: dict[str, Any], key: str, errors: list[dict[str, str]], *, maximum: float | None = None) -> float:
    value = spec.get(key, 0)
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or value < 0
        or (maximum is not None and value > maximum)
    ):
        bound = f"from 0 to {maximum:g}" if maximum is not None else "of at least 0"
        errors.append(field_error(key, f"Must be a number {bound}.", "invalid"))
        return 0.0
    return float(value)


def _parse_step(index: int, step: Any, errors: list[dict[str, str]]) -> Fault | None:
    field = f"next[{index}]"
    if not isinstance(step, dict) or not step or set(step) - _STEP_KEYS:
        errors.append(field_error(field, f"Each step is an object with keys among {sorted(_STEP_KEYS)}.", "invalid"))
        return None
    status = step.get("status")
    if status is not None and (isinstance(status, bool) or not isinstance(status, int) or not 400 <= status <= 599):
        errors.append(field_error(field, "status must be an HTTP error status (400-599).", "invalid"))
        return None
    local: list[dict[str, str]] = []
    retry_after = _number(step, "retry_after", local) if "retry_after" in step else None
    delay = _number(step, "delay", local)
    if local or (status is not None and step.get("drop")):
        errors.append(
            field_error(field, "Invalid step (numbers must be >= 0; status and drop exclude each other).", "invalid")
        )
        return None
    return Fault(
        status=status,
        retry_after=retry_after,
        drop=bool(step.get("drop", False)),
        after_processing=bool(step.get("after_processing", False)),
        delay=delay,
    )


class FaultPlan:
    """The faults in force; ``draw`` decides the fate of each matching request, thread-safely."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._spec: dict[str, Any] = {}
        self._script: deque[Fault] = deque()
        self._rng = random.Random()

    def configure(self, spec: Any) -> None:
        """Replaces the current faults with ``spec`` (the ``POST /_sandbox/faults`` body)."""
        if not isinstance(spec, dict):
            raise ApiError(400, "The faults must be a JSON object")
        errors = [field_error(key, "Unknown fault setting.", "unknown") for key in spec if key not in _ALLOWED_KEYS]
        rates = {key: _number(spec, key, errors, maximum=1) for key in _RATE_KEYS}
        if sum(rates[key] for key in ("rate_429", "rate_500", "rate_503", "rate_drop")) > 1:
            errors.append(
                field_error("rate_429", "rate_429 + rate_500 + rate_503 + rate_drop must not exceed 1.", "invalid")
            )
        _number(spec, "slow_seconds", errors)
        if "retry_after" in spec:
            _number(spec, "retry_after", errors)
        paths = spec.get("paths")
        if paths is not None and (not isinstance(paths, list) or not all(isinstance(p, str) and p for p in paths)):
            errors.append(field_error("paths", "Must be a list of path suffixes.", "invalid"))
        seed = spec.get("seed")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int | str)):
            errors.append(field_error("seed", "Must be an integer or a string.", "invalid"))
        steps = spec.get("next", [])
        if not isinstance(steps, list):
            errors.append(field_error("next", "Must be a list of steps.", "invalid"))
            steps = []
        script = [_parse_step(index, step, errors) for index, step in enumerate(steps)]
        if errors:
            raise ApiError(400, "Invalid fault settings", errors)
        with self._lock:
            self._spec = dict(spec)
            self._script = deque(fault for fault in script if fault is not None)
            self._rng = random.Random(seed)

    def clear(self) -> None:
        with self._lock:
            self._spec = {}
            self._script.clear()

    def describe(self) -> dict[str, Any]:
        with self._lock:
            return {**self._spec, "next": [fault.as_dict() for fault in self._script]}

    def _applies_to(self, path: str, is_token: bool) -> bool:
        if is_token and not self._spec.get("include_token"):
            return False
        paths = self._spec.get("paths")
        return not paths or any(path.endswith(suffix) for suffix in paths)

    def draw(self, path: str, *, is_token: bool = False) -> Fault | None:
        """The fault for this request, if any: the next scripted step first, else a random draw."""
        with self._lock:
            if not self._spec or not self._applies_to(path, is_token):
                return None
            if self._script:
                return self._script.popleft()
            return self._draw_random()

    def _draw_random(self) -> Fault | None:
        spec = self._spec
        roll = self._rng.random()
        status: int | None = None
        drop = False
        for key, outcome in (("rate_429", 429), ("rate_500", 500), ("rate_503", 503), ("rate_drop", 0)):
            share = float(spec.get(key, 0))
            if roll < share:
                status, drop = (None, True) if outcome == 0 else (outcome, False)
                break
            roll -= share
        # Slowness is drawn on its own, so a slow answer can also be a failed one.
        slow = bool(spec.get("rate_slow")) and self._rng.random() < float(spec["rate_slow"])
        if status is None and not drop and not slow:
            return None
        retry_after = spec.get("retry_after") if status in (429, 503) else None
        return Fault(
            status=status,
            retry_after=retry_after,
            drop=drop,
            after_processing=drop and bool(spec.get("drop_after_processing", False)),
            delay=float(spec.get("slow_seconds", 0)) if slow else 0.0,
        )
