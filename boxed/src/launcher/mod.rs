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
//! Landlock layer, refuses the Landlock calls, and serves the call.
//!
//! So no code but boxed's ever holds a capability: the user's build runs only as the
//! sandbox identity, confined before its first instruction. The image is the exact
//! file the caller runs, so nothing goes stale when it is rebuilt.
//!
//! The launcher assumes it is attacked: started by hand, by anyone, with any arguments,
//! environment or descriptors, it serves only the users and groups of its configuration,
//! and what it runs as the image, whatever it is, runs as the sandbox identity, confined.

mod advice;
mod grants;
mod install;
mod protection;

pub(crate) use advice::{Advice, for_caller as advice};
pub use grants::Grants;
pub(crate) use install::usable;
pub use install::{CONFIG, Config, LAUNCHER, LAUNCHER_DIR, Status, remove, setup, status};

use std::ffi::CString;
use std::fs::File;
use std::os::fd::AsFd;

use nix::fcntl::{FcntlArg, FdFlag, fcntl};
use nix::unistd::{Pid, Uid};

use crate::Policy;
use crate::child::privileges::{self, Grouping, Identity};
use crate::child::supervisor::{self, Origin, answer_and_exit};
use crate::child::{DROP_FAILED, REFUSED, fail, landlock, limits, seccomp};
use crate::sys;
use crate::wire::{
    CHILD_PATH, Failure, IMAGE_FD, IMAGE_MARKER, MARKER_VAR, POLICY_VAR, Step, ZYGOTE_IMAGE_MARKER,
};

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

/// The sandbox side, in the launcher's fork: drop, limits, the launcher's Landlock
/// layer and the syscall filter, then execute the image.
///
/// The filter is the whole one, with this process's pid, but for the Landlock calls
/// ([`seccomp::launch_program`]): whatever program the caller handed over as the image,
/// it cannot reach other processes of the sandbox identity (limits, priority, processors,
/// signals), and a boxed image has only its own Landlock layer and a filter of a few
/// instructions left to add. `execve` stays allowed, as in every sandbox (Landlock
/// decides what may be executed), so the filter goes on before the exec.
pub(crate) fn start_image(
    identity: Identity,
    caller: Uid,
    supervisor: Pid,
    policy: &Policy,
    request: File,
) -> ! {
    let image = sys::take_descriptor(IMAGE_FD);
    let confined = privileges::drop_sandbox(identity, caller)
        .map_err(Failure::Privileges)
        .and_then(|()| {
            privileges::tie_to_supervisor(supervisor, Grouping::NewSession)
                .map_err(|message| Failure::startup(Step::Process, message))
        })
        .and_then(|()| {
            // Raised by the launcher before its drop, inherited; checked here.
            limits::check_oom_score().map_err(|message| Failure::startup(Step::OomScore, message))
        })
        .and_then(|()| {
            limits::apply(policy).map_err(|message| Failure::startup(Step::Limits, message))
        })
        .and_then(|()| landlock::apply_for_launch(policy, &image, false))
        .and_then(|()| {
            let own_pid = nix::unistd::getpid().as_raw();
            seccomp::install(&seccomp::launch_program(policy, own_pid))
                .map_err(|message| Failure::startup(Step::Seccomp, message))
        });
    if let Err(failure) = confined {
        answer_and_exit(DROP_FAILED, failure);
    }
    // The request pipe (3) stays open for the image.
    std::mem::forget(request);
    execute(policy, image, IMAGE_MARKER)
}

/// The zygote, in the launcher itself once it has dropped as a supervisor does (the
/// caller's uid as real uid, so the caller may signal its zygote): the launcher's
/// Landlock layer and the bulk of the syscall filter, then the image executed as the
/// zygote, with the response pipe and the control socket (descriptors 4 and 5). Its
/// spares drop to the sandbox identity and confine themselves, as a zygote's always do.
pub(crate) fn exec_zygote(policy: &Policy, control: File) -> ! {
    let image = sys::take_descriptor(IMAGE_FD);
    let confined = landlock::apply_for_launch(policy, &image, true).and_then(|()| {
        seccomp::install(&seccomp::zygote_program(policy))
            .map_err(|message| Failure::startup(Step::Seccomp, message))
    });
    if let Err(failure) = confined {
        answer_and_exit(DROP_FAILED, failure);
    }
    // Descriptor 5 stays open for the image: it is the zygote's control socket.
    std::mem::forget(control);
    execute(policy, image, ZYGOTE_IMAGE_MARKER)
}

/// Executes `image`, confined by now, with an environment of only `PATH`, the marker
/// (`marker` as its value) and the policy; answers the caller with the failure if the
/// exec fails.
fn execute(policy: &Policy, image: File, marker: &str) -> ! {
    let shown = std::fs::read_link(format!("/proc/self/fd/{IMAGE_FD}")).map_or_else(
        |_| "the caller's executable".into(),
        |p| p.display().to_string(),
    );
    let encoded = serde_json::to_string(policy);
    let c_string = |text: String| CString::new(text).ok();
    let env = encoded.ok().and_then(|policy| {
        Some([
            c_string(format!("PATH={CHILD_PATH}"))?,
            c_string(format!("{MARKER_VAR}={marker}"))?,
            c_string(format!("{POLICY_VAR}={policy}"))?,
        ])
    });
    let Some(env) = env else {
        answer_and_exit(
            DROP_FAILED,
            Failure::Protocol("the policy cannot be handed to the image".into()),
        );
    };
    // The image's own descriptor is not passed on.
    let _ = fcntl(image.as_fd(), FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC));
    // Through its /proc/self/fd link rather than execveat(2), which the syscall filter
    // refuses: the kernel opens the file the descriptor holds, whatever its path.
    let argv = [c"boxed sandbox"];
    let through = CString::new(format!("/proc/self/fd/{IMAGE_FD}")).expect("no NUL in a path");
    let error = match nix::unistd::execve(&through, &argv, &env) {
        Err(error) => error,
        Ok(never) => match never {},
    };
    let message = if error == nix::errno::Errno::EACCES {
        format!(
            "the sandbox identity (uid {}) may not execute {shown} (EACCES): give it \
             execute permission for others (chmod o+x), for example by building with \
             umask 022",
            nix::unistd::geteuid()
        )
    } else {
        format!("executing {shown} as the sandbox failed: {error}")
    };
    answer_and_exit(DROP_FAILED, Failure::Privileges(message))
}
