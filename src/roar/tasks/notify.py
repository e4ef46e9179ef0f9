"""Tell a chat channel that a task finished or failed (a Slack-compatible incoming webhook).

Posted only when `notify.enabled` is true; the body is `{"text": ...}`, which Slack,
Mattermost, Rocket.Chat and Discord's `/slack` endpoints all accept. Delivery is best
effort: any failure becomes a warning for the caller to print, never an error.
"""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.parse
import urllib.request

from roar.config import Config

__all__ = ["TIMEOUT_S", "notify"]

TIMEOUT_S = 5.0


def _where(url: str) -> str:
    """scheme://host only: a webhook's path is its secret."""
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def notify(config: Config, text: str) -> str | None:
    """Post `text` when notifications are on; a warning when that did not work."""
    if not config.flag("notify.enabled"):
        return None
    url = config.get("notify.url")
    if not isinstance(url, str):
        return (
            "notify.enabled is true but notify.url is not set; "
            "`roar config set notify.url https://hooks.slack.com/services/...`"
        )
    body = json.dumps({"text": text}).encode("utf-8")
    request = urllib.request.Request(
        url, data=body, headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
            response.read()
    except urllib.error.HTTPError as exc:
        exc.close()
        return f"could not notify {_where(url)}: HTTP {exc.code} {exc.reason}"
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return f"could not notify {_where(url)}: {reason}"
    return None
