//! The launcher: boxed's own setcap'd program, installed once per machine by
//! `boxed setup`, that starts the sandboxes of unprivileged callers.
//!
//! A caller that is not root starts [`LAUNCHER`] with the protocol descriptors 3 to 6
//! and its own running executable, open for reading, as descriptor 7 (the *image*). The
//! launcher is the supervisor (see `child::supervisor`): it checks that root allowed
//! the user who started it, drops, and forks the sandbox. The sandbox finishes the drop
//! to the sandbox identity, sets its limits, a Landlock layer (the policy's grants plus
//! execute of the image and what the dynamic loader reads) and the whole syscall filter,
//! with its own pid in the pid rules, but for the Landlock calls; only then it executes
//! the image, with an environment of its own making. The image's start-up hook verifies
//! that it runs as the launcher left it (a filter included), adds the policy's own
//! Landlock layer, refuses the Landlock calls, and serves the call. For a zygote, the
//! fork executes the image as the zygote instead, under the bulk of the filter with the
//! zygote's pid in the pid rules, and the launcher stays above it: the zygote ends when
//! its caller closes the control socket or goes, whatever program the image is.
//!
//! So no code but boxed's ever holds a capability: the user's build runs only as the
//! sandbox identity, confined before its first instruction. The image is the exact
//! file the caller runs, so nothing goes stale when it is rebuilt.
//!
//! The launcher assumes it is attacked: started by hand, by anyone, with any arguments,
//! environment or descriptors, it serves only the users and groups of its configuration,
//! and what it runs as the image, whatever it is, runs as the sandbox identity, confined.

mod advice;
mod install;
mod protection;

pub use crate::grants::Grants;
pub(crate) use advice::{Advice, for_caller as advice};
pub(crate) use install::usable;
pub use install::{CONFIG, Config, LAUNCHER, LAUNCHER_DIR, Status, remove, setup, status};

use crate::child::privileges;
use crate::child::supervisor::{self, Origin};
use crate::child::{DROP_FAILED, REFUSED, fail};
use crate::sys;
use crate::wire::IMAGE_FD;

/// Runs the launcher, from the start-up hook of the `boxed` program (marker
/// [`crate::wire::LAUNCH_MARKER`]): never returns.
pub(crate) fn run() -> ! {
    if let Err(error) = sys::close_descriptors_from(IMAGE_FD + 1) {
        refuse(&format!("closing inherited descriptors failed: {error}"));
    }
    let config = match install::trusted_config() {
        Ok(config) => config,
        Err(error) => refuse(&format!(
            "the launcher's configuration {CONFIG} cannot be read ({error}); run \
             `boxed setup` as root"
        )),
    };
    let groups: Vec<u32> = nix::unistd::getgroups()
        .unwrap_or_default()
        .into_iter()
        .map(|gid| gid.as_raw())
        .collect();
    let (uid, gid) = (
        nix::unistd::getuid().as_raw(),
        nix::unistd::getgid().as_raw(),
    );
    if !config.allows(uid, gid, &groups) {
        refuse(&format!(
            "uid {uid} may not start sandboxes through this launcher; root allows users with \
             `boxed setup --user NAME`"
        ));
    }
    let regular = nix::sys::stat::fstat(sys::borrow(IMAGE_FD)).is_ok_and(|stat| {
        use nix::sys::stat::SFlag;
        SFlag::from_bits_truncate(stat.st_mode) & SFlag::S_IFMT == SFlag::S_IFREG
    });
    if !regular {
        refuse("descriptor 7 is not an open regular file (the image to run); it runs nothing");
    }
    supervisor::supervise(Origin::Launcher(config.grants))
}

/// Drops every privilege, says why on stderr, and exits with [`REFUSED`].
fn refuse(message: &str) -> ! {
    if let Err(drop_failure) = privileges::drop_completely() {
        fail(DROP_FAILED, &drop_failure);
    }
    fail(REFUSED, message)
}
