-- Push delivery (issue 13, docs/push.md). A binding keeps the device's own
-- address (the registration id / device token the SDK registered) beside its
-- endpoint, which may be the token's endpoint_id; bindings registered before
-- this migration are addressed by their endpoint.
--
-- One `pushes` row per (event, binding) is planned in the transaction that
-- recorded the event, with the text already rendered, so a committed change
-- always has its pushes. Pushes are independent of one another (no order
-- between devices), so each row is claimed on its own through a lease
-- (`claimed_by`, `lease_until`, compare-and-set UPDATE as for webhook lanes);
-- a dead process's claims become claimable again when their lease expires.
-- Claims take turns across accounts (`pushes_ready` finds the accounts with
-- pending pushes, then each one's oldest), so one tenant's burst does not
-- hold back another's pushes.

ALTER TABLE bindings ADD COLUMN address TEXT;

CREATE TABLE pushes (
    seq {{pk}},
    event_seq BIGINT NOT NULL,
    kind TEXT NOT NULL,
    account_sid TEXT NOT NULL,
    service_sid TEXT NOT NULL,
    channel_sid TEXT,
    identity TEXT NOT NULL,
    binding_sid TEXT NOT NULL,
    binding_type TEXT NOT NULL,
    credential_sid TEXT,
    address TEXT NOT NULL,
    payload TEXT NOT NULL,
    log_enabled INTEGER NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at BIGINT NOT NULL,
    claimed_by TEXT,
    lease_until BIGINT,
    last_status INTEGER,
    last_error TEXT,
    date_created BIGINT NOT NULL,
    date_updated BIGINT
);
CREATE INDEX pushes_ready ON pushes (state, account_sid, next_at, seq);
CREATE INDEX pushes_account ON pushes (account_sid, seq);
