-- Parley schema, version 5: the Sync view the real-time clients read
-- (docs/realtime-protocol.md §6-§7): maps, lists and documents, their items, and a
-- per-object, gap-free event log that subscriptions replay from.
-- It is a projection of the domain events, written in the same transaction.

CREATE TABLE sync_objects (
    seq {{pk}},
    sid TEXT NOT NULL UNIQUE,
    account_sid TEXT NOT NULL,
    service_sid TEXT NOT NULL,
    type TEXT NOT NULL,
    unique_name TEXT NOT NULL,
    acl TEXT NOT NULL,
    last_event_id BIGINT NOT NULL DEFAULT 0,
    data TEXT,
    date_created BIGINT NOT NULL,
    date_updated BIGINT NOT NULL,
    UNIQUE (service_sid, type, unique_name)
);

CREATE TABLE sync_items (
    object_sid TEXT NOT NULL,
    item_key TEXT NOT NULL,
    item_index BIGINT NOT NULL,
    data TEXT NOT NULL,
    last_event_id BIGINT NOT NULL,
    date_created BIGINT NOT NULL,
    date_updated BIGINT NOT NULL,
    PRIMARY KEY (object_sid, item_key)
);
CREATE INDEX sync_items_index ON sync_items (object_sid, item_index);
CREATE INDEX sync_items_key ON sync_items (item_key);

CREATE TABLE sync_events (
    object_sid TEXT NOT NULL,
    event_id BIGINT NOT NULL,
    cause_seq BIGINT NOT NULL,
    event_type TEXT NOT NULL,
    event TEXT NOT NULL,
    date_created BIGINT NOT NULL,
    PRIMARY KEY (object_sid, event_id)
);
CREATE INDEX sync_events_cause ON sync_events (cause_seq);
