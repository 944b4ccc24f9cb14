//! Throwaway databases for tests: a fresh SQLite file in a fresh directory, or a fresh
//! database on the PostgreSQL server named by `SEXTANT_TEST_PG_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`). Either is removed when its guard drops,
//! also when the test panics. An unreachable PostgreSQL fails the test; it never skips.

use std::path::PathBuf;

use sqlx::Connection;

/// Which backend a test runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The PostgreSQL server tests use.
pub fn pg_base_url() -> String {
    std::env::var("SEXTANT_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// A database that exists for one test.
pub struct TestDatabase {
    /// The URL to open it with (`sqlite://...` or `postgres://...`).
    pub url: String,
    /// A directory of the test's own (for SQLite it also holds the database file).
    pub dir: PathBuf,
    pg_name: Option<String>,
}

impl TestDatabase {
    /// Creates a fresh database. Panics (failing the test) if PostgreSQL is not reachable.
    pub async fn create(backend: Backend) -> TestDatabase {
        let dir =
            std::env::temp_dir().join(format!("sextant-test-{}", uuid::Uuid::new_v4().simple()));
        if let Err(e) = std::fs::create_dir_all(&dir) {
            panic!("cannot create test directory {}: {e}", dir.display());
        }
        match backend {
            Backend::Sqlite => TestDatabase {
                url: format!("sqlite://{}", dir.join("sextant.db").display()),
                dir,
                pg_name: None,
            },
            Backend::Postgres => {
                let base = pg_base_url();
                let name = format!("sextant_test_{}", uuid::Uuid::new_v4().simple());
                let mut conn = match sqlx::PgConnection::connect(&base).await {
                    Ok(conn) => conn,
                    Err(e) => panic!(
                        "PostgreSQL is not reachable at {base} ({e}); start it or set SEXTANT_TEST_PG_URL"
                    ),
                };
                if let Err(e) =
                    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
                        .execute(&mut conn)
                        .await
                {
                    panic!("cannot create test database {name}: {e}");
                }
                let _ = conn.close().await;
                let mut url = match url::Url::parse(&base) {
                    Ok(url) => url,
                    Err(e) => panic!("SEXTANT_TEST_PG_URL {base:?} is not a URL: {e}"),
                };
                url.set_path(&name);
                let url = url.to_string();
                TestDatabase {
                    url,
                    dir,
                    pg_name: Some(name),
                }
            }
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
        let Some(name) = self.pg_name.take() else {
            return;
        };
        let base = pg_base_url();
        // The test's runtime may be unwinding or blocked here: drop the database from a thread
        // with a runtime of its own. Never panic in drop.
        let joined = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                eprintln!("cannot drop test database {name}: no runtime");
                return;
            };
            rt.block_on(async {
                let result = async {
                    let mut conn = sqlx::PgConnection::connect(&base).await?;
                    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                    )))
                    .execute(&mut conn)
                    .await?;
                    conn.close().await
                }
                .await;
                if let Err(e) = result {
                    eprintln!("cannot drop test database {name}: {e}");
                }
            });
        })
        .join();
        if joined.is_err() {
            eprintln!("dropping a test database panicked");
        }
    }
}
