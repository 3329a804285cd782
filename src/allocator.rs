//! The memory allocator of the `reportflow` binary (and of the benchmark suite, which measures
//! the engine as that binary runs it).
//!
//! mimalloc instead of glibc's malloc: the store (sled) and the HTTP stack allocate at every
//! step, and glibc's allocator was 18 % of the engine's CPU in the overhead profile
//! (docs/benchmarks.md, issue 16). mimalloc backs its memory with transparent huge pages where
//! the system allows them on request, which took a 1 GiB download's peak RSS from 20 to 77 MiB;
//! [`settle`] turns them off for the process. The library crates leave the allocator to their
//! embedder.

/// The allocator's type, for a binary's `#[global_allocator]` static.
pub type Allocator = mimalloc::MiMalloc;

/// The allocator: `#[global_allocator] static ALLOCATOR: Allocator = ALLOCATOR;`.
pub const ALLOCATOR: Allocator = mimalloc::MiMalloc;

/// Turns transparent huge pages off for this process (Linux; nothing elsewhere). Call it first
/// thing in `main`: it holds for memory already mapped too, as the kernel checks it at each
/// page fault.
pub fn settle() {
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_THP_DISABLE takes plain integers and touches no memory of ours.
    unsafe {
        // A kernel without it (before 3.15) answers EINVAL: huge pages stay as they were.
        let _ = libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}
