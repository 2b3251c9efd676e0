-- The sealer works as the server's role too (`otop_app`, which may not lock `events` against
-- writers): the one thing it needs beyond SELECT and INSERT, a settled log position, is this
-- function, which runs with its owner's rights and does only that (projections/src/seal.rs,
-- `settled_position`, says why a brief SHARE lock is what makes the position final).
CREATE FUNCTION settled_log_position() RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = public, pg_temp
AS $$
BEGIN
    PERFORM set_config('lock_timeout', '2s', true);
    LOCK TABLE events IN SHARE MODE;
    RETURN coalesce((SELECT max(position) FROM events), 0);
END;
$$;
REVOKE ALL ON FUNCTION settled_log_position() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION settled_log_position() TO otop_app;

-- Seals are appended, never changed: by the server's role by its privileges, by anyone with
-- the trigger (a superuser can switch it off; the file copy of the seals is for that).
REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON log_seals FROM otop_app;

CREATE FUNCTION log_seals_refuse_change() RETURNS trigger
    LANGUAGE plpgsql AS
$$
BEGIN
    RAISE EXCEPTION 'seals are append-only: % on log_seals is refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER log_seals_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON log_seals
    FOR EACH STATEMENT EXECUTE FUNCTION log_seals_refuse_change();
