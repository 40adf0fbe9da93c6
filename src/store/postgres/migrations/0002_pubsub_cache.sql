-- 0002_pubsub_cache: the local cache of pubsub nodes and items (see
-- src/store/lv_store_cache.h). The PostgreSQL twin of
-- src/store/sqlite/migrations/0002_pubsub_cache.sql: same tables, columns
-- and semantics, in PostgreSQL types, with these differences:
--   * parsed and extra are jsonb (normalized: key order and spacing are
--     PostgreSQL's, and a string holding U+0000 cannot be stored);
--   * full-text search runs over a generated tsvector column (text search
--     configuration 'simple', accents removed by lv_unaccent()) with a GIN
--     index, instead of an FTS5 table kept by triggers.
-- Times are Unix times in seconds, as DOUBLE PRECISION.

-- Accent-insensitive search ("cafe" finds "café") needs the unaccent
-- extension (postgresql-contrib; trusted, so a database owner may create
-- it). Without it, lv_unaccent() only normalizes to NFC and accents then
-- matter. It is IMMUTABLE so that the generated column and its index can use
-- it: the unaccent dictionary is named explicitly, not found via search_path.
DO $migration$
BEGIN
    BEGIN
        CREATE EXTENSION IF NOT EXISTS unaccent;
        CREATE FUNCTION lv_unaccent(text) RETURNS text
            LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
            AS $f$ SELECT public.unaccent('public.unaccent'::regdictionary, normalize($1, NFC)) $f$;
    EXCEPTION WHEN OTHERS THEN
        RAISE NOTICE 'unaccent is not available: full-text search will not ignore accents';
        CREATE FUNCTION lv_unaccent(text) RETURNS text
            LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
            AS $f$ SELECT normalize($1, NFC) $f$;
    END;
END
$migration$;

-- A cached node, per profile (see the SQLite migration). sync_state is NULL
-- until a sync starts.
CREATE TABLE pubsub_nodes (
    id BIGSERIAL PRIMARY KEY,
    profile_id BIGINT NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
    service TEXT NOT NULL,
    name TEXT NOT NULL,
    subscribed BOOLEAN NOT NULL DEFAULT false,
    analyser TEXT NULL,
    type TEXT NULL,
    subtype TEXT NULL,
    sync_state TEXT NULL CHECK (sync_state IN ('in_progress', 'completed', 'error')),
    sync_state_updated DOUBLE PRECISION NOT NULL,
    sync_error TEXT NULL,
    sync_retry_at DOUBLE PRECISION NULL,
    extra JSONB NULL,
    UNIQUE (profile_id, service, name)
);

CREATE INDEX pubsub_nodes_service ON pubsub_nodes (service, name);
CREATE INDEX pubsub_nodes_type ON pubsub_nodes (type, subtype);
CREATE INDEX pubsub_nodes_sync ON pubsub_nodes (sync_state, sync_retry_at);

-- A cached item. id is the arrival order (an upsert keeps it).
CREATE TABLE pubsub_items (
    id BIGSERIAL PRIMARY KEY,
    node_id BIGINT NOT NULL REFERENCES pubsub_nodes (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    published DOUBLE PRECISION NULL,
    updated DOUBLE PRECISION NULL,
    created DOUBLE PRECISION NOT NULL,
    modified DOUBLE PRECISION NOT NULL,
    parsed JSONB NULL,
    data TEXT NOT NULL,
    text TEXT NOT NULL DEFAULT '',
    tsv TSVECTOR GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, lv_unaccent(text))) STORED,
    UNIQUE (node_id, name)
);

-- The orders, spelled as the queries spell them; id breaks ties.
CREATE INDEX pubsub_items_node_date ON pubsub_items (node_id, coalesce(published, created), id);
CREATE INDEX pubsub_items_date ON pubsub_items (coalesce(published, created), id);
CREATE INDEX pubsub_items_node_arrival ON pubsub_items (node_id, id);
CREATE INDEX pubsub_items_node_modified ON pubsub_items (node_id, modified, id);
CREATE INDEX pubsub_items_updated ON pubsub_items (updated);
CREATE INDEX pubsub_items_created ON pubsub_items (created);
CREATE INDEX pubsub_items_modified ON pubsub_items (modified);
CREATE INDEX pubsub_items_fts ON pubsub_items USING gin (tsv);

-- The tags of an item; tag_norm is the tag case-folded by the store (NFC +
-- Unicode case folding, as on SQLite).
CREATE TABLE pubsub_item_tags (
    item_id BIGINT NOT NULL REFERENCES pubsub_items (id) ON DELETE CASCADE,
    node_id BIGINT NOT NULL,
    tag TEXT NOT NULL,
    tag_norm TEXT NOT NULL,
    PRIMARY KEY (item_id, tag)
);

CREATE INDEX pubsub_item_tags_norm ON pubsub_item_tags (tag_norm, item_id);
CREATE INDEX pubsub_item_tags_node ON pubsub_item_tags (node_id, tag_norm);
