-- Several hosts on one database (PostgreSQL only; see docs/deploy.md).
-- A host heartbeats its row; live hosts share the sessions that should run.
CREATE TABLE hosts (
    id TEXT COLLATE "C" PRIMARY KEY,
    seen_at TIMESTAMPTZ NOT NULL
);

-- One lease per session: who runs it, until when (the database's clock),
-- and a fencing number raised at every take. A write carrying an older
-- number is refused, so a host that lost a session can no longer touch it.
CREATE TABLE leases (
    session TEXT COLLATE "C" PRIMARY KEY,
    owner TEXT COLLATE "C",
    fence BIGINT NOT NULL DEFAULT 0,
    expires_at TIMESTAMPTZ,
    -- Whether the session should run somewhere (false after `disconnect`).
    run BOOLEAN NOT NULL DEFAULT TRUE
);
CREATE INDEX leases_by_owner ON leases (owner);
