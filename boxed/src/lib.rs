//! Run individual Rust functions in a sandbox.
//!
//! ```
//! #[boxed::sandboxed]
//! fn word_count(text: &str) -> usize {
//!     text.split_whitespace().count()
//! }
//!
//! // Looks like a plain call; runs in a fresh child process as `nobody`.
//! assert_eq!(word_count("risky input here"), 3);
//! ```
//!
//! Every call of a `#[sandboxed]` function starts a fresh child process through boxed's
//! own launcher, which carries the file capabilities `cap_setuid,cap_setgid` and is
//! installed once per machine (`sudo "$(command -v boxed)" setup --user USER`). The
//! launcher drops to the user `nobody` with no supplementary groups, no capabilities and
//! `no_new_privs`, confines the process, and only then runs the caller's own running
//! executable in it; that image verifies all of this before it reads the request (a
//! caller that is root needs nothing installed). Arguments and the result cross as JSON on dedicated pipes; only the
//! function's mangled name is sent.
//!
//! # Confinement
//!
//! Every sandbox is also confined by default: no file access (Landlock), no network and
//! a narrow syscall surface (seccomp), at most 64 open files and no child process, no
//! core dumps. A [`Policy`], written in the attribute (`#[sandboxed(timeout = "2s",
//! memory = "256MiB", read = ["/usr/share/zoneinfo"])]`) or built at a call site, opens
//! what a function needs and sets limits and a deadline; [`kernel_support`] (and
//! `boxed doctor`) tells what this kernel enforces. With [`Policy::zygote`] calls go
//! through a helper that keeps a confined process forked for the next call.
//!
//! # Failures
//!
//! Every failure of the sandbox is an [`Error`]. What the caller sees depends on the
//! function's result type:
//!
//! - `Result<T, E>` where `E: From<boxed::Error>`: the failure comes back as
//!   `Err(E::from(error))`;
//! - any other type: the call panics with the error's message (a panic in the child is
//!   re-raised with its message and location), as an unwrapped thread join would;
//! - inside [`try_call`], any sandboxed call yields `Result<R, boxed::Error>` (not an
//!   awaited call of an `async fn`: give it a `Result` type).
//!
//! # Where it runs
//!
//! Linux only. The child's start-up runs from an ELF start-up hook, so sandboxed functions
//! work in programs, examples and test binaries alike, with no `init()` call. See the
//! [`launcher`] module for the launcher and its setup. A caller that is not root and that
//! no installed launcher serves gets [`ErrorKind::NoLauncher`], whose message names the
//! setup command to run.
#![deny(unsafe_code)]
#![warn(missing_docs)]

mod caller;
mod child;
mod error;
mod executor;
mod glue;
mod grants;
pub mod launcher;
mod policy;
mod registry;
mod startup;
mod support;
mod sys;
mod wire;

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;

pub use caller::try_call;
pub use error::{Error, ErrorKind, PanicLocation};
pub use policy::{DEFAULT_MAX_RESPONSE, Enforcement, Policy};
pub use support::{KernelSupport, kernel_support};

/// Runs every call of the function in a fresh child process, as `nobody`.
///
/// ```
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize, Debug)]
/// enum ParseError {
///     Syntax(String),
///     Sandbox(boxed::Error),
/// }
///
/// impl From<boxed::Error> for ParseError {
///     fn from(error: boxed::Error) -> Self {
///         ParseError::Sandbox(error)
///     }
/// }
///
/// /// Sandbox failures arrive as `Err(ParseError::Sandbox(..))`.
/// #[boxed::sandboxed]
/// fn parse(text: String) -> Result<Vec<u32>, ParseError> {
///     text.split(',')
///         .map(|n| n.trim().parse().map_err(|_| ParseError::Syntax(n.to_string())))
///         .collect()
/// }
/// ```
///
/// Arguments may be any `Serialize + DeserializeOwned` type, or a shared reference `&T`
/// to one (also `&str`, `&[T]`, `&Path`, `&OsStr`): the child deserialises the owned form
/// and lends it to the body. The result may be any `Serialize + DeserializeOwned` type,
/// `()` included. The function keeps its name, visibility, documentation and attributes.
///
/// # Options
///
/// The attribute takes the policy of the function's calls; every option is optional and
/// checked at compile time (see [`Policy`] for what each one does, and the README's
/// policy table for the defaults):
///
/// ```
/// #[boxed::sandboxed(
///     timeout = "2s",          // wall clock: ns, us, ms, s, m, h
///     cpu_time = "1s",
///     memory = "256MiB",       // B, KiB, MiB, GiB, TiB, kB, MB, GB
///     max_open_files = 64,
///     max_file_size = "1MiB",
///     max_response = "16MiB",  // the largest answer the caller reads; default 1GiB
///     max_processes = 1,
///     network = false,
///     read = ["/usr/share/zoneinfo"],   // absolute paths
///     write = ["/var/tmp/myapp"],
///     landlock = "require",    // or "best_effort"
///     user = "nobody",         // another user only if root allowed it (`boxed setup --sandbox-user`)
///     unique_uid = false,
///     zygote = false,          // `zygote` alone means true
/// )]
/// fn render(doc: String) -> Vec<u8> {
///     doc.into_bytes()
/// }
/// ```
///
/// Refused at compile time, with an error on the offending tokens: generic functions,
/// `self` receivers, `Self` in the signature, `impl Trait` anywhere in an argument or
/// result type, argument patterns other than a name, `&mut` arguments, references inside
/// an argument type (`Vec<&str>`: pass `Vec<String>`) or anywhere in the result type,
/// `unsafe`, `extern` and `const` functions, and variadics. An associated function works
/// if its body does not name `Self` (the body moves into a nested item; write the type's
/// name instead).
///
/// An `async fn` becomes a function that returns a `Send` future of its result, which
/// borrows none of the arguments and waits for the sandbox without blocking the
/// executor's thread; dropping the future ends the sandbox. The child runs the body to
/// completion on a minimal executor of its own (no runtime):
///
/// ```
/// #[boxed::sandboxed(timeout = "5s")]
/// async fn checksum(data: &[u8]) -> u32 {
///     data.iter().map(|&b| u32::from(b)).sum()
/// }
///
/// # // Any executor will do; this one parks the thread until the future wakes it.
/// # fn block_on<F: std::future::Future>(future: F) -> F::Output {
/// #     struct Unpark(std::thread::Thread);
/// #     impl std::task::Wake for Unpark {
/// #         fn wake(self: std::sync::Arc<Self>) { self.0.unpark() }
/// #     }
/// #     let waker = std::sync::Arc::new(Unpark(std::thread::current())).into();
/// #     let mut context = std::task::Context::from_waker(&waker);
/// #     let mut future = std::pin::pin!(future);
/// #     loop {
/// #         match future.as_mut().poll(&mut context) {
/// #             std::task::Poll::Ready(output) => return output,
/// #             std::task::Poll::Pending => std::thread::park(),
/// #         }
/// #     }
/// # }
/// # block_on(async {
/// let sum = checksum(b"bytes").await;
/// assert_eq!(sum, 551);
/// # });
/// ```
#[doc(inline)]
pub use boxed_macros::sandboxed;
