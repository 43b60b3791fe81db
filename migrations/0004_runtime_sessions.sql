-- Sessions created at run time through the control API (origin 'api') are
-- defined by their row alone: their plugin chain and whether they start
-- with the host. Config sessions leave both at their defaults (the config
-- file defines them).
ALTER TABLE sessions ADD COLUMN plugins TEXT NOT NULL DEFAULT '[]';  -- JSON array of plugin names
ALTER TABLE sessions ADD COLUMN autostart INTEGER NOT NULL DEFAULT 1;
