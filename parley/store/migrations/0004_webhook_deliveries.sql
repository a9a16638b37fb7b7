-- Webhook delivery bookkeeping (issue #5, docs/behaviour.md §W5). One row per
-- (event, target) is planned in the transaction that recorded the event, so a
-- committed event always has its deliveries, and a rolled-back one has none.
--
-- `lane` is the ordering unit: one target (the service's post-event URL or one
-- channel webhook) and one channel (or the service, for user events). A lane
-- is claimed by one process at a time through a lease (`claimed_by`,
-- `lease_until`, compare-and-set UPDATE: portable, no engine-specific locking);
-- a dead process's lane becomes claimable again when its lease expires.

CREATE TABLE webhook_lanes (
    lane TEXT PRIMARY KEY,
    pending INTEGER NOT NULL,
    next_at BIGINT NOT NULL,
    claimed_by TEXT,
    lease_until BIGINT
);
CREATE INDEX webhook_lanes_ready ON webhook_lanes (pending, next_at);

CREATE TABLE webhook_deliveries (
    seq {{pk}},
    lane TEXT NOT NULL,
    event_seq BIGINT NOT NULL,
    kind TEXT NOT NULL,
    account_sid TEXT NOT NULL,
    service_sid TEXT,
    channel_sid TEXT,
    webhook_sid TEXT,
    webhook_type TEXT,
    url TEXT NOT NULL,
    method TEXT NOT NULL,
    max_retries INTEGER NOT NULL,
    token TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at BIGINT NOT NULL,
    last_status INTEGER,
    last_error TEXT,
    date_created BIGINT NOT NULL,
    date_updated BIGINT
);
CREATE INDEX webhook_deliveries_lane ON webhook_deliveries (lane, state, seq);
CREATE INDEX webhook_deliveries_state ON webhook_deliveries (state, account_sid, seq);

CREATE TABLE webhook_attempts (
    seq {{pk}},
    delivery_seq BIGINT NOT NULL,
    event_seq BIGINT NOT NULL,
    account_sid TEXT NOT NULL,
    kind TEXT NOT NULL,
    url TEXT NOT NULL,
    retry_count INTEGER NOT NULL,
    worker TEXT NOT NULL,
    status INTEGER,
    error TEXT,
    latency_ms DOUBLE PRECISION,
    date_created BIGINT NOT NULL,
    date_updated BIGINT
);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_seq, seq);
