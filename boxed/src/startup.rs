//! Start-up: the hook the loader runs before `main`, and the decision it makes there,
//! whether this process is a program of its own or one of boxed's roles (the launcher,
//! a supervisor, a launched sandbox or zygote).
//!
//! The hook is an entry of `.init_array.00090`. Such sections run in priority order
//! before the unprioritised `.init_array` entries (the usual place for constructors),
//! and 90 is before the standard library's own hook (99), so no code of the program runs
//! before this one has decided. A hand-written entry is used rather than a constructor
//! crate because this ordering is itself a security property. Placing it takes the one
//! unsafe attribute outside `sys` (`link_section`), allowed on that one item; there is
//! no unsafe block here.

use crate::child::{DROP_FAILED, REFUSED, fail, privileges, serve, supervisor, zygote};
use crate::launcher;
use crate::sys;
use crate::wire::{IMAGE_MARKER, LAUNCH_MARKER, MARKER_VAR, ZYGOTE_IMAGE_MARKER};

// The section holds function pointers the loader calls with no arguments before `main`;
// `start` is such a function and touches nothing that is not yet set up.
#[allow(unsafe_code)]
#[used]
#[unsafe(link_section = ".init_array.00090")]
static START: extern "C" fn() = start;

extern "C" fn start() {
    on_start();
}

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
fn on_start() {
    let Some(marker) = std::env::var_os(MARKER_VAR) else {
        if sys::started_with_privileges() {
            refuse_direct_start()
        }
        return;
    };
    if marker == LAUNCH_MARKER {
        launcher::run()
    }
    let capable = privileges::holds_capabilities();
    let elevated = sys::started_with_privileges();
    if marker == ZYGOTE_IMAGE_MARKER {
        if capable {
            refuse_marker(&marker)
        }
        // The launcher executes it with the caller's real uid and the sandbox
        // identity's effective uid, so the kernel starts it in secure-execution mode.
        zygote::run_launched()
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
