-- 0001_init made `consumers` for event consumers' positions in the outbox, but
-- no consumer ever kept one there: webhooks and pushes are planned in the
-- transaction of the change (their own outbox rows), the Sync view is written
-- in it, and the real-time fan-out is live only. Nothing reads or writes it.

DROP TABLE IF EXISTS consumers;
