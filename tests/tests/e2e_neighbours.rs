//! Other processes of the sandbox's identity, end to end. Every sandbox of every program
//! runs as `nobody` (or one identity a policy names), and the kernel lets a process
//! change the resource limits, nice value and CPUs of any process of its own uid. The
//! syscall filter lets each call that names another process through only for the
//! sandbox itself (0 or its own pid; 0 only through a zygote), and refuses the rest with
//! `EPERM`.
//!
//! A first sandbox says its pid and waits to be told to finish; a second one, started
//! meanwhile (one-shot, where it also aims at its supervisor, and through a zygote,
//! where it also aims at its zygote), aims every such call at it; the first then reports its limits, nice value and CPUs,
//! unchanged. The same calls aimed at the attacker itself succeed (through a zygote,
//! named as 0 only: by its own pid they are refused too), and the calls the filter
//! refuses outright succeed in the unconfined caller.

use std::fs;
use std::path::Path;
use std::time::Duration;

use boxed::{Policy, sandboxed};
use boxed_tests::{Outcome, e2e, eventually, open_directory, outcome, read_pid, syscall6};
use libc::c_long;
use serde::{Deserialize, Serialize};

/// How long the tests wait for an event: a file appearing, a call ending.
const EVENT_WITHIN: Duration = Duration::from_secs(30);

/// What a process can see of its own limits and scheduling.
#[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
struct State {
    /// `RLIMIT_NOFILE`, soft and hard.
    open_files: (u64, u64),
    /// Its nice value.
    nice: i64,
    /// How many CPUs it may run on.
    cpus: usize,
}

fn own_state() -> State {
    let open_files = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
        .expect("getrlimit");
    // SAFETY: getpriority takes two integers; it returns 20 - nice.
    let priority = outcome(unsafe {
        syscall6(
            libc::SYS_getpriority,
            [libc::PRIO_PROCESS as c_long, 0, 0, 0, 0, 0],
        )
    })
    .expect("getpriority");
    let cpus = nix::sched::sched_getaffinity(nix::unistd::Pid::from_raw(0))
        .map(|set| {
            (0..nix::sched::CpuSet::count())
                .filter(|&cpu| set.is_set(cpu).unwrap_or(false))
                .count()
        })
        .expect("sched_getaffinity");
    State {
        open_files,
        nice: 20 - priority,
        cpus,
    }
}

/// Says its pid in `dir/pid` (readable by the caller), then waits until `dir/done`
/// exists; its state before and after.
#[sandboxed]
fn target(dir: &Path) -> (State, State) {
    use std::os::unix::fs::PermissionsExt;
    let before = own_state();
    let pid_file = dir.join("pid");
    fs::write(&pid_file, format!("{}\n", std::process::id())).expect("writing the pid");
    fs::File::open(&pid_file)
        .and_then(|file| file.set_permissions(fs::Permissions::from_mode(0o644)))
        .expect("fchmod");
    assert!(
        eventually(Duration::from_secs(120), || dir.join("done").exists()),
        "never told to finish"
    );
    (before, own_state())
}

/// The calls that name another process, aimed at `victim`; the ones allowed on the
/// sandbox itself, aimed at `me` and at 0.
fn attempts(victim: i32, me: i32) -> Vec<(String, Outcome)> {
    let limit = libc::rlimit {
        rlim_cur: 3,
        rlim_max: 3,
    };
    let mut old = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    let (limit, old) = (&raw const limit as c_long, &raw mut old as c_long);
    let nofile = libc::RLIMIT_NOFILE as c_long;
    let mut mask = [0u64; 16];
    let mask_size = size_of_val(&mask) as c_long;
    let mask = &raw mut mask as c_long;
    let param = libc::sched_param { sched_priority: 0 };
    let param = &raw const param as c_long;
    let (head, len) = (0 as c_long, 0 as c_long);
    let (head, len) = (&raw const head as c_long, &raw const len as c_long);
    let process = libc::PRIO_PROCESS as c_long;
    let ioprio_who_process = 1;
    let ioprio_idle = 3 << 13;
    let calls: Vec<(String, c_long, [c_long; 6])> = vec![
        // Aimed at the other process.
        (
            "prlimit64(victim, NOFILE = 3)".into(),
            libc::SYS_prlimit64,
            [victim.into(), nofile, limit, 0, 0, 0],
        ),
        (
            "prlimit64(victim, read)".into(),
            libc::SYS_prlimit64,
            [victim.into(), nofile, 0, old, 0, 0],
        ),
        (
            "setpriority(PRIO_PROCESS, victim, 19)".into(),
            libc::SYS_setpriority,
            [process, victim.into(), 19, 0, 0, 0],
        ),
        (
            "getpriority(PRIO_PROCESS, victim)".into(),
            libc::SYS_getpriority,
            [process, victim.into(), 0, 0, 0, 0],
        ),
        (
            "setpriority(PRIO_PGRP, victim, 19)".into(),
            libc::SYS_setpriority,
            [libc::PRIO_PGRP as c_long, victim.into(), 19, 0, 0, 0],
        ),
        (
            "getpriority(PRIO_USER, own uid)".into(),
            libc::SYS_getpriority,
            [libc::PRIO_USER as c_long, 0, 0, 0, 0, 0],
        ),
        (
            "sched_getaffinity(victim)".into(),
            libc::SYS_sched_getaffinity,
            [victim.into(), mask_size, mask, 0, 0, 0],
        ),
        (
            "sched_setaffinity(victim, its CPUs)".into(),
            libc::SYS_sched_setaffinity,
            [victim.into(), mask_size, mask, 0, 0, 0],
        ),
        (
            "sched_setscheduler(victim, SCHED_IDLE)".into(),
            libc::SYS_sched_setscheduler,
            [victim.into(), libc::SCHED_IDLE as c_long, param, 0, 0, 0],
        ),
        (
            "sched_getscheduler(victim)".into(),
            libc::SYS_sched_getscheduler,
            [victim.into(), 0, 0, 0, 0, 0],
        ),
        (
            "sched_getparam(victim)".into(),
            libc::SYS_sched_getparam,
            [victim.into(), param, 0, 0, 0, 0],
        ),
        (
            "ioprio_set(victim, idle)".into(),
            libc::SYS_ioprio_set,
            [ioprio_who_process, victim.into(), ioprio_idle, 0, 0, 0],
        ),
        (
            "ioprio_get(victim)".into(),
            libc::SYS_ioprio_get,
            [ioprio_who_process, victim.into(), 0, 0, 0, 0],
        ),
        (
            "migrate_pages(victim, no nodes)".into(),
            libc::SYS_migrate_pages,
            [victim.into(), 0, 0, 0, 0, 0],
        ),
        (
            "move_pages(victim, no pages)".into(),
            libc::SYS_move_pages,
            [victim.into(), 0, 0, 0, 0, 0],
        ),
        (
            "get_robust_list(victim)".into(),
            libc::SYS_get_robust_list,
            [victim.into(), head, len, 0, 0, 0],
        ),
        (
            "getpgid(victim)".into(),
            libc::SYS_getpgid,
            [victim.into(), 0, 0, 0, 0, 0],
        ),
        (
            "getsid(victim)".into(),
            libc::SYS_getsid,
            [victim.into(), 0, 0, 0, 0, 0],
        ),
    ];
    let mut outcomes: Vec<(String, Outcome)> = calls
        .into_iter()
        .map(|(name, nr, args)| {
            // SAFETY: every pointer among the arguments points to one of the locals
            // above, of the type and size the call reads or writes there.
            (name, outcome(unsafe { syscall6(nr, args) }))
        })
        .collect();
    // The same on itself, which must work: by pid and as 0.
    for (what, pid) in [("itself", me), ("0", 0)] {
        let pid = c_long::from(pid);
        // SAFETY: getpriority takes integers.
        let priority = unsafe { syscall6(libc::SYS_getpriority, [process, pid, 0, 0, 0, 0]) };
        let own_nice = 20 - priority;
        // SAFETY: as above.
        let ours = unsafe {
            [
                (
                    "prlimit64(read)",
                    syscall6(libc::SYS_prlimit64, [pid, nofile, 0, old, 0, 0]),
                ),
                (
                    "sched_getaffinity",
                    syscall6(libc::SYS_sched_getaffinity, [pid, mask_size, mask, 0, 0, 0]),
                ),
                (
                    "sched_setaffinity(its CPUs)",
                    syscall6(libc::SYS_sched_setaffinity, [pid, mask_size, mask, 0, 0, 0]),
                ),
                ("getpgid", syscall6(libc::SYS_getpgid, [pid, 0, 0, 0, 0, 0])),
                ("getsid", syscall6(libc::SYS_getsid, [pid, 0, 0, 0, 0, 0])),
                ("getpriority(PRIO_PROCESS)", priority),
                (
                    "setpriority(PRIO_PROCESS, same nice)",
                    syscall6(libc::SYS_setpriority, [process, pid, own_nice, 0, 0, 0]),
                ),
            ]
        };
        outcomes.extend(
            ours.into_iter()
                .map(|(name, result)| (format!("{name} of {what}"), outcome(result))),
        );
    }
    outcomes
}

#[sandboxed]
fn attack(victim: i32) -> Vec<(String, Outcome)> {
    let me = std::process::id() as i32;
    let mut outcomes = attempts(victim, me);
    // And at its own supervisor, whose effective uid is the sandbox's.
    let supervisor = nix::unistd::getppid().as_raw();
    let renamed =
        |(name, outcome): (String, Outcome)| (name.replace("victim", "supervisor"), outcome);
    outcomes.extend(
        attempts(supervisor, me)
            .into_iter()
            .take(ON_OTHERS)
            .map(renamed),
    );
    outcomes
}

/// The same through a zygote, and aimed at the zygote itself (the spare's parent).
#[sandboxed(zygote)]
fn attack_through_a_zygote(victim: i32) -> Vec<(String, Outcome)> {
    let me = std::process::id() as i32;
    // A call through a zygote names itself as 0 only: the zygote's part of the filter
    // keeps the pid rules with the zygote's pid, the spare's with its own, so its own
    // pid spelled out is refused too.
    let mut outcomes: Vec<(String, Outcome)> = attempts(victim, me)
        .into_iter()
        .map(|(name, outcome)| (name.replace("of itself", "of itself by pid"), outcome))
        .collect();
    let zygote = nix::unistd::getppid().as_raw();
    let renamed = |(name, outcome): (String, Outcome)| (name.replace("victim", "zygote"), outcome);
    outcomes.extend(
        attempts(zygote, me)
            .into_iter()
            .take(ON_OTHERS)
            .map(renamed),
    );
    outcomes
}

/// How many of [`attempts`] aim at the other process; the rest aim at the sandbox.
const ON_OTHERS: usize = 18;

/// Runs `attack` against a sandbox running meanwhile; checks every outcome and that the
/// victim saw no change.
fn against_a_running_sandbox(name: &str, attack: impl FnOnce(i32) -> Vec<(String, Outcome)>) {
    let env = e2e();
    let dir = open_directory(&env.work, name);
    let first = std::thread::spawn({
        let dir = dir.clone();
        move || {
            Policy::new()
                .write(&dir)
                .run(|| boxed::try_call(|| target(&dir)))
        }
    });
    let pid_file = dir.join("pid");
    let said = eventually(EVENT_WITHIN, || {
        read_pid(&pid_file).is_some() || first.is_finished()
    });
    let Some(victim) = read_pid(&pid_file) else {
        panic!(
            "the first sandbox never said its pid (waited: {said}): {:?}",
            first.join()
        );
    };
    let outcomes = attack(victim);
    fs::write(dir.join("done"), "").expect("telling the first sandbox to finish");
    let (before, after) = first
        .join()
        .expect("the first call's thread")
        .expect("the first call");
    assert_eq!(
        before, after,
        "the victim's limits, nice value or CPUs changed"
    );
    assert_eq!(before.open_files, (64, 64), "{before:?}");
    assert!(outcomes.len() >= ON_OTHERS + 14, "{outcomes:?}");
    for (name, outcome) in &outcomes {
        let others = ["victim", "zygote", "supervisor", "own uid", "itself by pid"];
        if others.iter().any(|other| name.contains(other)) {
            assert_eq!(outcome, &Err("EPERM".to_string()), "{name}");
        } else {
            assert!(outcome.is_ok(), "{name}: {outcome:?}");
        }
    }
    fs::remove_dir_all(&dir).expect("removing the directory");
}

#[test]
fn a_sandbox_cannot_change_or_read_another_process_of_its_identity() {
    against_a_running_sandbox("neighbours-one-shot", attack);
}

#[test]
fn through_a_zygote_it_cannot_reach_another_sandbox_or_its_zygote_either() {
    against_a_running_sandbox("neighbours-zygote", attack_through_a_zygote);
}

/// The calls the filter refuses outright whatever the pid, made by the unconfined
/// caller on itself, harmlessly (reads, or setting what is already set): they work
/// there, so the sandbox's `EPERM` is the filter's.
#[test]
fn outside_the_sandbox_the_calls_refused_outright_work() {
    e2e();
    let me = c_long::from(std::process::id() as i32);
    let param = libc::sched_param { sched_priority: 0 };
    let param = &raw const param as c_long;
    let (head, len) = (0 as c_long, 0 as c_long);
    let (head, len) = (&raw const head as c_long, &raw const len as c_long);
    // SAFETY: every pointer points to one of the locals above, of the type the call
    // reads or writes there.
    let calls = unsafe {
        [
            (
                "sched_getscheduler",
                syscall6(libc::SYS_sched_getscheduler, [me, 0, 0, 0, 0, 0]),
            ),
            (
                "sched_getparam",
                syscall6(libc::SYS_sched_getparam, [me, param, 0, 0, 0, 0]),
            ),
            (
                "ioprio_get",
                syscall6(libc::SYS_ioprio_get, [1, me, 0, 0, 0, 0]),
            ),
            (
                "get_robust_list",
                syscall6(libc::SYS_get_robust_list, [me, head, len, 0, 0, 0]),
            ),
            (
                "move_pages(no pages)",
                syscall6(libc::SYS_move_pages, [me, 0, 0, 0, 0, 0]),
            ),
            (
                "getpriority(PRIO_USER, own uid)",
                syscall6(
                    libc::SYS_getpriority,
                    [libc::PRIO_USER as c_long, 0, 0, 0, 0, 0],
                ),
            ),
        ]
    };
    for (name, result) in calls {
        assert!(
            outcome(result).is_ok(),
            "the caller's {name}: {:?}",
            outcome(result)
        );
    }
}
