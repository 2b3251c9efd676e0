//! Connecting to PostgreSQL: create the database when it is missing, apply the migrations.

use std::str::FromStr;
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgConnection, PgPool};

/// The migrations in `migrations/`, compiled into the binary.
pub static MIGRATOR: Migrator = sqlx::migrate!("../migrations");

pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/otop";

/// Creates the database named in `url` when it does not exist yet, connecting to the
/// server's `postgres` database to do so.
pub async fn create_database_if_missing(url: &str) -> Result<(), sqlx::Error> {
    let options = PgConnectOptions::from_str(url)?;
    let database = options
        .get_database()
        .map(str::to_string)
        .unwrap_or_else(|| "postgres".to_string());
    let admin_options = options
        .clone()
        .database("postgres")
        .disable_statement_logging();
    let mut admin = PgConnection::connect_with(&admin_options).await?;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(&database)
            .fetch_one(&mut admin)
            .await?;
    if !exists {
        let quoted = database.replace('"', "\"\"");
        match sqlx::query(&format!("CREATE DATABASE \"{quoted}\""))
            .execute(&mut admin)
            .await
        {
            Ok(_) => tracing::info!(database, "created database"),
            // Another process created it between our check and our CREATE.
            Err(sqlx::Error::Database(db)) if db.code().as_deref() == Some("42P04") => {}
            Err(other) => return Err(other),
        }
    }
    admin.close().await?;
    Ok(())
}

pub async fn connect(url: &str, max_connections: u32) -> Result<PgPool, sqlx::Error> {
    let options = PgConnectOptions::from_str(url)?.disable_statement_logging();
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(options)
        .await
}

/// The role the server works as (migrations/20261201000002_append_only.sql): SELECT and
/// INSERT on `events`, nothing more there; the read models and the rest are its to write.
pub const APP_ROLE: &str = "otop_app";

/// A pool on the same server and database as `owner`, whose every connection works as
/// [`APP_ROLE`]: what the server runs on, so no code path of it can rewrite the log. The
/// connecting user must be a member of the role (the owner that ran the migrations is).
pub async fn app_pool(owner: &PgPool, max_connections: u32) -> Result<PgPool, sqlx::Error> {
    let options = owner.connect_options().as_ref().clone();
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(30))
        .after_connect(|conn, _meta| {
            Box::pin(async move {
                sqlx::query(&format!("SET ROLE {APP_ROLE}"))
                    .execute(conn)
                    .await?;
                Ok(())
            })
        })
        .connect_with(options)
        .await
}

pub async fn migrate(pool: &PgPool) -> Result<(), sqlx::migrate::MigrateError> {
    MIGRATOR.run(pool).await
}
