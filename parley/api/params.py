"""Parameters shared by the conversation resources, declared once.

Limits and codes from docs/behaviour.md §L3 and §C8.3.
"""

from parley.api.table import Kind, Param
from parley.domain import limits


def attributes() -> Param:
    """``Attributes``: JSON text (50304), at most 16,384 characters (50303).
    An empty value clears it (docs/decisions.md §15)."""
    return Param(
        "Attributes",
        "attributes",
        Kind.JSON,
        max_len=limits.ATTRIBUTES_MAX,
        len_code=50303,
        nullable=True,
    )


def date_created() -> Param:
    return Param("DateCreated", "date_created", Kind.DATE, code=50308)


def date_updated() -> Param:
    return Param("DateUpdated", "date_updated", Kind.DATE, code=50309)


def identity(wire: str = "Identity", required: bool = True) -> Param:
    return Param(wire, "identity", required=required, max_len=limits.IDENTITY_MAX, len_code=50207)


def identities() -> Param:
    """The repeated ``Identity`` list filter."""
    return Param("Identity", "identity", many=True)


def role(code: int = 50101) -> Param:
    return Param("RoleSid", "role_sid", Kind.SID, prefix="RL", code=code)


def horizon() -> tuple[Param, Param]:
    """The consumption horizon, written through members and user channels alike
    (docs/behaviour.md §R4, §R9): an empty index (twilio-node's null) resets it; a
    negative one is 50406; a bad timestamp 50405."""
    return (
        Param(
            "LastConsumedMessageIndex",
            "last_consumed_message_index",
            Kind.INT,
            lo=0,
            code=50406,
            nullable=True,
        ),
        Param("LastConsumptionTimestamp", "last_consumption_timestamp", Kind.DATE, code=50405),
    )
