//! The embedding example (`examples/embedding.rs`) runs against the simulator.

#[path = "../examples/embedding.rs"]
#[allow(dead_code)]
mod embedding;

use reportflow_core::Date;
use reportflow_driver::{Credentials, StoreLocation};
use reportflow_sim::{Sim, SimConfig};
use sha2::{Digest, Sha256};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_embedding_example_downloads_its_reports_and_resubmits_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    nightly_twice(dir.path().join("store").into(), dir.path()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_embedding_example_works_the_same_on_a_postgresql_store() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = reportflow_testpg::fresh_database();
    nightly_twice(db.url.as_str().into(), dir.path()).await;
}

/// The example's night, twice (a pipeline re-run): the reports are downloaded once, nothing is
/// created again.
async fn nightly_twice(store: StoreLocation, dir: &std::path::Path) {
    let sim = Sim::start(SimConfig {
        processing_time: Duration::from_millis(50),
        billing_processing_time: Duration::from_millis(50),
        ..SimConfig::default()
    })
    .await
    .expect("the simulator starts");
    let settings = || embedding::Settings {
        store: store.clone(),
        out_dir: dir.join("reports"),
        base_url: sim.base_url(),
        account: "9900000".into(),
        credentials: Credentials::Basic {
            username: "demo".into(),
            password: "demo-secret".into(),
        },
        day: Date::constant(2026, 11, 25),
    };
    let night = embedding::nightly(settings())
        .await
        .expect("the pipeline runs");
    assert!(night.summary.all_succeeded(), "{:?}", night.summary);
    assert_eq!(night.files.len(), 2);
    let stats = sim.stats();
    for file in &night.files {
        let bytes = std::fs::read(file).expect("the file exists");
        let sha: String = Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert!(
            stats.file_sha256.values().any(|d| d.sha256 == sha),
            "{} was served",
            file.display()
        );
    }
    // Run again, as a pipeline re-run would: the same keys name the same jobs.
    let again = embedding::nightly(settings())
        .await
        .expect("the pipeline runs again");
    assert_eq!(again.summary.live_at_start, 0);
    assert_eq!(again.files, night.files);
    let stats = sim.stats();
    assert_eq!(
        stats.total_instance_creations() + stats.total_billing_creations(),
        2
    );
    sim.shutdown();
}
