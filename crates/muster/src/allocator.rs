//! The process's allocator: mimalloc, told to keep the memory it frees.
//!
//! Alerts are built on one thread and written (and freed) on another; glibc's allocator handles
//! that pattern poorly, and ingest spends much of its time allocating. By default mimalloc hands
//! freed pages back to the system soon after (`madvise`), and under a steady stream of batches
//! each batch then faulted its memory in afresh: about half the benchmark's kernel time, and 7%
//! of ingest's throughput in paired runs. Kept, the memory is reused by the next batch; the
//! process stays at its high-water mark instead of shrinking between bursts.
//! `MIMALLOC_PURGE_DELAY` (milliseconds, -1 for never) still chooses otherwise.

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_delay`: its place in `mi_option_e` (libmimalloc-sys names no
/// constant for it).
const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
/// Never purge.
const NEVER: std::ffi::c_long = -1;
/// The variable mimalloc reads the option from; an operator's choice wins over ours.
const PURGE_DELAY_VARIABLE: &str = "MIMALLOC_PURGE_DELAY";

/// Applies the options above; called first thing in `main`.
pub fn configure() {
    if std::env::var_os(PURGE_DELAY_VARIABLE).is_some() {
        return;
    }
    // SAFETY: sets a plain integer option in mimalloc's option table, which it reads when it
    // next considers purging; no memory is touched.
    #[allow(unsafe_code)]
    unsafe {
        libmimalloc_sys::mi_option_set(PURGE_DELAY, NEVER)
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[allow(unsafe_code)]
    fn purge_delay() -> std::ffi::c_long {
        // SAFETY: reads a plain integer option.
        unsafe { libmimalloc_sys::mi_option_get(PURGE_DELAY) }
    }

    #[test]
    fn configure_turns_purging_off_through_the_purge_delay_option() {
        if std::env::var_os(PURGE_DELAY_VARIABLE).is_some() {
            eprintln!("skipped: {PURGE_DELAY_VARIABLE} is set, so the option is the operator's");
            return;
        }
        // mimalloc's own default (10 ms in mimalloc 2, 1 s in 3): the index is the purge delay's.
        assert!(matches!(purge_delay(), 10 | 1_000), "option {PURGE_DELAY} is not the purge delay");
        configure();
        assert_eq!(purge_delay(), NEVER);
    }
}
