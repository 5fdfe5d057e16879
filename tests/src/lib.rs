//! Shared pieces of the end-to-end tests.
//!
//! The end-to-end tests (`tests/e2e_*.rs`) run as they will be used: as an unprivileged
//! caller, through the setcap'd copy of the test binary. `tests/run.sh` prepares that:
//! it creates the test users, stages the test binaries where the test user can run them,
//! installs their copies and runs them as that user with the variables read here. Run
//! any other way, these tests fail with a message that says so; they never skip.

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
        "end-to-end tests must run as an unprivileged caller through the setcap'd copy; \
         run them with `bash tests/run.sh`"
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

/// Room left in `max_processes` for processes that are not the test's own.
/// `RLIMIT_NPROC` counts every process of the sandbox's uid on the machine, so every
/// other `nobody` sandbox alive at the time (the other tests of the binary, which run in
/// parallel, and other runs of the suite) takes from the same budget.
pub const OTHER_SANDBOXES: u64 = 64;

/// A policy under which a sandbox may run system programs: read (and execute) access
/// to [`SYSTEM_TREES`], and `own` processes at once, the sandbox itself included, plus
/// [`OTHER_SANDBOXES`]. Nothing of the caller's is granted: a test adds that itself.
pub fn running_programs(own: u64) -> boxed::Policy {
    SYSTEM_TREES
        .iter()
        .filter(|tree| std::path::Path::new(tree).exists())
        .fold(boxed::Policy::new(), |policy, tree| policy.read(tree))
        .max_processes(own + OTHER_SANDBOXES)
}
