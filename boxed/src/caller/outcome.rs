//! How a call's outcome is decided from what came back: the response frame, or, without
//! one, how the sandbox ended and which limit of the policy that was. No process here.

use std::io;

use serde::de::DeserializeOwned;

use crate::error::{Error, Limit, PanicLocation, Repr};
use crate::policy::Policy;
use crate::wire::{Ending, Failure, FrameError, Report, Response};

/// What came back from one call, before it is turned into a value or an error.
pub(crate) struct Exchange {
    /// Writing the request: a child that stopped reading makes it fail with `EPIPE`.
    pub sent: io::Result<()>,
    /// The response frame, `None` if the pipe closed before a whole one arrived.
    pub received: Result<Option<Response>, FrameError>,
    /// What the supervisor (or zygote) reported once the sandbox was gone.
    pub report: Option<Report>,
}

/// Turns what came back into the function's result or the error that says what failed.
pub(crate) fn decide<R: DeserializeOwned>(
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

    #[test]
    fn start_up_failures_name_their_step_and_errno_and_are_not_privilege_failures() {
        use crate::wire::{Failure, Step};
        let errno = "EAGAIN: Resource temporarily unavailable";
        for (step, kind) in [
            (Step::Descriptors, ErrorKind::Startup),
            (Step::Pipes, ErrorKind::Startup),
            (Step::Fork, ErrorKind::Startup),
            (Step::Process, ErrorKind::Startup),
            (Step::Handover, ErrorKind::Startup),
            (Step::OomScore, ErrorKind::Confinement),
            (Step::Limits, ErrorKind::Confinement),
            (Step::Landlock, ErrorKind::Confinement),
            (Step::Seccomp, ErrorKind::Confinement),
        ] {
            let failure = Failure::startup(step, format!("the call failed: {errno}"));
            // As the child sends it.
            let json = serde_json::to_vec(&failure).unwrap();
            let failure: Failure = serde_json::from_slice(&json).unwrap();
            let error = from_failure("krate::f".into(), failure, 0);
            assert_eq!(error.kind(), kind, "{step:?}: {error}");
            let message = error.to_string();
            assert!(message.contains(step.name()), "{message}");
            assert!(message.contains(errno), "{message}");
            assert!(!message.contains("privileges"), "{message}");
            assert_eq!(error.function(), Some("krate::f"));
        }
        let dropped = from_failure(
            "krate::f".into(),
            Failure::Privileges("setresuid(nobody) failed: EPERM".into()),
            0,
        );
        assert_eq!(dropped.kind(), ErrorKind::Privileges);
        assert!(
            dropped
                .to_string()
                .contains("drop or verify its privileges")
        );
    }
}
