//! A fresh database per benchmark run, dropped when the run ends.

use std::str::FromStr;

use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection, PgConnection, PgPool};
use uuid::Uuid;

pub struct BenchDatabase {
    server: String,
    pub name: String,
    pub url: String,
    pub pool: PgPool,
}

impl BenchDatabase {
    /// Creates and migrates `otop_bench_<uuid>` on `server`.
    pub async fn create(server: &str) -> anyhow::Result<BenchDatabase> {
        let name = format!("otop_bench_{}", Uuid::new_v4().simple());
        let url = PgConnectOptions::from_str(server)?
            .database(&name)
            .to_url_lossy()
            .to_string();
        otop_projections::db::create_database_if_missing(&url).await?;
        let pool = otop_projections::db::connect(&url, 32).await?;
        otop_projections::db::migrate(&pool).await?;
        Ok(BenchDatabase {
            server: server.to_string(),
            name,
            url,
            pool,
        })
    }

    /// Opens `name` on `server`, a database an earlier run kept (`BENCH_KEEP_DATABASE`), and
    /// brings its schema up to date.
    pub async fn open(server: &str, name: &str) -> anyhow::Result<BenchDatabase> {
        let url = PgConnectOptions::from_str(server)?
            .database(name)
            .to_url_lossy()
            .to_string();
        let pool = otop_projections::db::connect(&url, 32).await?;
        otop_projections::db::migrate(&pool).await?;
        Ok(BenchDatabase {
            server: server.to_string(),
            name: name.to_string(),
            url,
            pool,
        })
    }

    /// Drops the database, unless `BENCH_KEEP_DATABASE` is set (then says which it kept).
    pub async fn drop_unless_kept(self) -> anyhow::Result<()> {
        if std::env::var_os("BENCH_KEEP_DATABASE").is_some() {
            eprintln!(
                "BENCH_KEEP_DATABASE is set: kept the database {}",
                self.name
            );
            return Ok(());
        }
        self.drop_database().await
    }

    pub async fn drop_database(self) -> anyhow::Result<()> {
        self.pool.close().await;
        let options = PgConnectOptions::from_str(&self.server)?.database("postgres");
        let mut admin = PgConnection::connect_with(&options).await?;
        sqlx::query(&format!(
            "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
            self.name
        ))
        .execute(&mut admin)
        .await?;
        admin.close().await?;
        Ok(())
    }
}
