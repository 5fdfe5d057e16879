//! The one public error type.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// Everything that can go wrong around a sandboxed call, and in setting up its copy.
///
/// The message says what failed and what to do about it. [`Error::kind`] tells the
/// cases apart; the underlying I/O or JSON error, where there is one, is the
/// [`source`](std::error::Error::source).
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct Error(Box<Repr>);

/// The kinds of [`Error`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// No setcap'd copy of this executable is installed for the calling user.
    CopyMissing,
    /// The installed copy was made from another build of this executable, or has been
    /// changed since it was installed.
    CopyStale,
    /// The child process could not be started.
    Spawn,
    /// The child could not drop or verify its privileges, so it ran nothing.
    Privileges,
    /// The sandboxed function panicked.
    Panic,
    /// The child was killed by a signal.
    Signal,
    /// The child exited without answering.
    NoAnswer,
    /// The arguments could not be encoded in the caller.
    EncodeRequest,
    /// The arguments could not be decoded in the child.
    DecodeRequest,
    /// The result could not be encoded in the child.
    EncodeResponse,
    /// The result could not be decoded in the caller.
    DecodeResponse,
    /// The executable that ran has no sandboxed function by the requested name.
    UnknownFunction,
    /// The child answered something that is not a valid response.
    Protocol,
    /// Reading from or writing to the child failed.
    Io,
    /// `boxed install` or `boxed status` failed.
    Setup,
    /// The policy's wall-clock `timeout` expired; the sandbox was killed.
    Timeout,
    /// The sandbox used up its `cpu_time`.
    CpuLimit,
    /// An allocation failed under the policy's `memory` limit.
    MemoryLimit,
    /// The sandbox wrote past its `max_file_size`.
    FileSizeLimit,
    /// The kernel cannot enforce a confinement layer the policy requires.
    Unsupported,
}

/// A limit of the policy that the sandbox reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Limit {
    Timeout(std::time::Duration),
    CpuTime(std::time::Duration),
    Memory(u64),
    FileSize(u64),
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Limit::Timeout(limit) => write!(f, "ran past its timeout of {limit:?} and was killed"),
            Limit::CpuTime(limit) => write!(f, "used up its CPU time of {limit:?} and was killed"),
            Limit::Memory(bytes) => {
                write!(
                    f,
                    "failed to allocate within its memory limit of {bytes} bytes"
                )
            }
            Limit::FileSize(bytes) => {
                write!(
                    f,
                    "wrote past its file size limit of {bytes} bytes and was killed"
                )
            }
        }
    }
}

/// Where the child panicked, as `file:line:column`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PanicLocation {
    /// Source file, as the compiler recorded it.
    pub file: String,
    /// Line, from 1.
    pub line: u32,
    /// Column, from 1.
    pub column: u32,
}

impl fmt::Display for PanicLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum Repr {
    #[error(
        "boxed: no sandbox copy of {exe} is installed for this user, so `{function}` cannot run; \
         create it once per build, as root: {command}"
    )]
    CopyMissing {
        function: String,
        exe: PathBuf,
        command: String,
    },
    #[error(
        "boxed: the sandbox copy {copy} {why} {exe} and is never run, so `{function}` cannot \
         run; refresh it, as root: {command}"
    )]
    CopyStale {
        function: String,
        exe: PathBuf,
        copy: PathBuf,
        why: String,
        command: String,
    },
    #[error("boxed: could not start the sandbox child {program} for `{function}`: {source}")]
    Spawn {
        function: String,
        program: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(
        "boxed: the sandbox child for `{function}` could not drop or verify its privileges and \
         ran nothing: {message}"
    )]
    Privileges { function: String, message: String },
    #[error("sandboxed function `{function}` panicked at {location}:\n{message}")]
    Panic {
        function: String,
        message: String,
        location: PanicLocation,
    },
    #[error("boxed: the sandbox child running `{function}` was killed by signal {signal} ({name})")]
    Signal {
        function: String,
        signal: i32,
        name: &'static str,
    },
    #[error(
        "boxed: the sandbox child running `{function}` exited with code {code} without answering"
    )]
    NoAnswer { function: String, code: i32 },
    #[error("boxed: could not encode the arguments of `{function}` as JSON: {source}")]
    EncodeRequest {
        function: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("boxed: the sandbox child could not decode the arguments of `{function}`: {message}")]
    DecodeRequest { function: String, message: String },
    #[error(
        "boxed: the sandbox child could not encode the result of `{function}` as JSON: {message}"
    )]
    EncodeResponse { function: String, message: String },
    #[error("boxed: could not decode the result of `{function}`: {source}")]
    DecodeResponse {
        function: String,
        #[source]
        source: serde_json::Error,
    },
    #[error(
        "boxed: the sandbox child has no sandboxed function `{function}`; the executable it ran \
         is not the caller's build"
    )]
    UnknownFunction { function: String },
    #[error("boxed: the sandbox child running `{function}` broke the protocol: {message}")]
    Protocol { function: String, message: String },
    #[error("boxed: talking to the sandbox child running `{function}` failed: {source}")]
    Io {
        function: String,
        #[source]
        source: io::Error,
    },
    #[error(
        "boxed: the sandbox running `{function}` {kind}; raise the limit in its \
         `#[sandboxed(...)]` or with `boxed::Policy` if the work needs more"
    )]
    Limit { function: String, kind: Limit },
    #[error("boxed: `{function}` did not run: {message}")]
    Unsupported { function: String, message: String },
    #[error("boxed: {message}")]
    Setup {
        message: String,
        #[source]
        source: Option<io::Error>,
    },
}

impl From<Repr> for Error {
    fn from(repr: Repr) -> Self {
        Error(Box::new(repr))
    }
}

impl Error {
    /// Reading from or writing to the child of `function` failed.
    pub(crate) fn io(function: &str, source: io::Error) -> Self {
        Repr::Io {
            function: function.to_string(),
            source,
        }
        .into()
    }

    pub(crate) fn setup(message: impl Into<String>, source: Option<io::Error>) -> Self {
        Repr::Setup {
            message: message.into(),
            source,
        }
        .into()
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        match &*self.0 {
            Repr::CopyMissing { .. } => ErrorKind::CopyMissing,
            Repr::CopyStale { .. } => ErrorKind::CopyStale,
            Repr::Spawn { .. } => ErrorKind::Spawn,
            Repr::Privileges { .. } => ErrorKind::Privileges,
            Repr::Panic { .. } => ErrorKind::Panic,
            Repr::Signal { .. } => ErrorKind::Signal,
            Repr::NoAnswer { .. } => ErrorKind::NoAnswer,
            Repr::EncodeRequest { .. } => ErrorKind::EncodeRequest,
            Repr::DecodeRequest { .. } => ErrorKind::DecodeRequest,
            Repr::EncodeResponse { .. } => ErrorKind::EncodeResponse,
            Repr::DecodeResponse { .. } => ErrorKind::DecodeResponse,
            Repr::UnknownFunction { .. } => ErrorKind::UnknownFunction,
            Repr::Protocol { .. } => ErrorKind::Protocol,
            Repr::Io { .. } => ErrorKind::Io,
            Repr::Setup { .. } => ErrorKind::Setup,
            Repr::Limit { kind, .. } => match kind {
                Limit::Timeout(_) => ErrorKind::Timeout,
                Limit::CpuTime(_) => ErrorKind::CpuLimit,
                Limit::Memory(_) => ErrorKind::MemoryLimit,
                Limit::FileSize(_) => ErrorKind::FileSizeLimit,
            },
            Repr::Unsupported { .. } => ErrorKind::Unsupported,
        }
    }

    /// The sandboxed function the call was for (`crate::module::name`), if any.
    pub fn function(&self) -> Option<&str> {
        match &*self.0 {
            Repr::CopyMissing { function, .. }
            | Repr::CopyStale { function, .. }
            | Repr::Spawn { function, .. }
            | Repr::Privileges { function, .. }
            | Repr::Panic { function, .. }
            | Repr::Signal { function, .. }
            | Repr::NoAnswer { function, .. }
            | Repr::EncodeRequest { function, .. }
            | Repr::DecodeRequest { function, .. }
            | Repr::EncodeResponse { function, .. }
            | Repr::DecodeResponse { function, .. }
            | Repr::UnknownFunction { function }
            | Repr::Protocol { function, .. }
            | Repr::Io { function, .. }
            | Repr::Limit { function, .. }
            | Repr::Unsupported { function, .. } => Some(function),
            Repr::Setup { .. } => None,
        }
    }

    /// The panic message, for [`ErrorKind::Panic`].
    pub fn panic_message(&self) -> Option<&str> {
        match &*self.0 {
            Repr::Panic { message, .. } => Some(message),
            _ => None,
        }
    }

    /// Where the child panicked, for [`ErrorKind::Panic`].
    pub fn panic_location(&self) -> Option<&PanicLocation> {
        match &*self.0 {
            Repr::Panic { location, .. } => Some(location),
            _ => None,
        }
    }

    /// The signal number that killed the child, for [`ErrorKind::Signal`].
    pub fn signal(&self) -> Option<i32> {
        match &*self.0 {
            Repr::Signal { signal, .. } => Some(*signal),
            _ => None,
        }
    }

    /// The child's exit code, for [`ErrorKind::NoAnswer`].
    pub fn exit_code(&self) -> Option<i32> {
        match &*self.0 {
            Repr::NoAnswer { code, .. } => Some(*code),
            _ => None,
        }
    }
}

/// The readable part of a mangled name: `krate::module::name#hash@line:column` is shown
/// without what follows `#`.
pub(crate) fn display_name(mangled: &str) -> String {
    mangled
        .split_once('#')
        .map_or(mangled, |(name, _)| name)
        .to_string()
}
