//! Resource limits, end to end: memory, CPU time, wall-clock time, file size, open files
//! and processes. Each limit, when reached, ends the call with its own error (or makes
//! the system call fail with the errno the kernel gives at that limit), the same work
//! under the limit succeeds, and the sandbox cannot raise its limits.
//!
//! Every test takes [`one_at_a_time`]: the kernel counts processes per user, and every
//! sandbox is `nobody`, so a sandbox of another test would count against the fork bomb's
//! limit, and the fork bomb against every other test's. Tests that only need to start a
//! few processes leave room for sandboxes of other runs ([`running_programs`]).

use std::fs::{self, File};
use std::io::Write;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use boxed::{ErrorKind, Policy, sandboxed};
use boxed_tests::{
    e2e, errno_name, eventually, one_at_a_time, open_directory, proc_stat, read_pid, real_uid,
    running_in_session, running_programs, still_running,
};
use nix::unistd::{ForkResult, fork};

/// How long the tests wait for an event: a process going away, a file appearing.
const EVENT_WITHIN: Duration = Duration::from_secs(30);

/// The error of a call that was expected to fail.
fn failure<R: std::fmt::Debug>(call: impl FnOnce() -> R) -> boxed::Error {
    match boxed::try_call(call) {
        Ok(value) => panic!("the call returned {value:?} instead of failing"),
        Err(error) => error,
    }
}

/// Allocates and touches `mib` MiB; how many it got.
#[sandboxed(memory = "128MiB")]
fn allocate(mib: usize) -> usize {
    let mut block = vec![0u8; mib << 20];
    for page in block.chunks_mut(4096) {
        page[0] = 1;
    }
    std::hint::black_box(&block).iter().step_by(4096).count() >> 8
}

#[test]
fn memory_beyond_the_limit_ends_the_call() {
    e2e();
    let _alone = one_at_a_time();
    let error = failure(|| allocate(4096));
    assert_eq!(error.kind(), ErrorKind::MemoryLimit, "{error}");
    assert!(error.to_string().contains("memory limit"), "{error}");
    // Under the same limit, a small allocation works.
    assert_eq!(allocate(16), 16);
}

/// `rounds` steps of a computation the optimiser cannot remove; with `ignore_warning`,
/// after ignoring `SIGXCPU`, the signal of a soft limit.
#[sandboxed(cpu_time = "1s")]
fn spin(rounds: u64, ignore_warning: bool) -> u64 {
    if ignore_warning {
        use nix::sys::signal::{SigHandler, Signal, signal};
        // SAFETY: SIG_IGN runs no code.
        unsafe { signal(Signal::SIGXCPU, SigHandler::SigIgn) }.expect("ignoring SIGXCPU");
    }
    (0..rounds).fold(0u64, |x, i| {
        std::hint::black_box(x.wrapping_mul(31).wrapping_add(i))
    })
}

#[test]
fn spinning_past_the_cpu_time_ends_the_call() {
    e2e();
    let _alone = one_at_a_time();
    for ignore_warning in [false, true] {
        let error = failure(|| spin(u64::MAX, ignore_warning));
        assert_eq!(error.kind(), ErrorKind::CpuLimit, "{error}");
    }
    let expected = (0..1000u64).fold(0u64, |x, i| x.wrapping_mul(31).wrapping_add(i));
    assert_eq!(spin(1000, true), expected);
}

#[sandboxed(timeout = "2s")]
fn sleep_forever() -> u32 {
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}

#[sandboxed(timeout = "2s")]
fn quick(value: u32) -> u32 {
    value + 1
}

#[test]
fn sleeping_past_the_timeout_ends_the_call() {
    e2e();
    let _alone = one_at_a_time();
    let error = failure(sleep_forever);
    assert_eq!(error.kind(), ErrorKind::Timeout, "{error}");
    assert!(error.to_string().contains("timeout"), "{error}");
    assert_eq!(quick(41), 42);
}

/// Starts `sleep 300` as a daemon, through a shell that backgrounds a `setsid` of another
/// shell, which says its pid in `dir/daemon` and becomes `sleep`; then sleeps forever.
#[sandboxed]
fn start_daemon_and_sleep(dir: &Path) -> u32 {
    let pid_file = dir.join("daemon");
    let status = Command::new("/bin/sh")
        .arg("-c")
        .arg(
            "setsid /bin/sh -c 'umask 022; echo $$ > \"$PID_FILE\"; exec sleep 300' \
             </dev/null >/dev/null 2>&1 &",
        )
        .env("PID_FILE", &pid_file)
        .stdin(Stdio::null())
        .status()
        .expect("running /bin/sh");
    assert!(status.success(), "/bin/sh: {status}");
    let started = eventually(EVENT_WITHIN, || {
        fs::read_to_string(&pid_file).is_ok_and(|text| text.ends_with('\n'))
    });
    assert!(started, "the daemon never wrote {}", pid_file.display());
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}

#[test]
fn the_timeout_also_ends_a_daemon_the_sandbox_started() {
    let env = e2e();
    let _alone = one_at_a_time();
    let dir = open_directory(&env.work, "limits-daemon");
    // The shell, the daemon and `setsid` (if it forks), besides the sandbox.
    let policy = running_programs(4)
        .write(&dir)
        .timeout(Duration::from_secs(5));
    let call = std::thread::spawn({
        let (dir, policy) = (dir.clone(), policy.clone());
        move || policy.run(|| boxed::try_call(|| start_daemon_and_sleep(&dir)))
    });

    // The daemon, seen while the call runs: nobody's `sleep`, leading its own session.
    let pid_file = dir.join("daemon");
    let pid = || read_pid(&pid_file);
    let said = eventually(EVENT_WITHIN, || pid().is_some() || call.is_finished());
    let Some(pid) = pid() else {
        panic!(
            "the sandbox never said the daemon's pid (waited: {said}); the call: {:?}",
            call.join()
        );
    };
    let became_sleep = eventually(EVENT_WITHIN, || {
        proc_stat(pid).is_some_and(|s| s.comm == "sleep")
    });
    let daemon = proc_stat(pid).unwrap_or_else(|| panic!("the daemon {pid} is gone already"));
    assert!(became_sleep, "{daemon:?}");
    assert_eq!(daemon.session, pid, "the daemon has a session of its own");
    // The sandbox ran under a uid of its own (see `running_programs`).
    assert!(
        real_uid(pid).is_some_and(|uid| uid >= 2_000_000_000),
        "{:?}",
        real_uid(pid)
    );

    let outcome = call.join().expect("the calling thread");
    match outcome {
        Err(error) => assert_eq!(error.kind(), ErrorKind::Timeout, "{error}"),
        Ok(value) => panic!("the call returned {value}"),
    }
    assert!(
        eventually(EVENT_WITHIN, || !still_running(pid, daemon.start)),
        "the daemon {daemon:?} outlived the call"
    );
    // A quick function under the same policy returns.
    assert_eq!(policy.run(|| quick(1)), 2);
}

/// Writes `bytes` bytes to a new file at `path`; the size it has then.
#[sandboxed]
fn write_file(path: &Path, bytes: u64) -> Result<u64, String> {
    let mut file = errno_name(File::create(path))?;
    let chunk = [7u8; 4096];
    let mut left = bytes;
    while left > 0 {
        let n = left.min(chunk.len() as u64);
        errno_name(file.write_all(&chunk[..n as usize]))?;
        left -= n;
    }
    errno_name(file.metadata()).map(|metadata| metadata.len())
}

#[test]
fn writing_past_the_file_size_limit_ends_the_call() {
    let env = e2e();
    let _alone = one_at_a_time();
    let dir = open_directory(&env.work, "limits-file-size");
    let limit = 64 << 10;
    let policy = Policy::new().write(&dir).max_file_size(limit);
    let big = dir.join("big");
    let error = policy.run(|| failure(|| write_file(&big, 1 << 20)));
    assert_eq!(error.kind(), ErrorKind::FileSizeLimit, "{error}");
    let written = fs::metadata(&big).expect("the big file").len();
    assert!(written <= limit, "{written} bytes written past {limit}");

    assert_eq!(
        policy.run(|| write_file(&dir.join("small"), 4096)),
        Ok(4096)
    );
    assert_eq!(
        policy.run(|| write_file(&dir.join("exact"), limit)),
        Ok(limit)
    );
}

/// Opens `/dev/null` until that fails: the highest descriptor it got, and the errno.
#[sandboxed]
fn open_until_refused() -> (i32, String) {
    let mut files = Vec::new();
    loop {
        match errno_name(File::open("/dev/null")) {
            Ok(file) => files.push(file),
            Err(errno) => {
                let highest = files.iter().map(|f| f.as_raw_fd()).max().unwrap_or(-1);
                return (highest, errno);
            }
        }
    }
}

#[test]
fn descriptors_stop_at_the_open_file_limit() {
    e2e();
    let _alone = one_at_a_time();
    assert_eq!(open_until_refused(), (63, "EMFILE".to_string()));
    assert_eq!(
        Policy::new().max_open_files(16).run(open_until_refused),
        (15, "EMFILE".to_string())
    );
}

/// A limit's name, its soft and hard values, and what changing it gave.
type Attempt = (String, (u64, u64), Result<(), String>);

/// Each limit as the sandbox reads it and what raising it gave, then what lowering the
/// open-file limit gave.
#[sandboxed]
fn raise_limits() -> Vec<Attempt> {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let errno = |result: nix::Result<()>| result.map_err(|e| format!("{e:?}"));
    let mut outcomes: Vec<_> = [
        ("core", Resource::RLIMIT_CORE),
        ("cpu", Resource::RLIMIT_CPU),
        ("as", Resource::RLIMIT_AS),
        ("fsize", Resource::RLIMIT_FSIZE),
        ("nofile", Resource::RLIMIT_NOFILE),
        ("nproc", Resource::RLIMIT_NPROC),
    ]
    .into_iter()
    .map(|(name, resource)| {
        let (soft, hard) = getrlimit(resource).expect("getrlimit");
        let raised = errno(setrlimit(resource, hard + 1, hard + 1));
        (name.to_string(), (soft, hard), raised)
    })
    .collect();
    let lowered = errno(setrlimit(Resource::RLIMIT_NOFILE, 16, 16));
    let now = getrlimit(Resource::RLIMIT_NOFILE).expect("getrlimit");
    outcomes.push(("nofile lowered".into(), now, lowered));
    outcomes
}

#[test]
fn the_sandbox_cannot_raise_its_limits() {
    e2e();
    let _alone = one_at_a_time();
    let policy = Policy::new()
        .cpu_time(Duration::from_secs(60))
        .memory(1 << 30)
        .max_file_size(1 << 20)
        .max_open_files(32)
        .max_processes(4);
    let eperm = || Err("EPERM".to_string());
    let expected: Vec<Attempt> = [
        ("core", 0, eperm()),
        ("cpu", 60, eperm()),
        ("as", 1 << 30, eperm()),
        ("fsize", 1 << 20, eperm()),
        ("nofile", 32, eperm()),
        ("nproc", 4, eperm()),
        ("nofile lowered", 16, Ok(())),
    ]
    .into_iter()
    .map(|(name, limit, outcome)| (name.to_string(), (limit, limit), outcome))
    .collect();
    assert_eq!(policy.run(raise_limits), expected);
}

/// Forks a child that exits at once: `Ok` once it is reaped, or the errno.
#[sandboxed]
fn fork_once() -> Result<(), String> {
    // SAFETY: the sandbox runs one thread; the child only calls _exit.
    match unsafe { fork() } {
        Ok(ForkResult::Child) => unsafe { libc::_exit(0) },
        Ok(ForkResult::Parent { child }) => {
            nix::sys::wait::waitpid(child, None).map_err(|e| format!("waitpid: {e:?}"))?;
            Ok(())
        }
        Err(errno) => Err(format!("{errno:?}")),
    }
}

/// Runs `/bin/true`: its exit code, or the errno of starting it.
#[sandboxed]
fn run_true() -> Result<Option<i32>, String> {
    errno_name(Command::new("/bin/true").stdin(Stdio::null()).status()).map(|s| s.code())
}

#[test]
fn one_process_means_no_fork() {
    e2e();
    let _alone = one_at_a_time();
    let two = running_programs(2);
    let one = two.clone().max_processes(1);
    assert_eq!(fork_once(), Err("EPERM".to_string()));
    assert_eq!(one.run(run_true), Err("EPERM".to_string()));
    assert_eq!(two.run(fork_once), Ok(()));
    assert_eq!(two.run(run_true), Ok(Some(0)));
}

/// Forks children that wait forever until a fork fails: the sandbox's pid, how many
/// children it started, and the errno of the failed fork.
#[sandboxed]
fn fork_until_refused() -> (i32, usize, String) {
    let mut children = 0;
    loop {
        // SAFETY: the sandbox runs one thread; the child only calls pause.
        match unsafe { fork() } {
            Ok(ForkResult::Child) => loop {
                nix::unistd::pause();
            },
            Ok(ForkResult::Parent { .. }) => children += 1,
            Err(errno) => return (std::process::id() as i32, children, format!("{errno:?}")),
        }
        if children > 1000 {
            return (std::process::id() as i32, children, "unbounded".into());
        }
    }
}

/// A fork bomb: every process forks forever. Says the sandbox's pid in `dir/bomb` first.
#[sandboxed]
fn fork_bomb(dir: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    // Readable by the caller, despite the sandbox's umask.
    let path = dir.join("bomb");
    fs::write(&path, format!("{}\n", std::process::id())).expect("writing the pid");
    // Through the descriptor (fchmod): a mode change by path is refused.
    fs::File::open(&path)
        .and_then(|file| file.set_permissions(fs::Permissions::from_mode(0o644)))
        .expect("fchmod");
    loop {
        // SAFETY: every process of the bomb runs one thread and only forks.
        let _ = unsafe { libc::fork() };
    }
}

#[test]
fn a_fork_bomb_is_bounded_and_leaves_nothing() {
    let env = e2e();
    let _alone = one_at_a_time();
    let eight = Policy::new().unique_uid(true).max_processes(8);
    let (sandbox, children, errno) = eight.run(fork_until_refused);
    assert_eq!(errno, "EAGAIN", "after {children} children");
    // Eight processes of the sandbox's own uid at most, the sandbox included.
    assert!((1..=7).contains(&children), "{children} children");
    assert!(
        eventually(EVENT_WITHIN, || running_in_session(sandbox).is_empty()),
        "processes left of the sandbox {sandbox}: {:?}",
        running_in_session(sandbox)
    );

    let dir = open_directory(&env.work, "limits-bomb");
    let error = eight
        .clone()
        .write(&dir)
        .timeout(Duration::from_secs(3))
        .run(|| failure(|| fork_bomb(&dir)));
    assert_eq!(error.kind(), ErrorKind::Timeout, "{error}");
    let sandbox: i32 = fs::read_to_string(dir.join("bomb"))
        .expect("the bomb's pid")
        .trim()
        .parse()
        .unwrap();
    assert!(
        eventually(EVENT_WITHIN, || running_in_session(sandbox).is_empty()),
        "processes left of the bomb {sandbox}: {:?}",
        running_in_session(sandbox)
    );
}
