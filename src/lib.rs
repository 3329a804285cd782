//! The part of the `reportflow` command line that other code needs to reach: the batch file
//! parser, for the fuzz targets in `fuzz/` and the tests, and the allocator the binary and the
//! benchmarks share. Everything else of the CLI lives in the binary (`main.rs`).

pub mod allocator;
pub mod batch;
pub mod zone;
