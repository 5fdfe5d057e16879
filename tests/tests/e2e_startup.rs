//! A start-up step of the child that fails for a reason other than the privilege drop
//! is reported as that step, end to end: a caller whose `RLIMIT_NPROC` leaves room for
//! the supervisor (or zygote) but not for the fork of the sandbox (or spare) gets
//! `ErrorKind::Startup`, with a message that names the fork and `EAGAIN`, one-shot and
//! through a zygote. The control: the same calls work once there is room for one task
//! more, and under the caller's own limit.
//!
//! `RLIMIT_NPROC` counts every task of the caller's uid, so the limit is set in a fresh
//! process of this binary, whose file holds this one test; the other processes of the
//! uid stay as they are while it runs.

use boxed::{ErrorKind, Policy, sandboxed};
use boxed_tests::{e2e, in_fresh_process};
use nix::sys::resource::{Resource, getrlimit, setrlimit};

#[sandboxed]
fn add(a: u64, b: u64) -> u64 {
    a + b
}

/// How many tasks (threads included) the real uid of this process has, from `/proc`.
fn tasks_of_my_uid() -> u64 {
    let me = nix::unistd::getuid().as_raw().to_string();
    std::fs::read_dir("/proc")
        .expect("listing /proc")
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| std::fs::read_to_string(format!("/proc/{pid}/status")).ok())
        .filter(|status| {
            boxed_tests::status_field(status, "Uid")
                .split_whitespace()
                .next()
                == Some(&me)
        })
        .map(|status| {
            boxed_tests::status_field(&status, "Threads")
                .parse::<u64>()
                .unwrap_or(1)
        })
        .sum()
}

/// Raises the room for new tasks one at a time, from none, until the call works. Below
/// that, some start-up step fails; at exactly the room for the supervisor (or zygote)
/// alone, it is the fork of the sandbox (or spare). Returns every failure seen.
fn failures_until_it_works(policy: &Policy) -> Vec<boxed::Error> {
    let (soft, hard) = getrlimit(Resource::RLIMIT_NPROC).expect("getrlimit(RLIMIT_NPROC)");
    let mut failures = Vec::new();
    for room in 0..8 {
        let limit = (tasks_of_my_uid() + room).min(hard);
        setrlimit(Resource::RLIMIT_NPROC, limit, hard).expect("lowering RLIMIT_NPROC");
        let result = policy.run(|| boxed::try_call(|| add(2, 3)));
        setrlimit(Resource::RLIMIT_NPROC, soft, hard).expect("restoring RLIMIT_NPROC");
        match result {
            Ok(sum) => {
                assert_eq!(sum, 5);
                return failures;
            }
            Err(error) => failures.push(error),
        }
    }
    panic!("the call never worked, with room for up to 7 more tasks: {failures:?}");
}

#[test]
fn a_fork_that_fails_is_a_startup_failure() {
    e2e();
    in_fresh_process("a_fork_that_fails_is_a_startup_failure", || {
        for (mode, policy) in [
            ("one-shot", Policy::new()),
            ("zygote", Policy::new().zygote(true)),
        ] {
            // Before any other call: a zygote, once started, has its spares forked.
            let failures = failures_until_it_works(&policy);
            // The control: with more room, and under the caller's own limit, it works.
            assert_eq!(policy.run(|| add(2, 3)), 5, "{mode}");
            let forks: Vec<_> = failures
                .iter()
                .filter(|error| error.kind() == ErrorKind::Startup)
                .collect();
            assert!(
                !forks.is_empty(),
                "{mode}: no start-up failure among {:?}",
                failures.iter().map(|e| e.to_string()).collect::<Vec<_>>()
            );
            for error in forks {
                let message = error.to_string();
                assert!(message.contains("(fork)"), "{mode}: {message}");
                assert!(message.contains("EAGAIN"), "{mode}: {message}");
                assert!(!message.contains("privileges"), "{mode}: {message}");
            }
            for error in &failures {
                assert_ne!(error.kind(), ErrorKind::Privileges, "{mode}: {error}");
            }
        }
    });
}
