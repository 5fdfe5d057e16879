//! Many calls at once, end to end: calls from several threads never cross, and when they
//! are done the caller has no child process and no descriptor more than before.
//!
//! A binary of its own with a single test, so that nothing else runs in the process
//! while the children and descriptors are counted.

use std::collections::BTreeSet;

use boxed::sandboxed;
use boxed_tests::e2e;
use nix::errno::Errno;
use nix::sys::wait::{WaitPidFlag, waitpid};

const THREADS: u64 = 8;
const CALLS: u64 = 100;

#[sandboxed]
fn add(a: u64, b: u64) -> u64 {
    a + b
}

/// The arguments of call `call` of thread `thread`; every call's sum is different.
fn arguments(thread: u64, call: u64) -> (u64, u64) {
    (thread * 1_000_000 + call, call * 1_000)
}

fn open_descriptors() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .expect("listing /proc/self/fd")
        .count()
}

/// The children of every thread of this process, as `/proc` lists them.
fn children() -> Vec<String> {
    std::fs::read_dir("/proc/self/task")
        .expect("listing /proc/self/task")
        .filter_map(|task| {
            let path = task.ok()?.path().join("children");
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{}: {e} (needs CONFIG_PROC_CHILDREN)", path.display()));
            let text = text.trim().to_string();
            (!text.is_empty()).then(|| format!("{}: {text}", path.display()))
        })
        .collect()
}

#[test]
fn parallel_calls_never_cross_and_leave_nothing_behind() {
    e2e();
    let descriptors = open_descriptors();
    assert_eq!(
        children(),
        Vec::<String>::new(),
        "children before the calls"
    );

    let threads: Vec<_> = (0..THREADS)
        .map(|thread| {
            std::thread::spawn(move || {
                (0..CALLS)
                    .map(|call| {
                        let (a, b) = arguments(thread, call);
                        ((a, b), add(a, b))
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut sums = BTreeSet::new();
    for thread in threads {
        for ((a, b), sum) in thread.join().expect("a calling thread panicked") {
            assert_eq!(sum, a + b, "add({a}, {b})");
            sums.insert(sum);
        }
    }
    assert_eq!(
        sums.len() as u64,
        THREADS * CALLS,
        "every call had its own answer"
    );

    assert_eq!(
        waitpid(None, Some(WaitPidFlag::WNOHANG)),
        Err(Errno::ECHILD),
        "the caller still has a child"
    );
    assert_eq!(children(), Vec::<String>::new(), "children after the calls");
    assert_eq!(
        open_descriptors(),
        descriptors,
        "open descriptors before and after the calls"
    );
}
