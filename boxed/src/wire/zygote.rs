//! The zygote's framing: what crosses its control socket, a spare's claim pipe and a
//! spare's status socket.
//!
//! - Control socket (a `SOCK_SEQPACKET` pair, one message per packet). From the caller:
//!   [`NEED`], one byte: it found no spare waiting and waits for one. From the zygote:
//!   [`SPARE`], one byte, with the caller's ends of one confined spare's pipes attached
//!   as `SCM_RIGHTS`, [`SPARE_FDS`] of them in the order of [`SpareEnds`]; or
//!   [`FAILED`] followed by a [`Failure`] as JSON: no spare could be made. A packet of
//!   length zero is the other side closing the socket.
//! - Claim pipe, from the caller: [`CLAIM`], then the call's deadline in milliseconds as 8
//!   bytes little-endian (0 for none), [`CLAIM_LEN`] bytes in all. Its closing says the
//!   call is over, or the caller gone.
//! - Status socket, from a spare to the zygote: `ok` once it is confined, or the
//!   [`Failure`] that kept it from being, as JSON.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::socket::{ControlMessage, ControlMessageOwned, MsgFlags, recvmsg, sendmsg};

use super::Failure;

/// On the control socket, from the zygote: a spare, with its [`SpareEnds`] attached.
pub(crate) const SPARE: u8 = b'S';
/// On the control socket, from the zygote: no spare could be made; the rest of the
/// message is the [`Failure`] as JSON, which the call that takes it answers with.
pub(crate) const FAILED: u8 = b'F';
/// On the control socket, from the caller: it found no spare there and waits for one.
/// The zygote answers with a spare, or with [`FAILED`] if it cannot make one.
pub(crate) const NEED: u8 = b'N';
/// On a spare's claim pipe, from the caller: it takes this spare for a call.
pub(crate) const CLAIM: u8 = b'C';
/// The length of a claim: the tag and the deadline.
pub(crate) const CLAIM_LEN: usize = 9;
/// How many descriptors a spare's hand-over carries.
pub(crate) const SPARE_FDS: usize = 6;
/// A spare's status once it is confined.
const CONFINED: &[u8] = b"ok";
/// The room for one message from the zygote: a spare's is one byte, a failure's some
/// hundreds.
const MESSAGE_ROOM: usize = 4096;

/// The caller's ends of one spare's pipes, as they cross the control socket (in this
/// order).
#[derive(Debug)]
pub(crate) struct SpareEnds {
    /// The write end of the claim pipe.
    pub claim: OwnedFd,
    /// The read end of the report pipe.
    pub report: OwnedFd,
    /// The write end of the request pipe.
    pub request: OwnedFd,
    /// The read end of the response pipe, non-blocking.
    pub response: OwnedFd,
    /// The read end of the spare's stdout.
    pub stdout: OwnedFd,
    /// The read end of the spare's stderr.
    pub stderr: OwnedFd,
}

impl SpareEnds {
    fn into_array(self) -> [OwnedFd; SPARE_FDS] {
        [
            self.claim,
            self.report,
            self.request,
            self.response,
            self.stdout,
            self.stderr,
        ]
    }

    fn from_array(fds: [OwnedFd; SPARE_FDS]) -> SpareEnds {
        let [claim, report, request, response, stdout, stderr] = fds;
        SpareEnds {
            claim,
            report,
            request,
            response,
            stdout,
            stderr,
        }
    }

    /// The same ends, each passed through `place` (to renumber it, say).
    pub(crate) fn map(
        self,
        place: impl FnMut(OwnedFd) -> io::Result<OwnedFd>,
    ) -> io::Result<SpareEnds> {
        let placed = self
            .into_array()
            .into_iter()
            .map(place)
            .collect::<io::Result<Vec<_>>>()?;
        Ok(SpareEnds::from_array(
            placed.try_into().expect("as many as were given"),
        ))
    }
}

/// What the zygote put on the control socket for the next call.
#[derive(Debug)]
pub(crate) enum Handed {
    /// A confined spare.
    Spare(SpareEnds),
    /// No spare could be made, for this reason.
    Failed(Failure),
}

/// What the caller put on the control socket.
#[derive(Debug, PartialEq)]
pub(crate) enum Asked {
    /// A spare, for a call that waits for one.
    Need,
    /// Something this zygote does not know; it is ignored.
    Unknown,
    /// Nothing: the caller closed the socket.
    Closed,
}

/// Sends a confined spare's `ends` to the caller. They stay open here: the caller
/// receives copies.
pub(crate) fn send_spare(control: BorrowedFd<'_>, ends: &SpareEnds) -> nix::Result<()> {
    let fds: [RawFd; SPARE_FDS] = [
        &ends.claim,
        &ends.report,
        &ends.request,
        &ends.response,
        &ends.stdout,
        &ends.stderr,
    ]
    .map(AsRawFd::as_raw_fd);
    sendmsg::<()>(
        control.as_raw_fd(),
        &[io::IoSlice::new(&[SPARE])],
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::MSG_NOSIGNAL,
        None,
    )
    .map(drop)
}

/// The message that tells the caller no spare could be made, for `failure`.
pub(crate) fn failed_message(failure: &Failure) -> Vec<u8> {
    let mut message = vec![FAILED];
    message.extend(serde_json::to_vec(failure).unwrap_or_default());
    message
}

/// Receives the next message from the zygote, waiting for one unless `wait` is false
/// (then [`io::ErrorKind::WouldBlock`] says none is there). Received descriptors are
/// close-on-exec.
pub(crate) fn receive_handed(control: BorrowedFd<'_>, wait: bool) -> io::Result<Handed> {
    let mut message = [0u8; MESSAGE_ROOM];
    let mut flags = MsgFlags::MSG_CMSG_CLOEXEC;
    if !wait {
        flags |= MsgFlags::MSG_DONTWAIT;
    }
    loop {
        let mut space = nix::cmsg_space!([RawFd; SPARE_FDS]);
        let mut iov = [io::IoSliceMut::new(&mut message)];
        let received = match recvmsg::<()>(control.as_raw_fd(), &mut iov, Some(&mut space), flags) {
            Err(Errno::EINTR) => continue,
            received => received?,
        };
        let fds: Vec<OwnedFd> = received
            .cmsgs()?
            .filter_map(|message| match message {
                ControlMessageOwned::ScmRights(fds) => Some(fds),
                _ => None,
            })
            .flatten()
            .map(crate::sys::owned)
            .collect();
        let length = received.bytes;
        return decode_handed(&message[..length], fds);
    }
}

/// Decodes a message from the zygote, `message` with the descriptors `fds` that came
/// with it.
pub(crate) fn decode_handed(message: &[u8], fds: Vec<OwnedFd>) -> io::Result<Handed> {
    match message {
        [] => Err(io::Error::new(
            io::ErrorKind::ConnectionAborted,
            "the zygote closed its control socket",
        )),
        [SPARE] => {
            let count = fds.len();
            <[OwnedFd; SPARE_FDS]>::try_from(fds)
                .map(|fds| Handed::Spare(SpareEnds::from_array(fds)))
                .map_err(|_| {
                    io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("a spare came with {count} descriptors, not {SPARE_FDS}"),
                    )
                })
        }
        [FAILED, json @ ..] => Ok(Handed::Failed(serde_json::from_slice(json).unwrap_or_else(
            |error| Failure::Protocol(format!("the zygote's failure message: {error}")),
        ))),
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "the zygote sent a message this runtime does not know",
        )),
    }
}

/// Tells the zygote that a call waits for a spare.
pub(crate) fn ask_for_spare(control: BorrowedFd<'_>) -> nix::Result<()> {
    nix::sys::socket::send(control.as_raw_fd(), &[NEED], MsgFlags::MSG_NOSIGNAL).map(drop)
}

/// Decodes a message from the caller.
pub(crate) fn decode_asked(message: &[u8]) -> Asked {
    match message {
        [] => Asked::Closed,
        [NEED, ..] => Asked::Need,
        _ => Asked::Unknown,
    }
}

/// The claim of a call with `timeout` (none: no deadline). A timeout shorter than a
/// millisecond is one millisecond, not none.
pub(crate) fn encode_claim(timeout: Option<Duration>) -> [u8; CLAIM_LEN] {
    let millis = timeout.map_or(0, |timeout| {
        u64::try_from(timeout.as_millis())
            .unwrap_or(u64::MAX)
            .max(1)
    });
    let mut claim = [CLAIM; CLAIM_LEN];
    claim[1..].copy_from_slice(&millis.to_le_bytes());
    claim
}

/// Decodes a claim: the call's timeout (`Some(None)` for none), or `None` if `message`
/// is not a claim.
pub(crate) fn decode_claim(message: &[u8]) -> Option<Option<Duration>> {
    let [CLAIM, millis @ ..] = message else {
        return None;
    };
    let millis = u64::from_le_bytes(millis.try_into().ok()?);
    Some((millis > 0).then(|| Duration::from_millis(millis)))
}

/// A spare's status: confined, or the failure that kept it from being.
pub(crate) fn encode_status(status: Result<(), &Failure>) -> Vec<u8> {
    match status {
        Ok(()) => CONFINED.to_vec(),
        Err(failure) => serde_json::to_vec(failure).unwrap_or_default(),
    }
}

/// Decodes a spare's status: `Err(None)` if it said nothing (it died first).
pub(crate) fn decode_status(message: &[u8]) -> Result<(), Option<Failure>> {
    match message {
        CONFINED => Ok(()),
        [] => Err(None),
        json => Err(Some(serde_json::from_slice(json).unwrap_or_else(|error| {
            Failure::Protocol(format!("a spare's status: {error}"))
        }))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Step;
    use nix::sys::socket::{AddressFamily, SockFlag, SockType, socketpair};
    use std::os::fd::AsFd;

    fn control_pair() -> (OwnedFd, OwnedFd) {
        socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .expect("socketpair")
    }

    fn ends() -> SpareEnds {
        let mut pipes = (0..3).flat_map(|_| {
            let (read, write) = nix::unistd::pipe().expect("pipe");
            [write, read]
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

    /// The inode of each end, which survives the crossing (the numbers do not).
    fn inodes(ends: &SpareEnds) -> Vec<u64> {
        [
            &ends.claim,
            &ends.report,
            &ends.request,
            &ends.response,
            &ends.stdout,
            &ends.stderr,
        ]
        .iter()
        .map(|fd| nix::sys::stat::fstat(fd).expect("fstat").st_ino)
        .collect()
    }

    #[test]
    fn a_spare_crosses_with_its_ends_in_order() {
        let (caller, zygote) = control_pair();
        let sent = ends();
        send_spare(zygote.as_fd(), &sent).expect("send");
        match receive_handed(caller.as_fd(), false) {
            Ok(Handed::Spare(received)) => assert_eq!(inodes(&received), inodes(&sent)),
            other => panic!("expected a spare, got {other:?}"),
        }
    }

    #[test]
    fn a_failure_crosses() {
        let (caller, zygote) = control_pair();
        let failure = Failure::startup(Step::Fork, "fork of a spare failed: EAGAIN");
        nix::sys::socket::send(
            zygote.as_raw_fd(),
            &failed_message(&failure),
            MsgFlags::empty(),
        )
        .expect("send");
        match receive_handed(caller.as_fd(), true) {
            Ok(Handed::Failed(received)) => assert_eq!(received, failure),
            other => panic!("expected a failure, got {other:?}"),
        }
    }

    #[test]
    fn nothing_there_would_block_and_a_closed_socket_aborts() {
        let (caller, zygote) = control_pair();
        let kind = |handed: io::Result<Handed>| handed.err().map(|error| error.kind());
        assert_eq!(
            kind(receive_handed(caller.as_fd(), false)),
            Some(io::ErrorKind::WouldBlock)
        );
        drop(zygote);
        assert_eq!(
            kind(receive_handed(caller.as_fd(), true)),
            Some(io::ErrorKind::ConnectionAborted)
        );
    }

    #[test]
    fn malformed_messages_from_the_zygote_are_refused() {
        let kind = |handed: io::Result<Handed>| handed.err().map(|error| error.kind());
        // Too few descriptors, too many, none.
        let few: Vec<OwnedFd> = ends().into_array().into_iter().take(3).collect();
        assert_eq!(
            kind(decode_handed(&[SPARE], few)),
            Some(io::ErrorKind::InvalidData)
        );
        let mut many: Vec<OwnedFd> = ends().into_array().into();
        many.extend(ends().into_array().into_iter().take(1));
        assert_eq!(
            kind(decode_handed(&[SPARE], many)),
            Some(io::ErrorKind::InvalidData)
        );
        assert_eq!(
            kind(decode_handed(&[SPARE], Vec::new())),
            Some(io::ErrorKind::InvalidData)
        );
        // A spare's tag with more after it, and an unknown tag.
        let fds: Vec<OwnedFd> = ends().into_array().into();
        assert_eq!(
            kind(decode_handed(&[SPARE, 0], fds)),
            Some(io::ErrorKind::InvalidData)
        );
        assert_eq!(
            kind(decode_handed(b"?", Vec::new())),
            Some(io::ErrorKind::InvalidData)
        );
        // A failure that is not JSON still answers the call, as a protocol failure.
        assert!(matches!(
            decode_handed(b"Fnot json", Vec::new()),
            Ok(Handed::Failed(Failure::Protocol(_)))
        ));
    }

    #[test]
    fn a_short_spare_is_refused_after_crossing() {
        let (caller, zygote) = control_pair();
        let ends = ends().into_array();
        let raw: Vec<RawFd> = ends.iter().take(3).map(AsRawFd::as_raw_fd).collect();
        sendmsg::<()>(
            zygote.as_raw_fd(),
            &[io::IoSlice::new(&[SPARE])],
            &[ControlMessage::ScmRights(&raw)],
            MsgFlags::empty(),
            None,
        )
        .expect("sendmsg");
        assert_eq!(
            receive_handed(caller.as_fd(), false)
                .err()
                .map(|error| error.kind()),
            Some(io::ErrorKind::InvalidData)
        );
    }

    #[test]
    fn what_the_caller_asks() {
        let (caller, zygote) = control_pair();
        ask_for_spare(caller.as_fd()).expect("send");
        let mut message = [0u8; 16];
        let length = nix::sys::socket::recv(zygote.as_raw_fd(), &mut message, MsgFlags::empty())
            .expect("recv");
        assert_eq!(decode_asked(&message[..length]), Asked::Need);
        assert_eq!(decode_asked(b"?"), Asked::Unknown);
        assert_eq!(decode_asked(&[]), Asked::Closed);
    }

    #[test]
    fn claims_round_trip() {
        for timeout in [
            None,
            Some(Duration::from_millis(1)),
            Some(Duration::from_secs(30)),
        ] {
            assert_eq!(decode_claim(&encode_claim(timeout)), Some(timeout));
        }
        // Under a millisecond is still a deadline; beyond u64 milliseconds, the largest.
        assert_eq!(
            decode_claim(&encode_claim(Some(Duration::from_micros(10)))),
            Some(Some(Duration::from_millis(1)))
        );
        assert_eq!(
            decode_claim(&encode_claim(Some(Duration::MAX))),
            Some(Some(Duration::from_millis(u64::MAX)))
        );
    }

    #[test]
    fn malformed_claims_are_refused() {
        let claim = encode_claim(Some(Duration::from_secs(1)));
        assert_eq!(decode_claim(&claim[..CLAIM_LEN - 1]), None);
        assert_eq!(decode_claim(&[]), None);
        let mut longer = claim.to_vec();
        longer.push(0);
        assert_eq!(decode_claim(&longer), None);
        let mut wrong = claim;
        wrong[0] = b'X';
        assert_eq!(decode_claim(&wrong), None);
    }

    #[test]
    fn statuses_round_trip() {
        assert_eq!(decode_status(&encode_status(Ok(()))), Ok(()));
        let failure = Failure::Unsupported("Landlock ABI 1 is missing".into());
        assert_eq!(
            decode_status(&encode_status(Err(&failure))),
            Err(Some(failure))
        );
        assert_eq!(decode_status(&[]), Err(None));
        assert!(matches!(
            decode_status(b"okay"),
            Err(Some(Failure::Protocol(_)))
        ));
    }
}
