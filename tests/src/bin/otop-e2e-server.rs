//! A real API process for the tests that kill one (`kill -9`): configured from the
//! environment exactly as `otop serve` is (`DATABASE_URL`, `OTOP_BIND`, the secrets), it
//! prints the address it listens on and serves until it is killed.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = otop_api::Config::from_env()?;
    let pool = otop_api::prepare_database(&config).await?;
    let server = otop_api::start(config, pool).await?;
    println!("listening on {}", server.addr);
    std::future::pending::<()>().await;
    Ok(())
}
