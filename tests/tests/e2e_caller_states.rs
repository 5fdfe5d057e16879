//! Calls made from a program in the states a daemon or a server may be in: `SIGCHLD`
//! ignored, a thread reaping every child, a low descriptor limit, its standard
//! descriptors closed, forked after a call, every signal blocked, a periodic timer
//! interrupting its system calls, `SIGPIPE` at its default with a stdout nobody reads,
//! and answers above the response bound. Each state is set up in a fresh process of this
//! binary, and in each the same calls, without and with a zygote, come back exactly as
//! they do from a program in no special state (the first test).

use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use boxed::{ErrorKind, Policy, sandboxed};
use boxed_tests::{e2e, in_fresh_process, peak_resident_kib, resume_with_message};
use nix::sys::resource::{Resource, getrlimit, setrlimit};
use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};

#[sandboxed]
fn add(a: u64, b: u64) -> u64 {
    a + b
}

/// Ends the way it is asked to.
#[sandboxed]
fn end(how: String) -> u64 {
    match how.as_str() {
        "panic" => panic!("asked to panic"),
        "exit" => std::process::exit(3),
        "abort" => std::process::abort(),
        "sleep" => loop {
            std::thread::sleep(Duration::from_secs(3600));
        },
        _ => 0,
    }
}

/// The sandbox's descriptor limit, soft and hard.
#[sandboxed]
fn open_files_limit() -> (u64, u64) {
    getrlimit(Resource::RLIMIT_NOFILE).expect("getrlimit")
}

/// The sandbox's parent: with a zygote, the zygote.
#[sandboxed]
fn parent() -> i32 {
    nix::unistd::getppid().as_raw()
}

/// Prints `lines` lines on stdout and stderr, then answers.
#[sandboxed]
fn chatter(lines: u32) -> u32 {
    for i in 0..lines {
        println!("chatter {i}");
        eprintln!("chatter {i}");
    }
    lines
}

/// An answer of `length` bytes, under a bound of 1 KiB: its frame's payload is the
/// JSON's length (8 bytes), the string and two quotes, and the attachment count (4).
#[sandboxed(max_response = "1KiB")]
fn answer(length: usize) -> String {
    "a".repeat(length)
}

/// The policies of the two modes.
fn modes() -> [(&'static str, Policy); 2] {
    [
        ("one-shot", Policy::new()),
        ("zygote", Policy::new().zygote(true)),
    ]
}

fn failure<R: std::fmt::Debug>(policy: &Policy, call: impl FnOnce() -> R) -> boxed::Error {
    match policy.run(|| boxed::try_call(call)) {
        Ok(value) => panic!("the call returned {value:?} instead of failing"),
        Err(error) => error,
    }
}

/// Every outcome a call can have, each as it must be, without and with a zygote. The
/// timeout ends its call on time: well before the sandbox's hour of sleep, and not
/// before the timeout.
fn outcomes_are_exact(state: &str) {
    for (mode, policy) in modes() {
        let context = format!("{state}, {mode}");
        assert_eq!(policy.run(|| add(2, 3)), 5, "{context}");
        let panicked = failure(&policy, || end("panic".into()));
        assert_eq!(panicked.kind(), ErrorKind::Panic, "{context}: {panicked}");
        assert_eq!(
            panicked.panic_message(),
            Some("asked to panic"),
            "{context}"
        );
        let exited = failure(&policy, || end("exit".into()));
        assert_eq!(exited.kind(), ErrorKind::NoAnswer, "{context}: {exited}");
        assert_eq!(exited.exit_code(), Some(3), "{context}");
        let aborted = failure(&policy, || end("abort".into()));
        assert_eq!(aborted.kind(), ErrorKind::Signal, "{context}: {aborted}");
        assert_eq!(aborted.signal(), Some(libc::SIGABRT), "{context}");
        let timeout = Duration::from_millis(500);
        let started = Instant::now();
        let timed_out = failure(&policy.clone().timeout(timeout), || end("sleep".into()));
        let took = started.elapsed();
        assert_eq!(
            timed_out.kind(),
            ErrorKind::Timeout,
            "{context}: {timed_out}"
        );
        assert!(
            took >= timeout && took < Duration::from_secs(60),
            "{context}: a timeout of {timeout:?} ended the call after {took:?}"
        );
    }
}

#[test]
fn a_program_in_no_special_state() {
    e2e();
    in_fresh_process("a_program_in_no_special_state", || {
        outcomes_are_exact("no special state");
        for (mode, policy) in modes() {
            assert_eq!(policy.run(open_files_limit), (64, 64), "{mode}");
        }
    });
}

#[test]
fn sigchld_ignored() {
    e2e();
    in_fresh_process("sigchld_ignored", || {
        // As many daemons do: the kernel then reaps every child at once.
        // SAFETY: SIG_IGN installs no handler code.
        unsafe { nix::sys::signal::signal(Signal::SIGCHLD, SigHandler::SigIgn) }
            .expect("ignoring SIGCHLD");
        // Control: a child of this process is indeed reaped without a wait.
        let mut child = std::process::Command::new("true").spawn().expect("true");
        let waited = child.wait();
        assert_eq!(
            waited.map_err(|e| e.raw_os_error()),
            Err(Some(libc::ECHILD)),
            "with SIGCHLD ignored, waiting finds no child"
        );
        outcomes_are_exact("SIGCHLD ignored");
    });
}

#[test]
fn a_thread_reaps_every_child() {
    e2e();
    in_fresh_process("a_thread_reaps_every_child", || {
        static REAPED: AtomicUsize = AtomicUsize::new(0);
        std::thread::spawn(|| {
            loop {
                match nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(-1), None) {
                    Ok(_) => {
                        REAPED.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(1)),
                }
            }
        });
        outcomes_are_exact("a reaper thread");
        // Control: the reaper did reap children of the calls.
        assert!(
            REAPED.load(Ordering::Relaxed) > 0,
            "the reaper reaped nothing"
        );
    });
}

#[test]
fn a_low_descriptor_limit() {
    e2e();
    in_fresh_process("a_low_descriptor_limit", || {
        setrlimit(Resource::RLIMIT_NOFILE, 24, 24).expect("lowering RLIMIT_NOFILE");
        outcomes_are_exact("RLIMIT_NOFILE 24");
        // The policy's 64 is a ceiling: the sandbox gets the 24 it inherited.
        for (mode, policy) in modes() {
            assert_eq!(policy.run(open_files_limit), (24, 24), "{mode}");
        }
    });
}

/// A copy of standard descriptor `fd`, close-on-exec, numbered 3 or above.
fn save(fd: std::os::fd::BorrowedFd<'_>) -> OwnedFd {
    fd.try_clone_to_owned()
        .expect("saving a standard descriptor")
}

/// Puts `saved` stdout and stderr back (and stdin `/dev/null`), then re-raises a panic
/// of `result`, which could not be seen while they were closed.
fn restore(saved: [OwnedFd; 2], result: std::thread::Result<()>) {
    let null = std::fs::File::open("/dev/null").expect("/dev/null");
    nix::unistd::dup2_stdin(&null).expect("restoring stdin");
    nix::unistd::dup2_stdout(&saved[0]).expect("restoring stdout");
    nix::unistd::dup2_stderr(&saved[1]).expect("restoring stderr");
    resume_with_message(result);
}

#[test]
fn stdin_stdout_and_stderr_closed() {
    e2e();
    in_fresh_process("stdin_stdout_and_stderr_closed", || {
        let saved = [
            save(std::io::stdout().as_fd()),
            save(std::io::stderr().as_fd()),
        ];
        for fd in 0..3 {
            // SAFETY: closing the standard descriptors is the state under test; nothing
            // of this process holds them meanwhile (the copies above are apart).
            assert_eq!(unsafe { libc::close(fd) }, 0, "closing descriptor {fd}");
        }
        let result = std::panic::catch_unwind(|| {
            outcomes_are_exact("stdio closed");
            // Output with nowhere to go is dropped; the call is not affected.
            for (mode, policy) in modes() {
                assert_eq!(policy.run(|| chatter(2000)), 2000, "{mode}");
            }
            // Control: the descriptors are indeed closed.
            assert_eq!(
                nix::fcntl::fcntl(std::io::stdout().as_fd(), nix::fcntl::FcntlArg::F_GETFD),
                Err(nix::errno::Errno::EBADF)
            );
        });
        restore(saved, result);
    });
}

#[test]
fn forked_after_a_call_parent_and_child_both_call() {
    e2e();
    in_fresh_process("forked_after_a_call_parent_and_child_both_call", || {
        let zygote = Policy::new().zygote(true);
        let parents_zygote = zygote.run(parent);
        assert_eq!(add(1, 1), 2);
        // SAFETY: the child only makes sandboxed calls and leaves with _exit; no lock of
        // this process is held across the fork (no call runs on another thread).
        match unsafe { nix::unistd::fork() }.expect("fork") {
            nix::unistd::ForkResult::Child => {
                let passed = std::panic::catch_unwind(|| {
                    outcomes_are_exact("forked child");
                    // A zygote belongs to the process that started it: the child has one
                    // of its own.
                    let own = zygote.run(parent);
                    assert_ne!(own, parents_zygote, "the child used its parent's zygote");
                })
                .is_ok();
                // SAFETY: _exit ends the forked child without running the test harness.
                unsafe { libc::_exit(if passed { 0 } else { 1 }) }
            }
            nix::unistd::ForkResult::Parent { child } => {
                outcomes_are_exact("parent of a fork");
                assert_eq!(zygote.run(parent), parents_zygote, "the parent's zygote");
                assert_eq!(
                    nix::sys::wait::waitpid(child, None),
                    Ok(nix::sys::wait::WaitStatus::Exited(child, 0)),
                    "the forked child's calls"
                );
            }
        }
    });
}

#[test]
fn every_signal_blocked_in_the_calling_thread() {
    e2e();
    in_fresh_process("every_signal_blocked_in_the_calling_thread", || {
        let previous = SigSet::all()
            .thread_swap_mask(nix::sys::signal::SigmaskHow::SIG_SETMASK)
            .expect("blocking every signal");
        outcomes_are_exact("every signal blocked");
        // Control: they are blocked.
        let mask = SigSet::thread_get_mask().expect("the mask");
        assert!(mask.contains(Signal::SIGCHLD) && mask.contains(Signal::SIGPIPE));
        previous.thread_set_mask().expect("restoring the mask");
    });
}

static ALARMS: AtomicUsize = AtomicUsize::new(0);

extern "C" fn count_alarm(_: libc::c_int) {
    ALARMS.fetch_add(1, Ordering::Relaxed);
}

fn interval_timer(every: Duration) {
    let every = libc::timeval {
        tv_sec: every.as_secs() as libc::time_t,
        tv_usec: every.subsec_micros() as libc::suseconds_t,
    };
    let timer = libc::itimerval {
        it_interval: every,
        it_value: every,
    };
    // SAFETY: setitimer reads one itimerval, a live local, and writes no old value.
    let set = unsafe { libc::setitimer(libc::ITIMER_REAL, &timer, std::ptr::null_mut()) };
    assert_eq!(set, 0, "setitimer");
}

#[test]
fn a_periodic_timer_interrupts_every_wait() {
    e2e();
    in_fresh_process("a_periodic_timer_interrupts_every_wait", || {
        // As a server with a tick: SIGALRM every millisecond, without SA_RESTART, so
        // that blocking calls of the calling thread fail with EINTR.
        let action = SigAction::new(
            SigHandler::Handler(count_alarm),
            SaFlags::empty(),
            SigSet::empty(),
        );
        // SAFETY: the handler only increments an atomic, which is async-signal-safe.
        unsafe { sigaction(Signal::SIGALRM, &action) }.expect("sigaction(SIGALRM)");
        interval_timer(Duration::from_millis(1));
        outcomes_are_exact("a 1 ms timer");
        for (mode, policy) in modes() {
            assert_eq!(policy.run(|| chatter(3000)), 3000, "{mode}");
        }
        interval_timer(Duration::ZERO);
        // Control: the timer did fire.
        assert!(
            ALARMS.load(Ordering::Relaxed) > 10,
            "the timer barely fired"
        );
    });
}

#[test]
fn sigpipe_at_its_default_and_a_stdout_nobody_reads() {
    e2e();
    in_fresh_process("sigpipe_at_its_default_and_a_stdout_nobody_reads", || {
        // SAFETY: SIG_DFL installs no handler code.
        unsafe { nix::sys::signal::signal(Signal::SIGPIPE, SigHandler::SigDfl) }
            .expect("SIGPIPE at its default");
        let saved = save(std::io::stdout().as_fd());
        let (reader, writer) = std::io::pipe().expect("pipe");
        drop(reader);
        nix::unistd::dup2_stdout(&writer).expect("stdout without a reader");
        let result = std::panic::catch_unwind(|| {
            // The relay's writes fail with EPIPE; the process is not killed, the calls
            // answer.
            for (mode, policy) in modes() {
                assert_eq!(policy.run(|| chatter(100)), 100, "{mode}");
            }
            outcomes_are_exact("SIGPIPE default, stdout without reader");
        });
        let stderr = save(std::io::stderr().as_fd());
        restore([saved, stderr], result);
    });
}

#[test]
fn an_answer_above_the_bound() {
    e2e();
    in_fresh_process("an_answer_above_the_bound", || {
        let before = peak_resident_kib();
        // The attribute's bound of 1 KiB, and the same bound given at a call site with a
        // zygote.
        let modes = [
            ("one-shot", None),
            (
                "zygote",
                Some(Policy::new().zygote(true).max_response(1024)),
            ),
        ];
        for (mode, policy) in modes {
            let call = |length: usize| match &policy {
                None => boxed::try_call(|| answer(length)),
                Some(policy) => policy.run(|| boxed::try_call(|| answer(length))),
            };
            // Control: an answer within the bound (and exactly at it) arrives.
            for length in [500, 1010] {
                let answered = call(length).map(|a| a.len()).map_err(|e| e.to_string());
                assert_eq!(answered, Ok(length), "{mode}");
            }
            for length in [1011, 256 << 20] {
                let error = call(length).unwrap_err();
                assert_eq!(error.kind(), ErrorKind::ResponseLimit, "{mode}: {error}");
                assert!(
                    error.to_string().contains("max_response of 1024 bytes"),
                    "{mode}: {error}"
                );
            }
        }
        // The sandboxes made answers of 256 MiB; the caller read none of them. Had the
        // sandbox not been ended, it would still be writing and the call not returned.
        let grown = peak_resident_kib().saturating_sub(before);
        assert!(
            grown < 64 << 10,
            "the caller's peak memory grew by {grown} KiB"
        );
    });
}
