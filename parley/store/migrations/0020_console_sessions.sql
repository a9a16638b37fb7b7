-- The web console's sign-ins (issue #14, docs/console.md). A session is found
-- by the SHA-256 of its cookie (the cookie itself is stored nowhere), and ends
-- at `expires` (microseconds) or at sign-out. `csrf` is the token every form of
-- the session must carry.

CREATE TABLE console_sessions (
    id TEXT PRIMARY KEY,
    account_sid TEXT NOT NULL,
    credential_sid TEXT NOT NULL,
    csrf TEXT NOT NULL,
    date_created BIGINT NOT NULL,
    expires BIGINT NOT NULL
);
CREATE INDEX console_sessions_expires ON console_sessions (expires);

-- Failed sign-ins per client address ("ip:…") and per Account or API key SID
-- ("sid:…"): after a few, each further attempt waits until `blocked_until`.
CREATE TABLE console_sign_in_failures (
    key TEXT PRIMARY KEY,
    failures INTEGER NOT NULL,
    blocked_until BIGINT NOT NULL,
    date_updated BIGINT NOT NULL
);
