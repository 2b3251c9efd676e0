-- One definition of the canonical form again: `event_chain_hash` itself becomes PL/pgSQL
-- and the hash chain's trigger calls it, as it did before migration 20261206000001, which
-- had written the canonical form a second time inside the trigger.
--
-- What was slow is the language, not the call: a SQL function that the planner does not
-- inline is parsed and planned again in every transaction that calls it from PL/pgSQL,
-- while a PL/pgSQL function is compiled once per connection and keeps its plans. Measured
-- with pgbench (8 clients, one event per transaction): the trigger calling this function
-- appends as fast as the trigger with the form written inside it (docs/benchmarks.md).
-- The bytes are those of migrations/20260102000001_event_hash_chain.sql, field for field;
-- `event_chain_field` is no longer called by it and stays for SQL that wants one field.
CREATE OR REPLACE FUNCTION event_chain_hash(prev_hash bytea, aggregate_type text, aggregate_id text,
                                            sequence bigint, event_type text, event_version text,
                                            payload json, metadata json) RETURNS bytea
    LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS
$$
DECLARE
    canonical bytea := prev_hash;
    field text;
    bytes bytea;
BEGIN
    -- Each field as its UTF-8 bytes after their length (8 bytes, big-endian).
    FOREACH field IN ARRAY ARRAY['otop.event.v1', aggregate_type, aggregate_id, sequence::text,
                                 event_type, event_version, payload::jsonb::text,
                                 metadata::jsonb::text]
    LOOP
        bytes := convert_to(field, 'UTF8');
        canonical := canonical || int8send(octet_length(bytes)::bigint) || bytes;
    END LOOP;
    RETURN sha256(canonical);
END;
$$;

CREATE OR REPLACE FUNCTION events_chain_row() RETURNS trigger
    LANGUAGE plpgsql AS
$$
DECLARE
    previous bytea;
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
    NEW.prev_hash := previous;
    NEW.hash := event_chain_hash(previous, NEW.aggregate_type, NEW.aggregate_id, NEW.sequence,
                                 NEW.event_type, NEW.event_version, NEW.payload, NEW.metadata);
    RETURN NEW;
END;
$$;
