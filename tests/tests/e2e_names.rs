//! Names, end to end: with the network off a sandbox binds and listens on nothing. A
//! unix socket of a `socketpair` could otherwise be bound to an abstract name (which no
//! file permission guards) and hold it for the call, so that the caller's own `bind` of
//! that name failed with `EADDRINUSE`. The syscall filter refuses `bind`, `listen`,
//! `connect` and `accept` without the network; the caller then binds the name. With
//! `network = true` the same `bind` goes through (see the README's security model).

use boxed::{Policy, sandboxed};
use boxed_tests::{Outcome, e2e, outcome, syscall6};
use libc::c_long;

/// The abstract address `\0name`, and its length.
fn abstract_address(name: &str) -> (libc::sockaddr_un, libc::socklen_t) {
    let mut address = libc::sockaddr_un {
        sun_family: libc::AF_UNIX as libc::sa_family_t,
        sun_path: [0; 108],
    };
    for (slot, byte) in address.sun_path[1..].iter_mut().zip(name.bytes()) {
        *slot = byte as libc::c_char;
    }
    let length = size_of::<libc::sa_family_t>() + 1 + name.len();
    (address, length as libc::socklen_t)
}

/// A socketpair, then `bind` of one end to `\0name`, `listen` on it, `connect` of the
/// other to it, and `accept` on the first.
fn squat(name: &str) -> Vec<(String, Outcome)> {
    let mut pair = [-1i32; 2];
    let (address, length) = abstract_address(name);
    let address = &raw const address as c_long;
    // SAFETY: socketpair writes two ints to `pair`; the others read `address`, of
    // `length` bytes, or take descriptors and integers.
    unsafe {
        let made = outcome(syscall6(
            libc::SYS_socketpair,
            [
                libc::AF_UNIX.into(),
                libc::SOCK_STREAM.into(),
                0,
                &raw mut pair as c_long,
                0,
                0,
            ],
        ));
        let [first, second] = pair.map(c_long::from);
        vec![
            ("socketpair".into(), made),
            (
                "bind(\\0name)".into(),
                outcome(syscall6(
                    libc::SYS_bind,
                    [first, address, length.into(), 0, 0, 0],
                )),
            ),
            (
                "listen".into(),
                outcome(syscall6(libc::SYS_listen, [first, 1, 0, 0, 0, 0])),
            ),
            (
                "connect(\\0name)".into(),
                outcome(syscall6(
                    libc::SYS_connect,
                    [second, address, length.into(), 0, 0, 0],
                )),
            ),
            (
                "accept4".into(),
                outcome(syscall6(
                    libc::SYS_accept4,
                    [first, 0, 0, c_long::from(libc::SOCK_NONBLOCK), 0, 0],
                )),
            ),
        ]
    }
}

#[sandboxed]
fn squat_in_sandbox(name: String) -> Vec<(String, Outcome)> {
    squat(&name)
}

#[sandboxed(zygote)]
fn squat_in_zygote(name: String) -> Vec<(String, Outcome)> {
    squat(&name)
}

/// Binds `\0name` in the caller; whether it could.
fn caller_binds(name: &str) -> Outcome {
    let (address, length) = abstract_address(name);
    // SAFETY: socket takes integers; bind reads `address`, of `length` bytes; the
    // descriptor is closed again.
    unsafe {
        let fd = outcome(syscall6(
            libc::SYS_socket,
            [libc::AF_UNIX.into(), libc::SOCK_STREAM.into(), 0, 0, 0, 0],
        ))?;
        let bound = outcome(syscall6(
            libc::SYS_bind,
            [fd, &raw const address as c_long, length.into(), 0, 0, 0],
        ));
        libc::close(fd as i32);
        bound
    }
}

#[test]
fn without_the_network_a_sandbox_binds_and_listens_on_nothing() {
    e2e();
    let name = format!("boxed-e2e-names-{}", std::process::id());
    for (how, outcomes) in [
        ("one-shot", squat_in_sandbox(name.clone())),
        ("zygote", squat_in_zygote(name.clone())),
    ] {
        let expected = [
            ("socketpair", true),
            ("bind(\\0name)", false),
            ("listen", false),
            ("connect(\\0name)", false),
            ("accept4", false),
        ];
        assert_eq!(outcomes.len(), expected.len(), "{how}");
        for ((name, outcome), (expected_name, works)) in outcomes.iter().zip(expected) {
            assert_eq!(name, expected_name);
            if works {
                assert!(outcome.is_ok(), "{how}: {name}: {outcome:?}");
            } else {
                assert_eq!(outcome, &Err("EPERM".to_string()), "{how}: {name}");
            }
        }
    }
    // The name is free for the caller.
    assert_eq!(caller_binds(&name), Ok(0));
}

/// The control: with the network open the same calls reach the kernel (the bind of a
/// socketpair's end to an abstract name of its own works), as they do in the caller.
#[test]
fn with_the_network_open_the_same_calls_work() {
    e2e();
    let name = format!("boxed-e2e-names-open-{}", std::process::id());
    let outcomes = Policy::new()
        .network(true)
        .run(|| squat_in_sandbox(name.clone()));
    let caller = squat(&format!("{name}-caller"));
    for (who, outcomes) in [("the sandbox's", outcomes), ("the caller's", caller)] {
        assert_eq!(outcomes.len(), 5, "{who}");
        // The pair and the bind work; the kernel answers the rest itself (a connected
        // socket cannot listen, connect again or accept), never with EPERM.
        for (call, outcome) in &outcomes[..2] {
            assert!(outcome.is_ok(), "{who} {call}: {outcome:?}");
        }
        for (call, outcome) in &outcomes[2..] {
            assert_ne!(outcome, &Err("EPERM".to_string()), "{who} {call}");
        }
    }
}
