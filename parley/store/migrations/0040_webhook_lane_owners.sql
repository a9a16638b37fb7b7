-- Webhook fairness (issue 18, docs/security.md "Webhook fairness"): a lane
-- knows its account and its target's host, so a worker can cap how many lanes
-- of one account, and of one receiving host, it sends at once. Lanes made
-- before this migration learn their account from their deliveries; a lane
-- without either is its own group.

ALTER TABLE webhook_lanes ADD COLUMN account_sid TEXT;
ALTER TABLE webhook_lanes ADD COLUMN target TEXT;
UPDATE webhook_lanes SET account_sid = (
    SELECT d.account_sid FROM webhook_deliveries d WHERE d.lane = webhook_lanes.lane LIMIT 1
);
