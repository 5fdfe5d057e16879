//! The core promises, end to end: values cross correctly, the child runs as `nobody`
//! with nothing left to regain, and every way a child can fail reaches the caller as
//! its own, distinct error.

use boxed::{ErrorKind, sandboxed};
use boxed_tests::{e2e, status_field};
use serde::{Deserialize, Serialize};

#[sandboxed]
fn add(a: u64, b: u64) -> u64 {
    a + b
}

#[sandboxed]
fn word_count(text: &str, stop: &[String]) -> usize {
    text.split_whitespace()
        .filter(|word| !stop.iter().any(|s| s == word))
        .count()
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Point {
    x: i32,
    y: i32,
}

#[sandboxed]
fn mirror(point: &Point, label: &str, path: &std::path::Path) -> (Point, String, String) {
    (
        Point {
            x: -point.x,
            y: -point.y,
        },
        label.to_uppercase(),
        path.display().to_string(),
    )
}

#[sandboxed]
fn nothing() {}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
enum ParseError {
    Syntax(String),
    Sandbox(String),
}

impl From<boxed::Error> for ParseError {
    fn from(error: boxed::Error) -> Self {
        ParseError::Sandbox(error.to_string())
    }
}

#[sandboxed]
fn parse(text: String) -> Result<i64, ParseError> {
    if text == "panic" {
        panic!("parser exploded on {text:?}");
    }
    text.trim()
        .parse()
        .map_err(|_| ParseError::Syntax(text.clone()))
}

#[test]
fn values_cross_the_boundary() {
    e2e();
    assert_eq!(add(2, 3), 5);
    let stop = vec!["the".to_string()];
    assert_eq!(word_count("the cat and the hat", &stop), 3);
    assert_eq!(
        mirror(&Point { x: 1, y: -2 }, "abc", std::path::Path::new("/a/b")),
        (Point { x: -1, y: 2 }, "ABC".to_string(), "/a/b".to_string())
    );
    nothing();
}

#[test]
fn result_functions_get_sandbox_failures_as_err() {
    e2e();
    assert_eq!(parse("42".into()), Ok(42));
    assert_eq!(parse("x".into()), Err(ParseError::Syntax("x".into())));
    match parse("panic".into()) {
        Err(ParseError::Sandbox(message)) => {
            assert!(
                message.contains("parser exploded on \"panic\""),
                "{message}"
            );
            assert!(message.contains("tests/e2e_core.rs:"), "{message}");
        }
        other => panic!("expected a sandbox failure, got {other:?}"),
    }
}

#[sandboxed]
fn credentials() -> String {
    std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status")
}

#[test]
fn the_child_is_nobody_with_nothing_left() {
    e2e();
    let status = credentials();
    assert_eq!(status_field(&status, "Uid"), "65534\t65534\t65534\t65534");
    assert_eq!(status_field(&status, "Gid"), "65534\t65534\t65534\t65534");
    assert_eq!(status_field(&status, "Groups"), "");
    for set in ["CapInh", "CapPrm", "CapEff", "CapAmb"] {
        assert_eq!(status_field(&status, set), "0000000000000000", "{set}");
    }
    assert_eq!(status_field(&status, "NoNewPrivs"), "1");
    // The caller itself is not nobody, so the values above were changed by the drop.
    let mine = std::fs::read_to_string("/proc/self/status").unwrap();
    assert_ne!(status_field(&mine, "Uid"), status_field(&status, "Uid"));
}

/// What each attempt to regain an identity returned, as errno names.
#[sandboxed]
fn regain(caller_uid: u32, caller_gid: u32) -> Vec<(String, String)> {
    use nix::unistd::{Gid, Uid, setgid, setresgid, setresuid, setuid};
    let root = Uid::from_raw(0);
    let caller = Uid::from_raw(caller_uid);
    let outcome = |result: nix::Result<()>| match result {
        Ok(()) => "succeeded".to_string(),
        Err(errno) => format!("{errno:?}"),
    };
    vec![
        ("setresuid(0)".into(), outcome(setresuid(root, root, root))),
        ("setuid(0)".into(), outcome(setuid(root))),
        ("setreuid(0)".into(), {
            // SAFETY: setreuid takes two integers; nix has no wrapper for it.
            let result = unsafe { libc::setreuid(0, 0) };
            outcome(nix::errno::Errno::result(result).map(drop))
        }),
        ("setfsuid(0)".into(), {
            // setfsuid always returns the previous fsuid; success shows as a changed one.
            nix::unistd::setfsuid(root);
            let after = nix::unistd::setfsuid(root);
            if after == root {
                "succeeded".into()
            } else {
                "EPERM".into()
            }
        }),
        (
            "setresuid(caller)".into(),
            outcome(setresuid(caller, caller, caller)),
        ),
        ("setuid(caller)".into(), outcome(setuid(caller))),
        ("setgid(0)".into(), outcome(setgid(Gid::from_raw(0)))),
        (
            "setresgid(caller)".into(),
            outcome(setresgid(
                Gid::from_raw(caller_gid),
                Gid::from_raw(caller_gid),
                Gid::from_raw(caller_gid),
            )),
        ),
        (
            "setgroups([caller])".into(),
            outcome(nix::unistd::setgroups(&[Gid::from_raw(caller_gid)])),
        ),
    ]
}

#[test]
fn no_way_back_to_root_or_the_caller() {
    e2e();
    let uid = nix::unistd::getuid().as_raw();
    let gid = nix::unistd::getgid().as_raw();
    for (attempt, outcome) in regain(uid, gid) {
        assert_eq!(outcome, "EPERM", "{attempt}");
    }
}

#[sandboxed]
fn explode(how: String) -> u32 {
    match how.as_str() {
        "panic" => panic!("boom {}", 7),
        "exit" => std::process::exit(3),
        "abort" => std::process::abort(),
        "kill" => {
            nix::sys::signal::raise(nix::sys::signal::Signal::SIGKILL).unwrap();
            unreachable!()
        }
        "segv" => {
            nix::sys::signal::raise(nix::sys::signal::Signal::SIGSEGV).unwrap();
            unreachable!()
        }
        _ => 1,
    }
}

fn failure(how: &str) -> boxed::Error {
    match boxed::try_call(|| explode(how.to_string())) {
        Ok(value) => panic!("explode({how}) returned {value}"),
        Err(error) => error,
    }
}

#[test]
fn a_panic_arrives_with_message_and_location() {
    e2e();
    let error = failure("panic");
    assert_eq!(error.kind(), ErrorKind::Panic);
    assert_eq!(error.panic_message(), Some("boom 7"));
    let location = error.panic_location().expect("a location");
    assert_eq!(location.file, "tests/tests/e2e_core.rs");
    assert!(location.line > 0);
    assert!(error.to_string().contains("boom 7"), "{error}");
    assert_eq!(error.function(), Some("e2e_core::explode"));
}

#[test]
fn a_panic_is_re_raised_in_the_caller() {
    e2e();
    let payload = std::panic::catch_unwind(|| explode("panic".into())).unwrap_err();
    let message = payload
        .downcast_ref::<String>()
        .expect("a formatted panic message");
    assert!(message.contains("boom 7"), "{message}");
    assert!(message.contains("tests/tests/e2e_core.rs:"), "{message}");
}

#[test]
fn death_by_signal_and_exit_codes_are_reported_as_such() {
    e2e();
    let killed = failure("kill");
    assert_eq!(killed.kind(), ErrorKind::Signal);
    assert_eq!(killed.signal(), Some(libc::SIGKILL));
    assert!(killed.to_string().contains("SIGKILL"), "{killed}");

    let segv = failure("segv");
    assert_eq!(segv.signal(), Some(libc::SIGSEGV));

    let aborted = failure("abort");
    assert_eq!(aborted.signal(), Some(libc::SIGABRT));

    let exited = failure("exit");
    assert_eq!(exited.kind(), ErrorKind::NoAnswer);
    assert_eq!(exited.exit_code(), Some(3));
}

#[sandboxed]
fn forge(value: u32) -> u32 {
    use std::io::Write;
    // A forged frame and forged JSON on both standard streams.
    let fake = b"R\x02\x00\x00\x00\x00\x00\x00\x0099";
    std::io::stdout().write_all(fake).unwrap();
    println!("{{\"result\": 99}}");
    std::io::stderr().write_all(fake).unwrap();
    eprintln!("99");
    value
}

#[test]
fn writing_to_stdout_and_stderr_cannot_forge_the_result() {
    e2e();
    assert_eq!(forge(7), 7);
}

/// What a compromised function can do to the response pipe (descriptor 4 in the child):
/// write garbage on it, or close it and keep running.
#[sandboxed]
fn sabotage(how: String) -> u32 {
    use std::os::fd::FromRawFd;
    // SAFETY: descriptor 4 is the sandbox's response pipe; taking it over is the attack.
    let mut pipe = unsafe { std::fs::File::from_raw_fd(4) };
    match how.as_str() {
        "garbage" => {
            use std::io::Write;
            pipe.write_all(b"Zthis is not a frame").unwrap();
            7
        }
        "close" => {
            drop(pipe);
            std::thread::sleep(std::time::Duration::from_secs(3600));
            7
        }
        _ => 7,
    }
}

#[test]
fn garbage_on_the_response_pipe_is_a_protocol_error() {
    e2e();
    let error = boxed::try_call(|| sabotage("garbage".into())).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Protocol, "{error}");
}

#[test]
fn a_child_that_closes_its_response_pipe_is_ended_not_waited_for() {
    e2e();
    // The sandbox would sleep for an hour; the caller sees the pipe close, the supervisor
    // kills the sandbox, and the call fails at once with the signal that ended it.
    let error = boxed::try_call(|| sabotage("close".into())).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Signal, "{error}");
    assert_eq!(error.signal(), Some(libc::SIGKILL));
}
