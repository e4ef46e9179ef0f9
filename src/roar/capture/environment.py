"""Secrets kept out of what a job's record shows: its environment variables (redacted as
they are recorded) and its command line (redacted where it leaves the machine: exports)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

__all__ = ["REDACTED", "redact_command", "redact_environment"]

REDACTED = "<redacted>"
_SECRET_NAME = re.compile(
    r"(TOKEN|SECRET|PASSW(OR)?D|PASSPHRASE|CREDENTIAL|API_?KEY|ACCESS_?KEY|PRIVATE|AUTH(?!OR)|"
    r"COOKIE|SESSION|WEBHOOK|_KEY$|^KEY$|_PAT$|DSN$)",
    re.IGNORECASE,
)
# The scheme's letters spelled out, not re.I: a case-blind class costs a millisecond to
# compile, on every `roar run`.
_URL_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^:/@\s]+:)[^@/\s]+(?P<tail>@)")
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


#: `--api-key=...`, `-password=...`, `TOKEN=...` (an assignment for `env` or a shell).
_OPTION = re.compile(r"(?P<name>-{0,2}[A-Za-z_][A-Za-z0-9_.-]*)=")


def _secret_option(name: str) -> bool:
    """An option or variable named like a secret (`--api-key`, `--hf_token`, `PASSWORD`)."""
    return bool(_SECRET_NAME.search(name.lstrip("-").replace("-", "_")))


def _masked(arg: str) -> str:
    masked = _URL_PASSWORD.sub(r"\g<head>***\g<tail>", arg)
    return _URL_QUERY_SECRET.sub(r"\g<head>***", masked)


def redact_command(argv: Sequence[str]) -> list[str]:
    """The command line with the values of secret-named options (`--token X`,
    `--api-key=X`, `TOKEN=X`) hidden and URL credentials masked. The record keeps the
    command as it ran, since a reproduction must run it again; this is for what leaves
    the machine."""
    safe: list[str] = []
    hide_next = False
    for arg in argv:
        if hide_next and not arg.startswith("-"):
            safe.append(REDACTED)
            hide_next = False
            continue
        hide_next = False
        option = _OPTION.match(arg)
        if option is not None and _secret_option(option["name"]):
            safe.append(f"{option['name']}={REDACTED}")
        elif arg.startswith("-") and _secret_option(arg):
            safe.append(arg)
            hide_next = True  # `--token VALUE`: the value is the next argument
        else:
            safe.append(_masked(arg))
    return safe
