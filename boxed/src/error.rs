//! The one public error type.

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Everything that can go wrong around a sandboxed call, and in setting up the launcher.
///
/// The message says what failed and what to do about it. [`Error::kind`] tells the
/// cases apart; the underlying I/O or JSON error, where there is one, is the
/// [`source`](std::error::Error::source).
///
/// An `Error` is `Clone`, `Serialize` and `Deserialize`, so it can travel inside a
/// user's own error type, out of a sandbox too. It serialises as a map of `kind`,
/// `message` (its whole `Display`), `function`, `panic_message`, `panic_location`,
/// `signal`, `exit_code` and `source` (the underlying error's message, or null); one
/// deserialised from that gives back every accessor and the same `Display`, and its
/// [`source`](std::error::Error::source) is an error that displays the original
/// source's message: the I/O or JSON error itself does not cross (it cannot be
/// serialised), so it can no longer be downcast.
#[derive(Debug, Clone, thiserror::Error)]
#[error(transparent)]
pub struct Error(Arc<Repr>);

/// The kinds of [`Error`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The caller is not root and no installed launcher serves it: `boxed setup` was
    /// not run, or not for this user. The message gives the command that fixes it, to
    /// run as root once per machine (`sudo /full/path/to/boxed setup --user USER`).
    NoLauncher,
    /// The child process could not be started.
    Spawn,
    /// The child could not drop or verify its privileges, so it ran nothing.
    Privileges,
    /// Another step of the child's start-up failed (its descriptors, pipes, fork,
    /// process group, or a zygote's hand-over of a spare), so it ran nothing. The
    /// message names the step and the errno.
    Startup,
    /// The child could not apply a confinement layer the kernel supports (resource
    /// limits, `oom_score_adj`, Landlock, the syscall filter), so it ran nothing. The
    /// message names the step and the errno.
    Confinement,
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
    /// `boxed setup` or `boxed status` failed.
    Setup,
    /// The policy's wall-clock `timeout` expired; the sandbox was killed.
    Timeout,
    /// The sandbox used up its `cpu_time`.
    CpuLimit,
    /// An allocation failed under the policy's `memory` limit.
    MemoryLimit,
    /// The sandbox wrote past its `max_file_size`.
    FileSizeLimit,
    /// The sandbox answered with more than the policy's `max_response`; it was ended
    /// and nothing beyond the bound was read.
    ResponseLimit,
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
    Response { announced: u64, limit: u64 },
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
            Limit::Response { announced, limit } => write!(
                f,
                "announced an answer of {announced} bytes, more than its max_response of \
                 {limit} bytes, and was ended without it being read"
            ),
        }
    }
}

/// Where the child panicked, as `file:line:column`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
        "boxed: `{function}` cannot run: the caller is not root, and the boxed launcher \
         {LAUNCHER} that starts the sandboxes of other users {why}; set it up for the \
         user {user}, once per machine, as root: {command}",
        LAUNCHER = launcher
    )]
    NoLauncher {
        function: String,
        /// Where the launcher is (or would be) installed.
        launcher: &'static str,
        user: String,
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
    #[error(
        "boxed: the sandbox child for `{function}` could not start ({step}) and ran nothing: \
         {message}"
    )]
    Startup {
        function: String,
        step: &'static str,
        message: String,
    },
    #[error(
        "boxed: the sandbox child for `{function}` could not confine itself ({step}) and ran \
         nothing: {message}"
    )]
    Confinement {
        function: String,
        step: &'static str,
        message: String,
    },
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
    /// An error deserialised from what [`Portable`] holds.
    #[error("{}", .portable.message)]
    Restored {
        portable: Portable,
        source: Option<SourceMessage>,
    },
}

impl From<Repr> for Error {
    fn from(repr: Repr) -> Self {
        Error(Arc::new(repr))
    }
}

/// Everything of an [`Error`] that crosses a process boundary: what its accessors and
/// its `Display` give, and its source's message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Portable {
    kind: ErrorKind,
    message: String,
    function: Option<String>,
    panic_message: Option<String>,
    panic_location: Option<PanicLocation>,
    signal: Option<i32>,
    exit_code: Option<i32>,
    source: Option<String>,
}

/// The source of a deserialised [`Error`]: the original source's message.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub(crate) struct SourceMessage(String);

impl Serialize for Error {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.portable().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Error {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let portable = Portable::deserialize(deserializer)?;
        let source = portable.source.clone().map(SourceMessage);
        Ok(Repr::Restored { portable, source }.into())
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

    /// A start-up `step` of the child of `function` failed, as `message` says.
    pub(crate) fn startup(function: String, step: crate::wire::Step, message: String) -> Self {
        let name = step.name();
        if step.confines() {
            Repr::Confinement {
                function,
                step: name,
                message,
            }
        } else {
            Repr::Startup {
                function,
                step: name,
                message,
            }
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

    fn portable(&self) -> Portable {
        if let Repr::Restored { portable, .. } = &*self.0 {
            return portable.clone();
        }
        Portable {
            kind: self.kind(),
            message: self.to_string(),
            function: self.function().map(str::to_string),
            panic_message: self.panic_message().map(str::to_string),
            panic_location: self.panic_location().cloned(),
            signal: self.signal(),
            exit_code: self.exit_code(),
            source: std::error::Error::source(self).map(|source| source.to_string()),
        }
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        match &*self.0 {
            Repr::NoLauncher { .. } => ErrorKind::NoLauncher,
            Repr::Spawn { .. } => ErrorKind::Spawn,
            Repr::Privileges { .. } => ErrorKind::Privileges,
            Repr::Startup { .. } => ErrorKind::Startup,
            Repr::Confinement { .. } => ErrorKind::Confinement,
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
                Limit::Response { .. } => ErrorKind::ResponseLimit,
            },
            Repr::Unsupported { .. } => ErrorKind::Unsupported,
            Repr::Restored { portable, .. } => portable.kind,
        }
    }

    /// The sandboxed function the call was for (`crate::module::name`), if any.
    pub fn function(&self) -> Option<&str> {
        match &*self.0 {
            Repr::NoLauncher { function, .. }
            | Repr::Spawn { function, .. }
            | Repr::Privileges { function, .. }
            | Repr::Startup { function, .. }
            | Repr::Confinement { function, .. }
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
            Repr::Restored { portable, .. } => portable.function.as_deref(),
        }
    }

    /// The panic message, for [`ErrorKind::Panic`].
    pub fn panic_message(&self) -> Option<&str> {
        match &*self.0 {
            Repr::Panic { message, .. } => Some(message),
            Repr::Restored { portable, .. } => portable.panic_message.as_deref(),
            _ => None,
        }
    }

    /// Where the child panicked, for [`ErrorKind::Panic`].
    pub fn panic_location(&self) -> Option<&PanicLocation> {
        match &*self.0 {
            Repr::Panic { location, .. } => Some(location),
            Repr::Restored { portable, .. } => portable.panic_location.as_ref(),
            _ => None,
        }
    }

    /// The signal number that killed the child, for [`ErrorKind::Signal`].
    pub fn signal(&self) -> Option<i32> {
        match &*self.0 {
            Repr::Signal { signal, .. } => Some(*signal),
            Repr::Restored { portable, .. } => portable.signal,
            _ => None,
        }
    }

    /// The child's exit code, for [`ErrorKind::NoAnswer`].
    pub fn exit_code(&self) -> Option<i32> {
        match &*self.0 {
            Repr::NoAnswer { code, .. } => Some(*code),
            Repr::Restored { portable, .. } => portable.exit_code,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn examples() -> Vec<Error> {
        let function = || "krate::f".to_string();
        vec![
            Repr::Panic {
                function: function(),
                message: "boom".into(),
                location: PanicLocation {
                    file: "src/lib.rs".into(),
                    line: 7,
                    column: 9,
                },
            }
            .into(),
            Repr::Signal {
                function: function(),
                signal: 6,
                name: "SIGABRT",
            }
            .into(),
            Repr::NoAnswer {
                function: function(),
                code: 3,
            }
            .into(),
            Error::io("krate::f", io::Error::from_raw_os_error(libc::EPIPE)),
            Repr::Limit {
                function: function(),
                kind: Limit::Timeout(std::time::Duration::from_millis(1500)),
            }
            .into(),
            Error::setup("no launcher", None),
        ]
    }

    /// Every accessor, the message, and the source's message.
    fn observed(error: &Error) -> Portable {
        Portable {
            kind: error.kind(),
            message: error.to_string(),
            function: error.function().map(str::to_string),
            panic_message: error.panic_message().map(str::to_string),
            panic_location: error.panic_location().cloned(),
            signal: error.signal(),
            exit_code: error.exit_code(),
            source: std::error::Error::source(error).map(|source| source.to_string()),
        }
    }

    #[test]
    fn a_deserialised_error_gives_back_everything_but_the_source_itself() {
        for error in examples() {
            let json = serde_json::to_string(&error).unwrap();
            let back: Error = serde_json::from_str(&json).unwrap();
            assert_eq!(observed(&back), observed(&error), "{json}");
            // Once more: what a restored error serialises to is what it was made from.
            assert_eq!(serde_json::to_string(&back).unwrap(), json);
        }
        let io = Error::io("krate::f", io::Error::from_raw_os_error(libc::EPIPE));
        let back: Error = serde_json::from_str(&serde_json::to_string(&io).unwrap()).unwrap();
        let source = std::error::Error::source(&back).expect("a source");
        assert!(source.to_string().contains("Broken pipe"), "{source}");
        assert!(source.downcast_ref::<io::Error>().is_none());
    }

    #[test]
    fn the_serialised_form_names_its_fields() {
        let error = &examples()[0];
        let value: serde_json::Value = serde_json::to_value(error).unwrap();
        assert_eq!(value["kind"], "Panic");
        assert_eq!(value["panic_message"], "boom");
        assert_eq!(value["panic_location"]["line"], 7);
        assert_eq!(value["function"], "krate::f");
        assert_eq!(value["message"], error.to_string());
        assert_eq!(value["signal"], serde_json::Value::Null);
    }

    #[test]
    fn a_clone_is_the_same_error() {
        for error in examples() {
            assert_eq!(observed(&error.clone()), observed(&error));
        }
    }
}
