"""Storage: one interface (``base.Store``), two engines, generic SQL written once."""

from parley.store.base import Row, Store, StoreUnavailable, Tx, UniqueViolation

__all__ = ["Row", "Store", "StoreUnavailable", "Tx", "UniqueViolation", "open_store"]


async def open_store(url: str) -> Store:
    """Open and migrate the store named by a database URL.

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
    return store
