-- The Sync view's channel objects derived from the rows (docs/decisions.md §45):
-- a channel's messages list is read from `messages` and its document from
-- `channels`, not copied into sync_items / sync_events per message.
-- The channel row carries both objects' event counters (taken with the message
-- index, in the same UPDATE); a message row carries the list event that added
-- it and the one that last changed it (its item's revision). sync_events keeps
-- only what no row holds any more: removals (a removed message's item, the
-- objects of a destroyed channel).

ALTER TABLE channels ADD COLUMN messages_event_id BIGINT NOT NULL DEFAULT 0;
ALTER TABLE channels ADD COLUMN document_event_id BIGINT NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN list_added BIGINT NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN list_revision BIGINT NOT NULL DEFAULT 0;

UPDATE channels SET
    messages_event_id = COALESCE((SELECT o.last_event_id FROM sync_objects o
        WHERE o.service_sid = channels.service_sid AND o.type = 'list'
        AND o.unique_name = channels.sid || '.messages'), 0),
    document_event_id = COALESCE((SELECT o.last_event_id FROM sync_objects o
        WHERE o.service_sid = channels.service_sid AND o.type = 'document'
        AND o.unique_name = channels.sid || '.channel'), 0);

-- an item's revision is the event that last wrote it; a message never edited
-- was added by that event (an edited one's adding event is not known: 0, so a
-- replay from before it reports it updated, docs/decisions.md §45)
UPDATE messages SET list_revision = COALESCE((SELECT i.last_event_id
    FROM sync_items i JOIN sync_objects o ON o.sid = i.object_sid
    WHERE o.service_sid = messages.service_sid AND o.type = 'list'
    AND o.unique_name = messages.channel_sid || '.messages'
    AND i.item_key = CAST(messages.idx AS TEXT)), 0);
UPDATE messages SET list_added = list_revision WHERE date_updated IS NULL;

DELETE FROM sync_items WHERE object_sid IN (SELECT sid FROM sync_objects
    WHERE type = 'list' AND unique_name LIKE 'CH%.messages');
DELETE FROM sync_events WHERE event_type IN ('list_item_added', 'list_item_updated')
    AND object_sid IN (SELECT sid FROM sync_objects
        WHERE type = 'list' AND unique_name LIKE 'CH%.messages');
DELETE FROM sync_events WHERE event_type = 'document_updated'
    AND object_sid IN (SELECT sid FROM sync_objects
        WHERE type = 'document' AND unique_name LIKE 'CH%.channel');

-- a list's replay: edited messages by revision (a partial index, so a new
-- message writes no entry; added ones are found by index, docs/decisions.md §45)
CREATE INDEX messages_list_edited ON messages (channel_sid, list_revision)
    WHERE list_revision <> list_added;
