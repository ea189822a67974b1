"""Why one attempt at a model call failed, and whether trying again may help."""

from __future__ import annotations


class AttemptError(Exception):
    """One failed attempt. `retryable`: 429, 5xx, timeouts, dropped connections, bad bodies."""

    def __init__(
        self, message: str, *, retryable: bool, retry_after: float | None = None, status: int | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.retry_after = retry_after
        self.status = status


def retryable_status(status: int) -> bool:
    """408 (timeout), 409 (conflict), 429 (rate limit) and every 5xx are worth retrying."""
    return status in (408, 409, 429) or status >= 500


def parse_retry_after(headers: object) -> float | None:
    """Seconds to wait from `retry-after-ms` or `Retry-After` (seconds or an HTTP date)."""
    get = getattr(headers, "get", None)
    if get is None:
        return None
    ms = get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    value = get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    from email.utils import parsedate_to_datetime

    try:
        import time

        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None
