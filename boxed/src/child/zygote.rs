//! The zygote: a supervisor that stays, for `Policy::zygote`. It is started once through
//! the setcap'd copy and dropped exactly like a supervisor; then, instead of forking one
//! sandbox and exiting, it keeps *spares* forked and confined, waiting on a socket,
//! and hands each call to one of them: the caller's request and response pipes travel to the
//! spare as descriptors, and new spares are forked once no call runs. Every call still
//! runs in a process of its own that has run nothing before; the zygote itself never
//! runs code of the program.
//!
//! The zygote installs most of the policy's syscall filter on itself before it forks any
//! spare (see [`seccomp::zygote_program`]): the kernel compiles it once, and each spare
//! adds only the few rules the zygote must be free of.
//!
//! Per call the zygote does what the supervisor does for its one sandbox: it watches the
//! call's process (a pidfd), the call's deadline and the call's socket (the caller's
//! lifeline for that call), kills the call's process group when any of them ends it,
//! and writes the [`Report`] on the call's socket. The caller's control socket is the
//! zygote's own lifeline: when it closes, every call is ended and the zygote exits.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::time::Instant;

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{Signal, kill, killpg};
use nix::sys::socket::{
    AddressFamily, ControlMessage, ControlMessageOwned, MsgFlags, SockFlag, SockType, recv,
    recvmsg, send, sendmsg, socketpair,
};
use nix::sys::wait::waitpid;
use nix::unistd::{ForkResult, Pid, Uid};

use super::privileges::Identity;
use super::{DROP_FAILED, seccomp, serve};
use crate::Policy;
use crate::sys;
use crate::wire::{self, Ending, Failure, RESPONSE_FD, Report, Response};

/// How a call is asked for on the control socket: this tag and the deadline in
/// milliseconds (0 for none), with the call's socket, request pipe and response pipe
/// attached as descriptors.
pub(crate) const CALL: u8 = b'C';

/// How many spares a zygote keeps forked while no call runs.
const SPARES: usize = 2;

/// A forked, confined process waiting for a call.
struct Spare {
    pid: Pid,
    pidfd: OwnedFd,
    handoff: OwnedFd,
    /// What it said once confined: `None` until then.
    confined: Option<Result<(), Failure>>,
}

/// A call being served.
struct Call {
    pid: Pid,
    pidfd: OwnedFd,
    /// The caller's end of it: the report goes here; its closing cancels the call.
    socket: OwnedFd,
    /// Kept open until the call ends: closing a socket with unread data (the spare's
    /// "confined", when the call came before it was read) resets the other end, and the
    /// spare would lose its call.
    _handoff: OwnedFd,
    deadline: Option<Instant>,
    timed_out: bool,
    killed: bool,
}

pub(crate) fn run(identity: Identity, caller: Uid, policy: Policy, control: OwnedFd) -> ! {
    let zygote = nix::unistd::getpid();
    let fork_spare = || Spare::fork(identity, caller, zygote, &policy);
    // The first spare shows whether this policy can be enforced at all; the caller waits
    // for that answer before it sends any call.
    let mut response = sys::take_descriptor(RESPONSE_FD);
    // The bulk of the syscall filter goes on the zygote itself, once: every spare
    // inherits it, and adds only the few rules the zygote must be free of.
    let filtered = nix::sys::prctl::set_no_new_privs()
        .map_err(|e| format!("PR_SET_NO_NEW_PRIVS failed: {e}"))
        .and_then(|()| seccomp::install(&seccomp::zygote_program(&policy)))
        .map_err(Failure::Privileges);
    let first = filtered.and_then(|()| fork_spare()).and_then(|mut spare| {
        spare.wait_confined();
        match spare.confined.clone() {
            Some(Ok(())) => Ok(spare),
            Some(Err(failure)) => Err(failure),
            None => Err(Failure::Privileges(
                "the first spare died unconfined".into(),
            )),
        }
    });
    let mut spares: Vec<Spare> = match first {
        Ok(spare) => {
            let _ = wire::write_frame(&mut response, &Response::Result(b"null".to_vec()));
            vec![spare]
        }
        Err(failure) => {
            let _ = wire::write_frame(&mut response, &Response::Failure(failure));
            sys::exit_now(DROP_FAILED)
        }
    };
    drop(response);

    // A call's process may leave others behind only if its policy lets it start any;
    // otherwise the zygote's children are its spares and calls, and it need not look
    // for strays in /proc.
    let strays_possible = policy.max_processes > 1;
    let mut calls: Vec<Call> = Vec::new();
    loop {
        // Two spares are kept while no call runs, so that a call that comes right after
        // another still finds one ready. While calls run, a new spare is forked only once
        // none is left: forking and confining takes a processor, which calls spaced apart
        // should have to themselves, while calls back to back need the next spare ready.
        while spares.len() < SPARES && (calls.is_empty() || spares.is_empty()) {
            match fork_spare() {
                Ok(spare) => spares.push(spare),
                Err(_) => break,
            }
        }
        let now = Instant::now();
        let timeout = calls
            .iter()
            .filter(|call| !call.killed)
            .filter_map(|call| call.deadline)
            .min()
            .map_or(PollTimeout::NONE, |deadline| {
                let left = deadline.saturating_duration_since(now).as_millis() + 1;
                PollTimeout::try_from(left.min(60_000) as i32).unwrap_or(PollTimeout::MAX)
            });
        // Control, the spare's status, then each call's process and socket.
        let mut fds = vec![PollFd::new(control.as_fd(), PollFlags::POLLIN)];
        let unconfirmed: Vec<usize> = (0..spares.len())
            .filter(|&i| spares[i].confined.is_none())
            .collect();
        for &i in &unconfirmed {
            fds.push(PollFd::new(spares[i].handoff.as_fd(), PollFlags::POLLIN));
        }
        let first_call = fds.len();
        for call in &calls {
            fds.push(PollFd::new(call.pidfd.as_fd(), PollFlags::POLLIN));
            fds.push(PollFd::new(call.socket.as_fd(), PollFlags::empty()));
        }
        match poll(&mut fds, timeout) {
            Ok(_) | Err(Errno::EINTR) => {}
            Err(_) => shutdown(calls, spares),
        }
        let ready: Vec<bool> = fds
            .iter()
            .map(|fd| fd.revents().is_some_and(|events| !events.is_empty()))
            .collect();
        drop(fds);

        let mut finished = Vec::new();
        for (i, call) in calls.iter_mut().enumerate() {
            let (exited, abandoned) = (ready[first_call + 2 * i], ready[first_call + 2 * i + 1]);
            if exited {
                finished.push(i);
            } else if !call.killed
                && (abandoned || call.deadline.is_some_and(|d| Instant::now() >= d))
            {
                call.timed_out = !abandoned;
                call.killed = true;
                // Not reaped yet, so neither its pid nor its group can be reused.
                let _ = killpg(call.pid, Signal::SIGKILL);
                let _ = kill(call.pid, Signal::SIGKILL);
            }
        }
        for i in finished.into_iter().rev() {
            finish(calls.swap_remove(i), strays_possible);
        }
        for (k, &i) in unconfirmed.iter().enumerate() {
            if ready[1 + k] {
                spares[i].read_confined();
            }
        }
        if ready[0] {
            match receive(&control) {
                Received::Call(deadline, [socket, request, response]) => {
                    // The oldest spare is the likeliest to be confined already.
                    let spare_now = if spares.is_empty() {
                        fork_spare()
                    } else {
                        Ok(spares.remove(0))
                    };
                    match spare_now {
                        Ok(spare) => calls.push(spare.serve(deadline, socket, request, response)),
                        Err(failure) => answer(&response, failure),
                    }
                }
                Received::Nothing => {}
                Received::Closed => shutdown(calls, spares),
            }
        }
        if strays_possible {
            reap_strays(&calls, &spares);
        }
    }
}

impl Spare {
    fn fork(
        identity: Identity,
        caller: Uid,
        zygote: Pid,
        policy: &Policy,
    ) -> Result<Spare, Failure> {
        let failed =
            |what: &str, error: Errno| Failure::Privileges(format!("{what} failed: {error}"));
        let (ours, theirs) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .map_err(|e| failed("socketpair", e))?;
        match sys::fork_single_threaded().map_err(|e| failed("fork of a spare", e))? {
            ForkResult::Child => {
                // Keep only the hand-off socket: no other call's descriptors, no control.
                let handoff = match sys::move_descriptor(theirs, 3)
                    .and_then(|handoff| sys::close_descriptors_from(4).map(|()| handoff))
                {
                    Ok(handoff) => handoff,
                    Err(_) => sys::exit_now(DROP_FAILED),
                };
                std::mem::forget(ours);
                serve::run_spare(identity, caller, zygote, policy, handoff)
            }
            ForkResult::Parent { child } => {
                drop(theirs);
                let pidfd = sys::pidfd_open(child)
                    .map_err(|e| Failure::Privileges(format!("pidfd_open failed: {e}")))?;
                Ok(Spare {
                    pid: child,
                    pidfd,
                    handoff: ours,
                    confined: None,
                })
            }
        }
    }

    /// Blocks until the spare says whether it is confined (or dies).
    fn wait_confined(&mut self) {
        while self.confined.is_none() {
            let mut fds = [PollFd::new(self.handoff.as_fd(), PollFlags::POLLIN)];
            match poll(&mut fds, PollTimeout::NONE) {
                Ok(_) => self.read_confined(),
                Err(Errno::EINTR) => {}
                Err(_) => break,
            }
        }
    }

    fn read_confined(&mut self) {
        let mut status = vec![0u8; 64 * 1024];
        self.confined = Some(
            match recv(self.handoff.as_raw_fd(), &mut status, MsgFlags::empty()) {
                Ok(2) if &status[..2] == b"ok" => Ok(()),
                Ok(0) | Err(_) => Err(Failure::Privileges(
                    "a spare died before it was confined".into(),
                )),
                Ok(length) => Err(serde_json::from_slice(&status[..length])
                    .unwrap_or_else(|e| Failure::Protocol(format!("a spare's status: {e}")))),
            },
        );
    }

    /// Hands a call to this spare; from now on it is that call's process.
    fn serve(
        self,
        deadline: Option<Instant>,
        socket: OwnedFd,
        request: OwnedFd,
        response: OwnedFd,
    ) -> Call {
        if let Some(Err(failure)) = &self.confined {
            answer(&response, failure.clone());
        }
        let fds = [request.as_raw_fd(), response.as_raw_fd()];
        let _ = sendmsg::<()>(
            self.handoff.as_raw_fd(),
            &[std::io::IoSlice::new(&[CALL])],
            &[ControlMessage::ScmRights(&fds)],
            MsgFlags::MSG_NOSIGNAL,
            None,
        );
        Call {
            pid: self.pid,
            pidfd: self.pidfd,
            socket,
            _handoff: self.handoff,
            deadline,
            timed_out: false,
            killed: false,
        }
    }
}

/// Collects a call whose process exited: kills its group (still held, the process is a
/// zombie), reaps it and what was left of its group, and reports how it ended.
fn finish(call: Call, strays_possible: bool) {
    let _ = killpg(call.pid, Signal::SIGKILL);
    // Reaping adds the process's CPU time, and that of the children it reaped, to this
    // process's children total; the zygote has one thread, so the difference is the call's.
    let before = super::children_cpu_seconds();
    let ending = Ending::of(waitpid(call.pid, None));
    let cpu_seconds = super::children_cpu_seconds() - before;
    if strays_possible {
        for stray in super::supervisor::children() {
            if process_group(stray) == Some(call.pid) {
                let _ = waitpid(stray, None);
            }
        }
    }
    let report = Report {
        ending,
        timed_out: call.timed_out,
        cpu_seconds,
    };
    if let Ok(report) = serde_json::to_vec(&report) {
        let _ = send(call.socket.as_raw_fd(), &report, MsgFlags::MSG_NOSIGNAL);
    }
}

/// Reaps children that belong to no call any more (their call was already finished).
fn reap_strays(calls: &[Call], spares: &[Spare]) {
    let known =
        |pid: Pid| calls.iter().any(|call| call.pid == pid) || spares.iter().any(|s| s.pid == pid);
    for child in super::supervisor::children() {
        let group = process_group(child);
        let ours = known(child) || calls.iter().any(|call| Some(call.pid) == group);
        if !ours {
            let _ = kill(child, Signal::SIGKILL);
            let _ = waitpid(child, Some(nix::sys::wait::WaitPidFlag::WNOHANG));
        }
    }
}

/// Ends every call and the spare, then exits: the caller is gone.
fn shutdown(calls: Vec<Call>, spares: Vec<Spare>) -> ! {
    for call in &calls {
        let _ = killpg(call.pid, Signal::SIGKILL);
        let _ = kill(call.pid, Signal::SIGKILL);
    }
    for spare in &spares {
        let _ = kill(spare.pid, Signal::SIGKILL);
    }
    super::supervisor::end_tree();
    sys::exit_now(0)
}

enum Received {
    Call(Option<Instant>, [OwnedFd; 3]),
    Nothing,
    Closed,
}

/// Reads one request for a call from the control socket.
fn receive(control: &OwnedFd) -> Received {
    let mut message = [0u8; 9];
    let (length, fds) = match receive_with_descriptors(control, &mut message) {
        Ok(received) => received,
        Err(Errno::EINTR | Errno::EAGAIN) => return Received::Nothing,
        Err(_) => return Received::Closed,
    };
    if length == 0 {
        return Received::Closed;
    }
    let Ok(fds) = <[OwnedFd; 3]>::try_from(fds) else {
        return Received::Nothing;
    };
    if length != 9 || message[0] != CALL {
        return Received::Nothing;
    }
    let millis = u64::from_le_bytes(message[1..9].try_into().expect("8 bytes"));
    let deadline = (millis > 0).then(|| Instant::now() + std::time::Duration::from_millis(millis));
    Received::Call(deadline, fds)
}

/// A spare receives its call: the request and response pipes, or `None` if the zygote
/// closed the hand-off socket.
pub(crate) fn receive_call(handoff: &OwnedFd) -> Option<[OwnedFd; 2]> {
    let mut tag = [0u8; 1];
    let (_, fds) = receive_with_descriptors(handoff, &mut tag).ok()?;
    <[OwnedFd; 2]>::try_from(fds).ok()
}

/// One message from `socket` into `buffer`, with the descriptors that came with it.
fn receive_with_descriptors(
    socket: &OwnedFd,
    buffer: &mut [u8],
) -> nix::Result<(usize, Vec<OwnedFd>)> {
    let mut space = nix::cmsg_space!([std::os::fd::RawFd; 3]);
    let mut iov = [std::io::IoSliceMut::new(buffer)];
    let received = recvmsg::<()>(
        socket.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )?;
    let fds = received
        .cmsgs()?
        .filter_map(|message| match message {
            ControlMessageOwned::ScmRights(fds) => Some(fds),
            _ => None,
        })
        .flatten()
        .map(sys::owned)
        .collect();
    Ok((received.bytes, fds))
}

/// Answers a call with a failure frame on its response pipe.
fn answer(response: &OwnedFd, failure: Failure) {
    if let Ok(response) = response.try_clone() {
        let _ = wire::write_frame(
            &mut std::fs::File::from(response),
            &Response::Failure(failure),
        );
    }
}

/// The process group of `pid`, from `/proc/PID/stat` (field 5).
fn process_group(pid: Pid) -> Option<Pid> {
    let fields = super::stat_fields(&pid.to_string())?;
    Some(Pid::from_raw(i32::try_from(*fields.get(1)?).ok()?))
}
