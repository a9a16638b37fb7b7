-- Protocol version 2 (docs/realtime-protocol.md §9): the session lists of
-- twilio-chat 2.x-4.x clients. The list itself is a Sync list (sync_objects,
-- its context in data); this row says whose session it is, where its next
-- command goes and when it was last used (a day without commands ends it).
-- session_commands: each command's item by the client's commandId, so a
-- command sent twice is answered from its item and not run again.

CREATE TABLE session_lists (
    list_sid TEXT PRIMARY KEY,
    account_sid TEXT NOT NULL,
    service_sid TEXT NOT NULL,
    identity TEXT NOT NULL,
    next_index BIGINT NOT NULL DEFAULT 0,
    date_created BIGINT NOT NULL,
    last_command BIGINT NOT NULL
);
CREATE INDEX session_lists_used ON session_lists (last_command);
CREATE INDEX session_lists_user ON session_lists (service_sid, identity);

CREATE TABLE session_commands (
    list_sid TEXT NOT NULL,
    command_id TEXT NOT NULL,
    item_index BIGINT NOT NULL,
    date_created BIGINT NOT NULL,
    PRIMARY KEY (list_sid, command_id)
);
CREATE INDEX session_commands_created ON session_commands (date_created);
