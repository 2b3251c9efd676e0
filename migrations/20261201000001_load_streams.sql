-- The event store's load (projections/src/event_store.rs, `EventStore::load_following`):
-- streams by (aggregate_type, aggregate_id), each as one row of kind 0 (its snapshot, when
-- there is one and p_snapshots, and the position of its last event) and one row of kind 1 per
-- event after the snapshot; with p_follow_* also the streams named by a field of the first
-- event of those streams (a listing's vendor, named by `vendor_id` of its `ListingCreated`).
--
-- Every lookup is by key (LATERAL, index scans), whatever the tables' sizes, so a load costs
-- the same in a log of a million orders as in a new one. It is a function so that its plan is
-- made once per connection (generic, by key): planned afresh on every command, as a prepared
-- statement of this shape is, planning cost four times what running it does.
CREATE FUNCTION load_streams(p_types text[], p_ids text[], p_follow_event text,
                             p_follow_field text, p_follow_type text, p_snapshots boolean)
    RETURNS TABLE (aggregate_type text, aggregate_id text, kind integer, sequence bigint,
                   current_snapshot bigint, payload json, "position" bigint)
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
        SELECT w.aggregate_type, w.aggregate_id, s.last_sequence, s.current_snapshot, s.payload
          FROM wanted w
          LEFT JOIN LATERAL (
              SELECT s.last_sequence, s.current_snapshot, s.payload
                FROM snapshots s
               WHERE s.aggregate_type = w.aggregate_type AND s.aggregate_id = w.aggregate_id
                 AND p_snapshots
          ) s ON true
    )
    SELECT n.aggregate_type, n.aggregate_id, 0 AS kind, n.last_sequence AS sequence,
           n.current_snapshot, n.payload,
           (SELECT e.position FROM events e
             WHERE e.aggregate_type = n.aggregate_type AND e.aggregate_id = n.aggregate_id
             ORDER BY e.sequence DESC LIMIT 1) AS position
      FROM snap n
    UNION ALL
    SELECT n.aggregate_type, n.aggregate_id, 1, e.sequence, NULL, e.payload, e.position
      FROM snap n
      JOIN events e ON e.aggregate_type = n.aggregate_type AND e.aggregate_id = n.aggregate_id
                   AND e.sequence > COALESCE(n.last_sequence, 0)
     ORDER BY kind, sequence;
END;
$$;
