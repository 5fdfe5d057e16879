//! Resource limits of the sandbox: soft equal to hard, so the sandbox cannot raise them.
//! The policy's values are ceilings: a limit the process inherited that is already
//! lower (a caller started with a small `RLIMIT_NOFILE`) stays, since an unprivileged
//! process may lower its hard limits but never raise them.

use nix::sys::resource::{Resource, getrlimit, setrlimit};

use crate::Policy;

/// The task limit of a sandbox with a unique uid that may not fork: its threads.
pub(crate) const THREADS_OF_ONE_PROCESS: u64 = 512;

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
