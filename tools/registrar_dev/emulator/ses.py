"""SES (API v2) as the approver e-mails use it: what SendEmail sent, readable over HTTP.

Departures corrected (docs/sagemaker.md#departures-corrected):

18. Sent e-mails. moto's SES v2 ``SendEmail`` sends nothing: it keeps each message in the SES v1 backend of the
    account and region (``sent_messages``: source, destinations, subject, body), a Python object no client can
    read. :func:`with_sent_emails` serves them at ``GET <endpoint>/registrar-emulator/ses/sent-emails``
    (``?account=&region=``), oldest first, one entry per recipient (``to``, ``from``, ``subject``, ``body``,
    ``message_id``), the way SES delivers one message to each address; the emulator's reset empties them.
    What moto keeps is what is served: of a ``Simple`` message with both bodies, moto keeps the HTML alone
    (registrar sends text alone), and it drops the charset and any header.

Kept as moto does it, and as SES does: SendEmail from an address that is not a verified identity, nor of a
verified domain, is refused (``MessageRejected``). Not emulated: the SES sandbox (in AWS, a sandboxed account
may only send to verified recipients), sending quotas, and the identity's verification itself (moto's identities
are verified at once; in AWS an address is verified by the link SES e-mails to it, a domain through DNS).
"""

from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import Callable
from typing import Any

from registrar_dev.emulator.server import ACCOUNT_ID, REGION

SENT_EMAILS_PATH = "/registrar-emulator/ses/sent-emails"


def sent_emails(account: str, region: str) -> list[dict[str, str]]:
    """Every e-mail SES (v1 or v2) sent in ``account``/``region``, one entry per recipient, oldest first."""
    from moto.ses.models import ses_backends

    backend = ses_backends[account][region]
    found: list[dict[str, str]] = []
    for message in backend.sent_messages:
        destinations = getattr(message, "destinations", None)
        if not isinstance(destinations, dict):
            continue  # a raw or templated message: not what registrar sends
        for addresses in destinations.values():
            for address in addresses:
                found.append(
                    {
                        "to": address,
                        "from": str(message.source),
                        "subject": str(getattr(message, "subject", "")),
                        "body": str(getattr(message, "body", "")),
                        "message_id": str(message.id),
                    }
                )
    return found


def with_sent_emails(app: Callable[..., Any]) -> Callable[..., Any]:
    """moto's WSGI application, answering ``GET`` :data:`SENT_EMAILS_PATH` (``?account=&region=``) with JSON."""

    def inspecting(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if environ.get("PATH_INFO") != SENT_EMAILS_PATH:
            return app(environ, start_response)
        query = urllib.parse.parse_qs(environ.get("QUERY_STRING", ""))
        account = query.get("account", [ACCOUNT_ID])[0]
        region = query.get("region", [REGION])[0]
        payload: Any
        if environ.get("REQUEST_METHOD") != "GET":
            status, payload = "405 Method Not Allowed", {"message": "GET only"}
        elif not re.fullmatch(r"\d{12}", account) or not re.fullmatch(r"[a-z]{2}(-[a-z]+)+-\d", region):
            status, payload = "400 Bad Request", {"message": f"not an account and a region: {account}, {region}"}
        else:
            try:
                status, payload = "200 OK", sent_emails(account, region)
            except KeyError:  # a region moto does not know
                status, payload = "400 Bad Request", {"message": f"unknown region: {region}"}
        body = json.dumps(payload).encode()
        start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]

    return inspecting
