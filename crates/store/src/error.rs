//! [`StoreError`]: what went wrong in the store, with database errors classified (a unique
//! or foreign key refusing a write) so that callers need not read driver errors.

/// What went wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique constraint refused the write (a name or key taken).
    #[error("unique constraint violated")]
    NotUnique,
    /// A foreign key refused the write (a referenced object is missing or still referenced).
    #[error("foreign key constraint violated")]
    ForeignKey,
    /// A stored value could not be read back into the domain model.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("database error")]
    Database(#[source] sqlx::Error),
    /// Concurrent transactions kept changing what this write needed; retrying may succeed.
    #[error("contended write: {0}")]
    Contended(&'static str),
    #[error("migration failed")]
    Migrate(#[source] sqlx::migrate::MigrateError),
    #[error("unsupported database URL {0:?}: use sqlite:// or postgres://")]
    UnsupportedUrl(String),
    /// The SQLite database file could not be created or restricted to its owner.
    #[error("database file {path}")]
    File {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &e {
            if db.is_unique_violation() {
                return StoreError::NotUnique;
            }
            // SQLite reports a RESTRICT foreign key refusing a delete as a trigger constraint
            // (extended code 1811), which sqlx does not classify as a foreign-key violation.
            if db.is_foreign_key_violation()
                || (db.code().as_deref() == Some("1811")
                    && db.message().contains("FOREIGN KEY constraint failed"))
            {
                return StoreError::ForeignKey;
            }
        }
        StoreError::Database(e)
    }
}
