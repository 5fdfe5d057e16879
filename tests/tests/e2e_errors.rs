//! What a failed call gives its caller, end to end, one-shot and through a zygote: a
//! function that does not return `Result` panics at the line that called it (the stub is
//! `#[track_caller]`), never at the attribute.

use std::cell::RefCell;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Once;

use boxed::{Policy, sandboxed};
use boxed_tests::e2e;

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
