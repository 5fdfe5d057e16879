//! The sandbox: finishes the privilege drop, reads the request, runs the function, and
//! writes the one response frame.

use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd};

use nix::sys::socket::MsgFlags;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Mutex;
use std::thread::{self, ThreadId};

use nix::unistd::{Pid, Uid};

use super::privileges::{self, Grouping, Identity};
use super::{DROP_FAILED, fail, landlock, limits, seccomp};
use crate::Policy;
use crate::registry;
use crate::registry::ServeError;
use crate::sys;
use crate::wire::{self, Failure, MARKER_VAR, POLICY_VAR, REQUEST_FD, RESPONSE_FD, Response, Step};

/// The response pipe; taken by the first frame written, so there is only ever one.
static RESPONSE: Mutex<Option<std::fs::File>> = Mutex::new(None);

pub(crate) fn run(
    identity: Identity,
    caller: Uid,
    supervisor: Pid,
    policy: &Policy,
    request_pipe: std::fs::File,
) -> ! {
    *lock() = Some(sys::take_descriptor(RESPONSE_FD));
    if let Err(failure) = confine(identity, caller, supervisor, policy, Filter::Whole) {
        let message = failure.to_string();
        respond(Response::Failure(failure));
        fail(DROP_FAILED, &message);
    }
    serve_request(request_pipe)
}

/// An image the launcher started: it is already the sandbox identity, with the
/// launcher's limits, Landlock layer and syscall filter (the whole one but for the
/// Landlock calls). It checks that, adds the policy's own Landlock layer, refuses the
/// Landlock calls, and serves the call.
pub(crate) fn run_launched() -> ! {
    if let Err(error) = sys::close_descriptors_from(RESPONSE_FD + 1) {
        fail(
            DROP_FAILED,
            &format!("closing inherited descriptors failed: {error}"),
        );
    }
    if ![REQUEST_FD, RESPONSE_FD]
        .iter()
        .all(|&fd| super::is_pipe_or_socket(fd))
    {
        fail(
            super::REFUSED,
            "this process was not started by the boxed launcher (its protocol pipes are \
             missing); it runs nothing",
        );
    }
    *lock() = Some(sys::take_descriptor(RESPONSE_FD));
    let policy = launched_policy();
    let confined = policy.and_then(|policy| {
        privileges::verify_launched().map_err(Failure::Privileges)?;
        // The launcher installs the filter before the exec: without one, it did not
        // start this process.
        if sys::seccomp_mode() != 2 {
            return Err(Failure::Privileges(
                "no syscall filter is in place, so the boxed launcher did not start this \
                 process; it serves nothing"
                    .into(),
            ));
        }
        landlock::apply(&policy)?;
        if policy.memory.is_some() {
            report_allocation_failures();
        }
        seccomp::install(&seccomp::closing_program())
            .map_err(|message| Failure::startup(Step::Seccomp, message))
    });
    if let Err(failure) = confined {
        let message = failure.to_string();
        respond(Response::Failure(failure));
        fail(DROP_FAILED, &message);
    }
    serve_request(sys::take_descriptor(REQUEST_FD))
}

/// The policy the launcher handed over, taken out of the environment.
pub(crate) fn launched_policy() -> Result<Policy, Failure> {
    let policy = std::env::var(POLICY_VAR)
        .map_err(|_| Failure::Protocol(format!("{POLICY_VAR} is missing")))
        .and_then(|json| {
            serde_json::from_str::<Policy>(&json)
                .map_err(|e| Failure::Protocol(format!("{POLICY_VAR} is malformed: {e}")))
        });
    sys::remove_env(POLICY_VAR);
    policy
}

/// A zygote's spare: confines itself now, says so on `handoff`, then serves the call
/// that comes on `request`: the caller holds the other ends of `request` and `response`
/// once the zygote has handed them over, and writes its request when it makes the call.
/// A confinement failure is sent on `handoff` instead, for the zygote to tell the caller.
pub(crate) fn run_spare(
    identity: Identity,
    caller: Uid,
    zygote: Pid,
    policy: &Policy,
    handoff: OwnedFd,
    request: OwnedFd,
    response: OwnedFd,
) -> ! {
    let confined = confine(identity, caller, zygote, policy, Filter::OnTopOfZygote);
    let _ = nix::sys::socket::send(
        handoff.as_raw_fd(),
        &wire::zygote::encode_status(confined.as_ref().map(|_| ())),
        MsgFlags::empty(),
    );
    if confined.is_err() {
        sys::exit_now(DROP_FAILED);
    }
    drop(handoff);
    rehearse();
    *lock() = Some(response.into());
    serve_request(request.into())
}

/// Runs the runtime's own steps of a call once on a made-up request, before the real one
/// comes. A forked process maps its parent's code and gets its own copy of a written
/// page only when it first touches them, and each of those page faults would otherwise
/// fall inside the call. Nothing is written anywhere.
fn rehearse() {
    let Ok(request) = wire::call_request("", &()) else {
        return;
    };
    let mut bytes = Vec::with_capacity(request.len());
    let _ = request.write_to(&mut bytes);
    if let Ok(call) = wire::read_call(&mut bytes.as_slice()) {
        let _ = registry::find(&call.name);
        let _ = call.args.decode::<()>();
    }
    if let Ok(payload) = wire::Payload::encode(&()) {
        let _ = wire::write_frame(&mut std::io::sink(), &Response::Result(payload));
    }
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
}

/// Reads the request, runs the function, answers, exits. Everything that does not need
/// the request is done before it is read: a zygote's spare does it before its call.
fn serve_request(mut request_pipe: std::fs::File) -> ! {
    sys::remove_env(MARKER_VAR);
    // As before any Rust program's `main`: a write to a closed pipe is an error, not death.
    sys::ignore_sigpipe();
    report_panics_of(thread::current().id());
    let request = match wire::read_call(&mut request_pipe) {
        Ok(request) => request,
        Err(failure) => {
            respond(Response::Failure(failure));
            finish()
        }
    };
    let response = match registry::find(&request.name) {
        Ok(entry) => {
            let args = request.args;
            match panic::catch_unwind(AssertUnwindSafe(|| (entry.serve)(args))) {
                Ok(Ok(payload)) => Response::Result(payload),
                Ok(Err(ServeError::Decode(message))) => {
                    Response::Failure(Failure::DecodeRequest(message))
                }
                Ok(Err(ServeError::Encode(message))) => {
                    Response::Failure(Failure::EncodeResponse(message))
                }
                // The panic hook has already answered.
                Err(_) => finish(),
            }
        }
        Err(failure) => Response::Failure(failure),
    };
    respond(response);
    finish()
}

/// Which syscall filter a sandbox installs.
#[derive(Clone, Copy)]
enum Filter {
    /// All of it: a sandbox forked by a supervisor, which has none.
    Whole,
    /// The rules its zygote left out of its own filter, which the spare inherited.
    OnTopOfZygote,
}

/// Every step that makes the sandbox harmless, in order; the syscall filter is last.
fn confine(
    identity: Identity,
    caller: Uid,
    supervisor: Pid,
    policy: &Policy,
    filter: Filter,
) -> Result<(), Failure> {
    let grouping = match filter {
        Filter::Whole => Grouping::NewSession,
        Filter::OnTopOfZygote => Grouping::NewGroup,
    };
    privileges::drop_sandbox(identity, caller).map_err(Failure::Privileges)?;
    privileges::tie_to_supervisor(supervisor, grouping)
        .map_err(|message| Failure::startup(Step::Process, message))?;
    // Raised by the supervisor (or zygote) before its drop, inherited; checked here.
    limits::check_oom_score().map_err(|message| Failure::startup(Step::OomScore, message))?;
    limits::apply(policy).map_err(|message| Failure::startup(Step::Limits, message))?;
    landlock::apply(policy)?;
    if policy.memory.is_some() {
        report_allocation_failures();
    }
    let pid = std::process::id() as i32;
    let program = match filter {
        Filter::Whole => seccomp::program(policy, pid),
        Filter::OnTopOfZygote => seccomp::spare_program(policy, pid),
    };
    seccomp::install(&program).map_err(|message| Failure::startup(Step::Seccomp, message))
}

/// Makes an allocation that fails under the memory limit answer
/// [`Failure::MemoryLimit`]: the frame is made now, written by `sys`'s abort handler.
fn report_allocation_failures() {
    let mut frame = Vec::new();
    let _ = wire::write_frame(&mut frame, &Response::Failure(Failure::MemoryLimit));
    sys::on_allocation_failure_write(RESPONSE_FD, frame);
}

fn lock() -> std::sync::MutexGuard<'static, Option<std::fs::File>> {
    RESPONSE
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Writes the response frame, unless one was written already. The function's own output
/// is flushed first, so it is all in the output pipes when the answer arrives.
fn respond(response: Response) {
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    if let Some(mut pipe) = lock().take() {
        let _ = wire::write_frame(&mut pipe, &response);
        // Descriptor 4 stays open, so its number is never reused for another file that
        // a late write (the allocation-failure handler's) could reach.
        std::mem::forget(pipe);
    }
}

fn finish() -> ! {
    let _ = std::io::stdout().flush();
    sys::exit_now(0)
}

/// A panic on the thread that runs the function is the call's answer: its message and
/// location go to the caller, which re-raises it. This also works with `panic = "abort"`,
/// since the hook runs before the abort. Panics of other threads print as usual.
fn report_panics_of(dispatcher: ThreadId) {
    let default = panic::take_hook();
    panic::set_hook(Box::new(move |info| {
        if thread::current().id() != dispatcher {
            return default(info);
        }
        let payload = info.payload();
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "Box<dyn Any>".to_string());
        let (file, line, column) =
            info.location()
                .map_or((String::from("<unknown>"), 0, 0), |location| {
                    (
                        location.file().to_string(),
                        location.line(),
                        location.column(),
                    )
                });
        respond(Response::Failure(Failure::Panic {
            message,
            file,
            line,
            column,
        }));
    }));
}
