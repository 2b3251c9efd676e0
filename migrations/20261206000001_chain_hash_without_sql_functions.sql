-- The hash chain's trigger computes the canonical form itself, in PL/pgSQL statements over
-- built-in functions, instead of calling the SQL functions `event_chain_hash` and
-- `event_chain_field` (migrations/20260102000001_event_hash_chain.sql, which defines the
-- canonical form; `otop verify` recomputes it outside the database).
--
-- Why: those SQL functions are not inlined (a field's argument is used twice and may be
-- costly, so the planner keeps the call), and PL/pgSQL evaluates its simple expressions in
-- state that lives for one transaction. So every appending transaction parsed and planned
-- the two SQL functions again: about 0.3 ms of the server's CPU per one-event append on this
-- 2-core machine, against about 0.05 ms for the hash itself (docs/benchmarks.md, "issue 11,
-- a third time"). The bytes hashed are the same, field for field; `event_chain_hash` stays
-- for SQL that wants to recompute a hash (tests/e2e/seals.rs), and
-- tests/e2e/audit.rs's chain checks compare every trigger-made hash with `otop verify`'s.
CREATE OR REPLACE FUNCTION events_chain_row() RETURNS trigger
    LANGUAGE plpgsql AS
$$
DECLARE
    previous bytea;
    canonical bytea;
    field text;
    bytes bytea;
BEGIN
    IF NEW.sequence = 1 THEN
        previous := '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea;
    ELSE
        SELECT e.hash INTO previous
          FROM events e
         WHERE e.aggregate_type = NEW.aggregate_type AND e.aggregate_id = NEW.aggregate_id
           AND e.sequence = NEW.sequence - 1;
        IF previous IS NULL THEN
            RAISE EXCEPTION 'event % of % % has no predecessor at sequence %',
                NEW.sequence, NEW.aggregate_type, NEW.aggregate_id, NEW.sequence - 1
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
    END IF;
    -- prev_hash, then each field as its UTF-8 bytes after their length (8 bytes, big-endian).
    -- A NULL field makes the hash NULL, which the column refuses, as before.
    canonical := previous;
    FOREACH field IN ARRAY ARRAY['otop.event.v1', NEW.aggregate_type, NEW.aggregate_id,
                                 NEW.sequence::text, NEW.event_type, NEW.event_version,
                                 NEW.payload::jsonb::text, NEW.metadata::jsonb::text]
    LOOP
        bytes := convert_to(field, 'UTF8');
        canonical := canonical || int8send(octet_length(bytes)::bigint) || bytes;
    END LOOP;
    NEW.prev_hash := previous;
    NEW.hash := sha256(canonical);
    RETURN NEW;
END;
$$;
