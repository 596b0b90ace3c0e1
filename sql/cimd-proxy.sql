-- cimd-proxy: PostgreSQL schema for the multi-host store (store =
-- postgresql:<conninfo>).  Fleets need it because a binding written on
-- host A while relaying MCP is read on host B when the browser arrives.
--
-- The table mirrors lib/store.h exactly: records live in namespaces
-- (enum cp_store_ns), are keyed and valued by bytes, and always expire.
-- Every store operation maps onto one statement (lib/store_pg.c), so each
-- is atomic without explicit transactions:
--   put   INSERT ... ON CONFLICT (ns, key) DO UPDATE
--   get   SELECT value, expires WHERE ns = $1 AND key = $2 AND expires > $now
--   take  DELETE ... WHERE ns = $1 AND key = $2 RETURNING value, expires
--   swap  UPDATE ... SET value = $new WHERE ... AND value = $old AND expires > $now
--   add   INSERT ... ON CONFLICT DO UPDATE ... WHERE expires <= $now
--         (once is an add of an empty value in ns 1)
--   purge DELETE a batch WHERE expires <= $now, in expiry order
-- $now is the asking host's clock: expires is Unix time in seconds (UTC),
-- read it with to_timestamp(expires).
--
-- Idempotent: apply it again after an upgrade, with
--   cimd-proxy-admin init-store      (through the configured conninfo)
-- or psql -d <db> -f cimd-proxy.sql (as the table's owner).
-- The role the web server connects as needs SELECT, INSERT, UPDATE,
-- DELETE on cimd_records and nothing else:
--   GRANT SELECT, INSERT, UPDATE, DELETE ON cimd_records TO <role>;

CREATE TABLE IF NOT EXISTS cimd_records (
    ns      smallint NOT NULL CHECK (ns BETWEEN 1 AND 32),
    key     bytea    NOT NULL CHECK (octet_length(key) BETWEEN 1 AND 1024),
    value   bytea    NOT NULL CHECK (octet_length(value) <= 262144),
    expires bigint   NOT NULL,
    PRIMARY KEY (ns, key)
);

-- Purging walks expiry order.
CREATE INDEX IF NOT EXISTS cimd_records_expires ON cimd_records (expires);
