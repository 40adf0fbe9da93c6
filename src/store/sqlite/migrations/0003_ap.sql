-- 0003_ap: what the ActivityPub gateway keeps (see src/store/lv_store_ap.h).
--
-- Times are Unix times in seconds (INTEGER). Strings are stored verbatim and
-- compared byte-wise (SQLite's BINARY collation): URLs are not normalized.
-- States are the numbers of the enums of lv_store_ap.h. Nothing here refers
-- to profiles: accounts are ActivityPub handles ("louise@example.org"), and
-- actor keys live in private_ind. The documents (JSON text, up to 4 MiB)
-- come last in each row: SQLite reads a row's columns in order and moves
-- what does not fit in a page to overflow pages, so lookups and scans that
-- only read the small columns never touch them.

-- Remote actors as fetched. account is set once WebFinger confirmed it.
CREATE TABLE ap_actors (
    id TEXT PRIMARY KEY,
    account TEXT NULL,
    inbox TEXT NOT NULL,
    shared_inbox TEXT NULL,
    key_id TEXT NULL,
    public_key_pem TEXT NULL,
    fetched INTEGER NOT NULL,
    doc TEXT NOT NULL
);
-- By account, the most recently fetched first; by the keyId of a signature.
CREATE INDEX ap_actors_account ON ap_actors (account, fetched);
CREATE INDEX ap_actors_key_id ON ap_actors (key_id);

-- Follow relations. dir 1: remote follows local (a follower of a local
-- account); dir 2: local follows remote. state 1: pending, 2: accepted.
CREATE TABLE ap_follows (
    id INTEGER PRIMARY KEY,
    dir INTEGER NOT NULL CHECK (dir IN (1, 2)),
    local TEXT NOT NULL,
    node TEXT NOT NULL,
    remote TEXT NOT NULL,
    activity_id TEXT NOT NULL,
    state INTEGER NOT NULL CHECK (state IN (1, 2)),
    created INTEGER NOT NULL,
    updated INTEGER NOT NULL,
    UNIQUE (dir, local, node, remote)
);
-- An Accept or an Undo names the Follow; a post from a remote actor goes to
-- the local JIDs that follow it (dir 2, remote).
CREATE INDEX ap_follows_activity ON ap_follows (activity_id);
CREATE INDEX ap_follows_remote ON ap_follows (dir, remote);

-- Accepted activities, stored before the 202 answer. state 1: pending, 2:
-- done, 3: failed; processed is 0 while pending. The unique activity_id is
-- how a duplicate is detected.
CREATE TABLE ap_inbox (
    id INTEGER PRIMARY KEY,
    activity_id TEXT NOT NULL UNIQUE,
    actor TEXT NOT NULL,
    inbox TEXT NULL,
    state INTEGER NOT NULL CHECK (state IN (1, 2, 3)),
    received INTEGER NOT NULL,
    processed INTEGER NOT NULL DEFAULT 0,
    error TEXT NULL,
    body TEXT NOT NULL
);
-- Lists and counts by state, oldest first (the rowid ends every index).
CREATE INDEX ap_inbox_state ON ap_inbox (state, received);
-- Pruning of processed rows (the statement repeats this WHERE to use it).
CREATE INDEX ap_inbox_processed ON ap_inbox (processed) WHERE state <> 1;

-- Outgoing deliveries. state 1: pending (retried at next_attempt), 2:
-- failed for good. A delivered row is deleted.
CREATE TABLE ap_deliveries (
    id INTEGER PRIMARY KEY,
    inbox TEXT NOT NULL,
    account TEXT NOT NULL,
    key_id TEXT NOT NULL,
    activity_id TEXT NOT NULL,
    state INTEGER NOT NULL CHECK (state IN (1, 2)),
    attempts INTEGER NOT NULL DEFAULT 0,
    created INTEGER NOT NULL,
    next_attempt INTEGER NOT NULL,
    last_error TEXT NULL,
    body TEXT NOT NULL
);
-- The due rows, by next_attempt then id; counts by state.
CREATE INDEX ap_deliveries_due ON ap_deliveries (state, next_attempt);

-- The objects published for local pubsub items.
CREATE TABLE ap_objects (
    account TEXT NOT NULL,
    node TEXT NOT NULL,
    item_id TEXT NOT NULL,
    object_id TEXT NOT NULL,
    published INTEGER NOT NULL,
    updated INTEGER NOT NULL,
    deleted INTEGER NOT NULL DEFAULT 0 CHECK (deleted IN (0, 1)),
    PRIMARY KEY (account, node, item_id)
);
