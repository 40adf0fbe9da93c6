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

-- Full-text search at scale (measured on a million blog items, see
-- bench/cache_sqlite.c): ranking and testing matches read each item's
-- tsvector, some 3 kB. Out of line (what PostgreSQL does with a value over
-- 2 kB), each read costs a TOAST index lookup and several pages; kept in the
-- row (STORAGE MAIN: compressed in place, out of line only for a row that
-- cannot fit a page), one page. The row's other large columns (data, text,
-- parsed), which searches read only for the page of results, move out of
-- line instead. lz4 decompresses several times faster than pglz, where the
-- server has it. The column is made again so that every row follows: this
-- rewrites the table and its text index (minutes for a million items).
DROP INDEX pubsub_items_fts;
ALTER TABLE pubsub_items DROP COLUMN tsv;
DO $migration$
BEGIN
    ALTER TABLE pubsub_items
        ADD COLUMN tsv TSVECTOR COMPRESSION lz4
            GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, lv_unaccent(text))) STORED,
        ALTER COLUMN tsv SET STORAGE MAIN;
EXCEPTION WHEN feature_not_supported OR invalid_parameter_value THEN
    RAISE NOTICE 'lz4 is not available: tsvectors are compressed with pglz';
    ALTER TABLE pubsub_items
        ADD COLUMN tsv TSVECTOR
            GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, lv_unaccent(text))) STORED,
        ALTER COLUMN tsv SET STORAGE MAIN;
END
$migration$;
CREATE INDEX pubsub_items_fts ON pubsub_items USING gin (tsv);
-- The search steers the planner by its estimate of a query's matches (see
-- lv_store_postgres_cache.c): with the default statistics, any word in
-- fewer than some 2% of the items is estimated at 0.5%. Ten times as many
-- common lexemes are kept (ANALYZE of a million items: some 10 s).
ALTER TABLE pubsub_items ALTER COLUMN tsv SET STATISTICS 1000;
-- Where a word is in few items, the rank window (its newest matches) is
-- found by ANDing the text index with a range of the newest ids. A btree
-- makes that range a bitmap of every id in it (tens of milliseconds for
-- half a million); BRIN, of pages: ids are given in arrival order, so the
-- rows lie in id order on disk, and its bitmap costs next to nothing.
CREATE INDEX pubsub_items_id_brin ON pubsub_items USING brin (id);
-- Tag filters test both the folded tag and its spelling: the planner takes
-- them for independent and estimates a common tag (6% of a million items)
-- at 1,300 items, then fetches all 60,000 to sort them by date instead of
-- walking the date index for the 20 newest (0.5 s instead of 5 ms). Told
-- that the spelling follows from the folded tag, it estimates right.
CREATE STATISTICS pubsub_item_tags_spelling (dependencies, mcv) ON tag_norm, tag
    FROM pubsub_item_tags;
-- A bounded cache deletes its oldest items as new ones come: a steady stream
-- of dead rows, which every scan still visits until VACUUM removes them (at
-- a million items, 4% of dead rows made searches up to eight times slower at
-- the 95th percentile). Vacuum these tables after 2% of their rows changed,
-- not the default 20%.
ALTER TABLE pubsub_items SET (autovacuum_vacuum_scale_factor = 0.02,
    autovacuum_analyze_scale_factor = 0.05);
ALTER TABLE pubsub_item_tags SET (autovacuum_vacuum_scale_factor = 0.02);
