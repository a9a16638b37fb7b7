"""Storage: one interface (``base.Store``), two engines, generic SQL written once."""

from collections.abc import Sequence

from parley.store.base import Projector, Row, Store, StoreUnavailable, Tx, UniqueViolation

__all__ = [
    "Projector",
    "Row",
    "Store",
    "StoreUnavailable",
    "Tx",
    "UniqueViolation",
    "open_store",
]


async def open_store(url: str, projectors: Sequence[Projector] = ()) -> Store:
    """Open and migrate the store named by a database URL; its write
    transactions run ``projectors`` on every event they record.

    ``sqlite:///path``, ``sqlite://`` (memory) and ``postgresql://…``.
    """
    if url.startswith("sqlite:"):
        from parley.store.sqlite import SqliteStore

        store: Store = SqliteStore.from_url(url)
    elif url.startswith(("postgresql:", "postgres:")):
        from parley.store.postgres import PostgresStore

        store = await PostgresStore.connect(url)
    else:
        raise ValueError(f"unsupported database URL: {url}")
    await store.migrate()
    store.projectors = tuple(projectors)
    return store
