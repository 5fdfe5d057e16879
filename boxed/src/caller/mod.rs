//! The caller's side of a sandboxed call: start the child, send the request, read the
//! one response while relaying the sandbox's output, end the child, and turn what
//! happened into a value or an [`Error`].

use std::cell::Cell;
use std::panic::{self, AssertUnwindSafe};

use serde::Serialize;
use serde::de::DeserializeOwned;

use self::exchange::exchange;
use self::outcome::decide;
pub use self::pending::Pending;
use crate::error::{Error, Repr, display_name};
use crate::policy::{self, Policy};
use crate::wire;

mod exchange;
mod outcome;
mod pending;
mod relay;
mod spawn;
mod start;
mod zygote;

/// Runs the sandboxed function `name` on `args` in a fresh child and returns its result.
///
/// Called by the code `#[sandboxed]` generates. Inside [`try_call`], a failure unwinds to
/// `try_call` instead of being returned.
pub fn call<R: DeserializeOwned, A: Serialize>(
    name: &'static str,
    args: &A,
    attribute_policy: impl FnOnce() -> Policy,
) -> Result<R, Error> {
    let policy = policy::effective(attribute_policy);
    let result = call_child(name, args, &policy);
    match result {
        Err(error) if CAPTURING.get() > 0 => panic::resume_unwind(Box::new(Captured(error))),
        result => result,
    }
}

fn call_child<R: DeserializeOwned, A: Serialize>(
    name: &str,
    args: &A,
    policy: &Policy,
) -> Result<R, Error> {
    let function = display_name(name);
    let request = encode(&function, name, args, policy)?;
    let exchange = exchange(&function, policy, request, None)?;
    decide(function, policy, exchange)
}

/// Starts a call of the sandboxed `async fn` `name` on `args`: encodes the request now
/// (under the policy in force now), and returns the future that makes the call when it
/// is first polled.
///
/// Called by the code `#[sandboxed]` generates for an `async fn`.
pub fn call_async<R, A: Serialize>(
    name: &'static str,
    args: &A,
    attribute_policy: impl FnOnce() -> Policy,
) -> Pending<R> {
    let policy = policy::effective(attribute_policy);
    let function = display_name(name);
    let request = encode(&function, name, args, &policy);
    Pending::new(function, policy, request)
}

/// The request of a call: the policy and the call, or the call alone for a zygote.
fn encode<A: Serialize>(
    function: &str,
    name: &str,
    args: &A,
    policy: &Policy,
) -> Result<wire::Request, Error> {
    let encode = |source| Repr::EncodeRequest {
        function: function.to_string(),
        source,
    };
    Ok(if policy.zygote {
        wire::call_request(name, args).map_err(encode)?
    } else {
        wire::request(policy, name, args).map_err(encode)?
    })
}

thread_local! {
    /// How many [`try_call`]s are running on this thread.
    static CAPTURING: Cell<usize> = const { Cell::new(0) };
}

/// A sandbox failure on its way to the innermost [`try_call`].
struct Captured(Error);

/// Calls `f`, and returns the first failure of a sandboxed call made in it as `Err`,
/// whatever the sandboxed function's result type is.
///
/// ```
/// #[boxed::sandboxed]
/// fn add(a: u64, b: u64) -> u64 {
///     a + b
/// }
///
/// match boxed::try_call(|| add(2, 3)) {
///     Ok(sum) => assert_eq!(sum, 5),
///     Err(error) => eprintln!("the sandbox failed: {error}"),
/// }
/// ```
///
/// A failure stops `f` where it happened: the failed call does not return, it unwinds
/// (without running the panic hook) to this `try_call`, so code after it in `f` is
/// skipped. Calls made from other threads that `f` starts are not covered, and with
/// `panic = "abort"` there is no unwinding, so a failure aborts the process. A panic
/// inside the sandboxed function is a failure like any other and comes back as
/// [`ErrorKind::Panic`](crate::ErrorKind::Panic); a panic of `f` itself propagates.
pub fn try_call<R>(f: impl FnOnce() -> R) -> Result<R, Error> {
    struct Depth;
    impl Drop for Depth {
        fn drop(&mut self) {
            CAPTURING.set(CAPTURING.get() - 1);
        }
    }
    CAPTURING.set(CAPTURING.get() + 1);
    let depth = Depth;
    let outcome = panic::catch_unwind(AssertUnwindSafe(f));
    drop(depth);
    match outcome {
        Ok(value) => Ok(value),
        Err(payload) => match payload.downcast::<Captured>() {
            Ok(captured) => Err(captured.0),
            Err(payload) => panic::resume_unwind(payload),
        },
    }
}
