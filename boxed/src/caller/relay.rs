//! The caller's side of a running call: one `poll` loop that reads the response frame
//! (against the policy's bound, see [`wire::FrameReader`]) while it relays what the
//! sandbox writes on its stdout and stderr, which are pipes of its own, to the caller's.
//!
//! Who relays, and why the caller: the sandbox never holds a description of the
//! caller's, and neither may the zygote nor its spares, which serve calls of every
//! thread; the supervisor could relay for its one sandbox, but then it would hold them.
//! So the calling thread relays its own call's output: a call that floods its output
//! occupies only the thread that made it, and what it wrote goes through a fixed buffer,
//! so the caller's memory stays bounded whatever the sandbox writes.
//!
//! Each stream reaches the caller's descriptor in order and in full before the call
//! returns: the loop reads each pipe to its end, which comes when the sandbox is gone;
//! or, once the answer of a sandbox that can have started no process is in, it takes
//! what the pipes hold then, which is all the sandbox wrote before answering. A write to the caller's descriptor that
//! fails (closed, or a pipe without reader) drops the rest of that stream; the pipe is
//! still read to its end, so the sandbox never blocks on it.

use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use nix::errno::Errno;
use nix::fcntl::{FcntlArg, OFlag, fcntl};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

use crate::wire::{FrameError, FrameReader, Progress, Response};

/// How much of a stream is relayed at a time.
const CHUNK: usize = 64 << 10;

/// The caller's read ends of a sandbox's stdout and stderr, and what they are relayed to.
pub(crate) struct Relay {
    /// Stdout, then stderr; `None` once the stream has ended.
    streams: [Option<Output>; 2],
    /// Allocated when the sandbox first writes something.
    buffer: Vec<u8>,
    /// Which streams the last poll that found the response readable found empty: all
    /// they were written before the answer had been relayed by then.
    empty_at_answer: [bool; 2],
}

struct Output {
    pipe: File,
    /// Whether it goes to the caller's stderr (descriptor 2) rather than its stdout (1).
    to_stderr: bool,
    /// A write there failed: the rest of the stream is read and dropped.
    broken: bool,
}

/// How waiting for the response ended.
pub(crate) enum Awaited {
    /// The frame, `None` if the pipe closed before a whole one arrived.
    Frame(Result<Option<Response>, FrameError>),
    /// The stop descriptor became readable first: the call is abandoned.
    Stopped,
}

impl Relay {
    /// Relays `stdout` to the caller's descriptor 1 and `stderr` to its descriptor 2.
    pub(crate) fn new(stdout: OwnedFd, stderr: OwnedFd) -> Relay {
        let stream = |pipe: OwnedFd, to_stderr| {
            Some(Output {
                pipe: File::from(pipe),
                to_stderr,
                broken: false,
            })
        };
        Relay {
            streams: [stream(stdout, false), stream(stderr, true)],
            buffer: Vec::new(),
            empty_at_answer: [false; 2],
        }
    }

    /// Reads the response frame from `response`, whose payload may be at most `limit`
    /// bytes, relaying the output meanwhile. With `stop`, returns [`Awaited::Stopped`] as
    /// soon as that descriptor becomes readable (or its other end closes).
    pub(crate) fn await_response(
        &mut self,
        response: OwnedFd,
        limit: u64,
        stop: Option<BorrowedFd<'_>>,
    ) -> Awaited {
        // Non-blocking, so that the frame is read as far as it has arrived and no further.
        if let Err(error) = fcntl(&response, FcntlArg::F_SETFL(OFlag::O_NONBLOCK)) {
            return Awaited::Frame(Err(FrameError::Io(error.into())));
        }
        self.await_nonblocking_response(response, limit, stop)
    }

    /// [`Relay::await_response`] on a `response` end that is non-blocking already (a
    /// zygote's spare comes with it so, which spares the call one `fcntl`).
    pub(crate) fn await_nonblocking_response(
        &mut self,
        response: OwnedFd,
        limit: u64,
        stop: Option<BorrowedFd<'_>>,
    ) -> Awaited {
        let mut response = File::from(response);
        let mut reader = FrameReader::new(limit);
        loop {
            let ready = match self.wait(Some(response.as_fd()), stop) {
                Ok(ready) => ready,
                Err(error) => return Awaited::Frame(Err(FrameError::Io(error))),
            };
            if ready.stop {
                return Awaited::Stopped;
            }
            self.relay(ready.streams);
            if ready.response {
                self.empty_at_answer = ready.streams.map(|s| matches!(s, Stream::Quiet));
                match reader.read_from(&mut response) {
                    Ok(Progress::Pending) => {}
                    Ok(Progress::Done(frame)) => return Awaited::Frame(Ok(Some(frame))),
                    Ok(Progress::Closed) => return Awaited::Frame(Ok(None)),
                    Err(error) => return Awaited::Frame(Err(error)),
                }
            }
        }
    }

    /// Relays both streams to their end. Returns `false` if `stop` became readable first.
    pub(crate) fn drain(&mut self, stop: Option<BorrowedFd<'_>>) -> bool {
        while self.streams.iter().any(Option::is_some) {
            let Ok(ready) = self.wait(None, stop) else {
                // poll itself failed (it cannot, on these descriptors): give up the
                // output rather than the call.
                return true;
            };
            if ready.stop {
                return false;
            }
            self.relay(ready.streams);
        }
        true
    }

    /// Relays what the streams hold now, without waiting for more or for their end: for
    /// a call whose answer is in, from a sandbox that can have left no process behind.
    /// Everything it wrote before it answered is in the pipes already (a write to a pipe
    /// returns once its bytes are in it, and the sandbox flushes before it answers), so
    /// the call returns without waiting for the sandbox's exit; what it writes later is
    /// discarded.
    ///
    /// A stream that the poll which found the answer arriving found empty holds nothing
    /// written before it (the answer is written after all of that): it is not polled
    /// again, so a call that wrote nothing costs no `poll` here.
    pub(crate) fn take_what_is_there(&mut self) {
        for (stream, empty) in self.streams.iter_mut().zip(self.empty_at_answer) {
            if empty {
                *stream = None;
            }
        }
        while self.streams.iter().any(Option::is_some) {
            match self.wait_for(None, None, PollTimeout::ZERO) {
                Ok(ready) if ready.streams.iter().any(|s| !matches!(s, Stream::Quiet)) => {
                    self.relay(ready.streams);
                }
                _ => return,
            }
        }
    }

    /// Polls the streams still open, `response` and `stop`, until one is ready.
    fn wait(
        &self,
        response: Option<BorrowedFd<'_>>,
        stop: Option<BorrowedFd<'_>>,
    ) -> io::Result<Ready> {
        self.wait_for(response, stop, PollTimeout::NONE)
    }

    /// [`Relay::wait`], for at most `timeout`.
    fn wait_for(
        &self,
        response: Option<BorrowedFd<'_>>,
        stop: Option<BorrowedFd<'_>>,
        timeout: PollTimeout,
    ) -> io::Result<Ready> {
        // The response, the stop, then the streams: a fixed order, so the events can be
        // told apart without bookkeeping.
        let mut fds: Vec<PollFd> = Vec::with_capacity(4);
        let slots = [response, stop]
            .into_iter()
            .chain(
                self.streams
                    .iter()
                    .map(|stream| stream.as_ref().map(|s| s.pipe.as_fd())),
            )
            .map(|fd| {
                fd.map(|fd| {
                    fds.push(PollFd::new(fd, PollFlags::POLLIN));
                    fds.len() - 1
                })
            })
            .collect::<Vec<_>>();
        loop {
            match poll(&mut fds, timeout) {
                Ok(_) => break,
                Err(Errno::EINTR) => continue,
                Err(error) => return Err(error.into()),
            }
        }
        let events = |slot: Option<usize>| {
            slot.and_then(|i| fds[i].revents())
                .unwrap_or(PollFlags::empty())
        };
        let stream = |slot| {
            let events = events(slot);
            if events.contains(PollFlags::POLLIN) {
                Stream::Data
            } else if events.is_empty() {
                Stream::Quiet
            } else {
                // Ended (POLLHUP) with nothing left to read: no buffer is needed for it.
                Stream::Ended
            }
        };
        Ok(Ready {
            response: !events(slots[0]).is_empty(),
            stop: !events(slots[1]).is_empty(),
            streams: [stream(slots[2]), stream(slots[3])],
        })
    }

    /// Moves one chunk of each stream that has data to the caller's descriptor, and
    /// forgets each that ended.
    fn relay(&mut self, ready: [Stream; 2]) {
        for (slot, ready) in self.streams.iter_mut().zip(ready) {
            match ready {
                Stream::Quiet => continue,
                Stream::Ended => {
                    *slot = None;
                    continue;
                }
                Stream::Data => {}
            }
            let Some(stream) = slot.as_mut() else {
                continue;
            };
            if self.buffer.is_empty() {
                self.buffer = vec![0; CHUNK];
            }
            match stream.pipe.read(&mut self.buffer) {
                Ok(0) => *slot = None,
                Ok(read) if !stream.broken => {
                    let bytes = &self.buffer[..read];
                    let written = if stream.to_stderr {
                        write_all(io::stderr().as_fd(), bytes)
                    } else {
                        write_all(io::stdout().as_fd(), bytes)
                    };
                    stream.broken = written.is_err();
                }
                Ok(_) => {}
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                // A pipe that cannot be read is as good as ended.
                Err(_) => *slot = None,
            }
        }
    }
}

/// Which of the polled descriptors are ready.
struct Ready {
    response: bool,
    stop: bool,
    streams: [Stream; 2],
}

/// What `poll` said of an output pipe.
#[derive(Clone, Copy)]
enum Stream {
    /// Nothing yet.
    Quiet,
    /// Something to read (perhaps also its end, after it).
    Data,
    /// Its end, and nothing before it.
    Ended,
}

/// Writes all of `bytes` to the caller's descriptor `target`, waiting while it is full
/// (also when the program made it non-blocking). A pipe without reader fails with
/// `EPIPE`, and never kills the program with `SIGPIPE`.
fn write_all(target: BorrowedFd<'_>, mut bytes: &[u8]) -> nix::Result<()> {
    crate::sys::without_sigpipe(|| {
        while !bytes.is_empty() {
            match nix::unistd::write(target, bytes) {
                Ok(0) => return Err(Errno::EIO),
                Ok(written) => bytes = &bytes[written..],
                Err(Errno::EINTR) => {}
                Err(Errno::EAGAIN) => {
                    let mut fds = [PollFd::new(target, PollFlags::POLLOUT)];
                    match poll(&mut fds, PollTimeout::NONE) {
                        Ok(_) | Err(Errno::EINTR) => {}
                        Err(error) => return Err(error),
                    }
                }
                Err(error) => return Err(error),
            }
        }
        Ok(())
    })
}
