//! What a sandbox sees of `/proc`, end to end, one-shot and through a zygote: a few
//! entries of its own `/proc/self` (its state, limits and memory use) to read, its
//! descriptors and threads to list; everything else there is refused, `net` (the host's
//! sockets: the caller's listeners, unix socket paths) and `mountinfo` first. The caller
//! reads the same entries of its own (the control).

use std::fs;

use boxed::{Policy, sandboxed};
use boxed_tests::{e2e, errno_name};

/// Entries of `/proc/self` a sandbox must not read, each a file read or a directory
/// listed: the host's network namespace, mounts, cgroups, memory maps and the rest.
const REFUSED: &[&str] = &[
    "net/tcp",
    "net/tcp6",
    "net/udp",
    "net/unix",
    "net/dev",
    "net/route",
    "net/",
    "mountinfo",
    "mounts",
    "mountstats",
    "cgroup",
    "maps",
    "smaps",
    "numa_maps",
    "environ",
    "cmdline",
    "comm",
    "auxv",
    "io",
    "sched",
    "schedstat",
    "wchan",
    "syscall",
    "personality",
    "sessionid",
    "loginuid",
    "uid_map",
    "ns/",
    "fdinfo/",
    "map_files/",
    "root/etc/passwd",
    "cwd/",
];

/// What the runtime grants, and what the tests of the other files need.
const GRANTED_FILES: &[&str] = &["stat", "statm", "status", "limits", "oom_score_adj"];
const GRANTED_LISTS: &[&str] = &["fd/", "task/"];

/// A file's length, or the entries of a directory (a name ending in `/`), or the errno.
fn read_entry(path: &str) -> Result<usize, String> {
    if path.ends_with('/') {
        errno_name(fs::read_dir(path).map(|entries| entries.count()))
    } else {
        errno_name(fs::read(path).map(|bytes| bytes.len()))
    }
}

/// Every path of `names` under `/proc/self`, or under `/proc/PID` by its own pid, as
/// the sandbox reads it.
#[sandboxed]
fn read_entries(by_pid: bool, names: Vec<String>) -> Vec<(String, Result<usize, String>)> {
    let base = if by_pid {
        format!("/proc/{}", std::process::id())
    } else {
        "/proc/self".to_string()
    };
    names
        .into_iter()
        .map(|name| {
            let path = format!("{base}/{name}");
            let outcome = read_entry(&path);
            (path, outcome)
        })
        .collect()
}

/// The standard library's calls that look at `/proc/self`, inside a sandbox.
#[sandboxed]
fn standard_library() -> (
    Result<usize, String>,
    Result<u32, String>,
    Result<bool, String>,
) {
    let parallelism = errno_name(std::thread::available_parallelism().map(usize::from));
    let thread = std::thread::spawn(|| 7)
        .join()
        .map_err(|_| "the thread panicked".to_string());
    let exe = errno_name(std::env::current_exe()).map(|path| path.is_absolute());
    (parallelism, thread, exe)
}

/// The sandbox's thread id, which names its `task/TID` entry.
fn own_tid() -> i32 {
    nix::unistd::gettid().as_raw()
}

#[sandboxed]
fn task_entries() -> Vec<(String, Result<usize, String>)> {
    let tid = own_tid();
    [
        "status",
        "stat",
        "net/tcp",
        "net/unix",
        "mountinfo",
        "maps",
        "environ",
    ]
    .iter()
    .flat_map(|name| {
        [
            format!("/proc/self/task/{tid}/{name}"),
            format!("/proc/thread-self/{name}"),
        ]
    })
    .map(|path| {
        let outcome = read_entry(&path);
        (path, outcome)
    })
    .collect()
}

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|name| name.to_string()).collect()
}

fn only_its_own_state_is_readable(policy: &Policy) {
    e2e();
    // The control: the caller reads every one of them, so each exists.
    for name in REFUSED.iter().chain(GRANTED_FILES).chain(GRANTED_LISTS) {
        if *name == "map_files/" {
            continue; // listing it needs CAP_SYS_ADMIN, even for the process itself
        }
        let path = format!("/proc/self/{name}");
        assert!(read_entry(&path).is_ok(), "the caller cannot read {path}");
    }
    let net = fs::read_to_string("/proc/self/net/tcp").expect("the caller's /proc/self/net/tcp");
    assert!(net.contains("local_address"), "{net}");

    for (path, outcome) in policy.run(|| read_entries(false, names(REFUSED))) {
        assert_eq!(outcome, Err("EACCES".to_string()), "{path}");
    }
    // /proc/PID, the same entries by the sandbox's own pid, is no way around.
    let pid_paths = policy.run(|| read_entries(true, names(&["net/tcp", "mountinfo", "status"])));
    for (path, outcome) in pid_paths {
        if path.ends_with("status") {
            assert!(outcome.is_ok(), "{path}: {outcome:?}");
        } else {
            assert_eq!(outcome, Err("EACCES".to_string()), "{path}");
        }
    }
    let granted =
        policy.run(|| read_entries(false, names(&[GRANTED_FILES, GRANTED_LISTS].concat())));
    for (path, outcome) in granted {
        assert!(
            outcome.as_ref().is_ok_and(|&size| size > 0),
            "{path}: {outcome:?}"
        );
    }
    for (path, outcome) in policy.run(task_entries) {
        assert_eq!(outcome, Err("EACCES".to_string()), "{path}");
    }
    let (parallelism, thread, exe) = policy.run(standard_library);
    assert!(
        parallelism.as_ref().is_ok_and(|&n| n >= 1),
        "{parallelism:?}"
    );
    assert_eq!(thread, Ok(7));
    assert_eq!(exe, Ok(true));
}

#[test]
fn a_sandbox_reads_only_its_own_state_in_proc() {
    only_its_own_state_is_readable(&Policy::new());
}

#[test]
fn a_zygote_sandbox_reads_only_its_own_state_in_proc() {
    only_its_own_state_is_readable(&Policy::new().zygote(true));
}
