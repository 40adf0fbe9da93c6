-- 0004_cache_bound: what bounding the pubsub cache needs ([cache] max_items;
-- see lv_store_cache_trim() in src/store/lv_store_cache.h).
--
-- * pubsub_cache_count: the number of cached items, kept by triggers, so that
--   checking the bound after every write reads one row instead of counting
--   the whole cache. Foreign key cascades fire the triggers too (a deleted
--   node or profile takes its items' counts with it).
-- * Per node, what trimming took: how many items (trimmed_items) and the
--   newest date among them (trimmed_upto, in the date order: published, the
--   arrival time standing in). The cache then holds every item of the node
--   dated after trimmed_upto, and maybe not those before: a read that reaches
--   them goes to the service. Purging the node (a resync, a pubsub purge)
--   clears both.

ALTER TABLE pubsub_nodes ADD COLUMN trimmed_items INTEGER NOT NULL DEFAULT 0;
ALTER TABLE pubsub_nodes ADD COLUMN trimmed_upto REAL NULL;

CREATE TABLE pubsub_cache_count (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    items INTEGER NOT NULL
);
INSERT INTO pubsub_cache_count (id, items) VALUES (1, (SELECT count(*) FROM pubsub_items));

-- An upsert that updates an existing item fires no INSERT trigger.
CREATE TRIGGER pubsub_items_count_insert AFTER INSERT ON pubsub_items BEGIN
    UPDATE pubsub_cache_count SET items = items + 1 WHERE id = 1;
END;

CREATE TRIGGER pubsub_items_count_delete AFTER DELETE ON pubsub_items BEGIN
    UPDATE pubsub_cache_count SET items = items - 1 WHERE id = 1;
END;
