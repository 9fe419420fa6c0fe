-- 6: what delivery alerts, destination stats, health and /metrics read (CONTRACT section 10). Each
-- of their queries is one range of an index, so a scrape or a destination's page costs the same
-- whatever the size of the queue and of the attempt log.

-- When the admins were last emailed about a destination (unix seconds), so that they hear about it
-- at most once an hour, across restarts.
ALTER TABLE destinations ADD COLUMN alerted_at INTEGER;

-- An attempt's destination, copied from its delivery when the attempt is logged: `stats_24h` is
-- then one range of a covering index (destination, time), not a walk over the destination's
-- deliveries.
ALTER TABLE delivery_attempts ADD COLUMN destination_id TEXT;
UPDATE delivery_attempts SET destination_id =
    (SELECT d.destination_id FROM deliveries d WHERE d.id = delivery_attempts.delivery_id);
CREATE INDEX delivery_attempts_by_destination
    ON delivery_attempts (destination_id, at_ms, status_code, duration_ms);

-- "recovered": deliveries that succeeded after a failed attempt, by when. Only deliveries that ever
-- failed are in it.
CREATE INDEX deliveries_recovered ON deliveries (destination_id, delivered_at)
    WHERE failed_attempts > 0;

-- Dead letters by when they failed: a failed delivery's next_attempt_ms is the moment its last
-- attempt ended (nothing is due any more).
CREATE INDEX deliveries_failed_by_time ON deliveries (destination_id, next_attempt_ms)
    WHERE status = 'failed';

-- The oldest pending delivery, and the queue depth (an index-only count).
CREATE INDEX deliveries_pending_by_age ON deliveries (created_at) WHERE status = 'pending';
