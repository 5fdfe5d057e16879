//! Starting a sandbox child: the program (the executable itself for a root caller, the
//! launcher for any other, or the error that names the setup to run), its protocol
//! pipes, and their widths.

use std::os::fd::OwnedFd;

use super::spawn::{self, Child};
use crate::error::{Error, Repr};
use crate::wire;

/// The caller's ends of a started child's protocol pipes.
pub(crate) struct Started {
    pub child: Child,
    pub request: OwnedFd,
    pub response: OwnedFd,
    pub report: OwnedFd,
    /// The read ends of its stdout and stderr, if it was given pipes for them.
    pub output: Option<[OwnedFd; 2]>,
}

/// Starts the child for `function`: for a root caller the executable itself; for any
/// other, the launcher, handed this executable's image as descriptor 7, or the error
/// that names the setup to run when no launcher serves this user. The request,
/// response and report pipes and the child's end of `lifeline` become its descriptors
/// 3 to 6. With `output`, its stdout and stderr are pipes of its own whose read ends the
/// caller gets; without, they are `/dev/null`.
pub(crate) fn start_child(
    function: &str,
    argv0: &str,
    lifeline: &OwnedFd,
    large_request: bool,
    output: bool,
) -> Result<Started, Error> {
    let io_error = |source| Error::io(function, source);
    let (program, marker, image) = if nix::unistd::geteuid().is_root() {
        (
            std::path::PathBuf::from("/proc/self/exe"),
            wire::PROTOCOL,
            false,
        )
    } else if crate::launcher::usable() {
        (
            std::path::PathBuf::from(crate::launcher::LAUNCHER),
            wire::LAUNCH_MARKER,
            true,
        )
    } else {
        let crate::launcher::Advice { user, why, command } = crate::launcher::advice();
        return Err(Repr::NoLauncher {
            function: function.to_string(),
            launcher: crate::launcher::LAUNCHER,
            user,
            why,
            command,
        }
        .into());
    };
    let (request_read, request_write) = spawn::pipe().map_err(io_error)?;
    let (response_read, response_write) = spawn::pipe().map_err(io_error)?;
    let (report_read, report_write) = spawn::pipe().map_err(io_error)?;
    let output = if output {
        Some([
            spawn::pipe().map_err(io_error)?,
            spawn::pipe().map_err(io_error)?,
        ])
    } else {
        None
    };
    widen(large_request, &request_write, &response_read);
    let child = Child::start(
        &program,
        argv0,
        marker,
        output
            .as_ref()
            .map(|[stdout, stderr]| [&stdout.1, &stderr.1]),
        [&request_read, &response_write, lifeline, &report_write],
        image,
    )
    .map_err(|source| Repr::Spawn {
        function: function.to_string(),
        program: program.clone(),
        source,
    })?;
    Ok(Started {
        child,
        request: request_write,
        response: response_read,
        report: report_read,
        output: output.map(|[stdout, stderr]| [stdout.0, stderr.0]),
    })
}

/// Whether a request is large enough to want a wider pipe.
pub(crate) fn large(request: &wire::Request) -> bool {
    request.len() > 64 << 10
}

/// Large payloads cross faster through wider pipes: the request's when it is large, the
/// response's always, since its size is not known ahead (one `fcntl`).
pub(crate) fn widen(large_request: bool, request: &OwnedFd, response: &OwnedFd) {
    if large_request {
        wire::widen_pipe(request);
    }
    wire::widen_pipe(response);
}
