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

/// What a sandbox gets trying to reach the named unix datagram socket at `path`: a
/// datagram pair (whose end could `sendto` any address), then `sendto` of that address
/// on an end of a stream pair, which is connected to its other end for good.
fn datagram_to(path: &str) -> Vec<(String, Result<(), String>)> {
    use std::os::fd::AsRawFd;
    use std::os::unix::net::{UnixDatagram, UnixStream};
    let errno = |error: std::io::Error| {
        format!(
            "{:?}",
            nix::errno::Errno::from_raw(error.raw_os_error().unwrap_or(0))
        )
    };
    let datagram = UnixDatagram::pair()
        .map_err(errno)
        .and_then(|(end, _)| end.send_to(b"forged", path).map(drop).map_err(errno));
    let stream = UnixStream::pair().map_err(errno).and_then(|(end, _other)| {
        let mut address = libc::sockaddr_un {
            sun_family: libc::AF_UNIX as libc::sa_family_t,
            sun_path: [0; 108],
        };
        for (slot, byte) in address.sun_path.iter_mut().zip(path.bytes()) {
            *slot = byte as libc::c_char;
        }
        // SAFETY: sendto reads 6 bytes of the message and `address`, of its size.
        let sent = unsafe {
            libc::sendto(
                end.as_raw_fd(),
                b"forged".as_ptr().cast(),
                6,
                0,
                (&raw const address).cast(),
                size_of::<libc::sockaddr_un>() as libc::socklen_t,
            )
        };
        if sent == -1 {
            Err(errno(std::io::Error::last_os_error()))
        } else {
            Ok(())
        }
    });
    vec![
        ("datagram pair, sendto(path)".into(), datagram),
        ("stream pair, sendto(path)".into(), stream),
    ]
}

#[sandboxed]
fn datagram_in_sandbox(path: String) -> Vec<(String, Result<(), String>)> {
    datagram_to(&path)
}

#[sandboxed(zygote, network = true)]
fn datagram_in_zygote_with_network(path: String) -> Vec<(String, Result<(), String>)> {
    datagram_to(&path)
}

/// A named unix datagram socket is guarded by its file mode alone (Landlock does not
/// govern sending to it), so a datagram socket of a pair could write to any that the
/// sandbox identity may write to: `/dev/log`, a caller's own. Pairs are stream or
/// seqpacket only, with or without the network, one-shot and through a zygote; the
/// caller's datagram pair reaches the same socket (the control).
#[test]
fn no_datagram_reaches_a_named_unix_socket_from_a_sandbox() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::net::UnixDatagram;
    e2e();
    let dir = std::env::temp_dir().join(format!("boxed-e2e-dgram-{}", std::process::id()));
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = dir.join("socket");
    let listener = UnixDatagram::bind(&path).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).unwrap();
    listener.set_nonblocking(true).unwrap();
    let path_text = path.to_str().unwrap().to_string();

    for (how, outcomes) in [
        ("one-shot", datagram_in_sandbox(path_text.clone())),
        (
            "zygote, network on",
            datagram_in_zygote_with_network(path_text.clone()),
        ),
    ] {
        assert_eq!(
            outcomes[0].1,
            Err("EPERM".to_string()),
            "{how}: {outcomes:?}"
        );
        // The pair itself is made; the kernel refuses an address on a connected stream.
        assert!(
            matches!(&outcomes[1].1, Err(e) if e == "EISCONN" || e == "EOPNOTSUPP"),
            "{how}: {outcomes:?}"
        );
    }
    let mut buffer = [0u8; 16];
    assert!(
        listener.recv(&mut buffer).is_err(),
        "a sandbox's datagram arrived"
    );

    // Control: the caller's datagram pair reaches the socket.
    let outcomes = datagram_to(&path_text);
    assert_eq!(outcomes[0].1, Ok(()), "{outcomes:?}");
    let received = listener.recv(&mut buffer).expect("the caller's datagram");
    assert_eq!(&buffer[..received], b"forged");
    std::fs::remove_dir_all(&dir).unwrap();
}
