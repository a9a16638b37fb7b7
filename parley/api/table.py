"""Resource / Param / Field declarations: the single source of the REST shape.

Each resource module declares, once, its Twilio parameter names with their
Python (column) names, types, limits and error codes (``Param``), and its JSON
fields (``Field``). Parsing (``codec.decode``), rendering (``Resource.render``)
and paging (``codec.page_body``) all come from these declarations, and
``tests/test_spec.py`` checks them against Twilio's OpenAPI spec.
"""

import operator
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any, Literal

import orjson

from parley import timefmt

if TYPE_CHECKING:
    from parley.api.call import Call

Row = dict[str, Any]


class Kind(Enum):
    STR = "string"
    INT = "integer"
    BOOL = "boolean"
    DATE = "date-time"
    JSON = "json"  # a string that must parse as JSON (attributes)
    SID = "sid"
    ENUM = "enum"
    URL = "url"


@dataclass(frozen=True, slots=True)
class Param:
    """One Twilio request parameter (form body or query string).

    ``wire`` is the Twilio name (``Notifications.NewMessage.Enabled``), ``name``
    the Python name (the column it writes). ``code`` is the Twilio error code for
    an invalid value (20001 when Twilio has no dedicated one); ``len_code`` the
    code for a value over ``max_len``. ``nullable``: an empty value means null
    (docs/decisions.md §15); otherwise an empty value is ignored.
    ``refused_code``: for a URL, the code of a target Parley will not send to
    (docs/security.md, "Webhook targets"); ``code`` when unset.
    """

    wire: str
    name: str
    kind: Kind = Kind.STR
    required: bool = False
    many: bool = False
    choices: tuple[str, ...] = ()
    max_len: int | None = None
    lo: int | None = None
    hi: int | None = None
    prefix: str | None = None
    code: int = 20001
    len_code: int | None = None
    nullable: bool = False
    refused_code: int | None = None


Getter = Callable[[Row, str], Any]


@dataclass(frozen=True, slots=True)
class Field:
    """One JSON property: its snake_case key and how it is read from a row.

    The getter receives the row and the public base URL. ``column``: the
    value is that column's, as stored (``col``), which ``Resource.render``
    reads without calling the getter.
    """

    key: str
    get: Getter
    column: str | None = None


def col(key: str, column: str | None = None) -> Field:
    name = column or key
    return Field(key, lambda row, base: row[name], name)


def date(key: str) -> Field:
    return Field(key, lambda row, base: timefmt.to_twilio(row[key]))


def flag(key: str, column: str | None = None) -> Field:
    name = column or key

    def get(row: Row, base: str) -> bool | None:
        value = row[name]
        return None if value is None else bool(value)

    return Field(key, get)


def json_list(key: str, column: str | None = None) -> Field:
    name = column or key

    def get(row: Row, base: str) -> Any:
        value = row[name]
        return None if value is None else orjson.loads(value)

    return Field(key, get)


def attributes(key: str = "attributes") -> Field:
    """JSON-in-a-string, ``"{}"`` when never set (docs/decisions.md §2)."""
    return Field(key, lambda row, base: row[key] if row[key] is not None else "{}")


def href(template: str, base: str, row: Mapping[str, Any]) -> str:
    return f"{base}/v2{template.format_map(row)}"


def url(template: str, key: str = "url") -> Field:
    return Field(key, lambda row, base: href(template, base, row))


def links(templates: Mapping[str, str]) -> Field:
    items = tuple(templates.items())
    return Field("links", lambda row, base: {k: href(t, base, row) for k, t in items})


@dataclass(frozen=True, slots=True)
class Resource:
    """A Twilio resource: its list key, page sizes and JSON fields."""

    name: str
    key: str
    fields: tuple[Field, ...]
    page_size: int = 50
    max_page_size: int = 100
    cursor: str = "seq"  # the keyset column lists page on
    # how render reads ``fields``: every key in order (a template to copy),
    # the plain columns' keys and one C-level getter of their values, and
    # the computed fields; a Python call per plain field was a fifth of a
    # page's rendering (README, "What profiling found and fixed")
    _template: dict[str, None] = field(init=False, repr=False, compare=False)
    _plain: tuple[str, ...] = field(init=False, repr=False, compare=False)
    _pick: Callable[[Row], tuple[Any, ...]] = field(init=False, repr=False, compare=False)
    _computed: tuple[tuple[str, Getter], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        plain = [(f.key, f.column) for f in self.fields if f.column is not None]
        columns = [column for _, column in plain]
        pick: Callable[[Row], tuple[Any, ...]]
        if len(columns) > 1:
            pick = operator.itemgetter(*columns)
        else:
            pick = lambda row: tuple(row[c] for c in columns)  # noqa: E731
        computed = tuple((f.key, f.get) for f in self.fields if f.column is None)
        object.__setattr__(self, "_template", dict.fromkeys(f.key for f in self.fields))
        object.__setattr__(self, "_plain", tuple(key for key, _ in plain))
        object.__setattr__(self, "_pick", pick)
        object.__setattr__(self, "_computed", computed)

    def render(self, row: Row, base: str) -> dict[str, Any]:
        out = self._template.copy()  # the keys in their declared order
        out.update(zip(self._plain, self._pick(row)))  # noqa: B905 (same lengths)
        for key, get in self._computed:
            out[key] = get(row, base)
        return out


Verb = Literal["create", "fetch", "update", "delete", "list"]
Handler = Callable[["Call"], Awaitable[Any]]

STATUS: dict[Verb, int] = {"create": 201, "fetch": 200, "update": 200, "delete": 204, "list": 200}
METHOD: dict[Verb, str] = {
    "create": "POST",
    "fetch": "GET",
    "update": "POST",
    "delete": "DELETE",
    "list": "GET",
}


@dataclass(frozen=True, slots=True)
class Operation:
    """One route: a verb on a spec path, its parameters and its handler.

    ``path`` is spelled exactly as in Twilio's spec (``/v2/Services/{ServiceSid}/Channels``),
    which is what lets ``test_spec.py`` and the coverage table compare the two.
    A list handler returns the rows of one page (``limit`` + 1 at most); the
    others return a row (or None for delete).
    """

    verb: Verb
    path: str
    resource: Resource
    handler: Handler
    params: tuple[Param, ...] = ()
    id: str = field(default="")

    @property
    def method(self) -> str:
        return METHOD[self.verb]

    @property
    def status(self) -> int:
        return STATUS[self.verb]

    @property
    def writes(self) -> bool:
        return self.verb in ("create", "update", "delete")
