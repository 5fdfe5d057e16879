//! The network and local sockets, end to end. The caller listens on the loopback
//! addresses (TCP and UDP, IPv4 and IPv6) and on an abstract unix socket, and a sandbox
//! tries to reach them. By default no socket opens at all (`EPERM`) and nothing reaches a
//! listener; with `network = true` TCP and UDP to the loopback work and arrive, while raw,
//! packet, netlink, vsock and unix sockets stay closed. Every control runs the same
//! attempt where it must work. Only loopback addresses are ever used.

use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::time::Duration;

use boxed::{Policy, sandboxed};
use boxed_tests::{e2e, errno_name, eventually};
use serde::{Deserialize, Serialize};

/// How long a connection or datagram that was sent may take to show up at the listener.
const ARRIVES_WITHIN: Duration = Duration::from_secs(10);

/// Where the caller listens, as the sandbox is told.
#[derive(Serialize, Deserialize, Debug, Clone)]
struct Targets {
    tcp4: u16,
    tcp6: u16,
    udp4: u16,
    udp6: u16,
    /// The name of the abstract unix socket, without the leading NUL.
    unix: String,
    /// Sent over every connection and datagram, so a listener knows what reached it.
    nonce: String,
}

/// The caller's listeners: TCP and UDP on 127.0.0.1 and ::1, and an abstract unix socket.
struct Listeners {
    tcp4: TcpListener,
    tcp6: TcpListener,
    udp4: UdpSocket,
    udp6: UdpSocket,
    unix: UnixListener,
    targets: Targets,
}

impl Listeners {
    fn new(test: &str) -> Listeners {
        let v4 = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
        let v6 = SocketAddr::from((Ipv6Addr::LOCALHOST, 0));
        let tcp4 = TcpListener::bind(v4).expect("listening on 127.0.0.1");
        let tcp6 = TcpListener::bind(v6).expect("listening on [::1]");
        let udp4 = UdpSocket::bind(v4).expect("a UDP socket on 127.0.0.1");
        let udp6 = UdpSocket::bind(v6).expect("a UDP socket on [::1]");
        for listener in [&tcp4, &tcp6] {
            listener.set_nonblocking(true).unwrap();
        }
        for socket in [&udp4, &udp6] {
            socket.set_nonblocking(true).unwrap();
        }
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let name = format!("boxed-e2e-network-{}-{test}-{stamp}", std::process::id());
        let address = std::os::unix::net::SocketAddr::from_abstract_name(&name).unwrap();
        let unix = UnixListener::bind_addr(&address).expect("an abstract unix listener");
        unix.set_nonblocking(true).unwrap();
        let targets = Targets {
            tcp4: tcp4.local_addr().unwrap().port(),
            tcp6: tcp6.local_addr().unwrap().port(),
            udp4: udp4.local_addr().unwrap().port(),
            udp6: udp6.local_addr().unwrap().port(),
            unix: name,
            nonce: format!("nonce-{stamp}"),
        };
        Listeners {
            tcp4,
            tcp6,
            udp4,
            udp6,
            unix,
            targets,
        }
    }

    /// The listeners by the name the attempts use.
    fn tcp(&self, name: &str) -> &TcpListener {
        match name {
            "tcp 127.0.0.1" => &self.tcp4,
            "tcp ::1" => &self.tcp6,
            _ => unreachable!("{name}"),
        }
    }

    fn udp(&self, name: &str) -> &UdpSocket {
        match name {
            "udp 127.0.0.1" => &self.udp4,
            "udp ::1" => &self.udp6,
            _ => unreachable!("{name}"),
        }
    }

    /// Asserts that no connection and no datagram has arrived at any listener. Connecting
    /// and sending are complete when the call returns (a loopback connection is queued
    /// on the listener by `connect` itself), so whatever was sent would be there.
    fn assert_nothing_arrived(&self) {
        for (name, listener) in [("127.0.0.1", &self.tcp4), ("::1", &self.tcp6)] {
            let accepted = listener.accept().map(|(_, peer)| peer);
            assert!(
                matches!(&accepted, Err(e) if e.kind() == ErrorKind::WouldBlock),
                "the TCP listener on {name} accepted {accepted:?}"
            );
        }
        for (name, socket) in [("127.0.0.1", &self.udp4), ("::1", &self.udp6)] {
            let received = socket.recv_from(&mut [0; 64]).map(|(_, from)| from);
            assert!(
                matches!(&received, Err(e) if e.kind() == ErrorKind::WouldBlock),
                "the UDP socket on {name} received a datagram from {received:?}"
            );
        }
        let accepted = self.unix.accept().map(drop);
        assert!(
            matches!(&accepted, Err(e) if e.kind() == ErrorKind::WouldBlock),
            "the abstract unix listener accepted {accepted:?}"
        );
    }

    /// Waits for the one connection from local port `port` and returns what it sent.
    fn accept_from(&self, name: &str, port: u16) -> String {
        let listener = self.tcp(name);
        let mut accepted = None;
        let arrived = eventually(ARRIVES_WITHIN, || match listener.accept() {
            Ok(connection) => {
                accepted = Some(connection);
                true
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => false,
            Err(e) => panic!("accepting on {name}: {e}"),
        });
        assert!(arrived, "no connection arrived at the listener of {name}");
        let (mut stream, peer) = accepted.unwrap();
        assert_eq!(
            peer.port(),
            port,
            "{name}: the connection is not the sandbox's"
        );
        stream.set_nonblocking(false).unwrap();
        stream.set_read_timeout(Some(ARRIVES_WITHIN)).unwrap();
        let mut sent = String::new();
        stream
            .read_to_string(&mut sent)
            .expect("reading the connection");
        sent
    }

    /// Waits for the one datagram from local port `port` and returns it.
    fn receive_from(&self, name: &str, port: u16) -> String {
        let socket = self.udp(name);
        let mut buffer = [0; 256];
        let mut received = None;
        let arrived = eventually(ARRIVES_WITHIN, || match socket.recv_from(&mut buffer) {
            Ok(datagram) => {
                received = Some(datagram);
                true
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => false,
            Err(e) => panic!("receiving on {name}: {e}"),
        });
        assert!(arrived, "no datagram arrived at the UDP socket of {name}");
        let (length, from) = received.unwrap();
        assert_eq!(
            from.port(),
            port,
            "{name}: the datagram is not the sandbox's"
        );
        String::from_utf8_lossy(&buffer[..length]).into_owned()
    }
}

/// Each attempt on the loopback, by name: the local port it used, or the errno's name.
type Reached = Vec<(String, Result<u16, String>)>;

/// Connects to each TCP listener and sends to each UDP socket of the caller, the nonce
/// as payload; also tries to listen itself, and to connect to the abstract unix socket.
fn reach(targets: &Targets) -> Reached {
    let v4 = |port| SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let v6 = |port| SocketAddr::from((Ipv6Addr::LOCALHOST, port));
    let tcp = |address: SocketAddr| {
        errno_name((|| {
            let mut stream = TcpStream::connect_timeout(&address, ARRIVES_WITHIN)?;
            stream.write_all(targets.nonce.as_bytes())?;
            Ok(stream.local_addr()?.port())
        })())
    };
    let udp = |from: SocketAddr, to: SocketAddr| {
        errno_name((|| {
            let socket = UdpSocket::bind(from)?;
            socket.send_to(targets.nonce.as_bytes(), to)?;
            Ok(socket.local_addr()?.port())
        })())
    };
    let unix = errno_name((|| {
        let address = std::os::unix::net::SocketAddr::from_abstract_name(&targets.unix)?;
        UnixStream::connect_addr(&address)?;
        Ok(0)
    })());
    vec![
        ("tcp 127.0.0.1".into(), tcp(v4(targets.tcp4))),
        ("tcp ::1".into(), tcp(v6(targets.tcp6))),
        ("udp 127.0.0.1".into(), udp(v4(0), v4(targets.udp4))),
        ("udp ::1".into(), udp(v6(0), v6(targets.udp6))),
        (
            "listen 127.0.0.1".into(),
            errno_name(TcpListener::bind(v4(0)).and_then(|l| Ok(l.local_addr()?.port()))),
        ),
        ("abstract unix".into(), unix),
    ]
}

#[sandboxed]
fn reach_by_default(targets: &Targets) -> Reached {
    reach(targets)
}

#[sandboxed(network = true)]
fn reach_with_network(targets: &Targets) -> Reached {
    reach(targets)
}

/// Opens a socket of this domain, type and protocol (close-on-exec, which a filter on
/// the type must see past) and closes it again; the errno's name if it fails.
fn open_socket(domain: i32, kind: i32, protocol: i32) -> Result<(), String> {
    // SAFETY: socket takes three integers and returns a new descriptor or -1.
    let fd = unsafe { libc::socket(domain, kind | libc::SOCK_CLOEXEC, protocol) };
    if fd < 0 {
        return errno_name(Err(std::io::Error::last_os_error()));
    }
    // SAFETY: fd was just returned by socket and nothing else owns it.
    drop(unsafe { OwnedFd::from_raw_fd(fd) });
    Ok(())
}

/// The obsolete packet type of AF_INET sockets, which the kernel still accepts.
const SOCK_PACKET: i32 = 10;

/// Every kind of socket that no policy opens, by name, with the outcome of opening it.
fn open_closed_kinds() -> Vec<(String, Result<(), String>)> {
    let all = (libc::ETH_P_ALL as u16).to_be() as i32;
    [
        (
            "raw AF_INET",
            libc::AF_INET,
            libc::SOCK_RAW,
            libc::IPPROTO_ICMP,
        ),
        (
            "raw AF_INET tcp",
            libc::AF_INET,
            libc::SOCK_RAW,
            libc::IPPROTO_TCP,
        ),
        (
            "raw AF_INET6",
            libc::AF_INET6,
            libc::SOCK_RAW,
            libc::IPPROTO_ICMPV6,
        ),
        ("SOCK_PACKET AF_INET", libc::AF_INET, SOCK_PACKET, all),
        ("packet raw", libc::AF_PACKET, libc::SOCK_RAW, all),
        ("packet dgram", libc::AF_PACKET, libc::SOCK_DGRAM, all),
        (
            "netlink route",
            libc::AF_NETLINK,
            libc::SOCK_RAW,
            libc::NETLINK_ROUTE,
        ),
        (
            "netlink dgram",
            libc::AF_NETLINK,
            libc::SOCK_DGRAM,
            libc::NETLINK_ROUTE,
        ),
        ("vsock stream", libc::AF_VSOCK, libc::SOCK_STREAM, 0),
        ("vsock dgram", libc::AF_VSOCK, libc::SOCK_DGRAM, 0),
        ("unix stream", libc::AF_UNIX, libc::SOCK_STREAM, 0),
        ("unix dgram", libc::AF_UNIX, libc::SOCK_DGRAM, 0),
    ]
    .into_iter()
    .map(|(name, domain, kind, protocol)| (name.into(), open_socket(domain, kind, protocol)))
    .collect()
}

#[sandboxed]
fn closed_kinds_by_default() -> Vec<(String, Result<(), String>)> {
    open_closed_kinds()
}

#[sandboxed(network = true)]
fn closed_kinds_with_network() -> Vec<(String, Result<(), String>)> {
    open_closed_kinds()
}

#[test]
fn by_default_nothing_reaches_the_callers_loopback_or_unix_listeners() {
    e2e();
    let listeners = Listeners::new("default");
    let reached = reach_by_default(&listeners.targets);
    assert_eq!(reached.len(), 6);
    for (attempt, outcome) in &reached {
        assert_eq!(outcome, &Err("EPERM".to_string()), "{attempt}");
    }
    listeners.assert_nothing_arrived();

    // Control: the same attempts from the caller reach every listener.
    for (attempt, outcome) in reach(&listeners.targets) {
        let port = outcome.unwrap_or_else(|e| panic!("the caller's {attempt}: {e}"));
        match attempt.as_str() {
            "tcp 127.0.0.1" | "tcp ::1" => {
                assert_eq!(
                    listeners.accept_from(&attempt, port),
                    listeners.targets.nonce
                );
            }
            "udp 127.0.0.1" | "udp ::1" => {
                assert_eq!(
                    listeners.receive_from(&attempt, port),
                    listeners.targets.nonce
                );
            }
            "listen 127.0.0.1" => assert_ne!(port, 0),
            "abstract unix" => assert!(
                eventually(ARRIVES_WITHIN, || listeners.unix.accept().is_ok()),
                "the caller's own connection never reached the abstract unix listener"
            ),
            other => panic!("unexpected attempt {other}"),
        }
    }
}

#[test]
fn with_network_tcp_and_udp_to_the_loopback_arrive() {
    e2e();
    let listeners = Listeners::new("network");
    let reached = reach_with_network(&listeners.targets);
    assert_eq!(reached.len(), 6);
    for (attempt, outcome) in &reached {
        match attempt.as_str() {
            // Unix sockets stay closed whatever the network policy.
            "abstract unix" => assert_eq!(outcome, &Err("EPERM".to_string()), "{attempt}"),
            _ => assert!(outcome.is_ok(), "{attempt}: {outcome:?}"),
        }
    }
    // Each listener saw the sandbox's own connection or datagram, with its nonce.
    let port = |name: &str| {
        let (_, outcome) = reached.iter().find(|(attempt, _)| attempt == name).unwrap();
        outcome.clone().unwrap()
    };
    for name in ["tcp 127.0.0.1", "tcp ::1"] {
        assert_eq!(
            listeners.accept_from(name, port(name)),
            listeners.targets.nonce,
            "{name}"
        );
    }
    for name in ["udp 127.0.0.1", "udp ::1"] {
        assert_eq!(
            listeners.receive_from(name, port(name)),
            listeners.targets.nonce,
            "{name}"
        );
    }
    assert_ne!(port("listen 127.0.0.1"), 0);
    // Nothing else arrived: no second connection, and nothing on the unix listener.
    listeners.assert_nothing_arrived();
}

#[test]
fn a_per_call_policy_opens_and_closes_the_network() {
    e2e();
    // The default function, called under a policy with network access.
    let listeners = Listeners::new("policy-open");
    let reached = Policy::new()
        .network(true)
        .run(|| reach_by_default(&listeners.targets));
    let (_, tcp4) = &reached[0];
    let port = tcp4.clone().expect("TCP to 127.0.0.1 under network(true)");
    assert_eq!(
        listeners.accept_from("tcp 127.0.0.1", port),
        listeners.targets.nonce
    );

    // The function with `network = true`, called under the default policy, which
    // replaces the attribute's entirely.
    let listeners = Listeners::new("policy-close");
    let reached = Policy::new().run(|| reach_with_network(&listeners.targets));
    for (attempt, outcome) in &reached {
        assert_eq!(outcome, &Err("EPERM".to_string()), "{attempt}");
    }
    listeners.assert_nothing_arrived();
}

#[test]
fn raw_packet_netlink_vsock_and_unix_sockets_stay_closed_with_or_without_network() {
    e2e();
    for (policy, opened) in [
        ("default", closed_kinds_by_default()),
        ("network = true", closed_kinds_with_network()),
    ] {
        assert_eq!(opened.len(), 12, "{policy}");
        for (kind, outcome) in opened {
            assert_eq!(outcome, Err("EPERM".to_string()), "{kind} ({policy})");
        }
    }
    // Control: the caller, unprivileged but unfiltered, opens the netlink, vsock and
    // unix sockets, so the refusals above are the sandbox's. Raw and packet sockets need
    // CAP_NET_RAW, which the caller lacks too. A vsock datagram socket opens only where
    // the host has a datagram transport (ENODEV otherwise), but is never refused.
    for (kind, outcome) in open_closed_kinds() {
        match kind.as_str() {
            "vsock dgram" => assert_ne!(outcome, Err("EPERM".into()), "the caller's {kind}"),
            _ if kind.starts_with("raw") || kind.contains("packet") || kind.contains("PACKET") => {
                assert_eq!(outcome, Err("EPERM".into()), "the caller's {kind}")
            }
            _ => assert_eq!(outcome, Ok(()), "the caller's {kind}"),
        }
    }
}
