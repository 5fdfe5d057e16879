//! What a sandbox sees of `/proc` and where the OOM killer looks first, end to end,
//! one-shot and through a zygote.
//!
//! - `/proc`: a sandbox may read a few entries of its own `/proc/self` (its state, limits
//!   and memory use) and list its descriptors and threads; everything else there is
//!   refused, `net` (the host's sockets: the caller's listeners, unix socket paths) and
//!   `mountinfo` first. The caller reads the same entries of its own (the control).
//! - The OOM killer: every sandbox runs with `oom_score_adj` 1000, the caller with its
//!   own value (the control), and the sandbox cannot lower its value again.

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

/// The sandbox's `oom_score_adj`, what writing 0 to it gave, and its parent's pid.
#[sandboxed]
fn oom_score() -> (Result<String, String>, Result<(), String>, i32) {
    let value = errno_name(fs::read_to_string("/proc/self/oom_score_adj"));
    let lowered = errno_name(fs::write("/proc/self/oom_score_adj", "0"));
    (
        value.map(|v| v.trim().to_string()),
        lowered,
        nix::unistd::getppid().as_raw(),
    )
}

/// The caller's own value, and that writing it back works for the caller.
fn callers_oom_score() -> String {
    let own = fs::read_to_string("/proc/self/oom_score_adj").expect("the caller's oom_score_adj");
    let own = own.trim().to_string();
    assert_ne!(
        own, "1000",
        "the caller already has oom_score_adj 1000, so this test cannot tell a raised \
         sandbox from an inherited value; run it from a process with a lower value"
    );
    fs::write("/proc/self/oom_score_adj", &own).expect("the caller writing its own value back");
    own
}

#[test]
fn a_sandbox_is_the_oom_killers_first_choice() {
    e2e();
    let own = callers_oom_score();
    let (value, lowered, _) = oom_score();
    assert_eq!(value, Ok("1000".to_string()), "the caller's is {own}");
    assert_eq!(lowered, Err("EACCES".to_string()));
    assert_eq!(callers_oom_score(), own, "the caller's value is unchanged");
}

#[test]
fn a_zygote_and_its_sandboxes_are_the_oom_killers_first_choice() {
    e2e();
    let own = callers_oom_score();
    let (value, lowered, zygote) = Policy::new().zygote(true).run(oom_score);
    assert_eq!(value, Ok("1000".to_string()), "the caller's is {own}");
    assert_eq!(lowered, Err("EACCES".to_string()));
    // The zygote itself (and so every spare it forks) runs at 1000 too.
    let zygotes = fs::read_to_string(format!("/proc/{zygote}/oom_score_adj"))
        .unwrap_or_else(|e| panic!("the zygote {zygote}'s oom_score_adj: {e}"));
    assert_eq!(zygotes.trim(), "1000");
    assert_eq!(callers_oom_score(), own, "the caller's value is unchanged");
}
