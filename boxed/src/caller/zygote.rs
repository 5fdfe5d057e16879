//! The caller's side of zygote mode: one zygote per policy, started on first use and
//! kept for the life of the program. The zygote hands over its confined processes ahead
//! of the calls (their pipes wait on the control socket); a call takes the next one,
//! writes its request to it, claims it on its claim pipe and reads its answer, all
//! directly. A call that finds none there asks the zygote for one and waits.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::{Arc, Mutex, MutexGuard};

use super::outcome::{Exchange, from_failure};
use super::relay::{Awaited, Relay};
use super::spawn::{self, Child};
use super::start::{Started, start_child};
use crate::error::{Error, Repr};
use crate::policy::Policy;
use crate::wire::zygote::{self as zygote_wire, Handed, SpareEnds};
use crate::wire::{self, Report, Response};

/// A running zygote. Dropping it closes its control socket, which ends it, then reaps it.
struct Zygote {
    control: Mutex<OwnedFd>,
    process: Child,
    /// The process that started it. A process forked from it after that starts zygotes
    /// of its own: two processes taking spares from one control socket would take each
    /// other's answers.
    owner: nix::unistd::Pid,
}

/// The zygotes of this program, one per policy (the timeout aside, which is per call).
static ZYGOTES: Mutex<Vec<(Policy, Arc<Zygote>)>> = Mutex::new(Vec::new());

fn zygotes() -> MutexGuard<'static, Vec<(Policy, Arc<Zygote>)>> {
    ZYGOTES
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Runs one call through the zygote of `policy`, starting it if needed, and starting it
/// again once if it has died since the last call.
pub(super) fn exchange(
    function: &str,
    policy: &Policy,
    request: wire::Request,
    stop: Option<BorrowedFd<'_>>,
) -> Result<Exchange, Error> {
    let key = policy.zygote_key();
    let mut restarted = false;
    loop {
        let zygote = zygote_for(&key, function)?;
        match call(&zygote, policy, &request, stop) {
            Ok(exchange) => return Ok(exchange),
            Err(error) => {
                // The zygote is gone (its control socket is closed): forget it, and try
                // once with a new one.
                zygotes().retain(|(_, running)| !Arc::ptr_eq(running, &zygote));
                zygote.process.kill();
                if restarted {
                    return Err(Error::io(function, error));
                }
                restarted = true;
            }
        }
    }
}

fn zygote_for(key: &Policy, function: &str) -> Result<Arc<Zygote>, Error> {
    let mut zygotes = zygotes();
    // Zygotes of the process this one was forked from are its parent's: only this copy
    // of their control sockets is closed (they end with the parent), and they are not
    // this process's children to reap.
    let me = nix::unistd::getpid();
    zygotes.retain(|(_, zygote)| zygote.owner == me);
    // A zygote that has died is forgotten (and reaped) here, before a call is sent to
    // it: a spare it forked just before dying may still hold its end of the control
    // socket for a moment, so sending would succeed and the call be lost.
    zygotes.retain(|(_, zygote)| !zygote.process.has_exited());
    if let Some((_, zygote)) = zygotes.iter().find(|(policy, _)| policy == key) {
        return Ok(zygote.clone());
    }
    let zygote = Arc::new(start(key, function)?);
    zygotes.push((key.clone(), zygote.clone()));
    Ok(zygote)
}

/// Starts a zygote: the launcher (or, for a root caller, this executable), told by its
/// policy to stay. It answers once its first spare is confined, or with the failure
/// that kept it from being.
fn start(policy: &Policy, function: &str) -> Result<Zygote, Error> {
    let (control, theirs) = spawn::socket_pair().map_err(|source| Error::io(function, source))?;
    // Its stdout and stderr are /dev/null: neither the zygote nor its spares ever hold
    // the caller's; each spare gets pipes of its own.
    let Started {
        child: process,
        request: request_write,
        response: response_read,
        report,
        output: _,
    } = start_child(
        function,
        &format!("boxed zygote: {function}"),
        &theirs,
        false,
        false,
    )?;
    drop((theirs, report));
    let header = wire::policy_header(policy).map_err(|source| Repr::EncodeRequest {
        function: function.to_string(),
        source,
    })?;
    let _ = crate::sys::without_sigpipe(|| File::from(request_write).write_all(&header));
    let zygote = Zygote {
        control: Mutex::new(control),
        process,
        owner: nix::unistd::getpid(),
    };
    match wire::read_frame(&mut File::from(response_read), wire::SMALL_FRAME_LIMIT) {
        Ok(Some(Response::Result(_))) => Ok(zygote),
        Ok(Some(Response::Failure(failure))) => Err(from_failure(
            function.to_string(),
            failure,
            policy.memory.unwrap_or(0),
        )),
        Ok(None) => Err(Repr::Protocol {
            function: function.to_string(),
            message: "the zygote ended before it was ready".into(),
        }
        .into()),
        Err(error) => Err(Repr::Protocol {
            function: function.to_string(),
            message: error.to_string(),
        }
        .into()),
    }
}

/// Takes the next spare the zygote handed over, waiting for one if none is there yet.
/// An error means the zygote itself is gone.
fn take_spare(zygote: &Zygote) -> io::Result<Handed> {
    let control = zygote
        .control
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    receive_spare(&control)
}

/// [`take_spare`] on the control socket `control`, which the caller holds alone meanwhile.
fn receive_spare(control: &OwnedFd) -> io::Result<Handed> {
    let handed = match zygote_wire::receive_handed(control.as_fd(), false) {
        Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
            // None is ready: ask for one, and wait (still holding the lock, so the
            // answer is this call's).
            zygote_wire::ask_for_spare(control.as_fd())?;
            zygote_wire::receive_handed(control.as_fd(), true)?
        }
        handed => handed?,
    };
    match handed {
        // Received descriptors take the lowest free numbers, which may be 0 to 2 in a
        // program that closed its own.
        Handed::Spare(ends) => ends.map(spawn::above_standard).map(Handed::Spare),
        failed => Ok(failed),
    }
}

/// One call: take a spare, claim it with the call's deadline, write the request, read
/// the answer while relaying the spare's output, and the zygote's report. An error means
/// the zygote itself is gone.
fn call(
    zygote: &Zygote,
    policy: &Policy,
    request: &wire::Request,
    stop: Option<BorrowedFd<'_>>,
) -> io::Result<Exchange> {
    let SpareEnds {
        claim: claim_write,
        report: report_read,
        request: request_write,
        response: response_read,
        stdout,
        stderr,
    } = match take_spare(zygote)? {
        Handed::Spare(ends) => ends,
        Handed::Failed(failure) => {
            return Ok(Exchange {
                sent: Ok(()),
                received: Ok(Some(Response::Failure(failure))),
                report: None,
            });
        }
    };
    let mut relay = Relay::new(stdout, stderr);
    if super::start::large(request) {
        wire::widen_pipe(&request_write);
    }
    let claim = zygote_wire::encode_claim(policy.timeout);
    // The claim goes after the request, so that the call's process starts first. A spare
    // that is gone (its zygote died, or it ended already) only makes these fail.
    let sent = crate::sys::without_sigpipe(|| {
        let sent = request.write_to(&mut File::from(request_write));
        let _ = nix::unistd::write(&claim_write, &claim);
        sent
    });
    let received = match relay.await_nonblocking_response(response_read, policy.max_response, stop)
    {
        Awaited::Frame(received) => received,
        // The call was abandoned (its future dropped): it ends as if no answer came,
        // and nobody reads the outcome.
        Awaited::Stopped => Ok(None),
    };
    if matches!(received, Ok(Some(_))) && policy.max_processes <= 1 {
        // The answer is here and the sandbox could start no process: its output is in
        // the pipes, and nothing is left to wait for. Closing the claim pipe makes the
        // zygote end the process now if it has not ended by itself.
        relay.take_what_is_there();
        drop(claim_write);
        return Ok(Exchange {
            sent,
            received,
            report: None,
        });
    }
    // Closing the claim pipe says the call is over: the zygote ends the call's process
    // now if it has not ended by itself (a process that exited keeps its own status).
    // The output ends once everything of the call is gone.
    drop(claim_write);
    relay.drain(None);
    // The zygote reports once the call's process and everything it started are gone.
    let mut report = Vec::new();
    let _ = File::from(report_read).read_to_end(&mut report);
    let report = serde_json::from_slice::<Report>(&report).ok();
    Ok(Exchange {
        sent,
        received,
        report,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Failure;
    use crate::wire::zygote::{NEED, failed_message};
    use nix::sys::socket::{AddressFamily, MsgFlags, SockFlag, SockType};
    use std::os::fd::AsRawFd;

    fn control_pair() -> (OwnedFd, OwnedFd) {
        nix::sys::socket::socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .expect("socketpair")
    }

    /// Six pipe ends, as the zygote hands over.
    fn six_ends() -> SpareEnds {
        let mut pipes = (0..3).flat_map(|_| {
            let (read, write) = nix::unistd::pipe().expect("pipe");
            [read, write]
        });
        let mut next = || pipes.next().expect("six ends");
        SpareEnds {
            claim: next(),
            report: next(),
            request: next(),
            response: next(),
            stdout: next(),
            stderr: next(),
        }
    }

    #[test]
    fn a_waiting_spare_is_taken_without_asking() {
        let (ours, zygote) = control_pair();
        zygote_wire::send_spare(zygote.as_fd(), &six_ends()).expect("send");
        assert!(matches!(receive_spare(&ours), Ok(Handed::Spare(_))));
        // Nothing was asked for.
        let mut byte = [0u8; 1];
        assert_eq!(
            nix::sys::socket::recv(zygote.as_raw_fd(), &mut byte, MsgFlags::MSG_DONTWAIT),
            Err(nix::errno::Errno::EAGAIN)
        );
    }

    #[test]
    fn without_a_spare_the_caller_asks_and_waits_for_the_answer() {
        let (ours, zygote) = control_pair();
        let answer = std::thread::spawn(move || {
            let mut byte = [0u8; 1];
            let asked = nix::sys::socket::recv(zygote.as_raw_fd(), &mut byte, MsgFlags::empty());
            assert_eq!((asked, byte), (Ok(1), [NEED]));
            let failed = failed_message(&Failure::Privileges("no fork".into()));
            nix::sys::socket::send(zygote.as_raw_fd(), &failed, MsgFlags::empty()).unwrap();
            zygote
        });
        match receive_spare(&ours) {
            Ok(Handed::Failed(Failure::Privileges(message))) => assert_eq!(message, "no fork"),
            Ok(Handed::Spare(_)) => panic!("a spare, expected a failure"),
            other => panic!("expected a failure, got {:?}", other.err()),
        }
        drop(answer.join().expect("the zygote's side"));
    }

    #[test]
    fn a_closed_control_socket_is_an_error() {
        let (ours, zygote) = control_pair();
        drop(zygote);
        assert_eq!(
            receive_spare(&ours).err().map(|e| e.kind()),
            Some(io::ErrorKind::ConnectionAborted)
        );
    }
}
