//! Shared pieces of the end-to-end tests.
//!
//! The end-to-end tests (`tests/e2e_*.rs`) run as they will be used: as an unprivileged
//! caller, through the launcher. `tests/run.sh` prepares that: it creates the test users,
//! sets the launcher up once, and runs `cargo test` as the test user with the variables
//! read here. Run any other way, these tests fail with a message that says so; they
//! never skip.

use std::path::PathBuf;

/// What `tests/run.sh` prepared for an end-to-end test run.
pub struct E2e {
    /// Root-owned directory with the staged binaries and fixtures (`suid-id`, ...).
    pub stage: PathBuf,
    /// A directory owned by the calling user, mode 0755, for files the tests create.
    pub work: PathBuf,
    /// A secret that is in the caller's environment and must never reach a sandbox.
    pub secret: String,
}

/// The prepared environment; panics with instructions when the test is not run as an
/// unprivileged caller by `tests/run.sh`.
pub fn e2e() -> E2e {
    assert!(
        !nix::unistd::geteuid().is_root(),
        "end-to-end tests must run as an unprivileged caller through the launcher; run \
         them with `bash tests/run.sh`"
    );
    let var = |name: &str| {
        std::env::var(name).unwrap_or_else(|_| {
            panic!("{name} is not set: run the end-to-end tests with `bash tests/run.sh`")
        })
    };
    E2e {
        stage: var("BOXED_E2E_STAGE").into(),
        work: var("BOXED_E2E_WORK").into(),
        secret: var("BOXED_E2E_SECRET"),
    }
}

/// The lines of `/proc/self/status` that describe credentials, by key.
pub fn status_field(status: &str, key: &str) -> String {
    status
        .lines()
        .find_map(|line| line.strip_prefix(key)?.strip_prefix(':'))
        .map(|value| value.trim().to_string())
        .unwrap_or_else(|| panic!("/proc/self/status has no {key}"))
}

/// The peak resident memory of this process so far, in KiB (`VmHWM`).
pub fn peak_resident_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status_field(&status, "VmHWM")
        .trim_end_matches(" kB")
        .parse()
        .expect("VmHWM in kB")
}

/// A system call's outcome in the form the tests compare: the value, or the name of the
/// errno it failed with (`"EACCES"`), or the error's text when it carries no errno.
pub fn errno_name<T>(result: std::io::Result<T>) -> Result<T, String> {
    result.map_err(|error| match error.raw_os_error() {
        Some(code) => format!("{:?}", nix::errno::Errno::from_raw(code)),
        None => error.to_string(),
    })
}

/// Polls `condition` every 20 ms until it holds or `limit` has passed; whether it held.
/// For waiting on an event (a process exiting), never for asserting how long it took.
pub fn eventually(limit: std::time::Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + limit;
    loop {
        if condition() {
            return true;
        }
        if std::time::Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// The system trees a sandbox needs to run a dynamically linked system program: the
/// programs and libraries (`/bin`, `/lib` and `/lib64` may be links into `/usr`), and
/// `/etc` for the dynamic loader's cache and the user and group databases. Every file
/// in them a sandbox can read is world-readable; none is the caller's.
pub const SYSTEM_TREES: &[&str] = &["/usr", "/bin", "/lib", "/lib64", "/etc"];

/// A policy under which a sandbox may run system programs: read (and execute) access
/// to [`SYSTEM_TREES`], and `own` processes at once, the sandbox itself included, under
/// a uid of its own. `RLIMIT_NPROC` counts every process of the sandbox's uid on the
/// machine: as `nobody` the count would include every other sandbox (and orphaned
/// `nobody` processes the machine has not reaped); with a unique uid it is exact.
/// Nothing of the caller's is granted: a test adds that itself.
pub fn running_programs(own: u64) -> boxed::Policy {
    SYSTEM_TREES
        .iter()
        .filter(|tree| std::path::Path::new(tree).exists())
        .fold(boxed::Policy::new(), |policy, tree| policy.read(tree))
        .unique_uid(true)
        .max_processes(own)
}

/// The fields of `/proc/<pid>/stat` the tests use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcStat {
    /// The command name, without the parentheses.
    pub comm: String,
    /// `R`, `S`, `Z`, ...
    pub state: char,
    /// The parent's pid.
    pub ppid: i32,
    /// The session id.
    pub session: i32,
    /// The controlling terminal's device number, 0 for none.
    pub tty: i32,
    /// Start time in clock ticks after boot; with the pid, it names one process.
    pub start: u64,
}

/// The pid a sandbox wrote, with a newline, to `file`; `None` until it has.
pub fn read_pid(file: &std::path::Path) -> Option<i32> {
    std::fs::read_to_string(file)
        .ok()?
        .strip_suffix('\n')?
        .parse()
        .ok()
}

/// `/proc/<pid>/stat` of a process, if it exists.
pub fn proc_stat(pid: i32) -> Option<ProcStat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (head, rest) = text.rsplit_once(')')?;
    let comm = head.split_once('(')?.1.to_string();
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // Fields 3 (state), 4 (ppid), 6 (session), 7 (tty_nr) and 22 (starttime) of
    // proc_pid_stat(5).
    Some(ProcStat {
        comm,
        state: fields.first()?.chars().next()?,
        ppid: fields.get(1)?.parse().ok()?,
        session: fields.get(3)?.parse().ok()?,
        tty: fields.get(4)?.parse().ok()?,
        start: fields.get(19)?.parse().ok()?,
    })
}

/// Whether the process `pid` that started at `start` still runs (a zombie runs nothing).
pub fn still_running(pid: i32, start: u64) -> bool {
    proc_stat(pid).is_some_and(|s| s.start == start && !matches!(s.state, 'Z' | 'X'))
}

/// The pid that `program` (started as `child`, its stdout piped) announces on its first
/// line as `PREFIX pid N`, waiting at most `within`. On anything else the program is
/// killed and reaped, and the test fails saying what it got.
pub fn announced_pid(
    child: &mut std::process::Child,
    program: &std::path::Path,
    prefix: &str,
    within: std::time::Duration,
) -> i32 {
    use std::io::BufRead;
    // A reader thread keeps the wait for the line bounded.
    let stdout = child.stdout.take().expect("the program's stdout is piped");
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = std::io::BufReader::new(stdout).read_line(&mut line);
        let _ = sender.send(line);
    });
    let Ok(line) = receiver.recv_timeout(within) else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("{} never said `{prefix} pid N`", program.display());
    };
    match line.trim().strip_prefix(&format!("{prefix} pid ")) {
        Some(pid) => pid.parse().unwrap(),
        None => {
            let _ = child.kill();
            let status = child.wait();
            panic!("expected `{prefix} pid N` from {program:?}, got {line:?} ({status:?})");
        }
    }
}

/// The pids of every running process whose session is `session`.
pub fn running_in_session(session: i32) -> Vec<i32> {
    std::fs::read_dir("/proc")
        .expect("listing /proc")
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&pid| {
            proc_stat(pid).is_some_and(|s| s.session == session && !matches!(s.state, 'Z' | 'X'))
        })
        .collect()
}

/// The real uid of process `pid`, if it exists.
pub fn real_uid(pid: i32) -> Option<u32> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status_field(&status, "Uid")
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Makes the tests of one binary that take it run one at a time. Every sandbox runs as
/// `nobody`, and `RLIMIT_NPROC` counts all of nobody's processes, so a test that limits
/// or counts processes must not run beside another sandbox of the same binary.
pub fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A new, empty directory `name` in `parent` with mode 0777, so that the sandbox's user
/// may create files in it when the policy grants it; a leftover of an earlier run is
/// removed first.
pub fn open_directory(parent: &std::path::Path, name: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let dir = parent.join(name);
    match std::fs::remove_dir_all(&dir) {
        Ok(()) => {}
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => panic!("removing an old {}: {error}", dir.display()),
    }
    std::fs::create_dir(&dir).unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777))
        .unwrap_or_else(|e| panic!("chmod {}: {e}", dir.display()));
    dir
}

/// The variable that tells a test binary started by [`in_fresh_process`] which test it
/// is there to run.
const SCENARIO_VAR: &str = "BOXED_E2E_SCENARIO";

/// Runs `scenario`, the body of the test `test` (its full name, as `--exact` takes it), in
/// a fresh process of this test binary: the test starts the binary again, running only
/// itself, and fails unless that process ran exactly that one test and it passed. In the
/// fresh process, `scenario` runs. For states that would disturb the other tests of the
/// process (signal dispositions, closed or replaced standard descriptors, limits, forks).
pub fn in_fresh_process(test: &str, scenario: impl FnOnce()) {
    if std::env::var(SCENARIO_VAR).as_deref() == Ok(test) {
        return scenario();
    }
    let exe = std::env::current_exe().expect("the test binary's path");
    let output = std::process::Command::new(&exe)
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(SCENARIO_VAR, test)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("starting {} again: {e}", exe.display()));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    // Exactly one test ran, and passed: the filter matched it, and nothing else.
    assert!(
        output.status.success() && stdout.contains("test result: ok. 1 passed; 0 failed"),
        "{test} in a fresh process: {}\n--- its stdout:\n{stdout}\n--- its stderr:\n{stderr}",
        output.status
    );
}

/// Re-raises a panic caught while the standard descriptors were elsewhere (its message
/// went there, where the test harness cannot see it), with its message.
pub fn resume_with_message(result: std::thread::Result<()>) {
    if let Err(panic) = result {
        let message = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "a panic without a message".into());
        panic!("{message}");
    }
}

/// A raw system call's outcome: its return value, or the name of its errno (`"EPERM"`).
pub type Outcome = Result<i64, String>;

/// The [`Outcome`] of a raw system call's return value, read right after the call
/// (`-1` means failure, with the reason in `errno`).
pub fn outcome(result: libc::c_long) -> Outcome {
    if result == -1 {
        let code = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
        Err(format!("{:?}", nix::errno::Errno::from_raw(code)))
    } else {
        Ok(result)
    }
}

/// System call `nr` with six arguments, each passed as a whole register: a smaller
/// integer passed to the variadic `libc::syscall` may leave garbage in the upper half,
/// which the kernel reads for its `long` arguments.
///
/// # Safety
///
/// As for the system call itself: pointers among `args` must point to live memory of the
/// type and size the call reads or writes there.
pub unsafe fn syscall6(nr: libc::c_long, args: [libc::c_long; 6]) -> libc::c_long {
    let [a, b, c, d, e, f] = args;
    // SAFETY: passed on from this function's caller.
    unsafe { libc::syscall(nr, a, b, c, d, e, f) }
}
