//! The caller's side of a sandboxed call: start the child, send the request, read the
//! one response while relaying the sandbox's output, end the child, and turn what
//! happened into a value or an [`Error`].

use std::cell::Cell;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{BorrowedFd, OwnedFd};
use std::panic::{self, AssertUnwindSafe};

use serde::Serialize;
use serde::de::DeserializeOwned;

pub use self::pending::Pending;
use self::relay::{Awaited, Relay};
use self::spawn::Child;
use crate::error::{Error, Limit, PanicLocation, Repr, display_name};
use crate::policy::{self, Policy};
use crate::wire::{self, Ending, Failure, FrameError, Report, Response};

mod pending;
mod relay;
mod spawn;
mod zygote;

/// Runs the sandboxed function `name` on `args` in a fresh child and returns its result.
///
/// Called by the code `#[sandboxed]` generates. Inside [`try_call`], a failure unwinds to
/// `try_call` instead of being returned.
pub fn call<R: DeserializeOwned, A: Serialize>(
    name: &'static str,
    args: &A,
    attribute_policy: impl FnOnce() -> Policy,
) -> Result<R, Error> {
    let policy = policy::effective(attribute_policy);
    let result = call_child(name, args, &policy);
    match result {
        Err(error) if CAPTURING.get() > 0 => panic::resume_unwind(Box::new(Captured(error))),
        result => result,
    }
}

fn call_child<R: DeserializeOwned, A: Serialize>(
    name: &str,
    args: &A,
    policy: &Policy,
) -> Result<R, Error> {
    let function = display_name(name);
    let request = encode(&function, name, args, policy)?;
    let exchange = exchange(&function, policy, request, None)?;
    decide(function, policy, exchange)
}

/// Starts a call of the sandboxed `async fn` `name` on `args`: encodes the request now
/// (under the policy in force now), and returns the future that makes the call when it
/// is first polled.
///
/// Called by the code `#[sandboxed]` generates for an `async fn`.
pub fn call_async<R, A: Serialize>(
    name: &'static str,
    args: &A,
    attribute_policy: impl FnOnce() -> Policy,
) -> Pending<R> {
    let policy = policy::effective(attribute_policy);
    let function = display_name(name);
    let request = encode(&function, name, args, &policy);
    Pending::new(function, policy, request)
}

/// The request of a call: the policy and the call, or the call alone for a zygote.
fn encode<A: Serialize>(
    function: &str,
    name: &str,
    args: &A,
    policy: &Policy,
) -> Result<wire::Request, Error> {
    let encode = |source| Repr::EncodeRequest {
        function: function.to_string(),
        source,
    };
    Ok(if policy.zygote {
        wire::call_request(name, args).map_err(encode)?
    } else {
        wire::request(policy, name, args).map_err(encode)?
    })
}

/// Makes the call: through the zygote of the policy, or a process started for it. When
/// `stop` becomes readable (its write end is closed), the wait for the answer ends and
/// the sandbox is ended as after an answer.
fn exchange(
    function: &str,
    policy: &Policy,
    request: wire::Request,
    stop: Option<BorrowedFd<'_>>,
) -> Result<Exchange, Error> {
    if policy.zygote {
        zygote::exchange(function, policy, request, stop)
    } else {
        one_shot(function, policy, request, stop)
    }
}

/// What came back from one call, before it is turned into a value or an error.
pub(crate) struct Exchange {
    /// Writing the request: a child that stopped reading makes it fail with `EPIPE`.
    sent: io::Result<()>,
    /// The response frame, `None` if the pipe closed before a whole one arrived.
    received: Result<Option<Response>, FrameError>,
    /// What the supervisor (or zygote) reported once the sandbox was gone.
    report: Option<Report>,
}

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

/// One call through a process started for it: the supervisor forks the sandbox.
fn one_shot(
    function: &str,
    policy: &Policy,
    request: wire::Request,
    stop: Option<BorrowedFd<'_>>,
) -> Result<Exchange, Error> {
    let io_error = |source| Error::io(function, source);
    let (lifeline_read, lifeline_write) = spawn::pipe().map_err(io_error)?;
    let Started {
        child,
        request: request_write,
        response: response_read,
        report: report_read,
        output,
    } = start_child(
        function,
        &format!("boxed: {function}"),
        &lifeline_read,
        large(&request),
        true,
    )?;
    drop(lifeline_read);
    let [stdout, stderr] = output.expect("started with output pipes");
    let mut relay = Relay::new(stdout, stderr);

    // The sandbox reads the whole request before it runs anything, so this write never
    // waits on output nobody relays.
    let sent = crate::sys::without_sigpipe(|| request.write_to(&mut File::from(request_write)));
    // The request's copy of the arguments' bytes is not kept while the answer comes.
    drop(request);
    let received = match relay.await_response(response_read, policy.max_response, stop) {
        Awaited::Frame(received) => received,
        // The call was abandoned (its future dropped): it ends as if no answer came,
        // and nobody reads the outcome.
        Awaited::Stopped => Ok(None),
    };
    // Closing the lifeline tells the supervisor the call is over: it ends the sandbox
    // and everything it started, reports, then exits the way the sandbox did. Then the
    // output pipes end, once everything that held them is gone.
    drop(lifeline_write);
    relay.drain(None);
    let mut report = Vec::new();
    let _ = File::from(report_read).read_to_end(&mut report);
    let mut report: Option<Report> = serde_json::from_slice(&report).ok();
    // Reaping is only cleanup: the program may have reaped the supervisor already.
    let status = child.wait();
    if report.is_none() {
        // The supervisor itself died: its own status is all there is, if the program
        // left it to be collected.
        report = Some(Report {
            ending: status.map_or(Ending::Unknown, |status| Ending::of(Ok(status))),
            timed_out: false,
            cpu_seconds: 0.0,
        });
    }
    Ok(Exchange {
        sent,
        received,
        report,
    })
}

/// Turns what came back into the function's result or the error that says what failed.
fn decide<R: DeserializeOwned>(
    function: String,
    policy: &Policy,
    exchange: Exchange,
) -> Result<R, Error> {
    let Exchange {
        sent,
        received,
        report,
    } = exchange;
    match received {
        Ok(Some(Response::Result(payload))) => payload.decode().map_err(|source| {
            Repr::DecodeResponse {
                function: function.clone(),
                source,
            }
            .into()
        }),
        Ok(Some(Response::Failure(failure))) => {
            Err(from_failure(function, failure, policy.memory.unwrap_or(0)))
        }
        Err(FrameError::TooLarge { announced, limit }) => Err(Repr::Limit {
            function,
            kind: Limit::Response { announced, limit },
        }
        .into()),
        Err(error) => Err(Repr::Protocol {
            function,
            message: error.to_string(),
        }
        .into()),
        Ok(None) => Err(match limit_exceeded(policy, report.as_ref()) {
            Some(kind) => Repr::Limit { function, kind },
            None => match report.map(|report| report.ending) {
                Some(Ending::Signaled(signal)) => Repr::Signal {
                    function,
                    signal,
                    name: nix::sys::signal::Signal::try_from(signal)
                        .map_or("unknown", |signal| signal.as_str()),
                },
                Some(Ending::Exited(code)) => match sent {
                    Err(source) if code == 0 => Repr::Io { function, source },
                    _ => Repr::NoAnswer { function, code },
                },
                Some(Ending::Unknown) | None => Repr::Protocol {
                    function,
                    message: "the child ended without an answer and its end is unknown".into(),
                },
            },
        }
        .into()),
    }
}

/// Which limit of the policy ended a sandbox that did not answer, if one did.
fn limit_exceeded(policy: &Policy, report: Option<&Report>) -> Option<Limit> {
    let report = report?;
    if report.timed_out {
        return policy.timeout.map(Limit::Timeout);
    }
    match report.ending {
        Ending::Signaled(signal) if signal == libc::SIGXFSZ => {
            policy.max_file_size.map(Limit::FileSize)
        }
        Ending::Signaled(signal) if signal == libc::SIGXCPU || signal == libc::SIGKILL => {
            // At the limit the kernel sends SIGKILL (soft and hard are equal); the CPU
            // time the supervisor measured tells it from any other SIGKILL.
            let limit = policy.cpu_time?;
            (report.cpu_seconds + 0.05 >= limit.as_secs_f64().ceil())
                .then_some(Limit::CpuTime(limit))
        }
        _ => None,
    }
}

pub(crate) fn from_failure(function: String, failure: Failure, policy_memory: u64) -> Error {
    match failure {
        Failure::Panic {
            message,
            file,
            line,
            column,
        } => Repr::Panic {
            function,
            message,
            location: PanicLocation { file, line, column },
        },
        Failure::UnknownFunction => Repr::UnknownFunction { function },
        Failure::DecodeRequest(message) => Repr::DecodeRequest { function, message },
        Failure::EncodeResponse(message) => Repr::EncodeResponse { function, message },
        Failure::Privileges(message) => Repr::Privileges { function, message },
        Failure::Startup { step, message } => return Error::startup(function, step, message),
        Failure::Unsupported(message) => Repr::Unsupported { function, message },
        Failure::MemoryLimit => Repr::Limit {
            function,
            kind: Limit::Memory(policy_memory),
        },
        Failure::Protocol(message) => Repr::Protocol { function, message },
    }
    .into()
}

thread_local! {
    /// How many [`try_call`]s are running on this thread.
    static CAPTURING: Cell<usize> = const { Cell::new(0) };
}

/// A sandbox failure on its way to the innermost [`try_call`].
struct Captured(Error);

/// Calls `f`, and returns the first failure of a sandboxed call made in it as `Err`,
/// whatever the sandboxed function's result type is.
///
/// ```
/// #[boxed::sandboxed]
/// fn add(a: u64, b: u64) -> u64 {
///     a + b
/// }
///
/// match boxed::try_call(|| add(2, 3)) {
///     Ok(sum) => assert_eq!(sum, 5),
///     Err(error) => eprintln!("the sandbox failed: {error}"),
/// }
/// ```
///
/// A failure stops `f` where it happened: the failed call does not return, it unwinds
/// (without running the panic hook) to this `try_call`, so code after it in `f` is
/// skipped. Calls made from other threads that `f` starts are not covered, and with
/// `panic = "abort"` there is no unwinding, so a failure aborts the process. A panic
/// inside the sandboxed function is a failure like any other and comes back as
/// [`ErrorKind::Panic`](crate::ErrorKind::Panic); a panic of `f` itself propagates.
pub fn try_call<R>(f: impl FnOnce() -> R) -> Result<R, Error> {
    struct Depth;
    impl Drop for Depth {
        fn drop(&mut self) {
            CAPTURING.set(CAPTURING.get() - 1);
        }
    }
    CAPTURING.set(CAPTURING.get() + 1);
    let depth = Depth;
    let outcome = panic::catch_unwind(AssertUnwindSafe(f));
    drop(depth);
    match outcome {
        Ok(value) => Ok(value),
        Err(payload) => match payload.downcast::<Captured>() {
            Ok(captured) => Err(captured.0),
            Err(payload) => panic::resume_unwind(payload),
        },
    }
}

#[cfg(test)]
mod tests {
    //! How a call's outcome is decided from what came back, without any process.
    use super::*;
    use std::time::Duration;

    fn exchange(
        received: Result<Option<Response>, FrameError>,
        report: Option<Report>,
    ) -> Exchange {
        Exchange {
            sent: Ok(()),
            received,
            report,
        }
    }

    fn json(text: &[u8]) -> crate::wire::Payload {
        crate::wire::Payload {
            json: text.to_vec(),
            attachments: Vec::new(),
        }
    }

    fn ended(ending: Ending, timed_out: bool, cpu_seconds: f64) -> Option<Report> {
        Some(Report {
            ending,
            timed_out,
            cpu_seconds,
        })
    }

    fn kind(policy: &Policy, exchange: Exchange) -> ErrorKind {
        decide::<u64>("f".into(), policy, exchange)
            .expect_err("the call should fail")
            .kind()
    }

    use crate::ErrorKind;

    #[test]
    fn a_result_frame_is_the_value_and_a_bad_one_is_a_decode_error() {
        let policy = Policy::new();
        let ok = decide::<u64>(
            "f".into(),
            &policy,
            exchange(Ok(Some(Response::Result(json(b"5")))), None),
        );
        assert_eq!(ok.expect("a value"), 5);
        let bad = exchange(Ok(Some(Response::Result(json(b"\"five\"")))), None);
        assert_eq!(kind(&policy, bad), ErrorKind::DecodeResponse);
    }

    #[test]
    fn no_answer_is_told_apart_by_how_the_sandbox_ended() {
        let policy = Policy::new();
        let signaled = exchange(Ok(None), ended(Ending::Signaled(libc::SIGSEGV), false, 0.0));
        assert_eq!(kind(&policy, signaled), ErrorKind::Signal);
        let exited = exchange(Ok(None), ended(Ending::Exited(3), false, 0.0));
        assert_eq!(kind(&policy, exited), ErrorKind::NoAnswer);
        let unknown = exchange(Ok(None), None);
        assert_eq!(kind(&policy, unknown), ErrorKind::Protocol);
        let too_large = exchange(
            Err(FrameError::TooLarge {
                announced: 10,
                limit: 5,
            }),
            None,
        );
        assert_eq!(kind(&policy, too_large), ErrorKind::ResponseLimit);
    }

    #[test]
    fn limits_are_named_only_when_the_policy_set_them() {
        let timed = Policy::new().timeout(Duration::from_secs(1));
        let killed = || exchange(Ok(None), ended(Ending::Signaled(libc::SIGKILL), true, 0.0));
        assert_eq!(kind(&timed, killed()), ErrorKind::Timeout);
        // The same end without a timeout in the policy is a plain signal.
        assert_eq!(kind(&Policy::new(), killed()), ErrorKind::Signal);

        let cpu = Policy::new().cpu_time(Duration::from_millis(1500));
        let spun = |seconds| {
            exchange(
                Ok(None),
                ended(Ending::Signaled(libc::SIGKILL), false, seconds),
            )
        };
        // The limit is whole seconds, rounded up: 2 s here.
        assert_eq!(kind(&cpu, spun(1.99)), ErrorKind::CpuLimit);
        assert_eq!(kind(&cpu, spun(1.0)), ErrorKind::Signal);

        let fsize = Policy::new().max_file_size(1 << 20);
        let wrote = || exchange(Ok(None), ended(Ending::Signaled(libc::SIGXFSZ), false, 0.0));
        assert_eq!(kind(&fsize, wrote()), ErrorKind::FileSizeLimit);
        assert_eq!(kind(&Policy::new(), wrote()), ErrorKind::Signal);
    }
}
