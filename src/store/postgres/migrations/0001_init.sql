-- 0001_init: profiles, their parameters, private data of modules, global
-- settings. The PostgreSQL twin of src/store/sqlite/migrations/0001_init.sql:
-- same tables, columns and semantics, in PostgreSQL types.
--
-- Table names echo the reference Libervia (profiles, param_ind, private_gen,
-- private_ind); the "_ind" tables belong to one profile ("individual"), the
-- "_gen" ones are global ("general").
-- The schema_version table is not here: the migration runner creates it, as
-- it must exist before any migration is applied. The runner holds an
-- advisory lock for the whole transaction, so a migration never runs twice.
-- Deleting a profile deletes everything that belongs to it (ON DELETE
-- CASCADE), as in SQLite.

-- A profile: an XMPP account connected as a client, or a component when
-- component holds its entry point (e.g. 'ap-gateway'). created is a Unix
-- time in seconds, as in SQLite, so that both backends give the same values.
-- Unlike SQLite, a sequence never hands out an id twice.
CREATE TABLE profiles (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    component TEXT NULL,
    created BIGINT NOT NULL
);

-- Parameters of a profile, by (category, name), as the reference names them:
-- ('Connection', 'JabberID'), ('Connection', 'Password')...
-- Unset parameters have no row; there is no NULL value. The primary key
-- starts with profile_id, so it also serves the cascade from profiles.
CREATE TABLE param_ind (
    profile_id BIGINT NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
    category TEXT NOT NULL,
    name TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (profile_id, category, name)
);

-- Global private data of a module (namespace), e.g. a key shared by the
-- whole backend.
CREATE TABLE private_gen (
    namespace TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (namespace, key)
);

-- Private data of a module for one profile, e.g. the AP gateway's RSA key
-- (namespace 'ap-gateway', key 'rsa_key') in the reference.
CREATE TABLE private_ind (
    profile_id BIGINT NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
    namespace TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (profile_id, namespace, key)
);

-- Global settings of the backend, one typed column each, in a single row
-- (id = 1, inserted below). The default profile is a foreign key rather
-- than a name, so that it can only name an existing profile and deleting
-- that profile clears it (ON DELETE SET NULL). Free-form global data goes
-- to private_gen.
CREATE TABLE settings (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    default_profile_id BIGINT NULL REFERENCES profiles (id) ON DELETE SET NULL
);

INSERT INTO settings (id) VALUES (1);
