-- 0001_init: profiles, their parameters, private data of modules, global
-- settings.
--
-- Table names echo the reference Libervia (profiles, param_ind, private_gen,
-- private_ind) so that its users find their way; the "_ind" tables belong to
-- one profile ("individual"), the "_gen" ones are global ("general").
-- The schema_version table is not here: the migration runner creates it, as
-- it must exist before any migration is applied.
-- Foreign keys are enforced (the store sets PRAGMA foreign_keys=ON on every
-- connection), so deleting a profile deletes everything that belongs to it.

-- A profile: an XMPP account connected as a client, or a component when
-- component holds its entry point (e.g. 'ap-gateway'). created is a Unix
-- time in seconds.
CREATE TABLE profiles (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    component TEXT NULL,
    created INTEGER NOT NULL
);

-- Parameters of a profile, by (category, name), as the reference names them:
-- ('Connection', 'JabberID'), ('Connection', 'Password')...
-- Unset parameters have no row; there is no NULL value.
CREATE TABLE param_ind (
    profile_id INTEGER NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
    category TEXT NOT NULL,
    name TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (profile_id, category, name)
) WITHOUT ROWID;

-- Global private data of a module (namespace), e.g. a key shared by the
-- whole backend.
CREATE TABLE private_gen (
    namespace TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (namespace, key)
) WITHOUT ROWID;

-- Private data of a module for one profile, e.g. the AP gateway's RSA key
-- (namespace 'ap-gateway', key 'rsa_key') in the reference.
CREATE TABLE private_ind (
    profile_id INTEGER NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
    namespace TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (profile_id, namespace, key)
) WITHOUT ROWID;

-- Global settings of the backend, one typed column each, in a single row
-- (id = 1, inserted below) so that every setting can carry its own
-- constraints. The default profile is a foreign key rather than a name, so
-- that it can only name an existing profile and deleting that profile clears
-- it (ON DELETE SET NULL). Free-form global data goes to private_gen.
CREATE TABLE settings (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    default_profile_id INTEGER NULL REFERENCES profiles (id) ON DELETE SET NULL
);

INSERT INTO settings (id) VALUES (1);
