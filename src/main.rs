//! `reportflow`: durable, resumable downloads of Bandwidth account and billing reports.
//!
//! The command-line interface is being built (see the README); until it lands this binary only
//! reports its version.

fn main() {
    println!(
        "reportflow {}: the command-line interface is coming; see README.md for the crates available today.",
        env!("CARGO_PKG_VERSION")
    );
}
