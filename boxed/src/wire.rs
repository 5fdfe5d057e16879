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
//!   little-endian, the mangled function name, a newline, and the arguments (a tuple) as
//!   one [`Payload`]. A zygote's call has no policy: the zygote got it when it started.
//! - Response: exactly one frame, a tag byte, the payload length as 8 bytes little-endian,
//!   then the payload. Tag `R`: the result as a [`Payload`]. Tag `X`: a [`Failure`] as
//!   JSON.
//! - Report: one [`Report`] as JSON, written by the supervisor when the sandbox is gone.
//! - A zygote's control socket, its spares' claim pipes and status sockets: see
//!   `wire/zygote.rs`.
//!
//! A [`Payload`] is a value as JSON with its byte sequences beside it: the JSON's length
//! (8 bytes), the JSON, the number of attachments (4 bytes), each attachment's length
//! (8 bytes each), then the attachments' bytes one after the other. In the JSON, each
//! byte sequence is the object `{"\u0000bytes":N}`, N the index of its attachment (see
//! `wire/encode.rs`); all integers are little-endian.

use std::borrow::Cow;
use std::io::{self, BufRead, Read, Write};
use std::os::fd::RawFd;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

mod decode;
mod encode;
pub(crate) mod zygote;

/// Descriptor of the request pipe in the child.
pub const REQUEST_FD: RawFd = 3;
/// Descriptor of the response pipe in the child.
pub const RESPONSE_FD: RawFd = 4;
/// Descriptor of the lifeline pipe in the child.
pub const LIFELINE_FD: RawFd = 5;
/// Descriptor of the report pipe in the child.
pub const REPORT_FD: RawFd = 6;
/// Descriptor of the caller's own executable, open for reading, which the launcher
/// starts the sandbox from.
pub const IMAGE_FD: RawFd = 7;

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
/// The marker's value for the launcher: start the image on [`IMAGE_FD`] as the sandbox,
/// protocol [`PROTOCOL`].
pub const LAUNCH_MARKER: &str = "launch-2";
/// The marker's value in an image the launcher started: it is the sandbox, already
/// dropped and confined by the launcher, and finishes its confinement itself.
pub const IMAGE_MARKER: &str = "image-2";
/// The marker's value in an image the launcher executed as a zygote: it runs with the
/// supervisor's uids (the caller's real uid, the sandbox identity as effective and saved
/// uid), already confined by the launcher, and becomes the zygote.
pub const ZYGOTE_IMAGE_MARKER: &str = "zygote-image-2";
/// The variable in which the launcher hands the policy to the image it starts.
pub const POLICY_VAR: &str = "BOXED_POLICY";
/// The only other variable in the child's environment.
pub const CHILD_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// The key of the one-entry JSON object that stands for an attachment in a payload's
/// JSON. A map key or field name equal to it is refused when a value is encoded.
const REFERENCE_KEY: &str = "\0bytes";

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
    Result(Payload),
    Failure(Failure),
}

/// A value as it crosses: its JSON, and the byte sequences taken out of it.
#[derive(Debug, Default, PartialEq)]
pub struct Payload {
    /// The value as JSON, with a reference in place of each byte sequence.
    pub json: Vec<u8>,
    /// The byte sequences, in the order of their references' indices.
    pub attachments: Vec<Vec<u8>>,
}

impl Payload {
    /// Encodes `value`: byte sequences go to attachments, the rest to JSON.
    pub fn encode<T: Serialize + ?Sized>(value: &T) -> serde_json::Result<Payload> {
        let mut json = Vec::with_capacity(64);
        let attachments = encode::encode(&mut json, value)?;
        Ok(Payload { json, attachments })
    }

    /// Encodes an owned `value`: as [`Payload::encode`], but a `Vec<u8>` (a sandboxed
    /// function's result, say) becomes the attachment itself, without a copy.
    pub fn encode_owned<T: Serialize>(value: T) -> serde_json::Result<Payload> {
        match crate::sys::into_same_type::<T, Vec<u8>>(value) {
            Ok(bytes) => {
                let mut payload = Payload::encode(&[0u8; 0][..])?;
                payload.attachments[0] = bytes;
                Ok(payload)
            }
            Err(value) => Payload::encode(&value),
        }
    }

    /// Decodes a `T`, moving attachments into the byte buffers that ask for them.
    /// A malformed reference, or an attachment used twice or never, is an error.
    pub fn decode<T: DeserializeOwned>(self) -> serde_json::Result<T> {
        let attachments = self.attachments.into_iter().map(Cow::Owned).collect();
        decode::decode(&self.json, attachments)
    }

    /// The JSON of a payload without attachments.
    #[cfg(test)]
    fn json(json: &[u8]) -> Payload {
        Payload {
            json: json.to_vec(),
            attachments: Vec::new(),
        }
    }

    /// Appends everything of the payload before the attachments' bytes: the JSON's
    /// length, the JSON, the count and the attachments' lengths.
    fn append_head(&self, bytes: &mut Vec<u8>) {
        bytes.reserve(8 + self.json.len() + 4 + 8 * self.attachments.len());
        bytes.extend_from_slice(&(self.json.len() as u64).to_le_bytes());
        bytes.extend_from_slice(&self.json);
        bytes.extend_from_slice(&(self.attachments.len() as u32).to_le_bytes());
        for attachment in &self.attachments {
            bytes.extend_from_slice(&(attachment.len() as u64).to_le_bytes());
        }
    }

    /// Splits the bytes of a framed payload (a result frame's, read whole within its
    /// bound) into the JSON and the attachments, checking every length and the count
    /// against the bytes that are there. The last attachment keeps the frame's buffer
    /// (its bytes are moved to the front), so a single large attachment, the common
    /// case, never needs a second buffer.
    fn split(mut bytes: Vec<u8>) -> Result<Payload, String> {
        let total = bytes.len() as u64;
        let at = std::cell::Cell::new(0u64);
        let take = |what: &str, length: u64| -> Result<std::ops::Range<usize>, String> {
            let left = total - at.get();
            if length > left {
                return Err(format!(
                    "{what} of {length} bytes, where the frame has {left} bytes left"
                ));
            }
            let start = at.get();
            at.set(start + length);
            Ok(start as usize..(start + length) as usize)
        };
        let number = |bytes: &[u8]| {
            let mut number = [0u8; 8];
            number[..bytes.len()].copy_from_slice(bytes);
            u64::from_le_bytes(number)
        };
        let length = number(&bytes[take("the JSON's length", 8)?]);
        let json = take("the JSON", length)?;
        let count = number(&bytes[take("the attachment count", 4)?]);
        if 8 * count > total - at.get() {
            return Err(format!(
                "{count} attachments announced, where the frame has {} bytes left",
                total - at.get()
            ));
        }
        let lengths = take("the attachments' lengths", 8 * count)?;
        let mut ranges = Vec::with_capacity(count as usize);
        for (index, length) in bytes[lengths].chunks_exact(8).enumerate() {
            ranges.push(take(&format!("attachment {index}"), number(length))?);
        }
        if at.get() != total {
            return Err(format!(
                "the frame has {} bytes after its last attachment",
                total - at.get()
            ));
        }
        let json = bytes[json].to_vec();
        let last = ranges.pop();
        let mut attachments: Vec<Vec<u8>> = ranges
            .into_iter()
            .map(|range| bytes[range].to_vec())
            .collect();
        if let Some(last) = last {
            bytes.truncate(last.end);
            bytes.drain(..last.start);
            attachments.push(bytes);
        }
        Ok(Payload { json, attachments })
    }

    /// The bytes of the framed payload: the head and every attachment.
    fn framed_len(&self) -> u64 {
        let attachments: u64 = self
            .attachments
            .iter()
            .map(|attachment| 8 + attachment.len() as u64)
            .sum();
        8 + self.json.len() as u64 + 4 + attachments
    }
}

/// A request (or a zygote's call), ready to write: everything but the attachments'
/// bytes in one buffer, then the attachments as they are, not copied again.
#[derive(Debug)]
pub struct Request {
    head: Vec<u8>,
    attachments: Vec<Vec<u8>>,
}

impl Request {
    /// All the request's bytes.
    pub fn len(&self) -> usize {
        self.head.len() + self.attachments.iter().map(Vec::len).sum::<usize>()
    }

    /// Writes the whole request to `out`.
    pub fn write_to(&self, out: &mut impl Write) -> io::Result<()> {
        let mut slices: Vec<io::IoSlice<'_>> = std::iter::once(self.head.as_slice())
            .chain(self.attachments.iter().map(Vec::as_slice))
            .map(io::IoSlice::new)
            .collect();
        write_all_vectored(out, &mut slices)
    }

    /// The request as one buffer (for tests).
    #[cfg(test)]
    fn to_vec(&self) -> Vec<u8> {
        let mut bytes = Vec::new();
        self.write_to(&mut bytes).unwrap();
        bytes
    }
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
/// arguments).
pub fn request<A: Serialize>(
    policy: &crate::Policy,
    name: &str,
    args: &A,
) -> serde_json::Result<Request> {
    let head = policy_header(policy)?;
    call(head, name, args)
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
pub fn call_request<A: Serialize>(name: &str, args: &A) -> serde_json::Result<Request> {
    call(Vec::with_capacity(name.len() + 64), name, args)
}

/// Appends the call to `head`: its length as 8 bytes, then the name line and the
/// arguments. The length lets the sandbox read it whole as soon as it has arrived,
/// without waiting for the caller to close the pipe: it wakes once, not twice.
fn call<A: Serialize>(mut head: Vec<u8>, name: &str, args: &A) -> serde_json::Result<Request> {
    let payload = Payload::encode(args)?;
    let length = name.len() as u64 + 1 + payload.framed_len();
    head.extend_from_slice(&length.to_le_bytes());
    head.extend_from_slice(name.as_bytes());
    head.push(b'\n');
    payload.append_head(&mut head);
    Ok(Request {
        head,
        attachments: payload.attachments,
    })
}

/// A call as the sandbox reads it.
#[derive(Debug)]
pub struct Call {
    /// The mangled name of the function.
    pub name: String,
    /// The arguments.
    pub args: Payload,
}

/// The longest function name a call may carry.
const MAX_NAME: u64 = 4096;

/// Reads the call that follows the policy header (or starts a zygote call): its length,
/// then the name line and the arguments, each piece within that length. Room for each
/// piece is reserved whole before it is read (the caller announced it), so a call too
/// large for the memory limit is [`Failure::MemoryLimit`]; it is read without waiting
/// for the end of the pipe.
pub fn read_call(input: &mut impl Read) -> Result<Call, Failure> {
    let protocol = |what: String| Failure::Protocol(what);
    let mut length = [0u8; 8];
    input
        .read_exact(&mut length)
        .map_err(|e| protocol(format!("reading the request's length failed: {e}")))?;
    let length = u64::from_le_bytes(length);
    // Buffered for the name line, whose end is found by its newline; larger pieces are
    // read past the buffer, straight into their own room.
    let mut input = io::BufReader::with_capacity(64 << 10, input).take(length);
    let mut name = Vec::new();
    (&mut input)
        .take(MAX_NAME)
        .read_until(b'\n', &mut name)
        .map_err(|e| protocol(format!("reading the function name failed: {e}")))?;
    if name.pop() != Some(b'\n') {
        return Err(protocol(format!(
            "the request has no function name line (of at most {MAX_NAME} bytes) within its \
             {length} bytes"
        )));
    }
    let name =
        String::from_utf8(name).map_err(|_| protocol("the function name is not UTF-8".into()))?;
    let left = input.limit();
    let mut frame = Frame {
        input: &mut input.into_inner(),
        left,
    };
    let args = match read_payload(&mut frame) {
        Ok(Some(args)) => args,
        Ok(None) => {
            return Err(protocol(format!(
                "the request ended after {} of its {length} bytes",
                length - frame.left
            )));
        }
        Err(error) if error.kind() == io::ErrorKind::OutOfMemory => {
            return Err(Failure::MemoryLimit);
        }
        Err(error) => return Err(protocol(format!("reading the request failed: {error}"))),
    };
    Ok(Call { name, args })
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

/// Lets a pipe hold 1 MiB (the most an unprivileged process may ask for by default),
/// so a large payload crosses in fewer, larger steps. Best effort: a smaller pipe works.
pub(crate) fn widen_pipe(pipe: &std::os::fd::OwnedFd) {
    let _ = nix::fcntl::fcntl(pipe, nix::fcntl::FcntlArg::F_SETPIPE_SZ(1 << 20));
}

/// Writes one frame: the header and the payload as it is (a large result is not copied
/// into a second buffer first), in one vectored write when the pipe takes it all, so
/// that the reader wakes once.
pub fn write_frame(out: &mut impl Write, response: &Response) -> io::Result<()> {
    let mut head = Vec::with_capacity(64);
    let mut slices = Vec::new();
    match response {
        Response::Result(payload) => {
            head.push(TAG_RESULT);
            head.extend_from_slice(&payload.framed_len().to_le_bytes());
            payload.append_head(&mut head);
            slices.push(io::IoSlice::new(&head));
            slices.extend(payload.attachments.iter().map(|a| io::IoSlice::new(a)));
        }
        Response::Failure(failure) => {
            let json = serde_json::to_vec(failure).map_err(io::Error::other)?;
            head.push(TAG_FAILURE);
            head.extend_from_slice(&(json.len() as u64).to_le_bytes());
            head.extend_from_slice(&json);
            slices.push(io::IoSlice::new(&head));
        }
    }
    write_all_vectored(out, &mut slices)?;
    out.flush()
}

/// Writes every slice, in as few vectored writes as `out` takes; an interrupted write is
/// tried again.
fn write_all_vectored(out: &mut impl Write, mut slices: &mut [io::IoSlice<'_>]) -> io::Result<()> {
    while !slices.is_empty() {
        match out.write_vectored(slices) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(written) => io::IoSlice::advance_slices(&mut slices, written),
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(())
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

/// How much the first read of a frame takes, on the stack.
const FIRST_READ: usize = 1024;

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
    ///
    /// The first read may take bytes past the frame, which are dropped: a frame is the
    /// last thing on its pipe.
    pub fn read_from(&mut self, input: &mut impl Read) -> Result<Progress, FrameError> {
        if self.header_filled == 0 {
            // Most frames are small: their header and payload come in one read.
            let mut first = [0u8; FIRST_READ];
            let read = loop {
                match input.read(&mut first) {
                    Ok(read) => break read,
                    Err(error) => match error.kind() {
                        io::ErrorKind::Interrupted => {}
                        io::ErrorKind::WouldBlock => return Ok(Progress::Pending),
                        _ => return Err(FrameError::Io(error)),
                    },
                }
            };
            if read == 0 {
                return Ok(Progress::Closed);
            }
            let head = read.min(self.header.len());
            self.header[..head].copy_from_slice(&first[..head]);
            self.header_filled = head;
            if head == self.header.len() {
                self.start_payload()?;
                // Never beyond the announced length, so within the room just made.
                let body = &first[head..read];
                let body = &body[..body.len().min(self.length as usize)];
                self.payload.extend_from_slice(body);
            }
        }
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
            return Payload::split(payload)
                .map(Response::Result)
                .map_err(FrameError::Malformed);
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

/// A payload (the rest of a result frame or a call), piece by piece, each length checked
/// against what the frame announced. `None` if the input ends first.
fn read_payload(frame: &mut Frame<'_, impl Read>) -> io::Result<Option<Payload>> {
    let Some(length) = frame.number::<8>("the JSON's length")? else {
        return Ok(None);
    };
    let Some(json) = frame.bytes("the JSON", length)? else {
        return Ok(None);
    };
    let Some(count) = frame.number::<4>("the attachment count")? else {
        return Ok(None);
    };
    if 8 * count > frame.left {
        return Err(invalid(format!(
            "{count} attachments announced, where the frame has {} bytes left",
            frame.left
        )));
    }
    let mut lengths = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let Some(length) = frame.number::<8>("an attachment's length")? else {
            return Ok(None);
        };
        lengths.push(length);
    }
    let mut attachments = Vec::with_capacity(count as usize);
    for (index, length) in lengths.into_iter().enumerate() {
        let Some(attachment) = frame.bytes(&format!("attachment {index}"), length)? else {
            return Ok(None);
        };
        attachments.push(attachment);
    }
    if frame.left != 0 {
        return Err(invalid(format!(
            "the frame has {} bytes after its last attachment",
            frame.left
        )));
    }
    Ok(Some(Payload { json, attachments }))
}

/// The part of a frame not read yet.
struct Frame<'a, R> {
    input: &'a mut R,
    left: u64,
}

impl<R: Read> Frame<'_, R> {
    /// The next `length` bytes, `None` if the input ends first.
    fn bytes(&mut self, what: &str, length: u64) -> io::Result<Option<Vec<u8>>> {
        if length > self.left {
            return Err(invalid(format!(
                "{what} of {length} bytes, where the frame has {} bytes left",
                self.left
            )));
        }
        self.left -= length;
        let mut bytes = Vec::new();
        // Reserved whole before any of it is read: a reservation that fails is an
        // `OutOfMemory` error.
        usize::try_from(length)
            .ok()
            .and_then(|room| bytes.try_reserve_exact(room).ok())
            .ok_or_else(|| io::Error::from(io::ErrorKind::OutOfMemory))?;
        let read = (&mut *self.input).take(length).read_to_end(&mut bytes)? as u64;
        // What did not come is still to come, as far as the frame knows.
        self.left += length - read;
        Ok((read == length).then_some(bytes))
    }

    /// The next `N`-byte little-endian number, `None` if the input ends first.
    fn number<const N: usize>(&mut self, what: &str) -> io::Result<Option<u64>> {
        let Some(bytes) = self.bytes(what, N as u64)? else {
            return Ok(None);
        };
        let mut number = [0u8; 8];
        number[..N].copy_from_slice(&bytes);
        Ok(Some(u64::from_le_bytes(number)))
    }
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_round_trip() {
        let policy = crate::Policy::new().memory(1 << 20).read("/usr");
        let bytes = request(&policy, "krate::add#00", &(&2u64, &"x")).unwrap();
        assert_eq!(bytes.len(), bytes.to_vec().len());
        let bytes = bytes.to_vec();
        let mut rest = bytes.as_slice();
        assert_eq!(read_policy(&mut rest).unwrap(), policy);
        let call = read_call(&mut rest).unwrap();
        assert!(rest.is_empty());
        assert_eq!(call.name, "krate::add#00");
        assert_eq!(call.args, Payload::json(br#"[2,"x"]"#));
        // A zygote's call is the same, without the policy.
        let bytes = call_request("krate::add#00", &(&2u64, &"x"))
            .unwrap()
            .to_vec();
        let again = read_call(&mut bytes.as_slice()).unwrap();
        assert_eq!((again.name, again.args), (call.name, call.args));
    }

    #[test]
    fn a_call_is_read_without_waiting_for_the_end_of_its_pipe() {
        let bytes = call_request("f", &(1u8,)).unwrap().to_vec();
        let (read, mut write) = std::io::pipe().unwrap();
        write.write_all(&bytes).unwrap();
        // The write end stays open, and the read end does not block: a read past the
        // call, waiting for the end of the pipe, would fail with `WouldBlock`.
        nix::fcntl::fcntl(
            &read,
            nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
        )
        .unwrap();
        let call = read_call(&mut &read).unwrap();
        assert_eq!(
            (call.name.as_str(), call.args.decode::<(u8,)>().unwrap()),
            ("f", (1,))
        );
        // The same with a large attachment, which is read past the name line's buffer.
        let bytes = call_request("g", &(vec![7u8; 300_000],)).unwrap().to_vec();
        drop(write);
        let (read, mut write) = std::io::pipe().unwrap();
        let writer = std::thread::spawn(move || {
            write.write_all(&bytes).unwrap();
            write
        });
        let call = read_call(&mut &read).unwrap();
        assert_eq!(
            call.args.decode::<(Vec<u8>,)>().unwrap().0,
            vec![7u8; 300_000]
        );
        drop(writer.join().unwrap());
    }

    #[test]
    fn short_or_unaffordable_calls_are_refused() {
        let mut bytes = call_request("f", &(1u8,)).unwrap().to_vec();
        bytes.pop();
        match read_call(&mut bytes.as_slice()) {
            Err(Failure::Protocol(message)) => {
                assert!(
                    message.contains("ended after 16 of its 17 bytes"),
                    "{message}"
                )
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            read_call(&mut &[1, 2, 3][..]),
            Err(Failure::Protocol(_))
        ));
        // A JSON or an attachment too large to reserve room for is a memory-limit
        // failure, told before any of it is read.
        for lengths in [[u64::MAX / 2, 0], [2, u64::MAX / 4]] {
            let mut call = b"f\n".to_vec();
            call.extend_from_slice(&lengths[0].to_le_bytes());
            call.extend_from_slice(b"[]");
            call.extend_from_slice(&1u32.to_le_bytes());
            call.extend_from_slice(&lengths[1].to_le_bytes());
            let mut bytes = u64::MAX.to_le_bytes().to_vec();
            bytes.extend_from_slice(&call);
            assert!(
                matches!(read_call(&mut bytes.as_slice()), Err(Failure::MemoryLimit)),
                "{lengths:?}"
            );
        }
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
        for call in [&b"[1]"[..], &[b'f'; 5000][..], b"\xff\n"] {
            let mut bytes = (call.len() as u64).to_le_bytes().to_vec();
            bytes.extend_from_slice(call);
            assert!(matches!(
                read_call(&mut bytes.as_slice()),
                Err(Failure::Protocol(_))
            ));
        }
    }

    #[test]
    fn frames_round_trip() {
        for response in [
            Response::Result(Payload::json(b"[1,2]")),
            Response::Result(
                Payload::encode(&(vec![1u8, 2], "x", vec![vec![3u8], vec![]])).unwrap(),
            ),
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
        let response = || {
            Response::Result(
                Payload::encode(&("a payload longer than a header", &b"and bytes"[..])).unwrap(),
            )
        };
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
        let payload = Payload::encode(&(12345, vec![1u8, 2, 3], [4u8; 3])).unwrap();
        write_frame(&mut bytes, &Response::Result(payload)).unwrap();
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
    fn a_small_frame_takes_one_read_and_bytes_past_it_are_dropped() {
        struct Counted<'a>(&'a [u8], usize);
        impl Read for Counted<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                self.1 += 1;
                self.0.read(buf)
            }
        }
        let mut bytes = Vec::new();
        write_frame(&mut bytes, &Response::Result(Payload::json(b"5"))).unwrap();
        bytes.extend_from_slice(b"after the frame");
        let mut input = Counted(&bytes, 0);
        assert_eq!(
            FrameReader::new(1 << 20).read_from(&mut input).unwrap(),
            Progress::Done(Response::Result(Payload::json(b"5")))
        );
        assert_eq!(input.1, 1);
    }

    #[test]
    fn a_frame_above_the_bound_is_refused_from_its_header() {
        let mut bytes = Vec::new();
        write_frame(&mut bytes, &Response::Result(Payload::json(b"123456"))).unwrap();
        // Exactly the bound is an answer (the JSON's length, 6 bytes of JSON, a count of
        // no attachments); one byte above it is refused.
        assert_eq!(
            read_frame(&mut bytes.as_slice(), 18).unwrap(),
            Some(Response::Result(Payload::json(b"123456")))
        );
        // A header that announces far more than it sends is refused before any room is
        // made for it (what came after the header is dropped, never kept).
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
        assert!(matches!(
            read_frame(&mut bytes.as_slice(), 17),
            Err(FrameError::TooLarge {
                announced: 18,
                limit: 17
            })
        ));
    }

    #[test]
    fn a_frame_arriving_in_pieces_is_read_without_blocking_and_never_over_allocated() {
        let payload = vec![b'7'; 300_000];
        let mut bytes = Vec::new();
        write_frame(
            &mut bytes,
            &Response::Result(Payload::encode(&payload).unwrap()),
        )
        .unwrap();
        let (read, mut write) = std::io::pipe().unwrap();
        nix::fcntl::fcntl(
            &read,
            nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
        )
        .unwrap();
        let framed = bytes.len() - 9;
        let mut reader = FrameReader::new(framed as u64);
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
                    assert!(reader.payload.capacity() <= framed);
                    std::thread::yield_now();
                }
                Progress::Done(response) => break response,
                Progress::Closed => panic!("closed before the frame was whole"),
            }
        };
        writer.join().unwrap();
        assert_eq!(
            response,
            Response::Result(Payload::encode(&payload).unwrap())
        );
        // The writer is gone: the pipe ends without a second frame.
        assert_eq!(
            FrameReader::new(1).read_from(&mut input).unwrap(),
            Progress::Closed
        );
    }

    mod payloads {
        use super::*;
        use std::collections::BTreeMap;

        #[derive(Serialize, Deserialize, Debug, PartialEq)]
        struct Image {
            name: String,
            pixels: Vec<u8>,
            #[serde(with = "serde_bytes")]
            marked: Vec<u8>,
            layers: Vec<Vec<u8>>,
            thumbnail: Option<Box<[u8]>>,
            words: Vec<u16>,
        }

        #[derive(Serialize, Deserialize, Debug, PartialEq)]
        enum Packet {
            Empty,
            Raw(Vec<u8>),
            Pair(u32, Vec<u8>),
            Framed {
                header: Vec<u8>,
                body: serde_bytes::ByteBuf,
            },
        }

        fn image() -> Image {
            Image {
                name: "cat".into(),
                pixels: (0..=255).collect(),
                marked: b"marked".to_vec(),
                layers: vec![vec![1, 2], vec![], vec![3]],
                thumbnail: Some(vec![9u8; 7].into_boxed_slice()),
                words: vec![1, 300],
            }
        }

        /// Encodes, frames, reads the frame back and decodes: the way a result crosses.
        fn through_a_frame<T: Serialize + DeserializeOwned>(value: &T) -> (Payload, T) {
            let payload = Payload::encode(value).unwrap();
            let mut bytes = Vec::new();
            write_frame(&mut bytes, &Response::Result(payload)).unwrap();
            let Some(Response::Result(payload)) =
                read_frame(&mut bytes.as_slice(), u64::MAX).unwrap()
            else {
                panic!("not a result frame");
            };
            let seen = Payload {
                json: payload.json.clone(),
                attachments: payload.attachments.clone(),
            };
            (seen, payload.decode().unwrap())
        }

        /// Encodes and decodes the way arguments cross: framed in a call, lent to decode.
        fn through_a_call<T: Serialize + DeserializeOwned>(value: &T) -> T {
            let bytes = call_request("f", value).unwrap().to_vec();
            read_call(&mut bytes.as_slice())
                .unwrap()
                .args
                .decode()
                .unwrap()
        }

        #[test]
        fn byte_sequences_anywhere_go_beside_the_json() {
            let value = (image(), vec![7u8; 1000], Packet::Raw(vec![5; 3]));
            let (payload, back) = through_a_frame(&value);
            assert_eq!(back, value);
            assert_eq!(through_a_call(&value), value);
            // pixels, marked, three layers, the thumbnail, the Vec<u8>, the packet.
            assert_eq!(payload.attachments.len(), 8);
            assert_eq!(payload.attachments[0], (0..=255).collect::<Vec<u8>>());
            assert_eq!(payload.attachments[1], b"marked");
            let json = String::from_utf8(payload.json).unwrap();
            assert_eq!(
                json,
                r#"[{"name":"cat","pixels":{"\u0000bytes":0},"marked":{"\u0000bytes":1},"layers":[{"\u0000bytes":2},{"\u0000bytes":3},{"\u0000bytes":4}],"thumbnail":{"\u0000bytes":5},"words":[1,300]},{"\u0000bytes":6},{"Raw":{"\u0000bytes":7}}]"#
            );
        }

        #[test]
        fn every_enum_shape_and_borrowed_bytes_cross() {
            for packet in [
                Packet::Empty,
                Packet::Raw(vec![]),
                Packet::Pair(7, vec![1, 2, 3]),
                Packet::Framed {
                    header: vec![0xff],
                    body: serde_bytes::ByteBuf::from(vec![0u8; 70_000]),
                },
            ] {
                assert_eq!(through_a_frame(&packet).1, packet);
                assert_eq!(through_a_call(&packet), packet);
            }
            let borrowed: (&[u8], &serde_bytes::Bytes) = (b"abc", serde_bytes::Bytes::new(b"d"));
            let (payload, back) = through_a_frame::<(Vec<u8>, serde_bytes::ByteBuf)>(&(
                borrowed.0.to_vec(),
                serde_bytes::ByteBuf::from(borrowed.1.to_vec()),
            ));
            assert_eq!(payload, Payload::encode(&borrowed).unwrap());
            assert_eq!(
                (back.0.as_slice(), back.1.as_slice()),
                (&b"abc"[..], &b"d"[..])
            );
        }

        #[test]
        fn other_values_are_the_json_they_were() {
            let mut map = BTreeMap::new();
            map.insert("k".to_string(), vec![1u16, 2]);
            let value = (
                1u8,
                -2i64,
                "text".to_string(),
                vec!["a".to_string(), "b".to_string()],
                map,
                [1u8, 2, 3],
                (),
                Some(2.5f64),
                vec![Some(1u8)],
            );
            let payload = Payload::encode(&value).unwrap();
            assert!(payload.attachments.is_empty());
            assert_eq!(payload.json, serde_json::to_vec(&value).unwrap());
            assert_eq!(through_a_frame(&value).1, value);
        }

        /// A sequence whose first elements are `u8`s and later ones are not (possible only
        /// through a hand-written `Serialize`) stays a JSON array.
        struct Mixed;

        impl Serialize for Mixed {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                use serde::ser::SerializeSeq;
                let mut seq = serializer.serialize_seq(Some(3))?;
                seq.serialize_element(&1u8)?;
                seq.serialize_element(&2u8)?;
                seq.serialize_element(&-3i32)?;
                seq.end()
            }
        }

        #[test]
        fn a_sequence_that_turns_out_not_to_be_bytes_stays_json() {
            let payload = Payload::encode(&(Mixed, vec![1u8])).unwrap();
            assert_eq!(payload.json, br#"[[1,2,-3],{"\u0000bytes":0}]"#);
            assert_eq!(
                payload.decode::<(Vec<i32>, Vec<u8>)>().unwrap(),
                (vec![1, 2, -3], vec![1])
            );
        }

        #[test]
        fn any_value_sees_an_attachment_as_its_numbers() {
            #[derive(Serialize, Deserialize, Debug, PartialEq)]
            #[serde(untagged)]
            enum Either {
                Text(String),
                Bytes(Vec<u8>),
            }
            let value = vec![Either::Bytes(vec![1, 2]), Either::Text("t".into())];
            assert_eq!(through_a_frame(&value).1, value);
            let value: serde_json::Value =
                Payload::encode(&(vec![4u8, 5],)).unwrap().decode().unwrap();
            assert_eq!(value, serde_json::json!([[4, 5]]));
        }

        #[test]
        fn the_reference_key_is_refused_in_values() {
            let mut map = BTreeMap::new();
            map.insert(REFERENCE_KEY.to_string(), 0u64);
            let error = Payload::encode(&map).unwrap_err().to_string();
            assert!(error.contains("reserved"), "{error}");
            // Other keys, and the key as a value, are fine.
            let mut map = BTreeMap::new();
            map.insert("bytes".to_string(), REFERENCE_KEY.to_string());
            assert_eq!(through_a_frame(&map).1, map);
        }

        fn payload(json: &str, attachments: &[&[u8]]) -> Payload {
            Payload {
                json: json.as_bytes().to_vec(),
                attachments: attachments.iter().map(|a| a.to_vec()).collect(),
            }
        }

        fn decode_error<T: DeserializeOwned + std::fmt::Debug>(payload: Payload) -> String {
            payload.decode::<T>().unwrap_err().to_string()
        }

        #[test]
        fn lying_references_are_decode_errors() {
            let cases: [(&str, &[&[u8]], &str); 9] = [
                (r#"[{"\u0000bytes":1}]"#, &[b"a"], "attachment 1, of 1"),
                (r#"[{"\u0000bytes":18446744073709551615}]"#, &[], "of 0"),
                (r#"[{"\u0000bytes":-1}]"#, &[b"a"], "invalid value"),
                (r#"[{"\u0000bytes":"0"}]"#, &[b"a"], "invalid type"),
                (r#"[{"\u0000bytes":0,"x":1}]"#, &[b"a"], "more than one key"),
                (
                    r#"[{"\u0000bytes":0}]"#,
                    &[b"a", b"b"],
                    "attachment 1 is not referred to",
                ),
                (r#"[[1]]"#, &[b"a"], "attachment 0 is not referred to"),
                (r#"[{"other":0}]"#, &[], "invalid type: map"),
                (r#"[{}]"#, &[], "invalid type: map"),
            ];
            for (json, attachments, expected) in cases {
                let error = decode_error::<(Vec<u8>,)>(payload(json, attachments));
                assert!(error.contains(expected), "{json}: {error}");
            }
            // One attachment referred to twice.
            let error = decode_error::<(Vec<u8>, Vec<u8>)>(payload(
                r#"[{"\u0000bytes":0},{"\u0000bytes":0}]"#,
                &[b"a"],
            ));
            assert!(error.contains("referred to twice"), "{error}");
            // A reference where the type wants no bytes.
            let error = decode_error::<(String,)>(payload(r#"[{"\u0000bytes":0}]"#, &[b"a"]));
            assert!(error.contains("invalid type: map"), "{error}");
            let error = decode_error::<(u8, u8)>(payload(r#"[{"\u0000bytes":0},1]"#, &[b"a"]));
            assert!(error.contains("invalid type: map"), "{error}");
            // An attachment too long for a fixed-size array.
            let error = decode_error::<(heapless_three::Three,)>(payload(
                r#"[{"\u0000bytes":0}]"#,
                &[b"abcd"],
            ));
            assert!(error.contains("invalid length"), "{error}");
        }

        /// Takes exactly three elements of a sequence, then stops reading it.
        mod heapless_three {
            use serde::de::{Deserialize, Deserializer, SeqAccess, Visitor};

            #[derive(Debug)]
            pub struct Three;

            impl<'de> Deserialize<'de> for Three {
                fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                    struct Take3;
                    impl<'de> Visitor<'de> for Take3 {
                        type Value = Three;
                        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                            f.write_str("three bytes")
                        }
                        fn visit_seq<A: SeqAccess<'de>>(
                            self,
                            mut seq: A,
                        ) -> Result<Three, A::Error> {
                            for _ in 0..3 {
                                seq.next_element::<u8>()?;
                            }
                            Ok(Three)
                        }
                    }
                    deserializer.deserialize_seq(Take3)
                }
            }
        }

        /// A result frame with this payload body after its header.
        fn result_frame(announced: u64, body: &[u8]) -> Vec<u8> {
            let mut bytes = vec![TAG_RESULT];
            bytes.extend_from_slice(&announced.to_le_bytes());
            bytes.extend_from_slice(body);
            bytes
        }

        fn frame_error(bytes: &[u8]) -> String {
            match read_frame(&mut &bytes[..], u64::MAX) {
                Err(FrameError::Malformed(message)) => message,
                Err(other) => panic!("expected a malformed frame, got {other:?}"),
                Ok(other) => panic!("expected an error, read {other:?}"),
            }
        }

        #[test]
        fn lying_lengths_and_counts_are_frame_errors() {
            let le8 = |n: u64| n.to_le_bytes().to_vec();
            let le4 = |n: u32| n.to_le_bytes().to_vec();
            let cat = |parts: &[Vec<u8>]| parts.concat();
            // The JSON's length beyond the frame.
            let body = cat(&[le8(100), b"[]".to_vec(), le4(0)]);
            let error = frame_error(&result_frame(body.len() as u64, &body));
            assert!(error.contains("the JSON of 100 bytes"), "{error}");
            // A count of attachments whose lengths alone would not fit: refused before
            // anything is allocated for them.
            let body = cat(&[le8(2), b"[]".to_vec(), le4(u32::MAX)]);
            let error = frame_error(&result_frame(body.len() as u64, &body));
            assert!(error.contains("4294967295 attachments"), "{error}");
            // An attachment longer than what is left.
            let body = cat(&[le8(2), b"[]".to_vec(), le4(1), le8(u64::MAX), b"x".to_vec()]);
            let error = frame_error(&result_frame(body.len() as u64, &body));
            assert!(
                error.contains("attachment 0 of 18446744073709551615"),
                "{error}"
            );
            // Bytes after the last attachment.
            let body = cat(&[le8(2), b"[]".to_vec(), le4(1), le8(1), b"xy".to_vec()]);
            let error = frame_error(&result_frame(body.len() as u64, &body));
            assert!(
                error.contains("1 bytes after its last attachment"),
                "{error}"
            );
            // A frame that announces more than comes is no answer, and one that announces
            // more than the bound is refused from its header: the attachments are inside
            // the frame, so inside the bound.
            let body = cat(&[le8(2), b"[]".to_vec(), le4(1), le8(1 << 30)]);
            assert_eq!(
                read_frame(&mut &result_frame(1 << 30, &body)[..], u64::MAX).unwrap(),
                None
            );
            assert!(matches!(
                read_frame(&mut &result_frame(1 << 30, &body)[..], 1 << 20),
                Err(FrameError::TooLarge { .. })
            ));
        }

        #[test]
        fn lying_lengths_in_a_call_are_protocol_errors() {
            let le8 = |n: u64| n.to_le_bytes().to_vec();
            let le4 = |n: u32| n.to_le_bytes().to_vec();
            for (body, expected) in [
                (
                    vec![1, 2],
                    "the JSON's length of 8 bytes, where the frame has 2",
                ),
                ([le8(9), b"[]".to_vec()].concat(), "the JSON of 9 bytes"),
                (
                    [le8(2), b"[]".to_vec(), le4(u32::MAX)].concat(),
                    "4294967295 attachments",
                ),
                (
                    [le8(2), b"[]".to_vec(), le4(1), le8(5), b"ab".to_vec()].concat(),
                    "attachment 0 of 5 bytes, where the frame has 2",
                ),
                (
                    [le8(2), b"[]".to_vec(), le4(0), b"!".to_vec()].concat(),
                    "1 bytes after its last attachment",
                ),
            ] {
                let mut call = b"f\n".to_vec();
                call.extend_from_slice(&body);
                let mut bytes = (call.len() as u64).to_le_bytes().to_vec();
                bytes.extend_from_slice(&call);
                match read_call(&mut bytes.as_slice()) {
                    Err(Failure::Protocol(message)) => {
                        assert!(message.contains(expected), "{expected}: {message}")
                    }
                    other => panic!("{expected}: {other:?}"),
                }
            }
        }
    }
}
