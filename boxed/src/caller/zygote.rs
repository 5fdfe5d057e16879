//! The caller's side of zygote mode: one zygote per policy, started on first use and
//! kept for the life of the program; a call hands the zygote its pipes and a socket of
//! its own, then talks to its fresh process directly.

use std::fs::File;
use std::io::{self, IoSlice, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::{Arc, Mutex, MutexGuard};

use nix::fcntl::OFlag;
use nix::sys::signal::{Signal, kill};
use nix::sys::socket::{
    AddressFamily, ControlMessage, MsgFlags, SockFlag, SockType, recv, sendmsg, socketpair,
};

use super::spawn::{self, Child};
use super::{Exchange, Started, from_failure, start_child};
use crate::child::zygote::CALL;
use crate::error::{Error, Repr};
use crate::policy::Policy;
use crate::wire::{self, Report, Response};

/// A running zygote. Dropping it closes its control socket, which ends it, then reaps it.
struct Zygote {
    control: Mutex<OwnedFd>,
    process: Child,
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
pub(super) fn exchange(function: &str, policy: &Policy, request: &[u8]) -> Result<Exchange, Error> {
    let key = policy.zygote_key();
    let mut restarted = false;
    loop {
        let zygote = zygote_for(&key, function)?;
        match call(&zygote, policy, request) {
            Ok(exchange) => return Ok(exchange),
            Err(error) => {
                // The zygote is gone (its control socket is closed): forget it, and try
                // once with a new one.
                zygotes().retain(|(_, running)| !Arc::ptr_eq(running, &zygote));
                let _ = kill(zygote.process.pid(), Signal::SIGKILL);
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

/// Starts a zygote: the setcap'd copy, told by its policy to stay. It answers once its
/// first spare is confined, or with the failure that kept it from being.
fn start(policy: &Policy, function: &str) -> Result<Zygote, Error> {
    let (control, theirs) = spawn::socket_pair().map_err(|source| Error::io(function, source))?;
    let Started {
        child: process,
        request: request_write,
        response: response_read,
        report,
    } = start_child(
        function,
        &format!("boxed zygote: {function}"),
        &theirs,
        false,
    )?;
    drop((theirs, report));
    let header = wire::policy_header(policy).map_err(|source| Repr::EncodeRequest {
        function: function.to_string(),
        source,
    })?;
    let _ = File::from(request_write).write_all(&header);
    let zygote = Zygote {
        control: Mutex::new(control),
        process,
    };
    match wire::read_frame(&mut File::from(response_read)) {
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

/// One call: hand the zygote a socket and the two pipes, then write the request, read the
/// answer and the zygote's report. An error means the zygote itself is gone.
fn call(zygote: &Zygote, policy: &Policy, request: &[u8]) -> io::Result<Exchange> {
    // Nothing is placed at fixed numbers here (the descriptors travel by SCM_RIGHTS),
    // so plain close-on-exec pipes and sockets will do.
    let (request_read, request_write) = nix::unistd::pipe2(OFlag::O_CLOEXEC)?;
    let (response_read, response_write) = nix::unistd::pipe2(OFlag::O_CLOEXEC)?;
    let (socket, theirs) = socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )?;
    super::widen(super::large(request), &request_write, &response_read);
    let deadline = policy.timeout.map_or(0, |timeout| {
        u64::try_from(timeout.as_millis())
            .unwrap_or(u64::MAX)
            .max(1)
    });
    let mut message = [CALL; 9];
    message[1..].copy_from_slice(&deadline.to_le_bytes());
    let fds = [
        theirs.as_raw_fd(),
        request_read.as_raw_fd(),
        response_write.as_raw_fd(),
    ];
    {
        let control = zygote
            .control
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        sendmsg::<()>(
            control.as_raw_fd(),
            &[IoSlice::new(&message)],
            &[ControlMessage::ScmRights(&fds)],
            MsgFlags::MSG_NOSIGNAL,
            None,
        )?;
    }
    drop((theirs, request_read, response_write));
    let sent = File::from(request_write).write_all(request);
    let received = wire::read_frame(&mut File::from(response_read));
    if matches!(received, Ok(Some(_))) && policy.max_processes <= 1 {
        // The answer is here and the sandbox could start no process: nothing is left to
        // wait for but its exit. Closing the call's socket makes the zygote end it now
        // if it has not ended by itself.
        return Ok(Exchange {
            sent,
            received,
            report: None,
        });
    }
    // The zygote reports once the call's process and everything it started are gone.
    let mut report = vec![0u8; 4096];
    let report = match recv(socket.as_raw_fd(), &mut report, MsgFlags::empty()) {
        Ok(length) if length > 0 => serde_json::from_slice::<Report>(&report[..length]).ok(),
        _ => None,
    };
    Ok(Exchange {
        sent,
        received,
        report,
    })
}
