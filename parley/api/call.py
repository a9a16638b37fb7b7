"""What a handler receives: the caller, the decoded request, and its transaction."""

from dataclasses import dataclass, field
from typing import Any

from parley.api.codec import PageRequest
from parley.errors import TwilioError, not_found
from parley.events import Origin
from parley.store import Row, Tx, repo
from parley.vault import Vault


@dataclass(slots=True)
class Call:
    account_sid: str
    path: str  # as the client spelled it (for 20404 messages)
    path_params: dict[str, str]
    values: dict[str, Any]
    tx: Tx
    page: PageRequest | None = None
    webhooks: bool = False  # X-Twilio-Webhook-Enabled: true
    loaded: dict[str, Row] = field(default_factory=dict)
    vault: Vault = field(default_factory=lambda: Vault(None))  # credential secrets

    @property
    def origin(self) -> Origin:
        return Origin("api", self.webhooks)

    def not_found(self) -> TwilioError:
        return not_found(self.path)

    async def listing(
        self,
        table: str,
        where: dict[str, Any],
        *,
        any_of: dict[str, list[Any]] | None = None,
        column: str = "seq",
        descending: bool = False,
        within: tuple[str, str, dict[str, Any]] | None = None,
    ) -> list[Row]:
        """The rows of the requested page (keyset), plus one that says "more";
        ``within``: of a parent row found by the same statement (``repo.page``)."""
        assert self.page is not None, "listing() is for list operations"
        return await repo.page(
            self.tx,
            table,
            where,
            any_of=any_of,
            column=column,
            descending=descending,
            after=self.page.after,
            before=self.page.before,
            limit=self.page.size + 1,
            within=within,
        )
