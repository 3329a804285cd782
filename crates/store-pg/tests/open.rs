//! Opening the PostgreSQL store: migrations (fresh, concurrent, newer refused), and every
//! failure to connect named clearly, never with the password.

mod common;

use common::*;
use reportflow_store_pg::{PgError, PgOptions, PgStore, SCHEMA_VERSION, StoreError};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn schema_version(url: &str) -> i32 {
    raw(url)
        .await
        .query_one("SELECT version FROM reportflow_schema", &[])
        .await
        .expect("the schema version")
        .get(0)
}

/// The URL with its password replaced by `password`.
fn with_password(url: &str, password: &str) -> String {
    url.replace(reportflow_testpg::PASSWORD, password)
}

fn local_server() -> bool {
    reportflow_testpg::server()
        .expect("the test server")
        .port()
        .is_some()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_database_gets_the_current_schema() {
    let (db, _store) = fresh_store().await;
    assert_eq!(schema_version(&db.url).await, SCHEMA_VERSION as i32);
    let client = raw(&db.url).await;
    let tables: Vec<String> = client
        .query(
            "SELECT tablename FROM pg_tables WHERE tablename LIKE 'reportflow%' ORDER BY 1",
            &[],
        )
        .await
        .expect("tables")
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        tables,
        [
            "reportflow_counts",
            "reportflow_history",
            "reportflow_jobs",
            "reportflow_schema"
        ]
    );
    let indexes: Vec<String> = client
        .query(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'reportflow_jobs' ORDER BY 1",
            &[],
        )
        .await
        .expect("indexes")
        .iter()
        .map(|r| r.get(0))
        .collect();
    for index in [
        "reportflow_jobs_ended",
        "reportflow_jobs_leased",
        "reportflow_jobs_live_due",
        "reportflow_jobs_live_id",
        "reportflow_jobs_state",
    ] {
        assert!(indexes.iter().any(|i| i == index), "{index} in {indexes:?}");
    }
    let states: i64 = client
        .query_one("SELECT count(*) FROM reportflow_counts", &[])
        .await
        .expect("counts")
        .get(0);
    assert_eq!(states, 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_opening_a_fresh_database_at_once_do_not_race() {
    let db = reportflow_testpg::fresh_database();
    let opens: Vec<_> = (0..6)
        .map(|_| {
            let url = db.url.clone();
            tokio::spawn(async move { PgStore::open(&url).await.map(|_| ()) })
        })
        .collect();
    for open in opens {
        open.await.expect("a task").expect("every open succeeds");
    }
    assert_eq!(schema_version(&db.url).await, SCHEMA_VERSION as i32);
    let rows: i64 = raw(&db.url)
        .await
        .query_one("SELECT count(*) FROM reportflow_schema", &[])
        .await
        .expect("rows")
        .get(0);
    assert_eq!(rows, 1);
    // Opening an up-to-date database changes nothing and works.
    let store = PgStore::open(&db.url).await.expect("opens again");
    assert_eq!(store.counts().await.expect("counts").len(), 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newer_schema_is_refused_and_left_unchanged() {
    let (db, store) = fresh_store().await;
    drop(store);
    let newer = SCHEMA_VERSION as i32 + 1;
    raw(&db.url)
        .await
        .execute("UPDATE reportflow_schema SET version = $1", &[&newer])
        .await
        .expect("pretend a newer reportflow migrated it");
    let err = PgStore::open(&db.url).await.expect_err("refused");
    match &err {
        StoreError::Postgres(PgError::NewerSchema {
            found, supported, ..
        }) => {
            assert_eq!(*found, SCHEMA_VERSION + 1);
            assert_eq!(*supported, SCHEMA_VERSION);
        }
        other => panic!("expected NewerSchema, got {other:?}"),
    }
    let text = err.to_string();
    assert!(
        text.contains(&format!("schema version {}", SCHEMA_VERSION + 1)),
        "{text}"
    );
    assert!(text.contains(&format!("({SCHEMA_VERSION})")), "{text}");
    assert!(
        text.contains("use a newer reportflow (nothing was changed)"),
        "{text}"
    );
    assert!(text.contains("postgres:***@"), "{text}");
    assert!(!text.contains(reportflow_testpg::PASSWORD), "{text}");
    assert_eq!(schema_version(&db.url).await, newer, "unchanged");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_database_is_named_without_its_password() {
    // A port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("a port")
        .local_addr()
        .expect("its address")
        .port();
    let url = format!("postgres://reportflow:s3cret-pw@127.0.0.1:{port}/jobs");
    let options = PgOptions {
        connect_timeout: Duration::from_secs(2),
        ..PgOptions::default()
    };
    let started = std::time::Instant::now();
    let err = PgStore::open_with(&url, options)
        .await
        .expect_err("nothing listens there");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "failed at once"
    );
    assert!(
        matches!(err, StoreError::Postgres(PgError::Unreachable { .. })),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains(&format!("postgres://reportflow:***@127.0.0.1:{port}/jobs")),
        "{text}"
    );
    assert!(text.contains("check that the server is running"), "{text}");
    assert!(!text.contains("s3cret-pw"), "{text}");
    assert!(!format!("{err:?}").contains("s3cret-pw"), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_login_and_a_missing_database_are_named() {
    let db = reportflow_testpg::fresh_database();
    if local_server() {
        let wrong = with_password(&db.url, "not-the-pw-4711");
        let err = PgStore::open(&wrong).await.expect_err("a wrong password");
        assert!(
            matches!(err, StoreError::Postgres(PgError::LoginRefused { .. })),
            "{err:?}"
        );
        let text = err.to_string();
        assert!(text.contains("check the user name and password"), "{text}");
        assert!(!text.contains("not-the-pw-4711"), "{text}");
        assert!(text.contains("postgres:***@"), "{text}");
    }
    let missing = db.url.replace(&db.name, "no_such_database");
    let err = PgStore::open(&missing).await.expect_err("no such database");
    assert!(
        matches!(err, StoreError::Postgres(PgError::NoDatabase { .. })),
        "{err:?}"
    );
    assert!(err.to_string().contains("createdb"), "{err}");
    assert!(
        !err.to_string().contains(reportflow_testpg::PASSWORD),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sslmode_comes_from_the_url() {
    let db = reportflow_testpg::fresh_database();
    if local_server() {
        // The test server offers no TLS: `prefer` (the default) and `disable` go without it,
        // `require` refuses to.
        PgStore::open(&format!("{}?sslmode=disable", db.url))
            .await
            .expect("disable");
        PgStore::open(&format!("{}?sslmode=prefer", db.url))
            .await
            .expect("prefer");
        let err = PgStore::open(&format!("{}?sslmode=require", db.url))
            .await
            .expect_err("require, without TLS");
        assert!(
            matches!(err, StoreError::Postgres(PgError::Tls { .. })),
            "{err:?}"
        );
        assert!(err.to_string().contains("does not support TLS"), "{err}");
        assert!(
            !err.to_string().contains(reportflow_testpg::PASSWORD),
            "{err}"
        );
    }
    let err = PgStore::open(&format!("{}?sslmode=verify-full", db.url))
        .await
        .expect_err("not a mode tokio-postgres knows");
    assert!(
        matches!(err, StoreError::Postgres(PgError::InvalidUrl { .. })),
        "{err:?}"
    );
    assert!(
        !err.to_string().contains(reportflow_testpg::PASSWORD),
        "{err}"
    );
}

/// A server that accepts TLS, then answers garbage: the client does try a TLS handshake
/// (through rustls), and says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_tls_handshake_is_named() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binds");
    let port = listener.local_addr().expect("its address").port();
    let server = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.expect("a connection");
        let mut request = [0u8; 8];
        socket
            .read_exact(&mut request)
            .await
            .expect("the SSL request");
        // Length 8, then the SSLRequest code 80877103.
        assert_eq!(request, [0, 0, 0, 8, 4, 210, 22, 47]);
        socket.write_all(b"S").await.expect("writes");
        socket
            .write_all(b"this is not a TLS server hello\r\n")
            .await
            .expect("writes");
        let _ = socket.shutdown().await;
    });
    let url = format!("postgres://u:s3cret@localhost:{port}/db?sslmode=require");
    let err = PgStore::open(&url).await.expect_err("no TLS there");
    assert!(
        matches!(err, StoreError::Postgres(PgError::Tls { .. })),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(text.contains("TLS handshake"), "{text}");
    assert!(text.contains("sslmode=disable"), "{text}");
    assert!(!text.contains("s3cret"), "{text}");
    server.await.expect("the fake server");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_urls_and_options_are_refused_before_connecting() {
    for url in [
        "mysql://u:s3cret@h/db",
        "host=h password=s3cret",
        "postgres://u:s3cret@/db",
    ] {
        let err = PgStore::open(url).await.expect_err("refused");
        assert!(
            matches!(err, StoreError::Postgres(PgError::InvalidUrl { .. })),
            "{url}: {err:?}"
        );
        assert!(!err.to_string().contains("s3cret"), "{err}");
        assert!(
            err.to_string().contains("postgres://user:password@host"),
            "{err}"
        );
    }
    for options in [
        PgOptions {
            pool_size: 0,
            ..PgOptions::default()
        },
        PgOptions {
            lease: Duration::ZERO,
            ..PgOptions::default()
        },
    ] {
        let err = PgStore::open_with("postgres://u@h/db", options)
            .await
            .expect_err("refused");
        assert!(
            matches!(err, StoreError::Postgres(PgError::InvalidOptions { .. })),
            "{err:?}"
        );
    }
}
