//! The zygote: a supervisor that stays, for `Policy::zygote`. It is started once, through
//! the launcher (which drops it like a supervisor, confines it, and executes the image
//! as the zygote) or by a root caller, and dropped exactly like a supervisor; then,
//! instead of forking one
//! sandbox and exiting, it keeps *spares* forked and confined, each waiting on its own
//! request pipe, and hands them to the caller ahead of its calls: once a spare says it
//! is confined, the caller's ends of that spare's claim, report, request and response
//! pipes travel to the caller on the control socket. A call takes the next spare there
//! and talks to it directly; only when none is there does it ask for one (and wait).
//! Every call still runs in a process of its own that has run nothing before; the zygote
//! itself never runs code of the program.
//!
//! The zygote leads a session of its own, without a terminal, and installs most of the
//! policy's syscall filter on itself before it forks any spare (see
//! [`seccomp::zygote_program`]): the kernel compiles it once, and each spare adds only
//! the few rules the zygote must be free of.
//!
//! Per call the zygote does what the supervisor does for its one sandbox: it watches the
//! call's process (a pidfd), the call's deadline and the claim pipe (on which the caller
//! takes the spare and says the call's deadline, and whose closing says the call is over
//! or the caller gone), kills the call's process group when any of them ends it, and
//! writes the [`Report`] on the report pipe. The caller's control socket is the zygote's
//! own lifeline: when it closes, every spare and call is ended and the zygote exits.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::time::Instant;

use nix::errno::Errno;
use nix::fcntl::{FcntlArg, OFlag, fcntl};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{Signal, kill, killpg};
use nix::sys::socket::{AddressFamily, MsgFlags, SockFlag, SockType, recv, send, socketpair};
use nix::sys::wait::waitpid;
use nix::unistd::{ForkResult, Pid, Uid};

use super::privileges::{self, Identity};
use super::{DROP_FAILED, fail, seccomp, serve};
use crate::Policy;
use crate::sys;
use crate::wire::zygote::{self as zygote_wire, Asked, SpareEnds};
use crate::wire::{self, Ending, Failure, REQUEST_FD, RESPONSE_FD, Report, Response, Step};

/// Where a spare finds its descriptors: the zygote's status socket, the response pipe
/// (the number the allocation-failure handler writes to), the request pipe.
const HANDOFF_FD: i32 = 3;
const SPARE_REQUEST_FD: i32 = 5;

/// How many spares are kept confined and unclaimed while no call runs. Each is a
/// process of the sandbox's user, idle until its call (about 2 MiB resident, most of it
/// shared with the zygote).
const SPARES: usize = 4;
/// How many are kept while calls run.
const SPARES_WHILE_CALLS_RUN: usize = 2;

/// A forked spare, from its fork to its reaping.
struct Spare {
    pid: Pid,
    pidfd: OwnedFd,
    /// Where the spare says whether it is confined. Kept open until the spare is reaped.
    handoff: OwnedFd,
    /// The zygote's end of the call's claim pipe: the claim comes here, and its closing
    /// says that the call is over or the caller gone.
    claim: OwnedFd,
    /// The zygote's end of the call's report pipe.
    report: OwnedFd,
    /// The caller's ends, held until the spare is confined and handed over.
    theirs: Option<SpareEnds>,
    state: State,
    /// Why it could not be confined, as it said.
    failure: Option<Failure>,
}

#[derive(Clone, Copy, PartialEq)]
enum State {
    /// Forked; not yet said whether it is confined.
    Confining,
    /// Confined and handed to the caller; no call yet.
    Handed,
    /// Taken by a call.
    Claimed {
        deadline: Option<Instant>,
        timed_out: bool,
    },
    /// Killed: its call was abandoned or timed out, or it failed; waiting to be reaped.
    Killed { timed_out: bool },
}

/// An image the launcher executed as a zygote, with descriptors 4 (the response, for
/// its first answer) and 5 (the control socket): it checks that it runs as the
/// launcher left it, then is the zygote, whose spares confine themselves as usual.
pub(crate) fn run_launched() -> ! {
    let kept = sys::close_descriptors_from(wire::LIFELINE_FD + 1);
    // Descriptor 3 is the spares' number for their hand-over socket: not kept open.
    if nix::fcntl::fcntl(sys::borrow(REQUEST_FD), nix::fcntl::FcntlArg::F_GETFD).is_ok() {
        drop(sys::take_descriptor(REQUEST_FD));
    }
    if kept.is_err()
        || ![RESPONSE_FD, wire::LIFELINE_FD]
            .iter()
            .all(|&fd| super::is_pipe_or_socket(fd))
    {
        fail(
            super::REFUSED,
            "this process was not started by the boxed launcher (its protocol descriptors \
             are missing); it runs nothing",
        );
    }
    let checked = serve::launched_policy().and_then(|policy| {
        let identity = privileges::verify_launched_zygote().map_err(Failure::Privileges)?;
        nix::sys::prctl::set_child_subreaper(true).map_err(|e| {
            Failure::startup(Step::Process, format!("PR_SET_CHILD_SUBREAPER failed: {e}"))
        })?;
        Ok((policy, identity))
    });
    match checked {
        Ok((policy, identity)) => {
            let caller = nix::unistd::getuid();
            let control = sys::take_descriptor(wire::LIFELINE_FD);
            run(identity, caller, policy, control.into(), true)
        }
        Err(failure) => super::answer_and_exit(DROP_FAILED, failure),
    }
}

/// Runs the zygote. `filtered`: the launcher already installed the bulk of the syscall
/// filter (and `no_new_privs`) before it executed this image as the zygote.
pub(crate) fn run(
    identity: Identity,
    caller: Uid,
    policy: Policy,
    control: OwnedFd,
    filtered: bool,
) -> ! {
    let zygote = nix::unistd::getpid();
    let fork_spare = || Spare::fork(identity, caller, zygote, &policy);
    // A session of its own, without a controlling terminal, for the zygote and its
    // spares; each spare then needs only a process group of its own. Then the bulk of
    // the syscall filter goes on the zygote itself, once: every spare inherits it, and
    // adds only the few rules the zygote must be free of.
    let filtered = nix::unistd::setsid()
        .map_err(|e| Failure::startup(Step::Process, format!("setsid failed: {e}")))
        .and_then(|_| {
            nix::sys::prctl::set_no_new_privs().map_err(|e| {
                Failure::startup(Step::Seccomp, format!("PR_SET_NO_NEW_PRIVS failed: {e}"))
            })
        })
        .and_then(|()| {
            if filtered {
                return Ok(());
            }
            seccomp::install(&seccomp::zygote_program(
                &policy,
                zygote.as_raw(),
                identity.uid.as_raw(),
            ))
            .map_err(|message| Failure::startup(Step::Seccomp, message))
        });
    // The first spare shows whether this policy can be enforced at all; the caller waits
    // for that answer before it takes any spare.
    let mut response = sys::take_descriptor(RESPONSE_FD);
    let first = filtered.and_then(|()| fork_spare()).and_then(|mut spare| {
        spare.wait_confined();
        match spare.state {
            State::Handed => Ok(spare),
            _ => Err(spare.failure()),
        }
    });
    let mut spares: Vec<Spare> = match first {
        Ok(mut spare) => {
            let _ = wire::write_frame(&mut response, &Response::Result(wire::Payload::default()));
            spare.hand_over(&control);
            vec![spare]
        }
        Err(failure) => {
            let _ = wire::write_frame(&mut response, &Response::Failure(failure));
            sys::exit_now(DROP_FAILED)
        }
    };
    drop(response);

    // A call's process may leave others behind only if its policy lets it start any;
    // otherwise the zygote's children are its spares, and it need not look for strays
    // in /proc.
    let strays_possible = policy.max_processes > 1;
    // A caller waits for a spare (it said NEED): the next spare handed over, or the next
    // failure to make one, answers it.
    let mut waiting = false;
    // Making a spare failed: none is made ahead of calls any more, only for a caller
    // that waits, until one is made again.
    let mut failing = false;
    loop {
        // Spares ahead of the calls (see spares_to_make for how many).
        let to_make = spares_to_make(spares.iter().map(|spare| &spare.state), failing, waiting);
        for _ in 0..to_make {
            match fork_spare() {
                Ok(spare) => spares.push(spare),
                Err(failure) => {
                    failing = true;
                    if std::mem::take(&mut waiting) {
                        tell_failure(&control, &failure);
                    }
                    break;
                }
            }
        }

        let timeout = poll_timeout(spares.iter().map(|spare| &spare.state), Instant::now());
        // Control, then for each spare: its status socket while it is confining, its
        // process, and its claim pipe from when it is handed over until it is killed (a
        // closed pipe would wake every poll until the spare is reaped).
        #[derive(Clone, Copy, PartialEq)]
        enum Watched {
            Status,
            Process,
            Claim,
        }
        let mut fds = vec![PollFd::new(control.as_fd(), PollFlags::POLLIN)];
        let mut watched = vec![];
        for (i, spare) in spares.iter().enumerate() {
            if spare.state == State::Confining {
                fds.push(PollFd::new(spare.handoff.as_fd(), PollFlags::POLLIN));
                watched.push((i, Watched::Status));
            }
            fds.push(PollFd::new(spare.pidfd.as_fd(), PollFlags::POLLIN));
            watched.push((i, Watched::Process));
            if matches!(spare.state, State::Handed | State::Claimed { .. }) {
                fds.push(PollFd::new(spare.claim.as_fd(), PollFlags::POLLIN));
                watched.push((i, Watched::Claim));
            }
        }
        match poll(&mut fds, timeout) {
            Ok(_) | Err(Errno::EINTR) => {}
            Err(_) => shutdown(spares),
        }
        let ready: Vec<bool> = fds
            .iter()
            .map(|fd| fd.revents().is_some_and(|events| !events.is_empty()))
            .collect();
        drop(fds);

        let events: Vec<(usize, Watched)> = watched
            .into_iter()
            .zip(&ready[1..])
            .filter_map(|(event, &ready)| ready.then_some(event))
            .collect();
        // A spare that exited is only collected: not handed over, whatever it said.
        let mut exited: Vec<usize> = events
            .iter()
            .filter(|(_, what)| *what == Watched::Process)
            .map(|&(i, _)| i)
            .collect();
        for &(i, what) in events.iter().filter(|(i, _)| !exited.contains(i)) {
            let spare = &mut spares[i];
            match what {
                Watched::Process => {}
                Watched::Status => {
                    spare.read_confined();
                    if spare.state == State::Handed {
                        spare.hand_over(&control);
                        (waiting, failing) = (false, false);
                    } else {
                        failing = true;
                        if std::mem::take(&mut waiting) {
                            tell_failure(&control, &spare.failure());
                        }
                    }
                }
                Watched::Claim => spare.read_claim(),
            }
        }
        let now = Instant::now();
        for spare in &mut spares {
            if overdue(&spare.state, now) {
                spare.kill(true);
            }
        }
        exited.sort_unstable();
        for i in exited.into_iter().rev() {
            finish(spares.swap_remove(i), strays_possible);
        }
        if ready[0] {
            match read_control(&control) {
                Some(true) => {
                    // Answered by a spare already handed over and not yet claimed, if
                    // there is one (it is on its way to the caller); otherwise by the
                    // next one made, or the failure to make it.
                    waiting = must_wait(spares.iter().map(|spare| &spare.state));
                }
                Some(false) => {}
                None => shutdown(spares),
            }
        }
        if strays_possible {
            reap_strays(&spares);
        }
    }
}

/// How many spares to fork now, from the states of those there are. [`SPARES`]
/// unclaimed ones are kept while no call runs, [`SPARES_WHILE_CALLS_RUN`] while calls
/// run: making a spare (a fork and a confinement) costs more than a call, so calls back
/// to back find one ready only if several are made at once, on both processors, while
/// earlier calls run; but a spare made during a call takes a processor from it, which
/// calls spaced apart should have to themselves. After a failure to make one (`failing`),
/// none is made ahead of calls, only one for a caller that waits (`waiting`).
fn spares_to_make<'a>(
    states: impl Iterator<Item = &'a State>,
    failing: bool,
    waiting: bool,
) -> usize {
    let (mut unclaimed, mut claimed) = (0, 0);
    for state in states {
        match state {
            State::Confining | State::Handed => unclaimed += 1,
            State::Claimed { .. } => claimed += 1,
            State::Killed { .. } => {}
        }
    }
    let wanted = match (failing, waiting, claimed) {
        (true, true, _) => 1,
        (true, false, _) => 0,
        (false, _, 0) => SPARES,
        (false, _, _) => SPARES_WHILE_CALLS_RUN,
    };
    wanted.saturating_sub(unclaimed)
}

/// How long the zygote may wait for its next event at `now`: until just past the
/// nearest deadline of a claimed call, at most a minute; with none, as long as it takes.
fn poll_timeout<'a>(states: impl Iterator<Item = &'a State>, now: Instant) -> PollTimeout {
    states
        .filter_map(|state| match state {
            State::Claimed { deadline, .. } => *deadline,
            _ => None,
        })
        .min()
        .map_or(PollTimeout::NONE, |deadline| {
            let left = deadline.saturating_duration_since(now).as_millis() + 1;
            PollTimeout::try_from(left.min(60_000) as i32).unwrap_or(PollTimeout::MAX)
        })
}

/// Whether a spare's call has run past its deadline at `now`.
fn overdue(state: &State, now: Instant) -> bool {
    matches!(state, State::Claimed { deadline: Some(deadline), .. } if now >= *deadline)
}

/// Whether a caller that asks for a spare must wait for the next one made: no spare is
/// handed over and still unclaimed (one that is is on its way to the caller).
fn must_wait<'a>(mut states: impl Iterator<Item = &'a State>) -> bool {
    !states.any(|state| *state == State::Handed)
}

impl Spare {
    fn fork(
        identity: Identity,
        caller: Uid,
        zygote: Pid,
        policy: &Policy,
    ) -> Result<Spare, Failure> {
        let failed = |step: Step, what: &str, error: Errno| {
            Failure::startup(step, format!("{what} failed: {error}"))
        };
        let pipe =
            || nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|e| failed(Step::Pipes, "pipe2", e));
        let (handoff, handoff_theirs) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .map_err(|e| failed(Step::Pipes, "socketpair", e))?;
        let (claim, claim_theirs) = pipe()?;
        let (report_theirs, report) = pipe()?;
        let (request_read, request_write) = pipe()?;
        let (response_read, response_write) = pipe()?;
        // The spare's own stdout and stderr: the caller relays them.
        let (stdout_read, stdout_write) = pipe()?;
        let (stderr_read, stderr_write) = pipe()?;
        // Results of any size cross faster through a wide pipe (one fcntl).
        wire::widen_pipe(&response_write);
        // The caller reads the response in a poll loop, non-blocking; set here, ahead of
        // the call (the flag belongs to the caller's end alone).
        fcntl(&response_read, FcntlArg::F_SETFL(OFlag::O_NONBLOCK))
            .map_err(|e| failed(Step::Pipes, "fcntl O_NONBLOCK", e))?;
        match sys::fork_single_threaded().map_err(|e| failed(Step::Fork, "fork of a spare", e))? {
            ForkResult::Child => {
                // Keep only its own five: no other spare's, no caller's end, no control.
                // Stdout and stderr first: their pipes may be numbered 3 to 5.
                let placed = (|| {
                    nix::unistd::dup2_stdout(&stdout_write)?;
                    nix::unistd::dup2_stderr(&stderr_write)?;
                    let handoff = sys::move_above(handoff_theirs, 10)?;
                    let response = sys::move_above(response_write, 10)?;
                    let request = sys::move_above(request_read, 10)?;
                    let handoff = sys::move_descriptor(handoff, HANDOFF_FD)?;
                    let response = sys::move_descriptor(response, RESPONSE_FD)?;
                    let request = sys::move_descriptor(request, SPARE_REQUEST_FD)?;
                    sys::close_descriptors_from(SPARE_REQUEST_FD + 1)?;
                    Ok::<_, std::io::Error>((handoff, response, request))
                })();
                let Ok((own_handoff, response, request)) = placed else {
                    sys::exit_now(DROP_FAILED)
                };
                // The zygote's and the caller's ends are closed or replaced by now; their
                // numbers may be this spare's own, so they are forgotten, not closed.
                for fd in [
                    handoff,
                    claim,
                    claim_theirs,
                    report,
                    report_theirs,
                    request_write,
                    response_read,
                    stdout_read,
                    stdout_write,
                    stderr_read,
                    stderr_write,
                ] {
                    std::mem::forget(fd);
                }
                serve::run_spare(
                    identity,
                    caller,
                    zygote,
                    policy,
                    own_handoff,
                    request,
                    response,
                )
            }
            ForkResult::Parent { child } => {
                drop((handoff_theirs, request_read, response_write));
                drop((stdout_write, stderr_write));
                let pidfd = sys::pidfd_open(child).map_err(|e| {
                    Failure::startup(Step::Fork, format!("pidfd_open of a spare failed: {e}"))
                })?;
                Ok(Spare {
                    pid: child,
                    pidfd,
                    handoff,
                    claim,
                    report,
                    theirs: Some(SpareEnds {
                        claim: claim_theirs,
                        report: report_theirs,
                        request: request_write,
                        response: response_read,
                        stdout: stdout_read,
                        stderr: stderr_read,
                    }),
                    state: State::Confining,
                    failure: None,
                })
            }
        }
    }

    /// Blocks until the spare says whether it is confined (or dies).
    fn wait_confined(&mut self) {
        while self.state == State::Confining {
            let mut fds = [PollFd::new(self.handoff.as_fd(), PollFlags::POLLIN)];
            match poll(&mut fds, PollTimeout::NONE) {
                Ok(_) => self.read_confined(),
                Err(Errno::EINTR) => {}
                Err(_) => break,
            }
        }
    }

    /// Reads the spare's status: `ok`, or the failure that kept it from being confined
    /// (see [`Spare::failure`]), after which it is killed.
    fn read_confined(&mut self) {
        let mut status = vec![0u8; 64 * 1024];
        match recv(self.handoff.as_raw_fd(), &mut status, MsgFlags::empty()) {
            Ok(length) => match zygote_wire::decode_status(&status[..length]) {
                Ok(()) => self.state = State::Handed,
                Err(failure) => {
                    self.failure = failure;
                    self.kill(false);
                }
            },
            Err(Errno::EINTR | Errno::EAGAIN) => {}
            Err(_) => self.kill(false),
        }
    }

    fn failure(&self) -> Failure {
        self.failure.clone().unwrap_or_else(|| {
            Failure::startup(Step::Handover, "a spare died before it was confined")
        })
    }

    /// Gives the caller its ends of this confined spare.
    fn hand_over(&mut self, control: &OwnedFd) {
        let Some(theirs) = self.theirs.take() else {
            return;
        };
        let sent = zygote_wire::send_spare(control.as_fd(), &theirs);
        // The caller's ends are closed here: the spare sees its request end when the
        // caller closes its own.
        drop(theirs);
        if sent.is_err() {
            self.kill(false);
        }
    }

    /// A claim (with the call's deadline), or the end of the call's claim pipe.
    fn read_claim(&mut self) {
        let mut message = [0u8; zygote_wire::CLAIM_LEN];
        match nix::unistd::read(&self.claim, &mut message) {
            Ok(length) => match (self.state, zygote_wire::decode_claim(&message[..length])) {
                (State::Handed, Some(timeout)) => {
                    self.state = State::Claimed {
                        deadline: timeout.map(|timeout| Instant::now() + timeout),
                        timed_out: false,
                    };
                }
                // Closed (the call is over, or the caller is gone), or garbage.
                _ => self.kill(false),
            },
            Err(Errno::EAGAIN | Errno::EINTR) => {}
            Err(_) => self.kill(false),
        }
    }

    /// Kills the spare's process group and the spare; it is reaped once its pidfd says
    /// it exited. Not reaped yet, so neither its pid nor its group can be reused.
    fn kill(&mut self, timed_out: bool) {
        if matches!(self.state, State::Killed { .. }) {
            return;
        }
        let _ = killpg(self.pid, Signal::SIGKILL);
        let _ = kill(self.pid, Signal::SIGKILL);
        self.state = State::Killed { timed_out };
    }
}

/// Tells the caller, on the control socket, that no spare could be made.
fn tell_failure(control: &OwnedFd, failure: &Failure) {
    let message = zygote_wire::failed_message(failure);
    let _ = send(control.as_raw_fd(), &message, MsgFlags::MSG_NOSIGNAL);
}

/// Reads the control socket: `Some(true)` for a caller that needs a spare, `Some(false)`
/// for nothing to act on, `None` once the caller has closed it.
fn read_control(control: &OwnedFd) -> Option<bool> {
    let mut message = [0u8; 16];
    match recv(control.as_raw_fd(), &mut message, MsgFlags::MSG_DONTWAIT) {
        Ok(length) => match zygote_wire::decode_asked(&message[..length]) {
            Asked::Need => Some(true),
            Asked::Unknown => Some(false),
            Asked::Closed => None,
        },
        Err(Errno::EAGAIN | Errno::EINTR) => Some(false),
        Err(_) => None,
    }
}

/// Collects a spare whose process exited: kills its group (still held, the process is a
/// zombie), reaps it and what was left of its group, and, if a call had it, reports how
/// it ended.
fn finish(spare: Spare, strays_possible: bool) {
    let _ = killpg(spare.pid, Signal::SIGKILL);
    // Reaping adds the process's CPU time, and that of the children it reaped, to this
    // process's children total; the zygote has one thread, so the difference is the call's.
    let before = super::children_cpu_seconds();
    let ending = Ending::of(waitpid(spare.pid, None));
    let cpu_seconds = super::children_cpu_seconds() - before;
    if strays_possible {
        for stray in super::tree::children() {
            if process_group(stray) == Some(spare.pid) {
                let _ = waitpid(stray, None);
            }
        }
    }
    let timed_out = match spare.state {
        State::Claimed { timed_out, .. } | State::Killed { timed_out } => timed_out,
        _ => false,
    };
    let report = Report {
        ending,
        timed_out,
        cpu_seconds,
    };
    if let Ok(report) = serde_json::to_vec(&report) {
        let _ = nix::unistd::write(&spare.report, &report);
    }
}

/// Reaps children that belong to no spare any more (their spare was already finished).
fn reap_strays(spares: &[Spare]) {
    for child in super::tree::children() {
        let group = process_group(child);
        let ours = spares
            .iter()
            .any(|spare| spare.pid == child || Some(spare.pid) == group);
        if !ours {
            let _ = kill(child, Signal::SIGKILL);
            let _ = waitpid(child, Some(nix::sys::wait::WaitPidFlag::WNOHANG));
        }
    }
}

/// Ends every spare and call, then exits: the caller is gone.
fn shutdown(spares: Vec<Spare>) -> ! {
    for spare in &spares {
        let _ = killpg(spare.pid, Signal::SIGKILL);
        let _ = kill(spare.pid, Signal::SIGKILL);
    }
    super::tree::end_tree();
    sys::exit_now(0)
}

/// The process group of `pid`, from `/proc/PID/stat` (field 5).
fn process_group(pid: Pid) -> Option<Pid> {
    let fields = super::tree::stat_fields(&pid.to_string())?;
    Some(Pid::from_raw(i32::try_from(*fields.get(1)?).ok()?))
}

#[cfg(test)]
mod tests {
    //! The zygote's bookkeeping: how many spares it makes, how long it sleeps, which
    //! call has overrun, and when a caller waits. No process here.
    use super::*;
    use std::time::Duration;

    fn claimed(deadline: Option<Instant>) -> State {
        State::Claimed {
            deadline,
            timed_out: false,
        }
    }

    #[test]
    fn spares_are_made_up_to_four_idle_and_two_while_calls_run() {
        use State::{Confining, Handed, Killed};
        let make = |states: &[State]| spares_to_make(states.iter(), false, false);
        assert_eq!(make(&[]), SPARES);
        assert_eq!(make(&[Handed, Confining]), SPARES - 2);
        assert_eq!(make(&[Handed, Handed, Handed, Handed]), 0);
        // Killed spares, on their way to be reaped, are not counted.
        assert_eq!(make(&[Killed { timed_out: true }, Handed]), SPARES - 1);
        // While a call runs, fewer are kept ready.
        assert_eq!(make(&[claimed(None)]), SPARES_WHILE_CALLS_RUN);
        assert_eq!(make(&[claimed(None), Handed]), SPARES_WHILE_CALLS_RUN - 1);
        assert_eq!(make(&[claimed(None), Handed, Handed, Confining]), 0);
    }

    #[test]
    fn after_a_failure_a_spare_is_made_only_for_a_waiting_caller() {
        assert_eq!(spares_to_make([].iter(), true, false), 0);
        assert_eq!(spares_to_make([].iter(), true, true), 1);
        assert_eq!(spares_to_make([State::Confining].iter(), true, true), 0);
        // A caller that waits changes nothing while making spares works.
        assert_eq!(spares_to_make([].iter(), false, true), SPARES);
    }

    #[test]
    fn the_zygote_sleeps_until_just_past_the_nearest_deadline_at_most_a_minute() {
        let now = Instant::now();
        let millis = |states: &[State]| i32::from(poll_timeout(states.iter(), now));
        assert_eq!(poll_timeout([].iter(), now), PollTimeout::NONE);
        assert_eq!(
            poll_timeout([State::Handed, claimed(None)].iter(), now),
            PollTimeout::NONE
        );
        let soon = claimed(Some(now + Duration::from_millis(10)));
        let later = claimed(Some(now + Duration::from_secs(5)));
        assert_eq!(millis(&[later, soon]), 11);
        // A deadline already past wakes it at once, not never.
        let past = claimed(Some(now - Duration::from_secs(1)));
        assert_eq!(millis(&[past]), 1);
        let far = claimed(Some(now + Duration::from_secs(3600)));
        assert_eq!(millis(&[far]), 60_000);
    }

    #[test]
    fn only_a_claimed_call_past_its_deadline_is_overdue() {
        let now = Instant::now();
        assert!(overdue(&claimed(Some(now)), now));
        assert!(overdue(&claimed(Some(now - Duration::from_millis(1))), now));
        assert!(!overdue(
            &claimed(Some(now + Duration::from_millis(1))),
            now
        ));
        assert!(!overdue(&claimed(None), now));
        assert!(!overdue(&State::Handed, now));
        assert!(!overdue(&State::Killed { timed_out: true }, now));
    }

    #[test]
    fn a_caller_waits_only_when_no_spare_is_on_its_way() {
        assert!(must_wait([].iter()));
        assert!(must_wait([State::Confining, claimed(None)].iter()));
        assert!(!must_wait([State::Confining, State::Handed].iter()));
    }
}
