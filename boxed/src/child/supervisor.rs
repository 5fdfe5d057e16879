//! The supervisor: the process the caller starts. It drops its privileges, forks the
//! sandbox, and ends the sandbox and everything it started when the sandbox exits or the
//! caller goes away.
//!
//! Why a separate process: once the sandbox runs as nobody, the caller may no longer
//! signal it, and the kernel applies the same permission check to the parent-death
//! signal, so neither a kill nor `PR_SET_PDEATHSIG` from the caller would reach it. The
//! supervisor's effective uid is nobody's, so it may; its real uid is the caller's, so
//! the caller may signal it and the sandbox may not.
//!
//! The supervisor watches two things: the sandbox (a pidfd) and the lifeline, a pipe the
//! caller holds open for the length of the call. The caller closes it when it has the
//! answer, or when it dies, so the supervisor never outlives the call. As a child
//! subreaper it inherits every orphaned descendant of the sandbox and kills them all
//! before it exits. Its exit status is the sandbox's: the same code, or death by the
//! same signal.

use std::ffi::OsStr;
use std::fs;
use std::os::fd::AsFd;
use std::os::unix::fs::FileTypeExt;

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::prctl;
use nix::sys::signal::{Signal, kill, killpg};
use nix::sys::wait::{Id, WaitPidFlag, WaitStatus, waitid, waitpid};
use nix::unistd::{self, ForkResult, Pid};

use super::{DROP_FAILED, REFUSED, fail, privileges, serve};
use crate::sys;
use crate::wire::{self, Failure, LIFELINE_FD, PROTOCOL, REQUEST_FD, RESPONSE_FD, Response};

/// Exit code of a supervisor that could not learn how the sandbox ended.
const CANCELLED: i32 = 124;

pub(crate) fn run(version: &OsStr) -> ! {
    if let Err(error) = sys::close_descriptors_from(LIFELINE_FD + 1) {
        fail(
            DROP_FAILED,
            &format!("closing inherited descriptors failed: {error}"),
        );
    }
    let protocol_ok = [REQUEST_FD, RESPONSE_FD, LIFELINE_FD]
        .iter()
        .all(|&fd| is_pipe(fd));
    let identity = privileges::sandbox_identity();
    let dropped = identity.and_then(|identity| {
        let caller = unistd::getuid();
        privileges::drop_supervisor(identity).map(|()| (identity, caller))
    });
    if !protocol_ok {
        // Started by someone else. The drop above already ran, so whatever it achieved,
        // nothing but this message runs before the exit.
        fail(
            REFUSED,
            "this process was not started by the boxed library (its protocol pipes are \
             missing); it runs nothing",
        );
    }
    let (identity, caller) = match dropped {
        Ok(dropped) => dropped,
        Err(message) => answer_and_exit(DROP_FAILED, Failure::Privileges(message)),
    };
    if version != PROTOCOL {
        answer_and_exit(
            REFUSED,
            Failure::Protocol(format!(
                "the caller speaks protocol {version:?}, this executable speaks {PROTOCOL}"
            )),
        );
    }
    if let Err(error) = prctl::set_child_subreaper(true) {
        answer_and_exit(
            DROP_FAILED,
            Failure::Privileges(format!("PR_SET_CHILD_SUBREAPER failed: {error}")),
        );
    }
    let lifeline = sys::take_descriptor(LIFELINE_FD);
    if closed(&lifeline) {
        sys::exit_now(CANCELLED);
    }
    let supervisor = unistd::getpid();
    let sandbox = match sys::fork_single_threaded() {
        Ok(ForkResult::Child) => {
            drop(lifeline);
            serve::run(identity, caller, supervisor)
        }
        Ok(ForkResult::Parent { child }) => child,
        Err(error) => answer_and_exit(
            DROP_FAILED,
            Failure::Privileges(format!("fork of the sandbox failed: {error}")),
        ),
    };
    // The sandbox owns the request and response pipes now.
    drop(sys::take_descriptor(REQUEST_FD));
    drop(sys::take_descriptor(RESPONSE_FD));
    watch(sandbox, &lifeline)
}

/// Waits for the sandbox to exit or the lifeline to close, then ends the whole tree and
/// exits the way the sandbox did.
///
/// A closed lifeline means the caller has its answer, has seen the response pipe close
/// without one, or is gone. The sandbox is killed, but its exit status is still the one
/// reported: a sandbox that was already exiting (its closed pipe is what the caller saw)
/// keeps its own code or signal, since the kernel ignores signals to a process group
/// that is exiting.
fn watch(sandbox: Pid, lifeline: &fs::File) -> ! {
    let pidfd = sys::pidfd_open(sandbox).ok();
    while let Some(pidfd) = &pidfd {
        let mut fds = [
            PollFd::new(lifeline.as_fd(), PollFlags::POLLIN),
            PollFd::new(pidfd.as_fd(), PollFlags::POLLIN),
        ];
        match poll(&mut fds, PollTimeout::NONE) {
            Ok(_) | Err(Errno::EINTR) => {}
            Err(_) => break,
        }
        let ready = |fd: &PollFd| fd.revents().is_some_and(|events| !events.is_empty());
        if ready(&fds[1]) {
            break;
        }
        if ready(&fds[0]) {
            // Not reaped yet, so neither its pid nor its process group can be reused.
            let _ = killpg(sandbox, Signal::SIGKILL);
            let _ = kill(sandbox, Signal::SIGKILL);
            break;
        }
    }
    // Without pidfds (kernels before 5.3) only the sandbox's exit is watched. Either way,
    // wait without reaping first, so the group can be killed while its id is still held.
    let _ = waitid(
        Id::Pid(sandbox),
        WaitPidFlag::WEXITED | WaitPidFlag::WNOWAIT,
    );
    let _ = killpg(sandbox, Signal::SIGKILL);
    let status = waitpid(sandbox, None);
    end_tree();
    match status {
        Ok(WaitStatus::Exited(_, code)) => sys::exit_now(code),
        Ok(WaitStatus::Signaled(_, signal, _)) => sys::die_by(signal),
        _ => sys::exit_now(CANCELLED),
    }
}

/// Kills and reaps every process left of the sandbox: every child of the supervisor,
/// including orphans of the sandbox re-parented here, until none is left. Only children
/// are signalled, whose pids cannot be reused before this process reaps them.
fn end_tree() {
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
fn children() -> Vec<Pid> {
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
            fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
                stat.rsplit_once(')')
                    .and_then(|(_, rest)| rest.split_whitespace().nth(1)?.parse::<i32>().ok())
                    == Some(me.as_raw())
            })
        })
        .map(Pid::from_raw)
        .collect()
}

fn is_pipe(fd: i32) -> bool {
    fs::metadata(format!("/proc/self/fd/{fd}")).is_ok_and(|m| m.file_type().is_fifo())
}

/// Whether the read end `pipe` has no writer left (the caller closed it or died).
fn closed(pipe: &fs::File) -> bool {
    let mut fds = [PollFd::new(pipe.as_fd(), PollFlags::POLLIN)];
    matches!(poll(&mut fds, PollTimeout::ZERO), Ok(n) if n > 0)
}

/// Answers the caller with a failure frame, says it on stderr too, and exits.
fn answer_and_exit(code: i32, failure: Failure) -> ! {
    let message = match &failure {
        Failure::Privileges(message) | Failure::Protocol(message) => message.clone(),
        other => format!("{other:?}"),
    };
    let mut response = sys::take_descriptor(RESPONSE_FD);
    let _ = wire::write_frame(&mut response, &Response::Failure(failure));
    fail(code, &message)
}
