//! Zygote mode, end to end: calls made through a zygote (`#[sandboxed(zygote)]`, or
//! `Policy::zygote(true)` at a call site) return what the same calls return without one,
//! each in a brand-new, confined process that sees nothing an earlier call left behind;
//! per-call limits still end a call; a zygote that dies is replaced on the next call; and
//! no zygote outlives its program.
//!
//! The zygote is the parent of every sandbox it serves, so a sandboxed function learns
//! the zygote's pid from `getppid()`. Calls whose policies are equal (the timeout aside)
//! share one zygote, across the tests of this binary too: the test that kills a zygote
//! kills one of its own policy.

use std::collections::BTreeSet;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use boxed::{ErrorKind, Policy, sandboxed};
use boxed_tests::{
    ProcStat, announced_pid, e2e, errno_name, eventually, proc_stat, real_uid, status_field,
    still_running,
};
use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};

/// How long the tests wait for an event: a process going away, a line being printed.
const EVENT_WITHIN: Duration = Duration::from_secs(30);

/// How long a zygote may take to end once its program has exited.
const ZYGOTE_GONE_WITHIN: Duration = Duration::from_secs(10);

/// The uid and gid of `nobody`, the sandbox identity.
const NOBODY: &str = "65534\t65534\t65534\t65534";

/// The error of a call that was expected to fail.
fn failure<R: std::fmt::Debug>(call: impl FnOnce() -> R) -> boxed::Error {
    match boxed::try_call(call) {
        Ok(value) => panic!("the call returned {value:?} instead of failing"),
        Err(error) => error,
    }
}

/// This process's pid, as `getppid()` in a child of it gives it.
fn own_pid() -> i32 {
    std::process::id() as i32
}

/// The sandbox's parent: the zygote that forked it.
#[sandboxed(zygote)]
fn zygote_of_this_call() -> i32 {
    nix::unistd::getppid().as_raw()
}

/// What a sandbox says about itself, with the answer to a sum.
#[derive(Serialize, Deserialize, Debug)]
struct Sandbox {
    sum: u64,
    pid: i32,
    parent: i32,
    group: i32,
    session: i32,
    status: String,
}

#[sandboxed(zygote)]
fn add_and_describe(a: u64, b: u64) -> Sandbox {
    Sandbox {
        sum: a + b,
        pid: nix::unistd::getpid().as_raw(),
        parent: nix::unistd::getppid().as_raw(),
        group: nix::unistd::getpgrp().as_raw(),
        session: nix::unistd::getsid(None).expect("getsid").as_raw(),
        status: std::fs::read_to_string("/proc/self/status").expect("/proc/self/status"),
    }
}

#[test]
fn every_call_runs_in_a_new_confined_process() {
    e2e();
    let sandboxes: Vec<Sandbox> = (0..6u64).map(|i| add_and_describe(i, 10 * i)).collect();
    for (i, sandbox) in (0u64..).zip(&sandboxes) {
        assert_eq!(sandbox.sum, 11 * i, "call {i}");
    }

    // A new process each time, none of them this one, all forked by one zygote.
    let pids: BTreeSet<i32> = sandboxes.iter().map(|sandbox| sandbox.pid).collect();
    assert_eq!(
        pids.len(),
        sandboxes.len(),
        "a pid was used twice: {pids:?}"
    );
    let zygote = sandboxes[0].parent;
    for sandbox in &sandboxes {
        assert_eq!(sandbox.parent, zygote, "calls of one policy share a zygote");
        assert_ne!(sandbox.pid, own_pid());
        assert_ne!(sandbox.pid, zygote);
    }
    // The zygote is a child of the launcher, which stays above it as its supervisor and
    // is a child of this process; its real uid is still the caller's.
    let zygote_stat = proc_stat(zygote).unwrap_or_else(|| panic!("the zygote {zygote} is gone"));
    assert_eq!(
        supervisor_of(&zygote_stat).ppid,
        own_pid(),
        "the zygote's parent: {zygote_stat:?}"
    );
    assert!(!matches!(zygote_stat.state, 'Z' | 'X'), "{zygote_stat:?}");
    assert_eq!(real_uid(zygote), Some(nix::unistd::getuid().as_raw()));

    // Each call leads a process group of its own (the zygote ends a call by its group),
    // in the zygote's own session: not the caller's, and without a terminal.
    let own_session = nix::unistd::getsid(None).expect("getsid").as_raw();
    for sandbox in &sandboxes {
        assert_eq!(sandbox.group, sandbox.pid, "{sandbox:?}");
        assert_eq!(sandbox.session, zygote, "{sandbox:?}");
        assert_ne!(sandbox.session, own_session, "{sandbox:?}");
    }
    assert_eq!(
        zygote_stat.tty, 0,
        "the zygote has a terminal: {zygote_stat:?}"
    );

    // Each sandbox is as confined as one started for a single call.
    for sandbox in &sandboxes {
        let status = &sandbox.status;
        assert_eq!(status_field(status, "Uid"), NOBODY, "{status}");
        assert_eq!(status_field(status, "Gid"), NOBODY, "{status}");
        assert_eq!(status_field(status, "Groups"), "", "{status}");
        for set in ["CapInh", "CapPrm", "CapEff", "CapAmb"] {
            assert_eq!(status_field(status, set), "0000000000000000", "{set}");
        }
        assert_eq!(status_field(status, "NoNewPrivs"), "1");
        assert_eq!(
            status_field(status, "Seccomp"),
            "2",
            "not in seccomp filter mode"
        );
    }
}

/// Incremented by every call in the process that makes it.
static CALLS: AtomicU64 = AtomicU64::new(0);

/// The variable a call sets for the next one to find.
const LEFTOVER_VARIABLE: &str = "BOXED_ZYGOTE_LEFTOVER";

/// What a call found of earlier calls, and the descriptor it leaked for later ones.
#[derive(Serialize, Deserialize, Debug)]
struct Traces {
    /// `CALLS` when the call started.
    calls_before: u64,
    /// `LEFTOVER_VARIABLE` when the call started.
    variable_before: Option<String>,
    /// `fcntl(F_GETFD)` on the descriptor the previous call leaked: its flags, or the
    /// errno name.
    earlier_descriptor: Option<Result<i32, String>>,
    /// The descriptor this call leaked.
    leaked: i32,
    /// Whether this call saw its own traces: the counter at 1, the variable set, the
    /// leaked descriptor open.
    own_traces_seen: bool,
}

/// `fcntl(fd, F_GETFD)`: the descriptor's flags, or the errno name.
fn descriptor_flags(fd: i32) -> Result<i32, String> {
    // SAFETY: F_GETFD only reads the flags of the descriptor with that number; asking
    // about a number that is not open is harmless and fails with EBADF.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
    if flags == -1 {
        errno_name(Err(std::io::Error::last_os_error()))
    } else {
        Ok(flags)
    }
}

#[sandboxed(zygote)]
fn leave_traces(earlier: Option<i32>) -> Traces {
    use std::os::fd::IntoRawFd;
    let calls_before = CALLS.fetch_add(1, Ordering::SeqCst);
    let variable_before = std::env::var(LEFTOVER_VARIABLE).ok();
    let earlier_descriptor = earlier.map(descriptor_flags);

    let leaked = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/null")
        .expect("opening /dev/null")
        .into_raw_fd();
    // SAFETY: the sandbox runs the function on its only thread: no other thread reads or
    // writes the environment while it changes.
    unsafe { std::env::set_var(LEFTOVER_VARIABLE, "left by an earlier call") };

    let own_traces_seen = CALLS.load(Ordering::SeqCst) == calls_before + 1
        && std::env::var(LEFTOVER_VARIABLE).as_deref() == Ok("left by an earlier call")
        && descriptor_flags(leaked).is_ok();
    Traces {
        calls_before,
        variable_before,
        earlier_descriptor,
        leaked,
        own_traces_seen,
    }
}

#[test]
fn no_call_sees_what_an_earlier_call_left() {
    e2e();
    let mut earlier = None;
    for call in 0..5 {
        let traces = leave_traces(earlier);
        assert!(traces.own_traces_seen, "call {call}: {traces:?}");
        assert_eq!(traces.calls_before, 0, "call {call}: {traces:?}");
        assert_eq!(traces.variable_before, None, "call {call}: {traces:?}");
        let expected = earlier.map(|_| Err("EBADF".to_string()));
        assert_eq!(
            traces.earlier_descriptor, expected,
            "call {call}: the descriptor an earlier call leaked: {traces:?}"
        );
        earlier = Some(traces.leaked);
    }
}

/// Sleeps far longer than its timeout.
#[sandboxed(zygote, timeout = "2s")]
fn sleep_past_the_timeout() -> u32 {
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}

/// Allocates and touches `mib` MiB; how many it got.
#[sandboxed(zygote, memory = "128MiB")]
fn allocate(mib: usize) -> usize {
    let mut block = vec![0u8; mib << 20];
    for page in block.chunks_mut(4096) {
        page[0] = 1;
    }
    std::hint::black_box(&block).iter().step_by(4096).count() >> 8
}

#[sandboxed(zygote)]
fn explode(how: String) -> u32 {
    match how.as_str() {
        "panic" => panic!("zygote call exploded: {}", 7),
        "exit" => std::process::exit(3),
        "kill" => {
            nix::sys::signal::raise(Signal::SIGKILL).expect("raise");
            unreachable!()
        }
        _ => 1,
    }
}

#[test]
fn the_timeout_ends_a_call_and_the_zygote_serves_the_next() {
    e2e();
    // The timeout is per call: this call's zygote is the one of the default policy.
    let zygote = zygote_of_this_call();
    let error = failure(sleep_past_the_timeout);
    assert_eq!(error.kind(), ErrorKind::Timeout, "{error}");
    assert!(error.to_string().contains("timeout"), "{error}");
    assert_eq!(zygote_of_this_call(), zygote, "the zygote changed");
    // The same timeout, at a call site, on a call that finishes in time.
    let policy = Policy::new().zygote(true).timeout(Duration::from_secs(30));
    assert_eq!(policy.run(|| add_and_describe(20, 22)).sum, 42);
    assert_eq!(policy.run(zygote_of_this_call), zygote);
}

#[test]
fn memory_beyond_the_limit_ends_a_zygote_call() {
    e2e();
    let error = failure(|| allocate(4096));
    assert_eq!(error.kind(), ErrorKind::MemoryLimit, "{error}");
    assert!(error.to_string().contains("memory limit"), "{error}");
    // Under the same limit, through the same zygote, a small allocation works.
    assert_eq!(allocate(16), 16);
}

#[test]
fn failures_of_a_zygote_call_arrive_as_without_one() {
    e2e();
    let error = failure(|| explode("panic".into()));
    assert_eq!(error.kind(), ErrorKind::Panic, "{error}");
    assert_eq!(error.panic_message(), Some("zygote call exploded: 7"));
    let location = error.panic_location().expect("a location");
    assert_eq!(location.file, "tests/tests/e2e_zygote.rs");
    assert!(location.line > 0);
    assert_eq!(error.function(), Some("e2e_zygote::explode"));

    let exited = failure(|| explode("exit".into()));
    assert_eq!(exited.kind(), ErrorKind::NoAnswer, "{exited}");
    assert_eq!(exited.exit_code(), Some(3));

    let killed = failure(|| explode("kill".into()));
    assert_eq!(killed.kind(), ErrorKind::Signal, "{killed}");
    assert_eq!(killed.signal(), Some(libc::SIGKILL));

    assert_eq!(explode("nothing".into()), 1);
}

#[test]
fn a_zygote_that_dies_is_started_again() {
    e2e();
    // A policy no other test uses, so that no other test's call runs through the zygote
    // killed here.
    let policy = Policy::new().zygote(true).max_open_files(63);
    let zygote_now = |step: &str| {
        policy
            .run(|| boxed::try_call(zygote_of_this_call))
            .unwrap_or_else(|error| panic!("{step}: {error} ({:?})", error.kind()))
    };
    let mut zygote = zygote_now("the first call");
    for round in 0..5 {
        let stat = proc_stat(zygote).unwrap_or_else(|| panic!("the zygote {zygote} is gone"));
        assert_eq!(
            supervisor_of(&stat).ppid,
            own_pid(),
            "round {round}: {stat:?}"
        );
        assert_eq!(real_uid(zygote), Some(nix::unistd::getuid().as_raw()));
        // The caller may signal its zygote: the zygote's real uid is the caller's.
        kill(Pid::from_raw(zygote), Signal::SIGKILL).expect("killing the zygote");
        // Dead, not dying: the next call comes after the zygote has ended.
        assert!(
            eventually(EVENT_WITHIN, || !still_running(zygote, stat.start)),
            "round {round}: the zygote {zygote} survived SIGKILL"
        );

        // The zygote is dead: the next call starts another.
        let next = zygote_now(&format!("round {round}, the first call after the kill"));
        assert_ne!(
            next, zygote,
            "round {round}: the call ran through a dead zygote"
        );
        match policy.run(|| boxed::try_call(|| add_and_describe(1, 2))) {
            Ok(sandbox) => assert_eq!(sandbox.sum, 3, "round {round}"),
            Err(error) => panic!("round {round}, a sum: {error} ({:?})", error.kind()),
        }
        assert_eq!(zygote_now(&format!("round {round}, a later call")), next);
        // The dead zygote was reaped, not left a zombie of this process.
        assert!(
            eventually(EVENT_WITHIN, || {
                proc_stat(zygote).is_none_or(|now| now.start != stat.start)
            }),
            "round {round}: the dead zygote is still there: {:?}",
            proc_stat(zygote)
        );
        zygote = next;
    }
}

/// The zygote's supervisor, its parent: the launcher, which stays above a zygote it
/// started.
fn supervisor_of(zygote: &ProcStat) -> ProcStat {
    let supervisor = proc_stat(zygote.ppid)
        .unwrap_or_else(|| panic!("the zygote's parent {} is gone", zygote.ppid));
    assert_eq!(
        supervisor.comm, "launcher",
        "the zygote's parent: {supervisor:?}"
    );
    supervisor
}

#[test]
fn no_zygote_outlives_its_program() {
    let env = e2e();
    // The zygote is a child of the program; once the program exits it is reparented, to
    // this process as a subreaper rather than to PID 1, which need not reap orphans (in
    // a container it may not): so its end is seen exactly, and it is reaped here.
    nix::sys::prctl::set_child_subreaper(true).expect("PR_SET_CHILD_SUBREAPER");
    let program = env.stage.join("bin/boxed-test-caller");
    let mut caller = Command::new(&program)
        .arg("zygote")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("starting {}: {e}", program.display()));
    let caller_pid = caller.id() as i32;

    // The program says its zygote's pid.
    let zygote = announced_pid(&mut caller, &program, "zygote", EVENT_WITHIN);

    // While the program runs, its zygote runs, under the launcher, the program's child.
    let stat = proc_stat(zygote).unwrap_or_else(|| panic!("the zygote {zygote} is gone"));
    assert_eq!(supervisor_of(&stat).ppid, caller_pid, "{stat:?}");
    assert!(still_running(zygote, stat.start), "{stat:?}");
    let supervisor = stat.ppid;

    // The program exits once its stdin closes.
    drop(caller.stdin.take());
    let mut exited = None;
    let program_ended = eventually(EVENT_WITHIN, || {
        exited = caller.try_wait().expect("waiting for the program");
        exited.is_some()
    });
    if !program_ended {
        let _ = caller.kill();
        let _ = caller.wait();
        panic!("{} did not exit when its stdin closed", program.display());
    }
    assert!(exited.unwrap().success(), "the program: {exited:?}");

    // Then its zygote ends too: it exits, its supervisor (re-parented here) reaps it and
    // exits as it did, and /proc has no trace of it.
    let mut ending = None;
    let ended = eventually(ZYGOTE_GONE_WITHIN, || {
        match waitpid(Pid::from_raw(supervisor), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) => false,
            outcome => {
                ending = Some(outcome);
                true
            }
        }
    });
    assert!(
        ended,
        "the zygote {zygote} still runs after its program exited: {:?}",
        proc_stat(zygote)
    );
    assert_eq!(
        ending,
        Some(Ok(WaitStatus::Exited(Pid::from_raw(supervisor), 0))),
        "how the zygote ended, as its supervisor says"
    );
    assert!(
        proc_stat(zygote).is_none_or(|now| now.start != stat.start),
        "the zygote is still in /proc: {:?}",
        proc_stat(zygote)
    );
}

/// A square, with the pid of the process that computed it and of its parent.
#[sandboxed(zygote)]
fn square(x: u64) -> (u64, i32, i32) {
    (
        x * x,
        nix::unistd::getpid().as_raw(),
        nix::unistd::getppid().as_raw(),
    )
}

/// More threads than the spares a zygote keeps ready: most calls find none and wait
/// for one made for them.
const THREADS: u64 = 6;
const CALLS_PER_THREAD: u64 = 25;

#[test]
fn several_threads_share_one_zygote() {
    e2e();
    let calls = |first: u64| {
        move || {
            (first..first + CALLS_PER_THREAD)
                .map(|x| (x, square(x)))
                .collect::<Vec<_>>()
        }
    };
    let results: Vec<_> = std::thread::scope(|scope| {
        let threads: Vec<_> = (0..THREADS)
            .map(|thread| scope.spawn(calls(thread * 1000)))
            .collect();
        threads
            .into_iter()
            .flat_map(|thread| thread.join().expect("a calling thread panicked"))
            .collect()
    });
    let total = (THREADS * CALLS_PER_THREAD) as usize;
    assert_eq!(results.len(), total);
    for (x, (squared, _, _)) in &results {
        assert_eq!(*squared, x * x, "square({x})");
    }
    let pids: BTreeSet<i32> = results.iter().map(|(_, (_, pid, _))| *pid).collect();
    assert_eq!(pids.len(), total, "a process served two calls");
    let zygotes: BTreeSet<i32> = results.iter().map(|(_, (_, _, parent))| *parent).collect();
    assert_eq!(
        zygotes.len(),
        1,
        "the calls ran through several zygotes: {zygotes:?}"
    );
}

/// What a call computes, and what it sees of its own process.
#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Observation {
    words: Vec<String>,
    /// The lines of `/proc/self/status` that describe identity and confinement.
    status: Vec<String>,
    /// `/proc/self/limits`, without its header.
    limits: Vec<String>,
    vars: Vec<(String, String)>,
    cwd: std::path::PathBuf,
    /// Its process group is its own (through a zygote the session is the zygote's, not
    /// its own; without one it leads a session of its own: see the other tests).
    leads_its_group: bool,
    in_callers_session: bool,
}

#[sandboxed]
fn observe(text: String, caller_session: i32) -> Observation {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let keys = [
        "Umask",
        "Uid",
        "Gid",
        "Groups",
        "CapInh",
        "CapPrm",
        "CapEff",
        "CapBnd",
        "CapAmb",
        "NoNewPrivs",
        "Seccomp",
    ];
    let limits = std::fs::read_to_string("/proc/self/limits").expect("/proc/self/limits");
    let pid = nix::unistd::getpid();
    Observation {
        words: text
            .split_whitespace()
            .rev()
            .map(str::to_uppercase)
            .collect(),
        status: keys
            .iter()
            .map(|key| format!("{key}: {}", status_field(&status, key)))
            .collect(),
        limits: limits.lines().skip(1).map(str::to_string).collect(),
        vars: std::env::vars().collect(),
        cwd: std::env::current_dir().expect("current_dir"),
        leads_its_group: nix::unistd::getpgrp() == pid,
        in_callers_session: nix::unistd::getsid(None).expect("getsid").as_raw() == caller_session,
    }
}

#[test]
fn a_zygote_call_returns_what_a_call_without_one_returns() {
    e2e();
    let text = || "the cat sat on the mat".to_string();
    let session = nix::unistd::getsid(None).expect("getsid").as_raw();
    let alone = Policy::new().run(|| observe(text(), session));
    let through_zygote = Policy::new().zygote(true).run(|| observe(text(), session));
    assert_eq!(through_zygote, alone);
    assert_eq!(alone.words, ["MAT", "THE", "ON", "SAT", "CAT", "THE"]);
    assert!(
        alone.status.contains(&format!("Uid: {NOBODY}")),
        "{alone:?}"
    );
    assert_eq!(alone.cwd, std::path::Path::new("/"));
    assert!(alone.leads_its_group);
    assert!(!alone.in_callers_session);
}
