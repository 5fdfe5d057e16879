//! The wire format between the caller and the child.
//!
//! Four pipes cross the exec, always at the same descriptor numbers in the child:
//! the request (3, caller to child), the response (4, sandbox to caller), the lifeline
//! (5, held open by the caller; the supervisor ends the sandbox when it closes) and the
//! report (6, supervisor to caller). The child's stdin, stdout and stderr are never part
//! of the protocol: stdin is `/dev/null`, stdout and stderr are pipes of the call's own
//! whose bytes the caller copies to its own stdout and stderr as they are.
//!
//! - Request: the policy as JSON, preceded by its length as 4 bytes little-endian (read
//!   by the supervisor), then the call (read by the sandbox): its length as 8 bytes
//!   little-endian, the mangled function name, a newline, and the arguments as one JSON
//!   array (a tuple). A zygote's call has no policy: the zygote got it when it started.
//! - Response: exactly one frame, a tag byte, the payload length as 8 bytes little-endian,
//!   then the payload. Tag `R`: the result as JSON. Tag `X`: a [`Failure`] as JSON.
//! - Report: one [`Report`] as JSON, written by the supervisor when the sandbox is gone.

use std::io::{self, Read, Write};
use std::os::fd::RawFd;

use serde::{Deserialize, Serialize};

/// Descriptor of the request pipe in the child.
pub const REQUEST_FD: RawFd = 3;
/// Descriptor of the response pipe in the child.
pub const RESPONSE_FD: RawFd = 4;
/// Descriptor of the lifeline pipe in the child.
pub const LIFELINE_FD: RawFd = 5;
/// Descriptor of the report pipe in the child.
pub const REPORT_FD: RawFd = 6;

/// The bound on a frame that carries no result: the zygote's word that it is ready, or
/// the failure that kept it from being.
pub const SMALL_FRAME_LIMIT: u64 = 1 << 20;

/// The largest policy header a supervisor accepts.
const MAX_POLICY: u32 = 1 << 20;

/// Environment variable that tells a starting process it is a sandbox child, and which
/// protocol version its caller speaks.
pub const MARKER_VAR: &str = "BOXED_SANDBOX";
/// The protocol version this build speaks.
pub const PROTOCOL: &str = "2";
/// The only other variable in the child's environment.
pub const CHILD_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

const TAG_RESULT: u8 = b'R';
const TAG_FAILURE: u8 = b'X';

/// Why the child could not produce a result.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub enum Failure {
    /// The function panicked.
    Panic {
        message: String,
        file: String,
        line: u32,
        column: u32,
    },
    /// No sandboxed function of this binary has the requested name.
    UnknownFunction,
    /// The arguments could not be decoded into the function's parameter types.
    DecodeRequest(String),
    /// The function's result could not be encoded.
    EncodeResponse(String),
    /// A privilege-drop step or its verification failed; nothing was run.
    Privileges(String),
    /// Another step of the child's start-up failed; nothing was run.
    Startup { step: Step, message: String },
    /// A confinement layer the policy requires is not available in this kernel.
    Unsupported(String),
    /// An allocation failed under the policy's memory limit.
    MemoryLimit,
    /// The request did not follow the protocol.
    Protocol(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Panic {
                message,
                file,
                line,
                column,
            } => write!(f, "panicked at {file}:{line}:{column}: {message}"),
            Failure::UnknownFunction => write!(f, "no sandboxed function by that name"),
            Failure::DecodeRequest(message) => write!(f, "decoding the arguments: {message}"),
            Failure::EncodeResponse(message) => write!(f, "encoding the result: {message}"),
            Failure::Privileges(message)
            | Failure::Unsupported(message)
            | Failure::Protocol(message) => f.write_str(message),
            Failure::Startup { step, message } => write!(f, "{}: {message}", step.name()),
            Failure::MemoryLimit => write!(f, "an allocation failed under the memory limit"),
        }
    }
}

impl Failure {
    /// `step` of the start-up failed, as `message` says (with the errno).
    pub fn startup(step: Step, message: impl Into<String>) -> Failure {
        Failure::Startup {
            step,
            message: message.into(),
        }
    }
}

/// A step of the child's start-up other than the privilege drop and its verification.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum Step {
    /// Closing the descriptors it inherited, or placing its own at their numbers.
    Descriptors,
    /// Making the pipes and sockets of a call or a spare.
    Pipes,
    /// Forking the sandbox or a spare, or opening its pidfd.
    Fork,
    /// Tying the sandbox to its supervisor: child subreaper, parent-death signal, a
    /// session or process group of its own.
    Process,
    /// A zygote handing a confined spare over.
    Handover,
    /// Raising `oom_score_adj` to 1000, and checking it.
    OomScore,
    /// Setting the policy's resource limits.
    Limits,
    /// Applying the Landlock rules.
    Landlock,
    /// Installing the syscall filter.
    Seccomp,
}

impl Step {
    /// Whether the step confines the sandbox, rather than starting its process.
    pub fn confines(self) -> bool {
        matches!(
            self,
            Step::OomScore | Step::Limits | Step::Landlock | Step::Seccomp
        )
    }

    /// What the step is called in messages.
    pub fn name(self) -> &'static str {
        match self {
            Step::Descriptors => "descriptors",
            Step::Pipes => "pipes",
            Step::Fork => "fork",
            Step::Process => "process setup",
            Step::Handover => "zygote hand-over",
            Step::OomScore => "oom_score_adj",
            Step::Limits => "resource limits",
            Step::Landlock => "Landlock",
            Step::Seccomp => "syscall filter",
        }
    }
}

/// What one response frame carries.
#[derive(Debug, PartialEq)]
pub enum Response {
    Result(Vec<u8>),
    Failure(Failure),
}

/// How the sandbox ended, as the supervisor saw it.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub enum Ending {
    /// It exited with this code.
    Exited(i32),
    /// It was killed by this signal.
    Signaled(i32),
    /// Its status could not be collected.
    Unknown,
}

impl Ending {
    /// How a process ended, from what `waitpid` said of it.
    pub fn of(status: nix::Result<nix::sys::wait::WaitStatus>) -> Ending {
        use nix::sys::wait::WaitStatus;
        match status {
            Ok(WaitStatus::Exited(_, code)) => Ending::Exited(code),
            Ok(WaitStatus::Signaled(_, signal, _)) => Ending::Signaled(signal as i32),
            _ => Ending::Unknown,
        }
    }
}

/// What the supervisor tells the caller once the sandbox and its descendants are gone.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Report {
    pub ending: Ending,
    /// The policy's timeout expired and the supervisor killed the sandbox.
    pub timed_out: bool,
    /// CPU time of the sandbox and its descendants, in seconds.
    pub cpu_seconds: f64,
}

/// Builds a request: the policy header, then the call (its length, the name line, the
/// arguments encoded straight into the buffer).
pub fn request<A: Serialize>(
    policy: &crate::Policy,
    name: &str,
    args: &A,
) -> serde_json::Result<Vec<u8>> {
    let mut bytes = policy_header(policy)?;
    append_call(&mut bytes, name, args)?;
    Ok(bytes)
}

/// The policy as a request starts with it: its length as 4 bytes, then its JSON.
pub fn policy_header(policy: &crate::Policy) -> serde_json::Result<Vec<u8>> {
    let policy = serde_json::to_vec(policy)?;
    let mut bytes = Vec::with_capacity(4 + policy.len() + 128);
    bytes.extend_from_slice(&(policy.len() as u32).to_le_bytes());
    bytes.extend_from_slice(&policy);
    Ok(bytes)
}

/// Builds the request of a call through a zygote, which already has its policy: the
/// call alone.
pub fn call_request<A: Serialize>(name: &str, args: &A) -> serde_json::Result<Vec<u8>> {
    let mut bytes = Vec::with_capacity(name.len() + 64);
    append_call(&mut bytes, name, args)?;
    Ok(bytes)
}

/// Appends the call: its length as 8 bytes, then the name line and the arguments. The
/// length lets the sandbox read it whole as soon as it has arrived, without waiting for
/// the caller to close the pipe: it wakes once, not twice.
fn append_call<A: Serialize>(bytes: &mut Vec<u8>, name: &str, args: &A) -> serde_json::Result<()> {
    let start = bytes.len();
    bytes.extend_from_slice(&[0; 8]);
    bytes.extend_from_slice(name.as_bytes());
    bytes.push(b'\n');
    serde_json::to_writer(&mut *bytes, args)?;
    let length = (bytes.len() - start - 8) as u64;
    bytes[start..start + 8].copy_from_slice(&length.to_le_bytes());
    Ok(())
}

/// Reads the call that follows the policy header (or starts a zygote call): its length,
/// then that many bytes. Room for it is reserved first, so a call too large for the
/// memory limit is [`Failure::MemoryLimit`].
pub fn read_call(input: &mut impl Read) -> Result<Vec<u8>, Failure> {
    let protocol = |what: String| Failure::Protocol(what);
    let mut length = [0u8; 8];
    input
        .read_exact(&mut length)
        .map_err(|e| protocol(format!("reading the request's length failed: {e}")))?;
    let length = u64::from_le_bytes(length);
    let mut call = Vec::new();
    usize::try_from(length)
        .ok()
        .and_then(|length| call.try_reserve_exact(length).ok())
        .ok_or(Failure::MemoryLimit)?;
    match input.take(length).read_to_end(&mut call) {
        Ok(read) if read as u64 == length => Ok(call),
        Ok(read) => Err(protocol(format!(
            "the request ended after {read} of its {length} bytes"
        ))),
        Err(error) if error.kind() == io::ErrorKind::OutOfMemory => Err(Failure::MemoryLimit),
        Err(error) => Err(protocol(format!("reading the request failed: {error}"))),
    }
}

/// Reads the policy header of a request, leaving the rest in `input`.
pub fn read_policy(input: &mut impl Read) -> Result<crate::Policy, Failure> {
    let protocol = |what: String| Failure::Protocol(what);
    let mut length = [0u8; 4];
    input
        .read_exact(&mut length)
        .map_err(|e| protocol(format!("reading the policy length failed: {e}")))?;
    let length = u32::from_le_bytes(length);
    if length > MAX_POLICY {
        return Err(protocol(format!("a policy of {length} bytes is too large")));
    }
    let mut policy = vec![0u8; length as usize];
    input
        .read_exact(&mut policy)
        .map_err(|e| protocol(format!("reading the policy failed: {e}")))?;
    serde_json::from_slice(&policy).map_err(|e| protocol(format!("malformed policy: {e}")))
}

/// Splits the rest of a request into the function name and the JSON arguments.
pub fn split_request(bytes: &[u8]) -> Result<(&str, &[u8]), Failure> {
    let newline = bytes
        .iter()
        .position(|&b| b == b'\n')
        .ok_or_else(|| Failure::Protocol("the request has no function name line".into()))?;
    let name = std::str::from_utf8(&bytes[..newline])
        .map_err(|_| Failure::Protocol("the function name is not UTF-8".into()))?;
    Ok((name, &bytes[newline + 1..]))
}

/// Lets a pipe hold 1 MiB (the most an unprivileged process may ask for by default),
/// so a large payload crosses in fewer, larger steps. Best effort: a smaller pipe works.
pub(crate) fn widen_pipe(pipe: &std::os::fd::OwnedFd) {
    let _ = nix::fcntl::fcntl(pipe, nix::fcntl::FcntlArg::F_SETPIPE_SZ(1 << 20));
}

/// Writes one frame: the header and the payload as it is (a large result is not copied
/// into a second buffer first), in one vectored write when the pipe takes it all, so
/// that the reader wakes once.
pub fn write_frame(out: &mut impl Write, response: &Response) -> io::Result<()> {
    let (tag, payload) = match response {
        Response::Result(json) => (TAG_RESULT, std::borrow::Cow::Borrowed(json.as_slice())),
        Response::Failure(failure) => (
            TAG_FAILURE,
            std::borrow::Cow::Owned(serde_json::to_vec(failure).map_err(io::Error::other)?),
        ),
    };
    let mut header = [tag; 9];
    header[1..].copy_from_slice(&(payload.len() as u64).to_le_bytes());
    let written = loop {
        match out.write_vectored(&[io::IoSlice::new(&header), io::IoSlice::new(&payload)]) {
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            written => break written?,
        }
    };
    if written < header.len() {
        out.write_all(&header[written..])?;
        out.write_all(&payload)?;
    } else {
        out.write_all(&payload[written - header.len()..])?;
    }
    out.flush()
}

/// Why a response frame could not be read.
#[derive(Debug)]
pub enum FrameError {
    /// The frame announced a payload longer than the reader's bound; nothing of it was
    /// read or allocated.
    TooLarge { announced: u64, limit: u64 },
    /// The bytes are not a frame: an unknown tag, or a failure that is not JSON.
    Malformed(String),
    /// Reading failed.
    Io(io::Error),
}

impl std::fmt::Display for FrameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FrameError::TooLarge { announced, limit } => write!(
                f,
                "a frame of {announced} bytes is larger than the bound of {limit} bytes"
            ),
            FrameError::Malformed(message) => f.write_str(message),
            FrameError::Io(error) => write!(f, "reading the response failed: {error}"),
        }
    }
}

/// Where a [`FrameReader`] is after a read.
#[derive(Debug, PartialEq)]
pub enum Progress {
    /// More bytes are needed.
    Pending,
    /// The frame is complete.
    Done(Response),
    /// The input ended before a whole frame arrived.
    Closed,
}

/// Reads one response frame piece by piece, as its bytes arrive (from a `poll` loop),
/// against a bound on its payload: the one place that decides how much memory a
/// response may take in the caller. A payload longer than the bound is refused from its
/// header, before any of it is read; a shorter one is allocated as it arrives, never
/// beyond the length its header announced. Whatever a frame carries (the result's JSON,
/// a failure, or data appended to them) is inside that payload, so inside the bound.
#[derive(Debug)]
pub struct FrameReader {
    header: [u8; 9],
    header_filled: usize,
    payload: Vec<u8>,
    length: u64,
    limit: u64,
}

/// A payload is first given room for at most this much (then twice that, and so on, up
/// to its announced length): a header may lie about a length it never sends.
const FIRST_ROOM: u64 = 64 << 20;

impl FrameReader {
    /// A reader for one frame whose payload may be at most `limit` bytes.
    pub fn new(limit: u64) -> FrameReader {
        FrameReader {
            header: [0; 9],
            header_filled: 0,
            payload: Vec::new(),
            length: 0,
            limit,
        }
    }

    /// Reads what `input` has (on a non-blocking input, until it would block; on a
    /// blocking one, until the frame is complete) and says where the frame is.
    pub fn read_from(&mut self, input: &mut impl Read) -> Result<Progress, FrameError> {
        while self.header_filled < self.header.len() {
            match input.read(&mut self.header[self.header_filled..]) {
                Ok(0) => return Ok(Progress::Closed),
                Ok(read) => self.header_filled += read,
                Err(error) => match error.kind() {
                    io::ErrorKind::Interrupted => {}
                    io::ErrorKind::WouldBlock => return Ok(Progress::Pending),
                    _ => return Err(FrameError::Io(error)),
                },
            }
            if self.header_filled == self.header.len() {
                self.start_payload()?;
            }
        }
        while (self.payload.len() as u64) < self.length {
            if self.payload.capacity() == self.payload.len() {
                // Twice the room so far, never beyond the announced length.
                let have = self.payload.len() as u64;
                let more = (self.length - have).min(have.max(FIRST_ROOM));
                self.payload
                    .try_reserve_exact(more as usize)
                    .map_err(|_| FrameError::Io(io::ErrorKind::OutOfMemory.into()))?;
            }
            let room = (self.payload.capacity() - self.payload.len()) as u64;
            // `take` ends the read where the room ends, so it never grows the buffer.
            match input.take(room).read_to_end(&mut self.payload) {
                Ok(0) => return Ok(Progress::Closed),
                Ok(_) => {}
                Err(error) => match error.kind() {
                    io::ErrorKind::Interrupted => {}
                    io::ErrorKind::WouldBlock => return Ok(Progress::Pending),
                    _ => return Err(FrameError::Io(error)),
                },
            }
        }
        self.finish().map(Progress::Done)
    }

    /// Checks a complete header against the bound and makes the first room.
    fn start_payload(&mut self) -> Result<(), FrameError> {
        let tag = self.header[0];
        if tag != TAG_RESULT && tag != TAG_FAILURE {
            // Said before the payload is read: a forged header may announce any length.
            return Err(FrameError::Malformed(format!(
                "unknown frame tag {tag:#04x}"
            )));
        }
        self.length = u64::from_le_bytes(self.header[1..].try_into().expect("8 bytes"));
        if self.length > self.limit {
            return Err(FrameError::TooLarge {
                announced: self.length,
                limit: self.limit,
            });
        }
        let room = self.length.min(FIRST_ROOM) as usize;
        self.payload
            .try_reserve_exact(room)
            .map_err(|_| FrameError::Io(io::ErrorKind::OutOfMemory.into()))
    }

    fn finish(&mut self) -> Result<Response, FrameError> {
        let payload = std::mem::take(&mut self.payload);
        if self.header[0] == TAG_RESULT {
            return Ok(Response::Result(payload));
        }
        serde_json::from_slice(&payload)
            .map(Response::Failure)
            .map_err(|error| FrameError::Malformed(format!("malformed failure frame: {error}")))
    }
}

/// Reads one frame whose payload may be at most `limit` bytes, blocking until it is
/// complete. `Ok(None)` means the input ended before a whole frame arrived.
pub fn read_frame(input: &mut impl Read, limit: u64) -> Result<Option<Response>, FrameError> {
    let mut reader = FrameReader::new(limit);
    loop {
        match reader.read_from(input)? {
            Progress::Pending => {}
            Progress::Done(response) => return Ok(Some(response)),
            Progress::Closed => return Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_round_trip() {
        let policy = crate::Policy::new().memory(1 << 20).read("/usr");
        let bytes = request(&policy, "krate::add#00", &(&2u64, &"x")).unwrap();
        let mut rest = bytes.as_slice();
        assert_eq!(read_policy(&mut rest).unwrap(), policy);
        let call = read_call(&mut rest).unwrap();
        assert!(rest.is_empty());
        let (name, args) = split_request(&call).unwrap();
        assert_eq!(name, "krate::add#00");
        assert_eq!(args, br#"[2,"x"]"#);
        // A zygote's call is the same, without the policy.
        let bytes = call_request("krate::add#00", &(&2u64, &"x")).unwrap();
        assert_eq!(read_call(&mut bytes.as_slice()).unwrap(), call);
    }

    #[test]
    fn a_call_is_read_without_waiting_for_the_end_of_its_pipe() {
        let bytes = call_request("f", &(1u8,)).unwrap();
        let (read, mut write) = std::io::pipe().unwrap();
        write.write_all(&bytes).unwrap();
        // The write end stays open, and the read end does not block: a read past the
        // call, waiting for the end of the pipe, would fail with `WouldBlock`.
        nix::fcntl::fcntl(
            &read,
            nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
        )
        .unwrap();
        assert_eq!(read_call(&mut &read).unwrap(), b"f\n[1]");
        drop(write);
    }

    #[test]
    fn short_or_unaffordable_calls_are_refused() {
        let mut bytes = call_request("f", &(1u8,)).unwrap();
        bytes.pop();
        assert!(matches!(
            read_call(&mut bytes.as_slice()),
            Err(Failure::Protocol(message)) if message.contains("4 of its 5 bytes")
        ));
        assert!(matches!(
            read_call(&mut &[1, 2, 3][..]),
            Err(Failure::Protocol(_))
        ));
        let mut bytes = u64::MAX.to_le_bytes().to_vec();
        bytes.push(b'f');
        assert!(matches!(
            read_call(&mut bytes.as_slice()),
            Err(Failure::MemoryLimit)
        ));
    }

    #[test]
    fn oversized_or_truncated_policies_are_refused() {
        let mut bytes = (MAX_POLICY + 1).to_le_bytes().to_vec();
        bytes.extend_from_slice(b"{}");
        assert!(matches!(
            read_policy(&mut bytes.as_slice()),
            Err(Failure::Protocol(_))
        ));
        let mut bytes = 10u32.to_le_bytes().to_vec();
        bytes.extend_from_slice(b"{}");
        assert!(matches!(
            read_policy(&mut bytes.as_slice()),
            Err(Failure::Protocol(_))
        ));
    }

    #[test]
    fn request_without_name_line_is_refused() {
        assert!(matches!(split_request(b"[1]"), Err(Failure::Protocol(_))));
    }

    #[test]
    fn frames_round_trip() {
        for response in [
            Response::Result(b"[1,2]".to_vec()),
            Response::Failure(Failure::Panic {
                message: "boom".into(),
                file: "src/lib.rs".into(),
                line: 3,
                column: 9,
            }),
        ] {
            let mut bytes = Vec::new();
            write_frame(&mut bytes, &response).unwrap();
            assert_eq!(
                read_frame(&mut bytes.as_slice(), u64::MAX).unwrap(),
                Some(response)
            );
        }
    }

    /// Takes at most `step` bytes a call, and fails the first call with `Interrupted`.
    struct Dribble {
        bytes: Vec<u8>,
        step: usize,
        interrupted: bool,
    }

    impl Write for Dribble {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if !self.interrupted {
                self.interrupted = true;
                return Err(io::ErrorKind::Interrupted.into());
            }
            let n = buf.len().min(self.step);
            self.bytes.extend_from_slice(&buf[..n]);
            Ok(n)
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn frames_survive_short_and_interrupted_writes() {
        let response = || Response::Result(b"[\"a payload longer than a header\"]".to_vec());
        for step in [1, 4, 9, 10, 1000] {
            let mut out = Dribble {
                bytes: Vec::new(),
                step,
                interrupted: false,
            };
            write_frame(&mut out, &response()).unwrap();
            assert_eq!(
                read_frame(&mut out.bytes.as_slice(), u64::MAX).unwrap(),
                Some(response()),
                "{step} bytes a write"
            );
        }
    }

    #[test]
    fn truncated_frames_are_not_answers() {
        let mut bytes = Vec::new();
        write_frame(&mut bytes, &Response::Result(b"12345".to_vec())).unwrap();
        for cut in 0..bytes.len() {
            assert_eq!(
                read_frame(&mut &bytes[..cut], u64::MAX).unwrap(),
                None,
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn garbage_frames_are_errors() {
        let mut bytes = vec![b'Z'];
        bytes.extend_from_slice(&0u64.to_le_bytes());
        assert!(read_frame(&mut bytes.as_slice(), u64::MAX).is_err());
        let mut bytes = vec![b'X'];
        bytes.extend_from_slice(&3u64.to_le_bytes());
        bytes.extend_from_slice(b"{{{");
        assert!(read_frame(&mut bytes.as_slice(), u64::MAX).is_err());
    }

    #[test]
    fn a_frame_above_the_bound_is_refused_from_its_header() {
        let mut bytes = Vec::new();
        write_frame(&mut bytes, &Response::Result(b"123456".to_vec())).unwrap();
        // Exactly the bound is an answer; one byte above it is refused.
        assert_eq!(
            read_frame(&mut bytes.as_slice(), 6).unwrap(),
            Some(Response::Result(b"123456".to_vec()))
        );
        // A header that announces far more than it sends is refused before any room is
        // made for it, and nothing after the header is read.
        let mut forged = vec![b'R'];
        forged.extend_from_slice(&u64::MAX.to_le_bytes());
        forged.extend_from_slice(b"rest");
        let mut input = forged.as_slice();
        match read_frame(&mut input, 5) {
            Err(FrameError::TooLarge { announced, limit }) => {
                assert_eq!((announced, limit), (u64::MAX, 5));
            }
            other => panic!("expected TooLarge, got {other:?}"),
        }
        assert_eq!(input, b"rest");
        assert!(matches!(
            read_frame(&mut bytes.as_slice(), 5),
            Err(FrameError::TooLarge {
                announced: 6,
                limit: 5
            })
        ));
    }

    #[test]
    fn a_frame_arriving_in_pieces_is_read_without_blocking_and_never_over_allocated() {
        let payload = vec![b'7'; 300_000];
        let mut bytes = Vec::new();
        write_frame(&mut bytes, &Response::Result(payload.clone())).unwrap();
        let (read, mut write) = std::io::pipe().unwrap();
        nix::fcntl::fcntl(
            &read,
            nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
        )
        .unwrap();
        let mut reader = FrameReader::new(payload.len() as u64);
        let mut input = &read;
        assert_eq!(reader.read_from(&mut input).unwrap(), Progress::Pending);
        let writer = std::thread::spawn(move || {
            for piece in bytes.chunks(4000) {
                write.write_all(piece).unwrap();
            }
        });
        let response = loop {
            match reader.read_from(&mut input).unwrap() {
                Progress::Pending => {
                    assert!(reader.payload.capacity() <= payload.len());
                    std::thread::yield_now();
                }
                Progress::Done(response) => break response,
                Progress::Closed => panic!("closed before the frame was whole"),
            }
        };
        writer.join().unwrap();
        assert_eq!(response, Response::Result(payload));
        // The writer is gone: the pipe ends without a second frame.
        assert_eq!(
            FrameReader::new(1).read_from(&mut input).unwrap(),
            Progress::Closed
        );
    }
}
