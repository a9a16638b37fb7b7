"""Errors are data: every Twilio error code Parley raises, with its HTTP status
and message template, in one table (docs/behaviour.md §C8).

Code raises ``TwilioError(code, **details)``; one renderer (``api.codec.error_body``)
turns it into ``{code, message, more_info, status}``. No handler builds an error body.
"""

from typing import Any, Final

MORE_INFO: Final = "https://www.twilio.com/docs/errors/{code}"

# code: (HTTP status, message template). Templates name their details.
ERRORS: Final[dict[int, tuple[int, str]]] = {
    20001: (400, "Invalid parameter {name}"),
    20003: (401, "Authenticate"),
    20004: (405, "Method not allowed"),
    # access tokens (docs/behaviour.md §P4.2; titles reconstructed there)
    20101: (401, "Invalid Access Token"),
    20102: (401, "Invalid Access Token header"),
    20103: (401, "Invalid Access Token issuer/subject"),
    20104: (401, "Access Token expired or expiration date invalid"),
    20105: (401, "Access Token not yet valid"),
    20106: (401, "Invalid Access Token grants"),
    20107: (401, "Invalid Access Token signature"),
    20403: (403, "Forbidden"),
    20404: (404, "The requested resource {path} was not found"),
    20429: (429, "Too Many Requests"),
    20500: (500, "Internal Server Error"),
    # the database is unreachable or locked (docs/security.md, "Faults")
    20503: (503, "Service unavailable: {detail}; retry later"),
    50003: (400, "Friendly name too long: at most {limit} characters"),
    50004: (400, "Unique Name too long: at most {limit} characters"),
    50052: (400, "Invalid consumption interval format: {value}"),
    50053: (400, "Invalid typing indicator format: {value}"),
    50054: (400, "Invalid webhook format: {name} {value}"),
    50055: (400, "Invalid webhook method: {value}"),
    50058: (400, "Notification template too long: at most {limit} characters"),
    50060: (400, "Invalid user channels limit format: {value} (1 to 1000)"),
    50061: (400, "Invalid channel members limit format: {value} (1 to 1000)"),
    50065: (400, "Invalid webhook retry count: {value} (0 to 3)"),
    # a webhook target Parley will not send to (docs/security.md, "Webhook targets")
    50077: (400, "Invalid pre-webhook url: {value} ({reason})"),
    50078: (400, "Invalid post-webhook url: {value} ({reason})"),
    50100: (400, "Role not found: {detail}"),
    50101: (400, "Channel role not found: {detail}"),
    50104: (400, "Permission not found: {value} is not a {kind} permission"),
    50105: (400, "Invalid role type: {value}"),
    50107: (403, "User not authorized for command"),
    50200: (400, "User not found: {identity}"),
    50201: (409, "User already exists: {identity}"),
    50203: (400, "Identity reserved: {identity}"),
    50206: (400, "Identity should not match user SID pattern: {identity}"),
    50207: (400, "Identity too long: at most {limit} characters"),
    50208: (403, "User channel limit exceeded: {limit}"),
    50209: (400, "Invalid binding type: {value}"),
    50210: (400, "Invalid notification level: {value}"),
    50212: (409, "User already invited: {identity}"),
    50300: (400, "Channel not found: {detail}"),
    50303: (400, "Attributes too long: at most {limit} characters"),
    50304: (400, "Attributes not valid JSON"),
    50306: (400, "Unique name should not match channel SID pattern: {value}"),
    50307: (409, "Channel with provided unique name already exists: {value}"),
    50308: (400, "Invalid Date Created parameter: {value}"),
    50309: (400, "Invalid Date Updated parameter: {value}"),
    50321: (403, "Too many channel webhooks: at most {limit} per channel"),
    50322: (400, "Too many channel webhook triggers: at most {limit}"),
    50325: (400, "Invalid channel webhook filter: {value}"),
    50326: (400, "Invalid channel webhook trigger: {value}"),
    50329: (400, "Channel webhook url not provided"),
    50330: (400, "Channel webhook filter not provided"),
    50400: (403, "User not member of channel"),
    50403: (403, "Channel member limit exceeded: {limit}"),
    50404: (409, "Member already exists: {identity}"),
    50405: (400, "Invalid last consumption timestamp format: {value}"),
    50406: (400, "Invalid last consumed message index format: {value}"),
    50504: (400, "Message body parameter is too long: at most {limit} characters"),
    50505: (400, "Last Updated By parameter is too long: at most {limit} characters"),
    50507: (400, "Media not found: {value}"),
    50508: (409, "Media already sent with another message: {value}"),
    50509: (400, "Media message body cannot be updated"),
    # Sync view (docs/realtime-protocol.md §6-§7; codes the twilio-sync SDK itself uses)
    54007: (403, "Access forbidden for identity {identity}"),
    54100: (404, "Document not found: {ident}"),
    54150: (404, "List not found: {ident}"),
    54151: (404, "List Item not found: {ident}"),
    54200: (404, "Map not found: {ident}"),
    54201: (404, "Map Item not found: {ident}"),
    54008: (400, "Invalid request body: {detail}"),
}

# Seconds a client is told to wait (Retry-After) before retrying a 503 or a 429.
RETRY_AFTER = 2
AUTH_CHALLENGE = (b"www-authenticate", b'Basic realm="Twilio API"')

# Messages that differ from the template when a detail says so.
_MISSING = "Missing required parameter {name} in the post body"
ROLE_IN_USE = "Role is in use: {detail}"


class TwilioError(Exception):
    """An error that reaches the client as Twilio's error body.

    ``TwilioError(20001, name="Identity", missing=True)`` renders the
    "Missing required parameter" message; other codes format their template
    with the keyword details. ``message`` overrides the template.
    """

    def __init__(self, code: int, message: str | None = None, **details: Any) -> None:
        status, template = ERRORS[code]
        if message is None:
            if code == 20001 and details.get("missing"):
                template = _MISSING
            message = template.format_map(_Lenient(details))
        super().__init__(message)
        self.code = code
        self.status = status
        self.message = message
        # the parameter at fault, when the error names one (the console shows
        # the message next to that field)
        name = details.get("name")
        self.param: str | None = name if isinstance(name, str) else None

    def headers(self) -> list[tuple[bytes, bytes]]:
        """HTTP headers that go with this error: the Basic challenge of a 401,
        Retry-After for a 503 or 429."""
        if self.code == 20003:
            return [AUTH_CHALLENGE]
        if self.status in (429, 503):
            return [(b"retry-after", str(RETRY_AFTER).encode())]
        return []

    def body(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "message": self.message,
            "more_info": MORE_INFO.format(code=self.code),
            "status": self.status,
        }


class _Lenient(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "?"


def not_found(path: str) -> TwilioError:
    """20404 naming the path as the client spelled it, without ``/v2`` (docs/behaviour.md §C8.1)."""
    if path.startswith("/v2/"):
        path = path[3:]
    return TwilioError(20404, path=path)


def missing(name: str) -> TwilioError:
    return TwilioError(20001, name=name, missing=True)


def invalid(name: str) -> TwilioError:
    return TwilioError(20001, name=name)


NUL = "NUL characters are not allowed"  # docs/security.md, "Bad input"


def has_nul(name: str) -> TwilioError:
    """20001 for a text parameter holding a NUL (PostgreSQL cannot store it)."""
    return TwilioError(20001, message=f"Invalid parameter {name}: {NUL}")
