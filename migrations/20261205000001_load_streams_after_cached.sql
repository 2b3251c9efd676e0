-- The event store's load with what the process already holds (projections/src/event_store.rs,
-- `StreamCache`): `p_after[i]`, when not NULL, is the sequence up to which the process holds
-- stream i's state, so the stream comes back without its snapshot and with only the events
-- after that sequence (usually none). A NULL loads the stream as before: its snapshot and the
-- events after it. Streams named by `p_follow_*` are always loaded in full.
--
-- Every load still reads the log: a state held in memory is only ever a starting point, and
-- what another process appended since comes back with it.
DROP FUNCTION load_streams(text[], text[], text, text, text, boolean);
CREATE FUNCTION load_streams(p_types text[], p_ids text[], p_after bigint[], p_follow_event text,
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
        SELECT w.aggregate_type, w.aggregate_id, w.after
          FROM UNNEST(p_types, p_ids, p_after) AS w(aggregate_type, aggregate_id, after)
    ), followed AS (
        SELECT p_follow_type::text AS aggregate_type, f.aggregate_id, NULL::bigint AS after
          FROM asked a
          CROSS JOIN LATERAL (
              SELECT e.payload -> e.event_type ->> p_follow_field AS aggregate_id
                FROM events e
               WHERE e.aggregate_type = a.aggregate_type AND e.aggregate_id = a.aggregate_id
                 AND e.sequence = 1 AND e.event_type = p_follow_event
          ) f
    ), wanted AS (
        -- A stream both asked for and followed keeps what the process holds of it.
        SELECT DISTINCT ON (k.aggregate_type, k.aggregate_id)
               k.aggregate_type, k.aggregate_id, k.after
          FROM (SELECT * FROM asked UNION ALL SELECT * FROM followed) k
         WHERE k.aggregate_id IS NOT NULL
         ORDER BY k.aggregate_type, k.aggregate_id, k.after NULLS LAST
    ), snap AS (
        SELECT w.aggregate_type, w.aggregate_id, w.after, s.last_sequence, s.current_snapshot,
               s.payload, s.last_event_hash, s.state_mac
          FROM wanted w
          LEFT JOIN LATERAL (
              SELECT s.last_sequence, s.current_snapshot, s.payload, s.last_event_hash, s.state_mac
                FROM snapshots s
               WHERE s.aggregate_type = w.aggregate_type AND s.aggregate_id = w.aggregate_id
                 AND p_snapshots AND w.after IS NULL
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
                   AND e.sequence > COALESCE(n.after, n.last_sequence, 0)
     ORDER BY kind, sequence;
END;
$$;
