//! The child's side: everything a process does when it starts as a sandbox child, and
//! the few helpers its roles share (exit codes, last words, descriptor checks).
//!
//! `startup` decides, before `main`, which role a process has: the [`supervisor`], which
//! drops its privileges and forks the sandbox that [`serve`]s the one request; the
//! [`zygote`], which keeps confined spares forked; or, in the launcher's fork, the
//! sandbox that [`launched`] confines before it executes the caller's image.

pub(crate) mod landlock;
pub(crate) mod launched;
pub(crate) mod limits;
pub(crate) mod privileges;
pub(crate) mod seccomp;
pub(crate) mod serve;
pub(crate) mod supervisor;
pub(crate) mod syscall_table;
pub(crate) mod tree;
pub(crate) mod zygote;

use std::io::Write;

use crate::sys;
use crate::wire::{self, Failure, RESPONSE_FD, Response};

/// Exit code of a child that refused to run: started directly, or not by this library.
pub(crate) const REFUSED: i32 = 126;
/// Exit code of a child that could not drop or verify its privileges, or failed another
/// start-up step; its response frame, when it could write one, names the step.
pub(crate) const DROP_FAILED: i32 = 125;

/// Points stdout and stderr at `/dev/null`: the supervisor does it once it has forked
/// the sandbox, so that the call's output pipes end with the sandbox.
pub(crate) fn release_output() {
    use nix::fcntl::{OFlag, open};
    let flags = OFlag::O_WRONLY | OFlag::O_CLOEXEC;
    if let Ok(null) = open("/dev/null", flags, nix::sys::stat::Mode::empty()) {
        let _ = nix::unistd::dup2_stdout(&null);
        let _ = nix::unistd::dup2_stderr(&null);
    }
}

/// Says why the child stops, on stderr, and exits with `code`.
pub(crate) fn fail(code: i32, message: &str) -> ! {
    let _ = writeln!(std::io::stderr(), "boxed: {message}");
    crate::sys::exit_now(code)
}

/// CPU time of every child reaped so far, with what they reaped, in seconds.
pub(crate) fn children_cpu_seconds() -> f64 {
    nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN).map_or(
        0.0,
        |usage| {
            let seconds = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 + t.tv_usec() as f64 / 1e6;
            seconds(usage.user_time()) + seconds(usage.system_time())
        },
    )
}

/// Writes `failure` as the call's response frame, says it on stderr, and exits with
/// `code`: how a child that cannot serve the call ends.
pub(crate) fn answer_and_exit(code: i32, failure: Failure) -> ! {
    let message = failure.to_string();
    let mut response = sys::take_descriptor(RESPONSE_FD);
    let _ = wire::write_frame(&mut response, &Response::Failure(failure));
    fail(code, &message)
}

/// Whether descriptor `fd` is open on a pipe or a socket, as the protocol's are.
pub(crate) fn is_pipe_or_socket(fd: i32) -> bool {
    use nix::sys::stat::SFlag;
    nix::sys::stat::fstat(sys::borrow(fd)).is_ok_and(|stat| {
        let kind = SFlag::from_bits_truncate(stat.st_mode) & SFlag::S_IFMT;
        kind == SFlag::S_IFIFO || kind == SFlag::S_IFSOCK
    })
}
