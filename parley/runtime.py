"""What every component of a running Parley shares, built once by the app's
lifespan (``parley/app.py``) and handed to components when they are made.

Frozen: nothing is added to it after start-up, and no component finds another
through it; a component that needs another receives it at construction.
"""

from dataclasses import dataclass

from parley.config import Settings
from parley.events.bus import Bus
from parley.health import Health
from parley.store import Store
from parley.vault import Vault
from parley.webhooks.prehook import PreHooks


@dataclass(frozen=True, slots=True)
class Runtime:
    settings: Settings
    store: Store
    bus: Bus  # committed events and ephemeral signals, across processes with Redis
    health: Health  # dependencies' states, served by /readyz
    prehooks: PreHooks  # the synchronous pre-event caller for client actions
    vault: Vault  # push credentials' secrets

    @property
    def base_url(self) -> str:
        return self.settings.base_url
