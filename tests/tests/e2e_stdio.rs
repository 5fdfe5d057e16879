//! The caller's stdout and stderr, end to end. A sandbox never holds them: its own are
//! pipes that the caller relays. What it writes arrives in order and in full before the
//! call returns; what it does to its descriptors 1 and 2 (flags, truncation, positioned
//! writes, terminal ioctls, reads, socket calls) acts on its pipes and never reaches the
//! caller's file, terminal or socket; and a sandbox that floods its output holds up no
//! other call and does not grow the caller's memory. Neither a zygote nor its waiting
//! processes hold the caller's stdout or stderr either. Every test runs in a fresh process
//! of this binary whose stdout and stderr are what it needs (a file, a terminal, a
//! socket), and tries everything without and with a zygote.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::path::Path;
use std::time::Duration;

use boxed::{ErrorKind, Policy, sandboxed};
use boxed_tests::{
    e2e, eventually, in_fresh_process, open_directory, peak_resident_kib, proc_stat,
    resume_with_message, still_running,
};
use nix::fcntl::{FcntlArg, OFlag, fcntl};
use serde::{Deserialize, Serialize};

/// A system call's outcome as the tests compare it: the value, or the errno's name.
type Outcome = Result<i64, String>;

fn outcome<T: TryInto<i64>>(result: nix::Result<T>) -> Outcome {
    result
        .map(|value| value.try_into().unwrap_or(-1))
        .map_err(|errno| format!("{errno:?}"))
}

/// What a sandbox got when it went for its descriptors 1 and 2, and the controls it ran
/// on a file of its own.
#[derive(Serialize, Deserialize, Debug)]
struct Attempts {
    /// (descriptor, what was tried, what it gave)
    tried: Vec<(i32, String, Outcome)>,
    /// `ftruncate` and `pwrite` on a file of its own, in its write grant, and what the
    /// file held afterwards.
    own_file: (Outcome, Outcome, String),
}

const SANDBOX_OUT: &str = "the sandbox's stdout line\n";
const SANDBOX_ERR: &str = "the sandbox's stderr line\n";

fn attack(dir: &str) -> Attempts {
    print!("{SANDBOX_OUT}");
    eprint!("{SANDBOX_ERR}");
    std::io::stdout().flush().expect("flushing stdout");
    let mut tried = Vec::new();
    for fd in [1, 2] {
        // SAFETY: descriptors 1 and 2 are open for the whole call; they are only borrowed.
        let target = unsafe { BorrowedFd::borrow_raw(fd) };
        let mut attempt = |what: &str, result: Outcome| tried.push((fd, what.into(), result));
        attempt(
            "set O_NONBLOCK",
            outcome(fcntl(target, FcntlArg::F_SETFL(OFlag::O_NONBLOCK))),
        );
        // Control: the flag holds on the sandbox's own descriptor.
        attempt(
            "O_NONBLOCK now set",
            outcome(fcntl(target, FcntlArg::F_GETFL).map(|flags| {
                i64::from(OFlag::from_bits_truncate(flags).contains(OFlag::O_NONBLOCK))
            })),
        );
        attempt(
            "clear O_APPEND",
            outcome(fcntl(target, FcntlArg::F_SETFL(OFlag::empty()))),
        );
        attempt(
            "ftruncate",
            outcome(nix::unistd::ftruncate(target, 0).map(|()| 0)),
        );
        attempt(
            "pwrite",
            outcome(nix::sys::uio::pwrite(target, b"FORGED", 0)),
        );
        let mut buffer = [0u8; 64];
        attempt("read", outcome(nix::unistd::read(target, &mut buffer)));
        attempt(
            "tcgetattr",
            outcome(nix::sys::termios::tcgetattr(target).map(|_| 0)),
        );
        let one_by_one = libc::winsize {
            ws_row: 1,
            ws_col: 1,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCSWINSZ reads one winsize, a live local; TIOCEXCL takes no argument.
        let resized = unsafe { libc::ioctl(fd, libc::TIOCSWINSZ, &one_by_one) };
        attempt("TIOCSWINSZ", outcome(nix::errno::Errno::result(resized)));
        // SAFETY: as above.
        let exclusive = unsafe { libc::ioctl(fd, libc::TIOCEXCL) };
        attempt("TIOCEXCL", outcome(nix::errno::Errno::result(exclusive)));
        attempt(
            "send",
            outcome(nix::sys::socket::send(
                fd,
                b"from the sandbox\n",
                nix::sys::socket::MsgFlags::MSG_NOSIGNAL,
            )),
        );
        attempt(
            "is a pipe",
            outcome(
                nix::sys::stat::fstat(target)
                    .map(|stat| i64::from(stat.st_mode & libc::S_IFMT == libc::S_IFIFO)),
            ),
        );
        // Blocking again, so the runtime's own flush cannot fail.
        let _ = fcntl(target, FcntlArg::F_SETFL(OFlag::empty()));
    }
    // Controls: the same calls on a file of its own work.
    let path = Path::new(dir).join(format!("own-{}", std::process::id()));
    let file = File::create(&path).expect("creating a file in the write grant");
    (&file).write_all(b"0123456789").expect("writing it");
    let truncated = outcome(nix::unistd::ftruncate(&file, 4).map(|()| 0));
    let written = outcome(nix::sys::uio::pwrite(&file, b"AB", 0));
    let left = std::fs::read_to_string(&path).expect("reading it back");
    Attempts {
        tried,
        own_file: (truncated, written, left),
    }
}

#[sandboxed]
fn go_for_descriptors(dir: String) -> Attempts {
    attack(&dir)
}

/// What every attempt must give on the sandbox's own pipes.
fn expected(fd: i32) -> Vec<(i32, String, Outcome)> {
    let err = |name: &str| Err(name.to_string());
    [
        ("set O_NONBLOCK", Ok(0)),
        ("O_NONBLOCK now set", Ok(1)),
        ("clear O_APPEND", Ok(0)),
        ("ftruncate", err("EINVAL")),
        ("pwrite", err("ESPIPE")),
        ("read", err("EBADF")),
        ("tcgetattr", err("ENOTTY")),
        ("TIOCSWINSZ", err("ENOTTY")),
        ("TIOCEXCL", err("ENOTTY")),
        ("send", err("ENOTSOCK")),
        ("is a pipe", Ok(1)),
    ]
    .into_iter()
    .map(|(what, outcome)| (fd, what.to_string(), outcome))
    .collect()
}

/// The policies of the two modes, with a write grant for the controls.
fn modes(dir: &Path) -> [(&'static str, Policy); 2] {
    let policy = Policy::new().write(dir);
    [
        ("one-shot", policy.clone()),
        ("zygote", policy.zygote(true)),
    ]
}

/// Runs `body` with `stdout` and `stderr` as this process's descriptors 1 and 2, and
/// puts the originals back before returning, also when `body` panics (its message would
/// otherwise go where the test cannot see it).
fn with_stdio(stdout: impl AsFd, stderr: impl AsFd, body: impl FnOnce()) {
    let saved = [std::io::stdout().as_fd(), std::io::stderr().as_fd()].map(|fd| {
        fd.try_clone_to_owned()
            .expect("saving a standard descriptor")
    });
    nix::unistd::dup2_stdout(stdout).expect("dup2 onto stdout");
    nix::unistd::dup2_stderr(stderr).expect("dup2 onto stderr");
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(body));
    nix::unistd::dup2_stdout(&saved[0]).expect("restoring stdout");
    nix::unistd::dup2_stderr(&saved[1]).expect("restoring stderr");
    resume_with_message(result);
}

fn flags(fd: RawFd) -> i32 {
    // SAFETY: a standard descriptor of this process, only borrowed for one fcntl.
    fcntl(unsafe { BorrowedFd::borrow_raw(fd) }, FcntlArg::F_GETFL).expect("F_GETFL")
}

fn check_attempts(mode: &str, attempts: &Attempts) {
    let mut want = expected(1);
    want.extend(expected(2));
    assert_eq!(
        attempts.tried, want,
        "{mode}: the sandbox's descriptors 1 and 2"
    );
    assert_eq!(
        attempts.own_file,
        (Ok(0), Ok(2), "AB23".to_string()),
        "{mode}: the controls on a file of the sandbox's own"
    );
}

/// A terminal: its master (non-blocking, for reading what was written to the terminal)
/// and the path of its slave.
fn terminal() -> (OwnedFd, OwnedFd, std::path::PathBuf) {
    let pty = nix::pty::openpty(None, None).expect("openpty");
    fcntl(&pty.master, FcntlArg::F_SETFL(OFlag::O_NONBLOCK)).expect("non-blocking master");
    let path = std::fs::read_link(format!("/proc/self/fd/{}", pty.slave.as_raw_fd()))
        .expect("the slave's path");
    (pty.master, pty.slave, path)
}

/// What the terminal of `slave` looks like from the caller: its modes and window size.
fn terminal_state(slave: &OwnedFd) -> (String, (u16, u16)) {
    let termios = nix::sys::termios::tcgetattr(slave).expect("tcgetattr, outside the sandbox");
    let mut size = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes one winsize, a live local.
    let got = unsafe { libc::ioctl(slave.as_raw_fd(), libc::TIOCGWINSZ, &mut size) };
    assert_eq!(got, 0, "TIOCGWINSZ, outside the sandbox");
    (
        format!("{:?}", termios.local_flags),
        (size.ws_row, size.ws_col),
    )
}

/// Reads what the terminal's master has, waiting until it holds `wanted`.
fn terminal_output_holds(master: &OwnedFd, wanted: &str) -> bool {
    let mut seen = Vec::new();
    eventually(Duration::from_secs(10), || {
        let mut buffer = [0u8; 4096];
        while let Ok(read) = nix::unistd::read(master, &mut buffer) {
            if read == 0 {
                break;
            }
            seen.extend_from_slice(&buffer[..read]);
        }
        String::from_utf8_lossy(&seen).contains(wanted)
    })
}

/// Types `line` into the terminal, as a user at the keyboard would.
fn type_into(master: &OwnedFd, line: &str) {
    nix::unistd::write(master, line.as_bytes()).expect("typing into the terminal");
}

/// Reads one line the user typed, as the caller, from its terminal `slave`.
fn read_typed(slave: &OwnedFd) -> String {
    let mut fds = [nix::poll::PollFd::new(
        slave.as_fd(),
        nix::poll::PollFlags::POLLIN,
    )];
    let ready = nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(10_000u16));
    assert_eq!(ready, Ok(1), "the typed line is there for the caller");
    let mut buffer = [0u8; 256];
    let read = nix::unistd::read(slave, &mut buffer).expect("reading the terminal");
    String::from_utf8_lossy(&buffer[..read]).into_owned()
}

#[test]
fn a_redirected_file_and_a_terminal_are_untouched() {
    let e2e = e2e();
    in_fresh_process("a_redirected_file_and_a_terminal_are_untouched", || {
        let dir = open_directory(&e2e.work, "stdio-file-and-terminal");
        let output = e2e.work.join("stdio-output.txt");
        std::fs::write(&output, "ORIGINAL\n").expect("writing the output file");
        let file = OpenOptions::new()
            .append(true)
            .open(&output)
            .expect("opening the output file for appending");
        let (master, slave, slave_path) = terminal();
        with_stdio(&file, &slave, || {
            let mut expected_file = String::from("ORIGINAL\n");
            for (mode, policy) in modes(&dir) {
                let before = (flags(1), flags(2), terminal_state(&slave));
                type_into(&master, "typed by the user\n");
                let attempts = policy.run(|| go_for_descriptors(dir.display().to_string()));
                check_attempts(mode, &attempts);
                // The caller's descriptions kept their flags (O_APPEND, blocking), the
                // terminal its modes (echo) and size, and the file its beginning.
                assert_eq!(
                    (flags(1), flags(2), terminal_state(&slave)),
                    before,
                    "{mode}"
                );
                expected_file.push_str(SANDBOX_OUT);
                let content = std::fs::read_to_string(&output).expect("reading the output");
                assert_eq!(content, expected_file, "{mode}: the redirected file");
                // The terminal is not exclusive: the caller opens it again.
                OpenOptions::new()
                    .read(true)
                    .write(true)
                    .open(&slave_path)
                    .unwrap_or_else(|e| panic!("{mode}: opening the terminal again: {e}"));
                // What the user typed is still there for the caller, and the sandbox's
                // stderr line reached the terminal through the relay.
                assert_eq!(read_typed(&slave), "typed by the user\n", "{mode}");
                assert!(
                    terminal_output_holds(&master, SANDBOX_ERR.trim_end()),
                    "{mode}: the sandbox's stderr on the terminal"
                );
            }
            // Controls: the same calls on the caller's own descriptors do act.
            let winsize = libc::winsize {
                ws_row: 30,
                ws_col: 90,
                ws_xpixel: 0,
                ws_ypixel: 0,
            };
            // SAFETY: TIOCSWINSZ reads one winsize, a live local.
            assert_eq!(
                unsafe { libc::ioctl(2, libc::TIOCSWINSZ, &winsize) },
                0,
                "resizing the caller's own terminal"
            );
            assert_eq!(terminal_state(&slave).1, (30, 90));
            nix::unistd::ftruncate(&file, 4).expect("ftruncate of the caller's own file");
            assert_eq!(std::fs::read_to_string(&output).unwrap(), "ORIG");
        });
    });
}

#[test]
fn a_stderr_that_is_a_socket_is_not_the_sandboxs() {
    let e2e = e2e();
    in_fresh_process("a_stderr_that_is_a_socket_is_not_the_sandboxs", || {
        let dir = open_directory(&e2e.work, "stdio-socket");
        // As under inetd or socket activation: stderr is a TCP connection (loopback).
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("listening");
        let ours = std::net::TcpStream::connect(listener.local_addr().unwrap()).expect("connect");
        let (mut peer, _) = listener.accept().expect("accept");
        peer.set_read_timeout(Some(Duration::from_millis(200)))
            .expect("a read timeout");
        let read_peer = |peer: &mut std::net::TcpStream| {
            let mut got = Vec::new();
            let mut buffer = [0u8; 4096];
            while let Ok(read) = peer.read(&mut buffer) {
                if read == 0 {
                    break;
                }
                got.extend_from_slice(&buffer[..read]);
            }
            String::from_utf8_lossy(&got).into_owned()
        };
        let (_master, slave, _) = terminal();
        with_stdio(&slave, &ours, || {
            for (mode, policy) in modes(&dir) {
                let before = (flags(1), flags(2));
                let attempts = policy.run(|| go_for_descriptors(dir.display().to_string()));
                check_attempts(mode, &attempts);
                assert_eq!((flags(1), flags(2)), before, "{mode}");
                // The peer got the sandbox's stderr through the relay, and nothing the
                // sandbox sent itself.
                assert_eq!(
                    read_peer(&mut peer),
                    SANDBOX_ERR,
                    "{mode}: what the peer got"
                );
            }
            // Control: the caller's own send on its stderr reaches the peer.
            nix::sys::socket::send(2, b"from the caller\n", nix::sys::socket::MsgFlags::empty())
                .expect("send on the caller's own stderr");
            assert_eq!(read_peer(&mut peer), "from the caller\n");
        });
    });
}

/// Writes `lines` numbered lines to stdout and to stderr, alternating, in pieces of
/// every size; returns how many bytes each stream got.
#[sandboxed]
fn write_numbered(lines: u32) -> usize {
    let mut written = 0;
    for i in 0..lines {
        let line = format!("{i:08} {}\n", "x".repeat((i % 200) as usize));
        std::io::stdout().write_all(line.as_bytes()).unwrap();
        std::io::stderr().write_all(line.as_bytes()).unwrap();
        written += line.len();
    }
    written
}

fn numbered(lines: u32) -> String {
    (0..lines)
        .map(|i| format!("{i:08} {}\n", "x".repeat((i % 200) as usize)))
        .collect()
}

#[test]
fn output_arrives_in_order_and_in_full_before_the_call_returns() {
    let e2e = e2e();
    in_fresh_process(
        "output_arrives_in_order_and_in_full_before_the_call_returns",
        || {
            let dir = open_directory(&e2e.work, "stdio-order");
            let [out_path, err_path] = ["out", "err"].map(|name| dir.join(name));
            let [out, err] = [&out_path, &err_path].map(|path| {
                File::create(path).unwrap_or_else(|e| panic!("creating {path:?}: {e}"))
            });
            // About 3.5 MiB a stream: many times what a pipe holds.
            let lines = 30_000;
            with_stdio(&out, &err, || {
                for (mode, policy) in modes(&dir) {
                    let before = [&out_path, &err_path].map(|p| std::fs::read(p).unwrap().len());
                    let written = policy.run(|| write_numbered(lines));
                    assert_eq!(written, numbered(lines).len(), "{mode}");
                    for (path, before) in [&out_path, &err_path].into_iter().zip(before) {
                        let content = std::fs::read(path).unwrap();
                        assert!(
                            content[before..] == *numbered(lines).as_bytes(),
                            "{mode}: {path:?} holds {} new bytes, not the {written} written, \
                             in order",
                            content.len() - before
                        );
                    }
                }
            });
        },
    );
}

/// Says in `dir` that it has started (a file only it can read: the existence is the
/// message), then writes to stdout without end.
#[sandboxed]
fn flood(dir: String) {
    std::fs::write(
        Path::new(&dir).join("flooding"),
        format!("{}\n", std::process::id()),
    )
    .expect("saying it floods");
    let chunk = vec![b'f'; 64 << 10];
    loop {
        std::io::stdout().write_all(&chunk).unwrap();
    }
}

#[sandboxed]
fn add(a: u64, b: u64) -> u64 {
    a + b
}

#[test]
fn a_flooding_sandbox_holds_up_no_other_call_and_no_memory() {
    let e2e = e2e();
    in_fresh_process(
        "a_flooding_sandbox_holds_up_no_other_call_and_no_memory",
        || {
            let dir = open_directory(&e2e.work, "stdio-flood");
            // The caller's stdout is a pipe whose reader counts what arrives.
            let (reader, writer) = std::io::pipe().expect("pipe");
            let counter = std::thread::spawn(move || {
                let mut reader = reader;
                let mut total = 0u64;
                let mut buffer = vec![0u8; 1 << 20];
                while let Ok(read) = reader.read(&mut buffer) {
                    if read == 0 {
                        break;
                    }
                    total += read as u64;
                }
                total
            });
            let null = File::options().write(true).open("/dev/null").unwrap();
            let mut grown_kib = 0;
            with_stdio(&writer, &null, || {
                let before = peak_resident_kib();
                for (mode, policy) in modes(&dir) {
                    let marker = dir.join("flooding");
                    let _ = std::fs::remove_file(&marker);
                    let flooding = policy.clone().timeout(Duration::from_secs(10));
                    let path = dir.display().to_string();
                    let flooder = std::thread::spawn(move || {
                        flooding.run(|| boxed::try_call(|| flood(path)))
                    });
                    assert!(
                        eventually(Duration::from_secs(30), || marker.exists()),
                        "{mode}: the flood never started"
                    );
                    // Other calls, with and without a zygote, answer while it floods.
                    for (other, policy) in modes(&dir) {
                        assert_eq!(policy.run(|| add(2, 3)), 5, "{other} beside {mode}");
                        assert!(
                            !flooder.is_finished(),
                            "{mode}: the flood ended before the call beside it answered"
                        );
                    }
                    let error = flooder.join().expect("the flooding thread").unwrap_err();
                    assert_eq!(error.kind(), ErrorKind::Timeout, "{mode}: {error}");
                }
                let grown = peak_resident_kib().saturating_sub(before);
                grown_kib = grown;
                assert!(
                    grown < 32 << 10,
                    "the caller's peak memory grew by {grown} KiB while relaying"
                );
            });
            drop(writer);
            let total = counter.join().expect("the counting thread");
            // Far more was relayed than the caller's memory grew by.
            assert!(
                total > 64 << 20,
                "only {total} bytes were relayed (memory grew by {grown_kib} KiB)"
            );
        },
    );
}

/// The sandbox's parent: with a zygote, the zygote.
#[sandboxed]
fn parent_pid() -> i32 {
    nix::unistd::getppid().as_raw()
}

#[test]
fn neither_the_zygote_nor_its_spares_hold_the_callers_stdout_or_stderr() {
    e2e();
    in_fresh_process(
        "neither_the_zygote_nor_its_spares_hold_the_callers_stdout_or_stderr",
        || {
            use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
            // The zygote starts, and forks its spares, while the caller's stdout and
            // stderr are this pipe.
            let (reader, writer) = std::io::pipe().expect("pipe");
            let mut zygote = 0;
            with_stdio(&writer, &writer, || {
                let policy = Policy::new().zygote(true);
                zygote = policy.run(parent_pid);
                assert_eq!(policy.run(|| add(1, 2)), 3);
            });
            let start = proc_stat(zygote).expect("the zygote's stat").start;
            // Control: while the caller holds its end, the pipe does not end.
            let mut fds = [PollFd::new(reader.as_fd(), PollFlags::POLLIN)];
            assert_eq!(poll(&mut fds, PollTimeout::ZERO), Ok(0), "the pipe is open");
            // Once the caller lets go of it, it ends at once: no other process holds it,
            // though the zygote and its spares are alive.
            drop(writer);
            let mut fds = [PollFd::new(reader.as_fd(), PollFlags::POLLIN)];
            assert_eq!(
                poll(&mut fds, PollTimeout::from(10_000u16)),
                Ok(1),
                "the caller's stdout is still held by another process"
            );
            let mut rest = Vec::new();
            (&reader)
                .read_to_end(&mut rest)
                .expect("reading to the end");
            assert!(still_running(zygote, start), "the zygote is still running");
        },
    );
}
