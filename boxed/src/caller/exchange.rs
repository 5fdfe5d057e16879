//! How one call crosses: through the policy's zygote, or through a process started for
//! it (the launcher, or for a root caller the executable itself), whose supervisor forks
//! the sandbox.

use std::fs::File;
use std::io::Read;
use std::os::fd::BorrowedFd;

use super::outcome::Exchange;
use super::relay::{Awaited, Relay};
use super::start::{Started, large, start_child};
use super::{spawn, zygote};
use crate::error::Error;
use crate::policy::Policy;
use crate::wire::{self, Ending, Report};

/// Makes the call: through the zygote of the policy, or a process started for it. When
/// `stop` becomes readable (its write end is closed), the wait for the answer ends and
/// the sandbox is ended as after an answer.
pub(crate) fn exchange(
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
    if matches!(received, Ok(Some(_))) && policy.max_processes <= 1 {
        // The answer is here and the sandbox could start no process: its output is in
        // the pipes (see `Relay::take_what_is_there`), and the report is not needed.
        // The report pipe closed before the lifeline tells the supervisor so: it kills
        // the sandbox and exits at once, without waiting for the sandbox's exit.
        relay.take_what_is_there();
        drop(report_read);
        drop(lifeline_write);
        // Reaping is only cleanup: the program may have reaped the supervisor already.
        let _ = child.wait();
        return Ok(Exchange {
            sent,
            received,
            report: None,
        });
    }
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
