//! The schema: ordered SQL migrations embedded in the crate, applied on open.
//!
//! `reportflow_schema` holds the version of the schema (one row). Opening takes a
//! transaction-scoped advisory lock, reads the version, refuses a version newer than this build
//! knows ([`PgError::NewerSchema`], nothing changed), applies the missing migrations in
//! order and records the new version, all in one transaction: two workers opening a fresh
//! database at once do not race (the second waits for the lock, then finds the schema current),
//! and a failed migration leaves nothing behind.

use crate::url::DbUrl;
use reportflow_store::PgError;
use tokio_postgres::Client;

/// One step of the schema.
struct Migration {
    version: u32,
    sql: &'static str,
}

/// Every migration, in order; version `n` is at index `n - 1`. Never edit a released one: add
/// the next.
const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        sql: include_str!("../migrations/0001_jobs.sql"),
    },
    Migration {
        version: 2,
        sql: include_str!("../migrations/0002_labels.sql"),
    },
];

/// The schema version this build creates and understands.
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// The advisory lock held while the schema is checked and migrated ("rfschema" in ASCII).
const MIGRATE_LOCK: i64 = 0x7266_7363_6865_6d61;

/// The table of the schema version, created before the first migration.
const CREATE_SCHEMA_TABLE: &str = "
    CREATE TABLE reportflow_schema (
        one         boolean     PRIMARY KEY DEFAULT true CHECK (one),
        version     integer     NOT NULL,
        migrated_at timestamptz NOT NULL DEFAULT now()
    )";

const SCHEMA_TABLE_EXISTS: &str = "SELECT to_regclass('reportflow_schema') IS NOT NULL";

const READ_VERSION: &str = "SELECT version FROM reportflow_schema";

const WRITE_VERSION: &str = "
    INSERT INTO reportflow_schema (one, version) VALUES (true, $1)
    ON CONFLICT (one) DO UPDATE SET version = excluded.version, migrated_at = now()";

/// Brings the database to [`SCHEMA_VERSION`], or refuses a newer one. Returns the version
/// found before.
pub(crate) async fn migrate(client: &mut Client, url: &DbUrl) -> Result<u32, PgError> {
    let failed = |version: u32| {
        move |e: tokio_postgres::Error| PgError::Migration {
            url: url.shown().to_string(),
            version,
            detail: url.scrub(&crate::run::detail(&e)),
        }
    };
    let tx = client.transaction().await.map_err(failed(SCHEMA_VERSION))?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATE_LOCK])
        .await
        .map_err(failed(SCHEMA_VERSION))?;
    let exists: bool = tx
        .query_one(SCHEMA_TABLE_EXISTS, &[])
        .await
        .map_err(failed(SCHEMA_VERSION))?
        .get(0);
    let found = if exists {
        let row = tx
            .query_opt(READ_VERSION, &[])
            .await
            .map_err(failed(SCHEMA_VERSION))?;
        match row.map(|r| r.get::<_, i32>(0)) {
            Some(v) => u32::try_from(v).map_err(|_| PgError::Corrupt {
                url: url.shown().to_string(),
                detail: format!("reportflow_schema holds version {v}"),
            })?,
            None => 0,
        }
    } else {
        tx.batch_execute(CREATE_SCHEMA_TABLE)
            .await
            .map_err(failed(1))?;
        0
    };
    if found > SCHEMA_VERSION {
        // Dropping `tx` rolls back: nothing was changed.
        return Err(PgError::NewerSchema {
            url: url.shown().to_string(),
            found,
            supported: SCHEMA_VERSION,
        });
    }
    if found == SCHEMA_VERSION {
        tx.commit().await.map_err(failed(SCHEMA_VERSION))?;
        return Ok(found);
    }
    for migration in MIGRATIONS.iter().filter(|m| m.version > found) {
        tx.batch_execute(migration.sql)
            .await
            .map_err(failed(migration.version))?;
    }
    let version = i32::try_from(SCHEMA_VERSION).unwrap_or(i32::MAX);
    tx.execute(WRITE_VERSION, &[&version])
        .await
        .map_err(failed(SCHEMA_VERSION))?;
    tx.commit().await.map_err(failed(SCHEMA_VERSION))?;
    tracing::info!(from = found, to = SCHEMA_VERSION, url = %url.shown(), "migrated the store's schema");
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_numbered_in_order() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.version as usize, i + 1);
            assert!(!m.sql.trim().is_empty());
        }
    }
}
