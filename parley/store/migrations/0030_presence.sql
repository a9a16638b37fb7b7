-- Presence (issue 15, docs/realtime-protocol.md "Presence across processes"):
-- one row per connected socket or simulated client connection, on whichever
-- process holds it. A user is reachable while any of its rows is live; each
-- process renews its rows' `expires` with a heartbeat, so the rows of a
-- process that died expire and any other process marks their users offline.
-- `kind` is 'socket' or 'simulated'; `expires` is in microseconds.

CREATE TABLE presence (
    connection TEXT PRIMARY KEY,
    node TEXT NOT NULL,
    kind TEXT NOT NULL,
    account_sid TEXT NOT NULL,
    service_sid TEXT NOT NULL,
    identity TEXT NOT NULL,
    expires BIGINT NOT NULL
);
CREATE INDEX presence_user ON presence (service_sid, identity);
CREATE INDEX presence_node ON presence (node);
CREATE INDEX presence_expires ON presence (expires);
