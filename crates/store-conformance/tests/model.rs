//! The model test against every backend, from one body (`reportflow_store_conformance::model`).

use proptest::prelude::*;
use proptest::test_runner::Config;
use reportflow_store_conformance::model::{self, op};
use reportflow_store_conformance::{Postgres, Sled};
use std::time::Duration;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime")
}

proptest! {
    #![proptest_config(Config { cases: 48, ..Config::default() })]

    #[test]
    fn the_sled_store_behaves_like_the_model(ops in proptest::collection::vec(op(), 1..100)) {
        let tmp = tempfile::tempdir().unwrap();
        let sled = Sled { dir: tmp.path().join("store") };
        runtime().block_on(model::run(&sled, ops));
    }
}

proptest! {
    #![proptest_config(Config { cases: 16, ..Config::default() })]

    #[test]
    fn the_postgres_store_behaves_like_the_model(ops in proptest::collection::vec(op(), 1..60)) {
        let postgres = Postgres::fresh(Duration::from_secs(60));
        runtime().block_on(model::run(&postgres, ops));
    }
}
