"""Environment variables of a job, with anything that looks like a secret redacted."""

from __future__ import annotations

import re
from collections.abc import Mapping

__all__ = ["REDACTED", "redact_environment"]

REDACTED = "<redacted>"
_SECRET_NAME = re.compile(
    r"(TOKEN|SECRET|PASSW(OR)?D|PASSPHRASE|CREDENTIAL|API_?KEY|ACCESS_?KEY|PRIVATE|AUTH|"
    r"COOKIE|SESSION|WEBHOOK|_KEY$|^KEY$|_PAT$|DSN$)",
    re.IGNORECASE,
)
_URL_PASSWORD = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^:/@\s]+:)[^@/\s]+(?P<tail>@)", re.I)
#: A query parameter that carries a credential: a presigned S3 URL's X-Amz-Signature and
#: X-Amz-Credential, an Azure SAS token's sig, `?token=`, `?api_key=`.
_URL_QUERY_SECRET = re.compile(
    r"(?P<head>[?&][^=&#\s]*(?:token|sig|signature|secret|key|password|credential)"
    r"[^=&#\s]*=)[^&#\s]+",
    re.I,
)


def redact_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """A copy safe to store: secret-named variables hidden, passwords and credential
    query parameters in URLs masked."""
    safe: dict[str, str] = {}
    for name, value in sorted(environ.items()):
        if _SECRET_NAME.search(name):
            safe[name] = REDACTED
        else:
            masked = _URL_PASSWORD.sub(r"\g<head>***\g<tail>", value)
            safe[name] = _URL_QUERY_SECRET.sub(r"\g<head>***", masked)
    return safe
