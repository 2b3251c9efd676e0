-- The pages' sessions (web/src/session.rs): tower-sessions' sqlx store, in the table layout
-- that store expects. A session holds who signed in, the cart, the CSRF token and the
-- language; nothing in it is a fact of the marketplace (those are events), so rows are
-- updated and deleted freely, and expired ones are swept by the server.
CREATE TABLE web_sessions (
    id text PRIMARY KEY NOT NULL,
    data bytea NOT NULL,
    expiry_date timestamptz NOT NULL
);
CREATE INDEX web_sessions_expiry ON web_sessions (expiry_date);
-- Tables created by the migrations are the app role's by default privilege (20261201000002).
