"""Environment variables of a job, with anything that looks like a secret redacted."""

from __future__ import annotations

import re
from collections.abc import Mapping

__all__ = ["REDACTED", "redact_environment"]

REDACTED = "<redacted>"
_SECRET_NAME = re.compile(
    r"(TOKEN|SECRET|PASSW(OR)?D|PASSPHRASE|CREDENTIAL|API_?KEY|ACCESS_?KEY|PRIVATE|AUTH|"
    r"COOKIE|SESSION|_KEY$|^KEY$|_PAT$|DSN$)",
    re.IGNORECASE,
)
_URL_PASSWORD = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^:/@\s]+:)[^@/\s]+(?P<tail>@)", re.I)


def redact_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """A copy safe to store: secret-named variables hidden, passwords in URLs masked."""
    safe: dict[str, str] = {}
    for name, value in sorted(environ.items()):
        if _SECRET_NAME.search(name):
            safe[name] = REDACTED
        else:
            safe[name] = _URL_PASSWORD.sub(r"\g<head>***\g<tail>", value)
    return safe
