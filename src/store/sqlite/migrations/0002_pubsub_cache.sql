-- 0002_pubsub_cache: the local cache of pubsub nodes and items (see
-- src/store/lv_store_cache.h).
--
-- Table and column names follow the reference Libervia's pubsub cache
-- (pubsub_nodes, pubsub_items) with these differences, each on purpose:
--   * items keep their own published/updated dates beside the arrival time
--     (created) and the last write (modified), so that items received out of
--     order are listed in the order they were written;
--   * full-text search runs over `text`, the plain text of the item's text
--     fields, not over the raw XML (which would index element and attribute
--     names);
--   * tags have their own table, so that tag filters and category counts are
--     index lookups instead of a JSON scan of every item.
-- Times are Unix times in seconds, as REAL (sub-second precision).

-- A cached node, per profile: the same node read by two profiles may give
-- each a different view (access model), so it is cached twice.
-- sync_state is NULL until a sync starts. An 'error' node is retried after
-- sync_retry_at (NULL: retry on next access).
CREATE TABLE pubsub_nodes (
    id INTEGER PRIMARY KEY,
    profile_id INTEGER NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
    service TEXT NOT NULL,
    name TEXT NOT NULL,
    subscribed INTEGER NOT NULL DEFAULT 0 CHECK (subscribed IN (0, 1)),
    analyser TEXT NULL,
    type TEXT NULL,
    subtype TEXT NULL,
    sync_state TEXT NULL CHECK (sync_state IN ('in_progress', 'completed', 'error')),
    sync_state_updated REAL NOT NULL,
    sync_error TEXT NULL,
    sync_retry_at REAL NULL,
    extra TEXT NULL CHECK (extra IS NULL OR json_valid(extra)),
    UNIQUE (profile_id, service, name)
);

-- Searches filter nodes by service/node without a profile, and by type.
CREATE INDEX pubsub_nodes_service ON pubsub_nodes (service, name);
CREATE INDEX pubsub_nodes_type ON pubsub_nodes (type, subtype);
-- The sync layer looks for nodes to resume (in_progress) or retry (error).
CREATE INDEX pubsub_nodes_sync ON pubsub_nodes (sync_state, sync_retry_at);

-- A cached item. id is the arrival order (an upsert keeps it). data is the
-- item's payload XML as received; text is what full-text search sees.
-- published/updated are the item's own dates, NULL when it has none.
-- The small columns come first: SQLite reads a row's columns in order and
-- moves what does not fit in a page to overflow pages, so filtering and
-- sorting on them never reads the large ones. parsed comes before data and
-- text, as search results and JSON filters read it.
CREATE TABLE pubsub_items (
    id INTEGER PRIMARY KEY,
    node_id INTEGER NOT NULL REFERENCES pubsub_nodes (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    published REAL NULL,
    updated REAL NULL,
    created REAL NOT NULL,
    modified REAL NOT NULL,
    parsed TEXT NULL CHECK (parsed IS NULL OR json_valid(parsed)),
    data TEXT NOT NULL,
    text TEXT NOT NULL DEFAULT '',
    UNIQUE (node_id, name)
);

-- The date order: the item's published date, its arrival time standing in
-- when it has none. Queries must spell the expression exactly so for SQLite
-- to use the indexes. Tests on published also test this expression (equal
-- wherever published is set), so that one index serves both the filter and
-- the order. The rowid (id) ends every index entry and breaks ties for free.
CREATE INDEX pubsub_items_node_date ON pubsub_items (node_id, coalesce(published, created));
CREATE INDEX pubsub_items_date ON pubsub_items (coalesce(published, created));
-- A node's items in arrival and modification orders.
CREATE INDEX pubsub_items_node_arrival ON pubsub_items (node_id);
CREATE INDEX pubsub_items_node_modified ON pubsub_items (node_id, modified);
-- Searches across nodes and purges by age.
CREATE INDEX pubsub_items_updated ON pubsub_items (updated);
CREATE INDEX pubsub_items_created ON pubsub_items (created);
CREATE INDEX pubsub_items_modified ON pubsub_items (modified);

-- Full-text index over pubsub_items.text (external content: the text is
-- stored once, in pubsub_items). remove_diacritics 2 makes "cafe" find
-- "café", whatever the Unicode composition.
CREATE VIRTUAL TABLE pubsub_items_fts USING fts5 (
    text,
    content = 'pubsub_items',
    content_rowid = 'id',
    tokenize = 'unicode61 remove_diacritics 2'
);

-- The triggers keep the index in step with every write, including the rows
-- that ON DELETE CASCADE removes (foreign key actions fire triggers). An
-- upsert that leaves the text as it was (a resync) skips the reindexing.
CREATE TRIGGER pubsub_items_fts_insert AFTER INSERT ON pubsub_items BEGIN
    INSERT INTO pubsub_items_fts (rowid, text) VALUES (new.id, new.text);
END;

CREATE TRIGGER pubsub_items_fts_delete AFTER DELETE ON pubsub_items BEGIN
    INSERT INTO pubsub_items_fts (pubsub_items_fts, rowid, text)
        VALUES ('delete', old.id, old.text);
END;

CREATE TRIGGER pubsub_items_fts_update AFTER UPDATE OF text ON pubsub_items
WHEN old.text IS NOT new.text BEGIN
    INSERT INTO pubsub_items_fts (pubsub_items_fts, rowid, text)
        VALUES ('delete', old.id, old.text);
    INSERT INTO pubsub_items_fts (rowid, text) VALUES (new.id, new.text);
END;

-- The tags (categories) of an item: the strings of its parsed "tags" array,
-- written by the store with every upsert. tag_norm is the tag case-folded
-- (Unicode, by the store: SQLite's lower() only knows ASCII), so case-
-- insensitive filters and hashtag counts are index lookups. node_id repeats
-- the item's node so that the categories of a node are counted from this
-- table alone; it needs no foreign key, as the item's cascade removes the row.
CREATE TABLE pubsub_item_tags (
    item_id INTEGER NOT NULL REFERENCES pubsub_items (id) ON DELETE CASCADE,
    node_id INTEGER NOT NULL,
    tag TEXT NOT NULL,
    tag_norm TEXT NOT NULL,
    PRIMARY KEY (item_id, tag)
) WITHOUT ROWID;

CREATE INDEX pubsub_item_tags_norm ON pubsub_item_tags (tag_norm, item_id);
CREATE INDEX pubsub_item_tags_node ON pubsub_item_tags (node_id, tag_norm);
