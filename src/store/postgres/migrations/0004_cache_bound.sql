-- 0004_cache_bound: what bounding the pubsub cache needs ([cache] max_items;
-- see lv_store_cache_trim() in src/store/lv_store_cache.h). The PostgreSQL
-- twin of src/store/sqlite/migrations/0004_cache_bound.sql:
--
-- * pubsub_cache_count: the number of cached items, kept by triggers, so that
--   checking the bound after every write reads one row instead of counting
--   the whole cache. The triggers are per statement, over transition tables:
--   a purge or a cascade of many rows updates the counter once (per row, a
--   reset of a million items would write a million versions of that row).
--   Writers of items serialize on the counter row until they commit; the
--   backend has one writing connection, so this costs nothing in practice.
-- * Per node, what trimming took: how many items (trimmed_items) and the
--   newest date among them (trimmed_upto, in the date order: published, the
--   arrival time standing in).

ALTER TABLE pubsub_nodes
    ADD COLUMN trimmed_items BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN trimmed_upto DOUBLE PRECISION NULL;

CREATE TABLE pubsub_cache_count (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    items BIGINT NOT NULL
);
INSERT INTO pubsub_cache_count (id, items) VALUES (1, (SELECT count(*) FROM pubsub_items));

-- An upsert that updates an existing item puts no row in new_items; a
-- statement that changed nothing leaves the counter row alone.
CREATE FUNCTION lv_cache_count_insert() RETURNS trigger LANGUAGE plpgsql AS $f$
DECLARE
    n BIGINT;
BEGIN
    SELECT count(*) INTO n FROM new_items;
    IF n > 0 THEN
        UPDATE pubsub_cache_count SET items = items + n WHERE id = 1;
    END IF;
    RETURN NULL;
END
$f$;

CREATE FUNCTION lv_cache_count_delete() RETURNS trigger LANGUAGE plpgsql AS $f$
DECLARE
    n BIGINT;
BEGIN
    SELECT count(*) INTO n FROM old_items;
    IF n > 0 THEN
        UPDATE pubsub_cache_count SET items = items - n WHERE id = 1;
    END IF;
    RETURN NULL;
END
$f$;

CREATE TRIGGER pubsub_items_count_insert AFTER INSERT ON pubsub_items
    REFERENCING NEW TABLE AS new_items
    FOR EACH STATEMENT EXECUTE FUNCTION lv_cache_count_insert();
CREATE TRIGGER pubsub_items_count_delete AFTER DELETE ON pubsub_items
    REFERENCING OLD TABLE AS old_items
    FOR EACH STATEMENT EXECUTE FUNCTION lv_cache_count_delete();
