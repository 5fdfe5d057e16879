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
///
/// What each value of the marker ([`MARKER_VAR`]) is served in which state. *Capable*:
/// the process holds a capability in its permitted or effective set (`capget`): the
/// launcher started by a user it may serve, or root. *Root*: its real, effective and
/// saved uids are 0. *Elevated*: the kernel started it in secure-execution mode
/// (`AT_SECURE`: file capabilities, set-user-ID, or real and effective uids that
/// differ).
///
/// | marker | not capable | capable |
/// |---|---|---|
/// | none | `main`, unless elevated: refused | `main` (a root program), unless elevated: refused |
/// | launch ([`LAUNCH_MARKER`]) | the launcher (which can drop nothing, and fails) | the launcher |
/// | zygote image ([`ZYGOTE_IMAGE_MARKER`]) | the launched zygote (elevated, as the launcher leaves it) | refused |
/// | image ([`IMAGE_MARKER`]) | the launched image, unless elevated: refused | refused |
/// | any other value (a protocol version) | the supervisor, unless elevated: refused | the supervisor if root, else refused |
///
/// So a capability is only ever used by the launcher, which checks its configuration
/// first, and by the supervisor of a root caller; everything else a capable or elevated
/// process is started as drops every privilege before it reads anything of its
/// environment or descriptors, then refuses ([`REFUSED`]).
pub(crate) fn on_start() {
    let Some(marker) = std::env::var_os(MARKER_VAR) else {
        if sys::started_with_privileges() {
            refuse_direct_start()
        }
        return;
    };
    if marker == LAUNCH_MARKER {
        crate::launcher::run()
    }
    let capable = privileges::holds_capabilities();
    let elevated = sys::started_with_privileges();
    if marker == ZYGOTE_IMAGE_MARKER {
        if capable {
            refuse_marker(&marker)
        }
        // The launcher executes it with the caller's real uid and the sandbox
        // identity's effective uid, so the kernel starts it in secure-execution mode.
        serve::run_launched_zygote()
    }
    if marker == IMAGE_MARKER {
        // Only the launcher starts images, and never with privileges.
        if capable || elevated {
            refuse_marker(&marker)
        }
        serve::run_launched()
    }
    // The supervisor of a root caller, which starts its own executable again.
    if elevated || (capable && !privileges::is_root()) {
        refuse_marker(&marker)
    }
    supervisor::run(&marker)
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

/// A capable or elevated process was started with a marker that such a process does not
/// serve (see [`on_start`]). It drops every privilege first, then says what it is.
fn refuse_marker(marker: &std::ffi::OsStr) -> ! {
    if let Err(message) = privileges::drop_completely() {
        fail(DROP_FAILED, &message);
    }
    fail(
        REFUSED,
        &format!(
            "started with privileges (the boxed launcher, or a program carrying \
             capabilities or set-user-ID) and {MARKER_VAR}={marker:?}, which only an \
             unprivileged child of the boxed library may carry; it serves nothing"
        ),
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
