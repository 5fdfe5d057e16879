//! The processes a supervisor or a zygote leaves behind: its live children, ending them
//! all, and the fields of a process's `/proc/PID/stat`. Its own module so that the
//! supervisor and the zygote, which both end trees of processes, need not import each
//! other.

use std::fs;

use nix::errno::Errno;
use nix::sys::signal::{Signal, kill, killpg};
use nix::sys::wait::{WaitPidFlag, waitpid};
use nix::unistd::{self, Pid};

/// Kills and reaps every process left of the sandbox: every child of the supervisor,
/// including orphans of the sandbox re-parented here, until none is left. Only children
/// are signalled, whose pids cannot be reused before this process reaps them.
pub(crate) fn end_tree() {
    // Most sandboxes may start no process: then no child is left, and this one call says
    // so without reading /proc. Any other answer (a stray reaped, or one still running)
    // goes on to the full search.
    if waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) == Err(Errno::ECHILD) {
        return;
    }
    loop {
        for child in children() {
            let _ = kill(child, Signal::SIGKILL);
            let _ = killpg(child, Signal::SIGKILL);
        }
        match waitpid(Pid::from_raw(-1), None) {
            Ok(_) | Err(Errno::EINTR) => {}
            Err(_) => return,
        }
    }
}

/// The supervisor's live children.
pub(crate) fn children() -> Vec<Pid> {
    let me = unistd::getpid();
    let parse = |text: &str| -> Vec<Pid> {
        text.split_whitespace()
            .filter_map(|pid| pid.parse().ok())
            .map(Pid::from_raw)
            .collect()
    };
    if let Ok(text) = fs::read_to_string(format!("/proc/self/task/{me}/children")) {
        return parse(&text);
    }
    // Without CONFIG_PROC_CHILDREN: every process whose parent is the supervisor.
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&pid| {
            stat_fields(&pid.to_string()).and_then(|fields| fields.first().copied())
                == Some(i64::from(me.as_raw()))
        })
        .map(Pid::from_raw)
        .collect()
}

/// The numeric fields of `/proc/PROCESS/stat` from the third (the state is skipped: its
/// index 0 is the parent's pid, field 4), cut after the command name, which may hold
/// spaces and parentheses. `process` is a pid or `self`.
pub(crate) fn stat_fields(process: &str) -> Option<Vec<i64>> {
    let stat = std::fs::read_to_string(format!("/proc/{process}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    Some(
        rest.split_whitespace()
            .skip(1)
            .map(|field| field.parse().unwrap_or(0))
            .collect(),
    )
}
