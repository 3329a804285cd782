//! The harness starts a real server, hands out databases, survives a restart, and cleans up.

use reportflow_testpg::{fresh_database, server};

/// Connects to `url` and answers `SELECT current_database()`.
fn current_database(url: &str) -> Result<String, tokio_postgres::Error> {
    let url = url.to_string();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async move {
        let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await?;
        tokio::spawn(connection);
        let row = client.query_one("SELECT current_database()", &[]).await?;
        Ok(row.get::<_, String>(0))
    })
}

#[test]
fn databases_are_fresh_and_survive_a_restart() {
    let a = fresh_database();
    let b = fresh_database();
    assert_ne!(a.name, b.name, "each test gets its own database");
    assert_eq!(current_database(&a.url).expect("connect"), a.name);
    assert_eq!(current_database(&b.url).expect("connect"), b.name);

    let pg = server().expect("the server");
    if pg.port().is_some() {
        pg.restart().expect("restart");
        assert_eq!(
            current_database(&a.url).expect("connect after restart"),
            a.name
        );
        pg.stop().expect("stop");
        assert!(
            current_database(&a.url).is_err(),
            "a stopped server refuses"
        );
        pg.start_again().expect("start again");
        assert_eq!(
            current_database(&a.url).expect("connect after start"),
            a.name
        );
    }
}

#[test]
fn a_wrong_password_is_refused() {
    let db = fresh_database();
    let wrong = db
        .url
        .replace(reportflow_testpg::PASSWORD, "not-the-password");
    if server().expect("the server").port().is_some() {
        assert!(
            current_database(&wrong).is_err(),
            "host connections need the password"
        );
    }
}
