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
use std::io::Write;
use std::os::fd::AsFd;
use std::time::Instant;

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::prctl;
use nix::sys::signal::{Signal, kill, killpg};
use nix::sys::wait::{Id, WaitPidFlag, WaitStatus, waitid, waitpid};
use nix::unistd::{self, ForkResult, Pid};

use super::{
    DROP_FAILED, REFUSED, answer_and_exit, fail, is_pipe_or_socket, privileges, serve, tree,
};
use crate::sys;
use crate::wire::{
    self, Ending, Failure, LIFELINE_FD, PROTOCOL, REPORT_FD, REQUEST_FD, RESPONSE_FD, Report, Step,
};

/// Exit code of a supervisor that could not learn how the sandbox ended.
const CANCELLED: i32 = 124;

/// How long a launched zygote may take to end itself once its caller's end of the
/// control socket closed, before its supervisor kills it, in milliseconds.
const ZYGOTE_GRACE_MS: u8 = 100;

/// Who started this supervisor, which decides what it runs in the sandbox.
pub(crate) enum Origin {
    /// The executable itself, started again by a root caller, speaking `version`:
    /// the sandbox is a fork of this process.
    Image(std::ffi::OsString),
    /// The launcher, whose configuration allows `Grants` besides nobody: the sandbox
    /// starts the image on [`wire::IMAGE_FD`].
    Launcher(crate::grants::Grants),
}

pub(crate) fn run(version: &OsStr) -> ! {
    if let Err(error) = sys::close_descriptors_from(REPORT_FD + 1) {
        let _ = privileges::drop_completely();
        answer_and_exit(
            DROP_FAILED,
            Failure::startup(
                Step::Descriptors,
                format!("closing inherited descriptors failed: {error}"),
            ),
        );
    }
    supervise(Origin::Image(version.to_os_string()))
}

/// Checks the protocol descriptors, reads the policy, drops, and forks the sandbox.
pub(crate) fn supervise(origin: Origin) -> ! {
    // Started by anyone, with any signal state: the children must stay unreaped until
    // this process waits for them, and no signal may be held back from it; and no
    // timer of its starter's may end it later. A caller that is gone must not kill it
    // before it has ended the sandbox.
    sys::reset_signals();
    sys::disarm_interval_timers();
    sys::ignore_sigpipe();
    let protocol_ok = [REQUEST_FD, RESPONSE_FD, LIFELINE_FD, REPORT_FD]
        .iter()
        .all(|&fd| is_pipe_or_socket(fd));
    if !protocol_ok {
        // Started by someone else: drop everything, then say so.
        let _ = privileges::drop_completely();
        fail(
            REFUSED,
            "this process was not started by the boxed library (its protocol pipes are \
             missing); it runs nothing",
        );
    }
    let foreign = match &origin {
        Origin::Image(version) => Some(version).filter(|version| *version != PROTOCOL),
        Origin::Launcher(_) => None,
    };
    if let Some(version) = foreign {
        let _ = privileges::drop_completely();
        answer_and_exit(
            REFUSED,
            Failure::Protocol(format!(
                "the caller speaks protocol {version:?}, this executable speaks {PROTOCOL}"
            )),
        );
    }
    // Before the drop: afterwards the entry to write belongs to root.
    if let Err(message) = super::limits::raise_oom_score() {
        let _ = privileges::drop_completely();
        answer_and_exit(DROP_FAILED, Failure::startup(Step::OomScore, message));
    }
    // The policy decides the sandbox's identity, so it is read before the drop. Only
    // this runtime's bounded JSON parser runs while the process is still privileged.
    let caller = unistd::getuid();
    let mut request = sys::take_descriptor(REQUEST_FD);
    let policy = match wire::read_policy(&mut request) {
        Ok(policy) => policy,
        Err(failure) => {
            let _ = privileges::drop_completely();
            answer_and_exit(REFUSED, failure)
        }
    };
    let launcher_grants = match &origin {
        Origin::Launcher(grants) => Some(grants),
        Origin::Image(_) => None,
    };
    let dropped = privileges::sandbox_identity(&policy, caller, launcher_grants)
        .and_then(|identity| privileges::drop_supervisor(identity).map(|()| identity));
    let identity = match dropped {
        Ok(identity) => identity,
        Err(message) => {
            let _ = privileges::drop_completely();
            answer_and_exit(DROP_FAILED, Failure::Privileges(message))
        }
    };
    if let Err(error) = prctl::set_child_subreaper(true) {
        answer_and_exit(
            DROP_FAILED,
            Failure::startup(
                Step::Process,
                format!("PR_SET_CHILD_SUBREAPER failed: {error}"),
            ),
        );
    }
    let lifeline = sys::take_descriptor(LIFELINE_FD);
    let report = sys::take_descriptor(REPORT_FD);
    if policy.zygote {
        drop((request, report));
        match origin {
            Origin::Image(_) => {
                super::zygote::run(identity, caller, policy, lifeline.into(), false)
            }
            // The zygote is the image, executed by a fork of this process once it is
            // confined; this process stays above it.
            Origin::Launcher(_) => above_launched_zygote(&policy, identity, caller, lifeline),
        }
    }
    if closed(&lifeline) {
        sys::exit_now(CANCELLED);
    }
    let deadline = policy.timeout.map(|timeout| Instant::now() + timeout);
    let supervisor = unistd::getpid();
    let sandbox = match sys::fork_single_threaded() {
        Ok(ForkResult::Child) => {
            drop((lifeline, report));
            match origin {
                Origin::Image(_) => serve::run(identity, caller, supervisor, &policy, request),
                Origin::Launcher(_) => {
                    super::launched::start_image(identity, caller, supervisor, &policy, request)
                }
            }
        }
        Ok(ForkResult::Parent { child }) => child,
        Err(error) => answer_and_exit(
            DROP_FAILED,
            Failure::startup(Step::Fork, format!("fork of the sandbox failed: {error}")),
        ),
    };
    // The sandbox owns the request, response and output pipes now.
    drop(request);
    drop(sys::take_descriptor(RESPONSE_FD));
    super::release_output();
    let quick = policy.max_processes <= 1;
    let (ending, timed_out) = match watch(sandbox, &lifeline, &report, deadline, quick) {
        Watched::Ended(ending, timed_out) => (ending, timed_out),
        // The caller has its answer and wants no report: the sandbox, which can have
        // started no process, is killed, and nothing is left to wait for here.
        Watched::Answered => sys::exit_now(0),
    };
    let cpu_seconds = super::children_cpu_seconds();
    let mut report = report;
    let report_json = serde_json::to_vec(&Report {
        ending,
        timed_out,
        cpu_seconds,
    });
    // One write, so the caller wakes once.
    let _ = report_json.map(|json| report.write_all(&json));
    drop(report);
    exit_as(ending)
}

/// Exits as `ending` says the process it watched ended: the same code, or death by the
/// same signal.
fn exit_as(ending: Ending) -> ! {
    match ending {
        Ending::Exited(code) => sys::exit_now(code),
        Ending::Signaled(signal) => match Signal::try_from(signal) {
            Ok(signal) => sys::die_by(signal),
            Err(_) => sys::exit_now(DROP_FAILED),
        },
        Ending::Unknown => sys::exit_now(CANCELLED),
    }
}

/// A zygote through the launcher: forks the process that confines itself and executes
/// the caller's image as the zygote (see `launched::exec_zygote`), and stays above it, so
/// that whatever program the image is, it ends with its caller.
///
/// - The caller's end of the control socket closing (the caller is done with its
///   zygote, or gone) ends the zygote and everything it started. This process watches
///   its own copy of the zygote's end for the hang-up only, and never reads it.
/// - The zygote exiting ends this process, once it has ended every orphan the zygote
///   left, with the zygote's status.
///
/// A boxed zygote ends itself on the control socket's closing; this is for an image
/// that does not. Before the zygote may execute the image, this process takes the
/// sandbox identity as real and saved uid too, leaves its caller's session where it
/// can, and ignores the terminal's signals (its starter's timers are disarmed already),
/// so that its caller cannot kill or stop it: a zygote that is not boxed's may make
/// itself the sandbox identity through and through (it must be free to drop its
/// spares), and then only this process or root could end it. A parent-death signal
/// would not do: the zygote's effective uid is not its real uid, so the kernel treats
/// the image's exec as a secure one and clears it.
fn above_launched_zygote(
    policy: &crate::Policy,
    identity: privileges::Identity,
    caller: unistd::Uid,
    control: fs::File,
) -> ! {
    // The zygote waits at this gate until this process is out of its caller's reach:
    // no image code runs while the caller could still stop or kill its supervisor.
    let (gate_read, gate_write) = match nix::unistd::pipe() {
        Ok(ends) => ends,
        Err(error) => answer_and_exit(
            DROP_FAILED,
            Failure::startup(
                Step::Pipes,
                format!("the zygote's gate pipe failed: {error}"),
            ),
        ),
    };
    let zygote = match sys::fork_single_threaded() {
        Ok(ForkResult::Child) => {
            drop(gate_write);
            let mut opened = [0u8; 1];
            // A byte: go on. The end (the supervisor died first): run nothing.
            if !matches!(nix::unistd::read(&gate_read, &mut opened), Ok(1)) {
                sys::exit_now(CANCELLED);
            }
            drop(gate_read);
            super::launched::exec_zygote(policy, identity, control)
        }
        Ok(ForkResult::Parent { child }) => child,
        Err(error) => answer_and_exit(
            DROP_FAILED,
            Failure::startup(Step::Fork, format!("fork of the zygote failed: {error}")),
        ),
    };
    drop(gate_read);
    // Out of the caller's reach: the sandbox identity in all three uids (the caller may
    // no longer signal or stop this process; it still may signal the zygote and its
    // spares, of that identity), a session of its own where it can have one, and
    // neither the terminal's signals nor timers that need no permission.
    let _ = unistd::setsid();
    sys::ignore_terminal_signals();
    // The sandbox's own drop, and its checks, done on this process.
    if let Err(message) = privileges::drop_sandbox(identity, caller) {
        let _ = kill(zygote, Signal::SIGKILL);
        answer_and_exit(DROP_FAILED, Failure::Privileges(message));
    }
    let _ = nix::unistd::write(&gate_write, &[1]);
    drop(gate_write);
    // The zygote answers its caller itself: the caller sees the response pipe end with
    // it. The image is the zygote's too.
    drop(sys::take_descriptor(RESPONSE_FD));
    drop(sys::take_descriptor(wire::IMAGE_FD));
    super::release_output();
    let pidfd = sys::pidfd_open(zygote).ok();
    loop {
        // No events asked of the control socket: poll reports its hang-up regardless,
        // and the calls' messages on it are the zygote's to read.
        let mut fds = vec![PollFd::new(control.as_fd(), PollFlags::empty())];
        if let Some(pidfd) = &pidfd {
            fds.push(PollFd::new(pidfd.as_fd(), PollFlags::POLLIN));
        }
        let timeout = match pidfd {
            Some(_) => PollTimeout::NONE,
            None => PollTimeout::from(5u8),
        };
        let failed = match poll(&mut fds, timeout) {
            Ok(_) | Err(Errno::EINTR) => false,
            // It can no longer watch the control socket: the zygote ends now.
            Err(_) => true,
        };
        let ready = |fd: &PollFd| fd.revents().is_some_and(|events| !events.is_empty());
        if failed || ready(&fds[0]) {
            // A boxed zygote sees the same hang-up and ends its calls and spares itself:
            // a moment for that, so that its own status is what is reported, then the
            // kill, whatever the image is. Not reaped yet, so neither its pid nor its
            // session's group can be reused.
            if let Some(pidfd) = &pidfd {
                let mut exit = [PollFd::new(pidfd.as_fd(), PollFlags::POLLIN)];
                let _ = poll(&mut exit, PollTimeout::from(ZYGOTE_GRACE_MS));
            }
            let _ = killpg(zygote, Signal::SIGKILL);
            let _ = kill(zygote, Signal::SIGKILL);
            break;
        }
        if fds.get(1).is_some_and(ready) || (pidfd.is_none() && has_exited(zygote)) {
            break;
        }
    }
    // The tree first: the caller sees the control socket close once nothing of the
    // zygote is left.
    let ending = end(zygote);
    drop(control);
    exit_as(ending)
}

/// Once the child `pid` has exited or been killed: kills its process group while its
/// unreaped id still holds the group, reaps it, and ends every other child left (the
/// orphans re-parented here). Returns how it ended.
fn end(pid: Pid) -> Ending {
    // Wait without reaping first, so the group can be killed while its id is still held.
    let _ = waitid(Id::Pid(pid), WaitPidFlag::WEXITED | WaitPidFlag::WNOWAIT);
    let _ = killpg(pid, Signal::SIGKILL);
    let ending = Ending::of(waitpid(pid, None));
    tree::end_tree();
    ending
}

/// Whether the child `pid` has exited, without reaping it.
fn has_exited(pid: Pid) -> bool {
    let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG | WaitPidFlag::WNOWAIT;
    matches!(
        waitid(Id::Pid(pid), flags),
        Ok(WaitStatus::Exited(..) | WaitStatus::Signaled(..))
    )
}

/// How watching the sandbox ended.
enum Watched {
    /// The sandbox and its tree are gone: how it ended, and whether the deadline did it.
    Ended(Ending, bool),
    /// The caller closed the lifeline after the report pipe: it has its answer and reads
    /// no report. The sandbox, which may start no process (`quick`), is killed, not
    /// waited for.
    Answered,
}

/// Waits for the sandbox to exit, the lifeline to close or the deadline to pass, then
/// ends the whole tree. Returns how the sandbox ended, and whether the deadline did it.
///
/// A closed lifeline means the caller has its answer, has seen the response pipe close
/// without one, or is gone. The sandbox is killed, but its exit status is still the one
/// reported: a sandbox that was already exiting (its closed pipe is what the caller saw)
/// keeps its own code or signal, since the kernel ignores signals to a process group
/// that is exiting.
///
/// With `quick` (the sandbox may start no process, so the kill ends all of it), a
/// caller that closed its end of the report pipe before the lifeline has its answer and
/// waits only for this process to exit: the sandbox is killed and left to the kernel
/// (it is re-parented and reaped like any orphan), so the caller does not also wait for
/// the sandbox's own exit.
fn watch(
    sandbox: Pid,
    lifeline: &fs::File,
    report: &fs::File,
    deadline: Option<Instant>,
    quick: bool,
) -> Watched {
    // Without pidfds (kernels before 5.3), the sandbox's exit is checked between polls
    // of the lifeline a few milliseconds long instead of being polled itself.
    let pidfd = sys::pidfd_open(sandbox).ok();
    let exited = || has_exited(sandbox);
    let mut timed_out = false;
    loop {
        let mut fds = vec![PollFd::new(lifeline.as_fd(), PollFlags::POLLIN)];
        if let Some(pidfd) = &pidfd {
            fds.push(PollFd::new(pidfd.as_fd(), PollFlags::POLLIN));
        }
        let left = deadline.map(|deadline| deadline.saturating_duration_since(Instant::now()));
        let wait = match (left, pidfd.is_some()) {
            (None, true) => None,
            (None, false) => Some(std::time::Duration::from_millis(5)),
            (Some(left), true) => Some(left),
            (Some(left), false) => Some(left.min(std::time::Duration::from_millis(5))),
        };
        let timeout = wait.map_or(PollTimeout::NONE, |wait| {
            PollTimeout::try_from(wait.as_millis().min(60_000) as i32 + 1)
                .unwrap_or(PollTimeout::MAX)
        });
        match poll(&mut fds, timeout) {
            Ok(_) | Err(Errno::EINTR) => {}
            Err(_) => break,
        }
        let ready = |fd: &PollFd| fd.revents().is_some_and(|events| !events.is_empty());
        if fds.get(1).is_some_and(ready) || (pidfd.is_none() && exited()) {
            break;
        }
        timed_out = deadline.is_some_and(|deadline| Instant::now() >= deadline);
        if ready(&fds[0]) || timed_out {
            // Not reaped yet, so neither its pid nor its process group can be reused.
            let _ = killpg(sandbox, Signal::SIGKILL);
            let _ = kill(sandbox, Signal::SIGKILL);
            if quick && !timed_out && unread(report) {
                return Watched::Answered;
            }
            break;
        }
    }
    Watched::Ended(end(sandbox), timed_out)
}

/// Whether the write end `pipe` has no reader left.
fn unread(pipe: &fs::File) -> bool {
    let mut fds = [PollFd::new(pipe.as_fd(), PollFlags::empty())];
    matches!(poll(&mut fds, PollTimeout::ZERO), Ok(n) if n > 0)
        && fds[0]
            .revents()
            .is_some_and(|events| events.contains(PollFlags::POLLERR))
}

/// Whether the read end `pipe` has no writer left (the caller closed it or died).
fn closed(pipe: &fs::File) -> bool {
    let mut fds = [PollFd::new(pipe.as_fd(), PollFlags::POLLIN)];
    matches!(poll(&mut fds, PollTimeout::ZERO), Ok(n) if n > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_pipe_is_unread_only_once_its_reader_is_closed() {
        let (read, write) = nix::unistd::pipe().expect("pipe");
        let write = fs::File::from(write);
        assert!(!unread(&write), "the reader is open");
        drop(read);
        assert!(unread(&write), "the reader is closed");
    }
}
