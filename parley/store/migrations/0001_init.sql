-- Parley schema, version 1: every Chat v2 resource, the accounts behind the
-- REST credentials, and the event outbox. One file for both engines:
-- {{pk}} becomes the engine's auto-increment primary key. Times are integer
-- microseconds since the epoch (UTC); booleans are 0/1; lists are JSON text.
-- `seq` is the keyset paging order (creation order) of every listed table.

CREATE TABLE accounts (
    sid TEXT PRIMARY KEY,
    auth_token TEXT NOT NULL,
    friendly_name TEXT,
    date_created BIGINT NOT NULL
);

CREATE TABLE api_keys (
    sid TEXT PRIMARY KEY,
    account_sid TEXT NOT NULL,
    secret TEXT NOT NULL,
    friendly_name TEXT,
    date_created BIGINT NOT NULL
);
CREATE INDEX api_keys_account ON api_keys (account_sid);

CREATE TABLE services (
    seq {{pk}},
    sid TEXT NOT NULL UNIQUE,
    account_sid TEXT NOT NULL,
    friendly_name TEXT,
    date_created BIGINT NOT NULL,
    date_updated BIGINT,
    default_service_role_sid TEXT,
    default_channel_role_sid TEXT,
    default_channel_creator_role_sid TEXT,
    read_status_enabled INTEGER NOT NULL,
    reachability_enabled INTEGER NOT NULL,
    typing_indicator_timeout INTEGER NOT NULL,
    consumption_report_interval INTEGER NOT NULL,
    limits_channel_members INTEGER NOT NULL,
    limits_user_channels INTEGER NOT NULL,
    pre_webhook_url TEXT,
    post_webhook_url TEXT,
    webhook_method TEXT,
    webhook_filters TEXT,
    pre_webhook_retry_count INTEGER NOT NULL,
    post_webhook_retry_count INTEGER NOT NULL,
    notifications_log_enabled INTEGER NOT NULL,
    new_message_enabled INTEGER NOT NULL,
    new_message_template TEXT,
    new_message_sound TEXT,
    new_message_badge_count_enabled INTEGER,
    added_to_channel_enabled INTEGER NOT NULL,
    added_to_channel_template TEXT,
    added_to_channel_sound TEXT,
    invited_to_channel_enabled INTEGER NOT NULL,
    invited_to_channel_template TEXT,
    invited_to_channel_sound TEXT,
    removed_from_channel_enabled INTEGER NOT NULL,
    removed_from_channel_template TEXT,
    removed_from_channel_sound TEXT,
    media_compatibility_message TEXT
);
CREATE INDEX services_account ON services (account_sid, seq);

CREATE TABLE roles (
    seq {{pk}},
    sid TEXT NOT NULL UNIQUE,
    account_sid TEXT NOT NULL,
    service_sid TEXT NOT NULL,
    friendly_name TEXT,
    type TEXT NOT NULL,
    permissions TEXT NOT NULL,
    date_created BIGINT NOT NULL,
    date_updated BIGINT
);
CREATE INDEX roles_service ON roles (service_sid, seq);

CREATE TABLE users (
    seq {{pk}},
    sid TEXT NOT NULL UNIQUE,
    account_sid TEXT NOT NULL,
    service_sid TEXT NOT NULL,
    identity TEXT NOT NULL,
    friendly_name TEXT,
    attributes TEXT,
    role_sid TEXT,
    joined_channels_count INTEGER NOT NULL DEFAULT 0,
    is_online INTEGER,
    is_notifiable INTEGER,
    date_created BIGINT NOT NULL,
    date_updated BIGINT,
    UNIQUE (service_sid, identity)
);
CREATE INDEX users_service ON users (service_sid, seq);

CREATE TABLE channels (
    seq {{pk}},
    sid TEXT NOT NULL UNIQUE,
    account_sid TEXT NOT NULL,
    service_sid TEXT NOT NULL,
    friendly_name TEXT,
    unique_name TEXT,
    attributes TEXT,
    type TEXT NOT NULL,
    created_by TEXT,
    members_count INTEGER NOT NULL DEFAULT 0,
    messages_count INTEGER NOT NULL DEFAULT 0,
    next_message_index BIGINT NOT NULL DEFAULT 0,
    last_message_sid TEXT,
    date_created BIGINT NOT NULL,
    date_updated BIGINT,
    UNIQUE (service_sid, unique_name)
);
CREATE INDEX channels_service ON channels (service_sid, type, seq);

CREATE TABLE members (
    seq {{pk}},
    sid TEXT NOT NULL UNIQUE,
    account_sid TEXT NOT NULL,
    service_sid TEXT NOT NULL,
    channel_sid TEXT NOT NULL,
    user_sid TEXT NOT NULL,
    identity TEXT NOT NULL,
    role_sid TEXT,
    attributes TEXT,
    last_consumed_message_index BIGINT,
    last_consumption_timestamp BIGINT,
    notification_level TEXT NOT NULL DEFAULT 'default',
    date_created BIGINT NOT NULL,
    date_updated BIGINT,
    UNIQUE (channel_sid, identity)
);
CREATE INDEX members_channel ON members (channel_sid, seq);
CREATE INDEX members_user ON members (user_sid, seq);

CREATE TABLE messages (
    seq {{pk}},
    sid TEXT NOT NULL UNIQUE,
    account_sid TEXT NOT NULL,
    service_sid TEXT NOT NULL,
    channel_sid TEXT NOT NULL,
    idx BIGINT NOT NULL,
    author TEXT,
    body TEXT,
    attributes TEXT,
    type TEXT NOT NULL,
    media_sid TEXT UNIQUE,
    last_updated_by TEXT,
    was_edited INTEGER NOT NULL DEFAULT 0,
    date_created BIGINT NOT NULL,
    date_updated BIGINT,
    UNIQUE (channel_sid, idx)
);

CREATE TABLE media (
    sid TEXT PRIMARY KEY,
    account_sid TEXT NOT NULL,
    service_sid TEXT NOT NULL,
    content_type TEXT NOT NULL,
    filename TEXT,
    size BIGINT NOT NULL,
    content BYTEA,
    message_sid TEXT,
    date_created BIGINT NOT NULL
);

CREATE TABLE invites (
    seq {{pk}},
    sid TEXT NOT NULL UNIQUE,
    account_sid TEXT NOT NULL,
    service_sid TEXT NOT NULL,
    channel_sid TEXT NOT NULL,
    identity TEXT NOT NULL,
    role_sid TEXT,
    created_by TEXT,
    date_created BIGINT NOT NULL,
    date_updated BIGINT,
    UNIQUE (channel_sid, identity)
);
CREATE INDEX invites_channel ON invites (channel_sid, seq);
CREATE INDEX invites_identity ON invites (service_sid, identity);

CREATE TABLE channel_webhooks (
    seq {{pk}},
    sid TEXT NOT NULL UNIQUE,
    account_sid TEXT NOT NULL,
    service_sid TEXT NOT NULL,
    channel_sid TEXT NOT NULL,
    type TEXT NOT NULL,
    url TEXT,
    method TEXT,
    filters TEXT,
    triggers TEXT,
    flow_sid TEXT,
    retry_count INTEGER,
    date_created BIGINT NOT NULL,
    date_updated BIGINT
);
CREATE INDEX channel_webhooks_channel ON channel_webhooks (channel_sid, seq);

CREATE TABLE credentials (
    seq {{pk}},
    sid TEXT NOT NULL UNIQUE,
    account_sid TEXT NOT NULL,
    friendly_name TEXT,
    type TEXT NOT NULL,
    sandbox TEXT,
    secrets TEXT,
    date_created BIGINT NOT NULL,
    date_updated BIGINT
);
CREATE INDEX credentials_account ON credentials (account_sid, seq);

CREATE TABLE bindings (
    seq {{pk}},
    sid TEXT NOT NULL UNIQUE,
    account_sid TEXT NOT NULL,
    service_sid TEXT NOT NULL,
    user_sid TEXT NOT NULL,
    identity TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    credential_sid TEXT,
    binding_type TEXT NOT NULL,
    message_types TEXT,
    date_created BIGINT NOT NULL,
    date_updated BIGINT,
    UNIQUE (service_sid, identity, endpoint, binding_type)
);
CREATE INDEX bindings_service ON bindings (service_sid, seq);
CREATE INDEX bindings_user ON bindings (user_sid, seq);

-- The durable outbox: domain events written in the transaction of the change
-- that caused them. Consumers (webhooks, the Sync view, push) keep their own
-- position in `consumers`.
CREATE TABLE events (
    seq {{pk}},
    kind TEXT NOT NULL,
    account_sid TEXT NOT NULL,
    service_sid TEXT,
    channel_sid TEXT,
    source TEXT NOT NULL,
    identity TEXT,
    webhooks INTEGER NOT NULL,
    payload TEXT NOT NULL,
    date_created BIGINT NOT NULL
);

CREATE TABLE consumers (
    name TEXT PRIMARY KEY,
    position BIGINT NOT NULL
);
