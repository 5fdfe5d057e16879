//! What a failed call gives its caller, end to end, one-shot and through a zygote: a
//! function that does not return `Result` panics at the line that called it (the stub is
//! `#[track_caller]`), never at the attribute; a `boxed::Error` crosses a sandbox
//! boundary intact, inside a user's error type or on its own, in either direction; and a
//! start-up step other than the privilege drop that fails is reported as that step.

use std::cell::RefCell;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Once;

use boxed::{ErrorKind, Policy, sandboxed};
use boxed_tests::e2e;
use serde::{Deserialize, Serialize};

#[sandboxed]
fn explodes() -> u32 {
    panic!("exploded inside the sandbox")
}

#[sandboxed]
fn quits() -> u32 {
    std::process::exit(3)
}

#[sandboxed]
fn answers() -> u32 {
    7
}

thread_local! {
    /// Where the last panic on this thread was raised, and its message.
    static LAST_PANIC: RefCell<Option<(String, u32, String)>> = const { RefCell::new(None) };
}

/// A panic hook that records, per thread, where each panic was raised (and prints
/// nothing): the tests of this binary run on threads of one process.
fn record_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        panic::set_hook(Box::new(|info| {
            let location = info.location().map_or((String::new(), 0), |location| {
                (location.file().to_string(), location.line())
            });
            let message = info
                .payload()
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| info.payload().downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            LAST_PANIC.set(Some((location.0, location.1, message)));
        }));
    });
}

/// Runs `call` (which must panic), returns where its panic was raised and its message.
fn panic_of(call: impl FnOnce() -> u32) -> (String, u32, String) {
    record_panics();
    LAST_PANIC.set(None);
    let outcome = panic::catch_unwind(AssertUnwindSafe(call));
    assert!(
        outcome.is_err(),
        "the call returned {outcome:?}, expected a panic"
    );
    LAST_PANIC
        .take()
        .expect("the call panicked without running the panic hook")
}

/// The calls fail, each panic is raised on the line of the call; a call that works
/// returns (the control: the same hook, the same functions' stub, no panic).
// The closures call each function on their own line, which is the line the panic must name.
#[allow(clippy::redundant_closure)]
fn failed_calls_panic_at_their_call_site(policy: &Policy) {
    e2e();
    let file = file!();
    let (at, line, message) = panic_of(|| policy.run(|| explodes()));
    let expected = line!() - 1;
    assert_eq!((at.as_str(), line), (file, expected), "{message}");
    assert!(message.contains("exploded inside the sandbox"), "{message}");

    let (at, line, message) = panic_of(|| policy.run(|| quits()));
    let expected = line!() - 1;
    assert_eq!((at.as_str(), line), (file, expected), "{message}");
    assert!(message.contains("exited with code 3"), "{message}");

    assert_eq!(policy.run(|| answers()), 7);
}

#[test]
fn a_failed_call_panics_at_its_call_site() {
    failed_calls_panic_at_their_call_site(&Policy::new());
}

#[test]
fn a_failed_call_through_a_zygote_panics_at_its_call_site() {
    failed_calls_panic_at_their_call_site(&Policy::new().zygote(true));
}

/// A user's error type that keeps the sandbox's error whole.
#[derive(Serialize, Deserialize, Debug)]
enum AppError {
    Sandbox(boxed::Error),
}

impl From<boxed::Error> for AppError {
    fn from(error: boxed::Error) -> Self {
        AppError::Sandbox(error)
    }
}

#[sandboxed]
fn inner() -> Result<u32, AppError> {
    Ok(1)
}

#[sandboxed]
fn panics_with_result() -> Result<u32, AppError> {
    panic!("a panic in a function that returns Result")
}

/// Everything an error says of itself.
fn described(error: &boxed::Error) -> String {
    format!(
        "{:?} | {error} | {:?} | {:?} | {:?} | {:?} | {:?} | {:?}",
        error.kind(),
        error.function(),
        error.panic_message(),
        error.panic_location(),
        error.signal(),
        error.exit_code(),
        std::error::Error::source(error).map(|source| source.to_string()),
    )
}

/// Makes a sandboxed call from inside a sandbox, where it cannot start a child of its
/// own and fails; returns that error, and what it said of itself there.
#[sandboxed]
fn nested_call() -> (String, Result<u32, AppError>) {
    let result = inner();
    let seen = match &result {
        Err(AppError::Sandbox(error)) => described(error),
        Ok(value) => format!("the nested call returned {value}"),
    };
    (seen, result)
}

/// Sends an error back where it came from.
#[sandboxed]
fn echo(error: boxed::Error) -> (String, boxed::Error) {
    (described(&error), error)
}

#[sandboxed]
fn aborts() -> Result<u32, AppError> {
    std::process::abort()
}

#[sandboxed]
fn exits() -> Result<u32, AppError> {
    std::process::exit(3)
}

/// The sandbox's own error, as `E::from(error)` made it in the caller.
fn sandbox_error(result: Result<u32, AppError>) -> boxed::Error {
    match result {
        Err(AppError::Sandbox(error)) => error,
        Ok(value) => panic!("the call returned {value}, expected a failure"),
    }
}

fn errors_cross_a_sandbox_boundary_intact(policy: &Policy) {
    e2e();
    // Made inside a sandbox, returned in the user's error type: the caller's copy says
    // what the original said there.
    let (seen, result) = policy.run(nested_call);
    let error = sandbox_error(result);
    assert_eq!(described(&error), seen);
    assert!(
        error.function().is_some_and(|f| f.ends_with("inner")),
        "{seen}"
    );

    // Made in the caller (E::from keeps the kind), sent into a sandbox and back.
    let panicked = sandbox_error(policy.run(panics_with_result));
    assert_eq!(panicked.kind(), ErrorKind::Panic, "{panicked}");
    assert_eq!(
        panicked.panic_message(),
        Some("a panic in a function that returns Result")
    );
    assert!(
        panicked
            .panic_location()
            .is_some_and(|l| l.file.ends_with("e2e_errors.rs"))
    );
    let aborted = sandbox_error(policy.run(aborts));
    assert_eq!(aborted.signal(), Some(libc::SIGABRT), "{aborted}");
    let exited = sandbox_error(policy.run(exits));
    assert_eq!(exited.exit_code(), Some(3), "{exited}");
    for error in [panicked, aborted, exited] {
        let (inside, back) = policy.run(|| echo(error.clone()));
        assert_eq!(inside, described(&error), "as the sandbox saw it");
        assert_eq!(described(&back), described(&error), "back in the caller");
    }
}

#[test]
fn errors_cross_a_sandbox_intact() {
    errors_cross_a_sandbox_boundary_intact(&Policy::new());
}

#[test]
fn errors_cross_a_zygote_sandbox_intact() {
    errors_cross_a_sandbox_boundary_intact(&Policy::new().zygote(true));
}

#[sandboxed]
fn ran() -> bool {
    true
}

/// A grant that cannot be made fails the Landlock step, before the function runs: a
/// confinement failure that names the step, the path and the errno, not a privilege
/// failure. The same policy with a grant that exists runs (the control).
fn a_failed_grant_is_a_confinement_failure(policy: Policy) {
    let work = e2e().work;
    let missing = work.join("no-such-tree");
    let error = policy
        .clone()
        .read(&missing)
        .run(|| boxed::try_call(ran))
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Confinement, "{error}");
    let message = error.to_string();
    for says in ["(Landlock)", "no-such-tree", "No such file or directory"] {
        assert!(message.contains(says), "{says:?} in {message}");
    }
    assert!(!message.contains("privileges"), "{message}");
    assert!(policy.read(&work).run(ran));
}

#[test]
fn a_grant_that_cannot_be_made_is_a_confinement_failure() {
    a_failed_grant_is_a_confinement_failure(Policy::new());
}

#[test]
fn a_grant_that_cannot_be_made_through_a_zygote_is_a_confinement_failure() {
    a_failed_grant_is_a_confinement_failure(Policy::new().zygote(true));
}
