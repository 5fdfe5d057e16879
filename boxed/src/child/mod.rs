//! The child's side: everything a process does when it starts as a sandbox child.
//!
//! [`on_start`] runs from the executable's start-up hook (see `sys`), before `main` and
//! before any other constructor of the program. A process started normally returns from
//! it at once. A sandbox child never returns: it becomes the [`supervisor`], which drops
//! its privileges and forks the sandbox that [`serve`]s the one request.

pub(crate) mod landlock;
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
use crate::wire::{IMAGE_MARKER, LAUNCH_MARKER, MARKER_VAR, ZYGOTE_IMAGE_MARKER};

/// Exit code of a child that refused to run: started directly, or not by this library.
pub(crate) const REFUSED: i32 = 126;
/// Exit code of a child that could not drop or verify its privileges, or failed another
/// start-up step; its response frame, when it could write one, names the step.
pub(crate) const DROP_FAILED: i32 = 125;

/// Decides, before `main`, whether this process is a sandbox child.
pub(crate) fn on_start() {
    let marker = std::env::var_os(MARKER_VAR);
    let elevated = sys::started_with_privileges();
    match marker {
        None if !elevated => {}
        None => refuse_direct_start(),
        Some(value) if value == LAUNCH_MARKER => crate::launcher::run(),
        // The kernel starts it in secure-execution mode (its real and effective uids
        // differ), which is why it is not refused as elevated.
        Some(value) if value == ZYGOTE_IMAGE_MARKER => serve::run_launched_zygote(),
        Some(value) if value == IMAGE_MARKER => {
            if elevated {
                // Only the launcher starts images, and never with privileges.
                refuse_direct_start()
            }
            serve::run_launched()
        }
        Some(version) => supervisor::run(&version),
    }
}

/// The launcher (or a program started with privileges) was started by someone other
/// than the library. It drops every privilege first, then says what it is, and exits
/// without running `main`.
fn refuse_direct_start() -> ! {
    if let Err(message) = privileges::drop_completely() {
        fail(DROP_FAILED, &message);
    }
    fail(
        REFUSED,
        "this executable is the boxed launcher, or was started with privileges; \
         it only runs sandboxed functions for the boxed library and cannot be started \
         directly",
    )
}

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
