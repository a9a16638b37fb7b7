-- Fault injection for the test double (issue #10): "the next N webhook
-- deliveries of this account time out / answer this status". Kept in the
-- database, not in one process's memory, so whichever process's worker sends
-- the delivery applies the fault (several workers may share a database).
-- `status` NULL means a timeout; `url` is a prefix, `kind` an event type.

CREATE TABLE webhook_faults (
    seq {{pk}},
    account_sid TEXT NOT NULL,
    remaining INTEGER NOT NULL,
    status INTEGER,
    url TEXT,
    kind TEXT,
    date_created BIGINT NOT NULL
);
CREATE INDEX webhook_faults_account ON webhook_faults (account_sid, seq);
