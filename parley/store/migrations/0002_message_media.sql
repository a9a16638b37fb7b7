-- Media messages carry their media object (sid, size, content type, filename)
-- in every message representation and event. Media is immutable once uploaded,
-- so the message row keeps a copy: a page of messages renders without a join.
ALTER TABLE messages ADD COLUMN media_content_type TEXT;
ALTER TABLE messages ADD COLUMN media_filename TEXT;
ALTER TABLE messages ADD COLUMN media_size BIGINT;
