//! Test support: a fresh PostgreSQL database per test, on the throwaway
//! server `scripts/pg-test-server` starts (`scripts/test` exports its URL
//! as `PURR_TEST_PG`). `PURR_TEST_DB=postgres` runs the store-touching
//! tests on it instead of SQLite.

use std::sync::atomic::{AtomicU32, Ordering};

use anyhow::Context as _;
use sqlx::postgres::PgConnection;
use sqlx::{AssertSqlSafe, Connection as _};

/// Whether tests should use PostgreSQL (`PURR_TEST_DB=postgres`).
pub fn postgres_wanted() -> bool {
    std::env::var("PURR_TEST_DB").is_ok_and(|db| db == "postgres")
}

/// Creates an empty database on the server `PURR_TEST_PG` names; returns its URL.
pub async fn fresh_pg_database() -> anyhow::Result<String> {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let server = std::env::var("PURR_TEST_PG")
        .context("PURR_TEST_PG is not set: start a server with scripts/pg-test-server (scripts/test does)")?;
    let name = format!("t_{}_{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
    let mut admin = PgConnection::connect(&server)
        .await
        .with_context(|| format!("connecting to PURR_TEST_PG {server}"))?;
    // DDL takes no bind parameters; the name is ours. A database left by an
    // earlier process with the same pid goes first.
    for sql in [
        format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        format!("CREATE DATABASE {name}"),
    ] {
        sqlx::raw_sql(AssertSqlSafe(sql)).execute(&mut admin).await?;
    }
    admin.close().await?;
    let mut url = url::Url::parse(&server)?;
    url.set_path(&name);
    Ok(url.to_string())
}
