//! The sandbox side of a launcher's call, in the launcher's fork: it drops, confines
//! itself (limits, the launcher's Landlock layer, the whole syscall filter with its own
//! pid), and executes the caller's image; or, for a zygote, the same fork, dropped as a
//! supervisor is, confines itself and executes the image as the zygote, with the
//! launcher staying above it as its supervisor.

use std::ffi::CString;
use std::fs::File;
use std::os::fd::AsFd;

use nix::fcntl::{FcntlArg, FdFlag, fcntl};
use nix::unistd::{Pid, Uid};

use super::privileges::{self, Grouping, Identity};
use super::{DROP_FAILED, answer_and_exit, landlock, limits, seccomp};
use crate::Policy;
use crate::sys;
use crate::wire::{
    CHILD_PATH, Failure, IMAGE_FD, IMAGE_MARKER, MARKER_VAR, POLICY_VAR, Step, ZYGOTE_IMAGE_MARKER,
};

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

/// The zygote, in the launcher's fork, dropped as a supervisor is (the caller's uid as
/// real uid, so the caller may signal its zygote): the launcher's Landlock layer and the
/// bulk of the syscall filter, with this process's pid in the pid rules (see
/// [`seccomp::zygote_program`]), then the image executed as the zygote, with the
/// response pipe and the control socket (descriptors 4 and 5). Its spares drop to the
/// sandbox identity and confine themselves, as a zygote's always do.
pub(crate) fn exec_zygote(policy: &Policy, identity: Identity, control: File) -> ! {
    let image = sys::take_descriptor(IMAGE_FD);
    let confined = landlock::apply_for_launch(policy, &image, true).and_then(|()| {
        let own_pid = nix::unistd::getpid().as_raw();
        seccomp::install(&seccomp::zygote_program(
            policy,
            own_pid,
            identity.uid.as_raw(),
        ))
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
