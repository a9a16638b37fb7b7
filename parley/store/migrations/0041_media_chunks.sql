-- Media bytes in chunks (issue 18, docs/security.md "Media limits"): an upload
-- is written chunk by chunk as it arrives, each chunk in its own short
-- transaction, instead of whole in memory and in one statement. The media row
-- is inserted last, so an upload exists only once all its bytes are stored.
-- Rows from before keep their bytes in media.content.

CREATE TABLE media_chunks (
    media_sid TEXT NOT NULL,
    n INTEGER NOT NULL,
    account_sid TEXT NOT NULL,
    service_sid TEXT NOT NULL,
    data BYTEA NOT NULL,
    date_created BIGINT NOT NULL,
    PRIMARY KEY (media_sid, n)
);
CREATE INDEX media_chunks_service ON media_chunks (service_sid);
CREATE INDEX media_chunks_account ON media_chunks (account_sid);
CREATE INDEX media_chunks_created ON media_chunks (date_created);

-- unattached uploads, per account (quota) and by age (expiry)
CREATE INDEX media_unattached ON media (account_sid, message_sid);
CREATE INDEX media_created ON media (date_created);
