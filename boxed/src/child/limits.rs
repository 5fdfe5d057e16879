//! Resource limits of the sandbox: soft equal to hard, so the sandbox cannot raise them.
//! The policy's values are ceilings: a limit the process inherited that is already
//! lower (a caller started with a small `RLIMIT_NOFILE`) stays, since an unprivileged
//! process may lower its hard limits but never raise them. And its `oom_score_adj`, the
//! highest, so that the OOM killer takes the sandbox side before the caller.

use nix::sys::prctl;
use nix::sys::resource::{Resource, getrlimit, setrlimit};

use crate::Policy;

/// The task limit of a sandbox with a unique uid that may not fork: its threads.
pub(crate) const THREADS_OF_ONE_PROCESS: u64 = 512;

/// The `oom_score_adj` of every process of the sandbox side (supervisor, zygote, spares,
/// sandboxes): the highest, so that under memory pressure the OOM killer picks them
/// before any process of the caller's whose own value is lower.
pub(crate) const OOM_SCORE_ADJ: i32 = 1000;

const OOM_SCORE_ADJ_FILE: &str = "/proc/self/oom_score_adj";

/// Raises this process's `oom_score_adj` to [`OOM_SCORE_ADJ`] and checks it; every
/// process it forks inherits the value. Called by the supervisor before its drop: a
/// process may raise its own value, but only through its `/proc` entry, which the
/// kernel gives to root once the process is not dumpable, as a process started from a
/// file with capabilities is from its start and every sandbox is after its drop.
pub(crate) fn raise_oom_score() -> Result<(), String> {
    // Dumpable for the length of one write, so the entry is its own (its effective uid
    // is still the caller's). Meanwhile no other process may trace it or read its
    // memory: it holds capabilities in its permitted set that no process of the caller
    // has, which the kernel's ptrace check requires of the tracer. Nothing has been read
    // from the caller yet.
    prctl::set_dumpable(true).map_err(|e| format!("PR_SET_DUMPABLE 1 failed: {e}"))?;
    let written = std::fs::write(OOM_SCORE_ADJ_FILE, OOM_SCORE_ADJ.to_string());
    prctl::set_dumpable(false).map_err(|e| format!("PR_SET_DUMPABLE 0 failed: {e}"))?;
    written.map_err(|e| format!("writing {OOM_SCORE_ADJ} to {OOM_SCORE_ADJ_FILE} failed: {e}"))?;
    check_oom_score()
}

/// Whether this process's `oom_score_adj` is [`OOM_SCORE_ADJ`]: a sandbox checks what
/// it inherited, after its drop.
pub(crate) fn check_oom_score() -> Result<(), String> {
    let text = std::fs::read_to_string(OOM_SCORE_ADJ_FILE)
        .map_err(|e| format!("reading {OOM_SCORE_ADJ_FILE} failed: {e}"))?;
    match text.trim().parse::<i32>() {
        Ok(OOM_SCORE_ADJ) => Ok(()),
        _ => Err(format!(
            "{OOM_SCORE_ADJ_FILE} is {:?}, not {OOM_SCORE_ADJ}",
            text.trim()
        )),
    }
}

/// Sets each limit the policy asks for, or the hard limit inherited where that is lower,
/// then reads each one back.
pub(crate) fn apply(policy: &Policy) -> Result<(), String> {
    let mut limits = vec![
        (Resource::RLIMIT_CORE, 0),
        (Resource::RLIMIT_NOFILE, policy.max_open_files),
    ];
    if let Some(cpu_time) = policy.cpu_time {
        // RLIMIT_CPU counts whole seconds; round up so the limit is never shorter.
        let seconds = cpu_time.as_secs() + u64::from(cpu_time.subsec_nanos() > 0);
        limits.push((Resource::RLIMIT_CPU, seconds.max(1)));
    }
    if let Some(bytes) = policy.memory {
        limits.push((Resource::RLIMIT_AS, bytes));
    }
    if let Some(bytes) = policy.max_file_size {
        limits.push((Resource::RLIMIT_FSIZE, bytes));
    }
    // One process is enforced exactly by the syscall filter (no fork at all). Above
    // one, and for the threads of one process, RLIMIT_NPROC is the bound, which the
    // kernel counts over every task of the uid: of this sandbox alone with a unique uid,
    // of every process of a shared identity otherwise, where a bound on threads would
    // depend on how many processes `nobody` has on the machine, so there is none.
    if policy.max_processes > 1 {
        limits.push((Resource::RLIMIT_NPROC, policy.max_processes));
    } else if policy.unique_uid {
        limits.push((Resource::RLIMIT_NPROC, THREADS_OF_ONE_PROCESS));
    }
    for (resource, ceiling) in limits {
        let (_, inherited) =
            getrlimit(resource).map_err(|e| format!("getrlimit({resource:?}) failed: {e}"))?;
        let value = ceiling.min(inherited);
        setrlimit(resource, value, value)
            .map_err(|e| format!("setrlimit({resource:?}) failed: {e}"))?;
        let (soft, hard) =
            getrlimit(resource).map_err(|e| format!("getrlimit({resource:?}) failed: {e}"))?;
        if (soft, hard) != (value, value) {
            return Err(format!(
                "{resource:?} is {soft}/{hard} after setting it to {value}"
            ));
        }
    }
    Ok(())
}
