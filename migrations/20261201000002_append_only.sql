-- The event log is append-only (issue 12, item 7).
--
-- 1. A trigger refuses UPDATE, DELETE and TRUNCATE on `events`, whoever asks, the owner
--    included. A superuser can still switch triggers off (`session_replication_role`,
--    `ALTER TABLE ... DISABLE TRIGGER`): that is what the signed seals are for.
-- 2. The server works as the role `otop_app` (api/src/server.rs sets it on every connection
--    it opens): it may SELECT and INSERT on `events` and nothing else there, so even a bug or
--    an injection in the server cannot rewrite history. Migrations, `otop rebuild` and the
--    other maintenance commands run as the database's owner.
-- 3. Snapshots record the hash of the last event they cover and a MAC of their state
--    (projections/src/event_store.rs); a snapshot that no longer matches is discarded and
--    the stream replayed from the log.

CREATE FUNCTION events_refuse_change() RETURNS trigger
    LANGUAGE plpgsql AS
$$
BEGIN
    RAISE EXCEPTION 'the event log is append-only: % on events is refused', TG_OP
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'events are corrected by appending new events, never by editing old ones';
END;
$$;

-- Statement level, so that even an UPDATE or DELETE that matches no row is refused.
CREATE TRIGGER events_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION events_refuse_change();

-- Roles belong to the whole server, not to one database: another database (another test's)
-- may be creating it at this very moment.
DO $$
BEGIN
    CREATE ROLE otop_app NOLOGIN;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;
END;
$$;

GRANT USAGE ON SCHEMA public TO otop_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO otop_app;
REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON events FROM otop_app;
REVOKE ALL ON _sqlx_migrations FROM otop_app;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO otop_app;
-- Tables that later migrations and `otop rebuild` create (as the owner) are the server's to
-- read and write too; a later migration that adds an append-only table revokes as above.
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO otop_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO otop_app;

-- Snapshots written before this migration have neither: they are discarded on their next
-- load and written afresh when the next one falls due.
ALTER TABLE snapshots ADD COLUMN last_event_hash bytea;
ALTER TABLE snapshots ADD COLUMN state_mac bytea;

-- `load_streams` returns, with a snapshot, its recorded hashes and the hash the log holds
-- now at the snapshot's last sequence.
DROP FUNCTION load_streams(text[], text[], text, text, text, boolean);
CREATE FUNCTION load_streams(p_types text[], p_ids text[], p_follow_event text,
                             p_follow_field text, p_follow_type text, p_snapshots boolean)
    RETURNS TABLE (aggregate_type text, aggregate_id text, kind integer, sequence bigint,
                   current_snapshot bigint, payload json, "position" bigint,
                   last_event_hash bytea, state_mac bytea, log_hash bytea)
    LANGUAGE plpgsql STABLE
    SET plan_cache_mode = force_generic_plan
AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    WITH asked AS (
        SELECT w.aggregate_type, w.aggregate_id
          FROM UNNEST(p_types, p_ids) AS w(aggregate_type, aggregate_id)
    ), followed AS (
        SELECT p_follow_type::text AS aggregate_type, f.aggregate_id
          FROM asked a
          CROSS JOIN LATERAL (
              SELECT e.payload -> e.event_type ->> p_follow_field AS aggregate_id
                FROM events e
               WHERE e.aggregate_type = a.aggregate_type AND e.aggregate_id = a.aggregate_id
                 AND e.sequence = 1 AND e.event_type = p_follow_event
          ) f
    ), wanted AS (
        SELECT DISTINCT k.aggregate_type, k.aggregate_id
          FROM (SELECT * FROM asked UNION ALL SELECT * FROM followed) k
         WHERE k.aggregate_id IS NOT NULL
    ), snap AS (
        SELECT w.aggregate_type, w.aggregate_id, s.last_sequence, s.current_snapshot, s.payload,
               s.last_event_hash, s.state_mac
          FROM wanted w
          LEFT JOIN LATERAL (
              SELECT s.last_sequence, s.current_snapshot, s.payload, s.last_event_hash, s.state_mac
                FROM snapshots s
               WHERE s.aggregate_type = w.aggregate_type AND s.aggregate_id = w.aggregate_id
                 AND p_snapshots
          ) s ON true
    )
    SELECT n.aggregate_type, n.aggregate_id, 0 AS kind, n.last_sequence AS sequence,
           n.current_snapshot, n.payload,
           (SELECT e.position FROM events e
             WHERE e.aggregate_type = n.aggregate_type AND e.aggregate_id = n.aggregate_id
             ORDER BY e.sequence DESC LIMIT 1) AS position,
           n.last_event_hash, n.state_mac,
           (SELECT e.hash FROM events e
             WHERE e.aggregate_type = n.aggregate_type AND e.aggregate_id = n.aggregate_id
               AND e.sequence = n.last_sequence) AS log_hash
      FROM snap n
    UNION ALL
    SELECT n.aggregate_type, n.aggregate_id, 1, e.sequence, NULL, e.payload, e.position,
           NULL, NULL, NULL
      FROM snap n
      JOIN events e ON e.aggregate_type = n.aggregate_type AND e.aggregate_id = n.aggregate_id
                   AND e.sequence > COALESCE(n.last_sequence, 0)
     ORDER BY kind, sequence;
END;
$$;
