//! The future of a call of a sandboxed `async fn`. The call itself is the sync one: it
//! runs on a thread of its own, started at the first poll, and the future waits for its
//! outcome without blocking the executor's thread, so any executor can drive it.
//! Dropping the future stops the call: the thread's wait for the answer ends at once,
//! the sandbox is ended as a finished call's is (its supervisor or zygote kills it and
//! everything it started), and the thread reaps what it started.

use std::future::Future;
use std::marker::PhantomData;
use std::os::fd::{AsFd, OwnedFd};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use serde::de::DeserializeOwned;

use super::exchange::exchange;
use super::outcome::{Exchange, decide};
use super::spawn;
use crate::error::Error;
use crate::policy::Policy;
use crate::wire;

/// A call of a sandboxed `async fn`, as a future of its result or its failure.
#[must_use = "a sandboxed call does nothing until it is awaited"]
pub struct Pending<R> {
    function: String,
    policy: Policy,
    state: State,
    result: PhantomData<fn() -> R>,
}

enum State {
    /// Not polled yet: the encoded request, or why it could not be encoded.
    Ready(Result<wire::Request, Error>),
    /// The call runs on its thread; dropping `stop` (the write end of a pipe whose read
    /// end the thread watches) stops it.
    Running { shared: Arc<Shared>, stop: OwnedFd },
    /// The outcome was returned.
    Done,
}

/// What the call's thread and the future share.
#[derive(Default)]
struct Shared {
    slot: Mutex<Slot>,
}

#[derive(Default)]
struct Slot {
    outcome: Option<Result<Exchange, Error>>,
    waker: Option<Waker>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Slot> {
        self.slot
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl<R> Pending<R> {
    pub(super) fn new(
        function: String,
        policy: Policy,
        request: Result<wire::Request, Error>,
    ) -> Pending<R> {
        Pending {
            function,
            policy,
            state: State::Ready(request),
            result: PhantomData,
        }
    }
}

/// Starts the call's thread.
fn start(function: &str, policy: &Policy, request: wire::Request) -> Result<State, Error> {
    let io_error = |source| Error::io(function, source);
    let (stop_read, stop) = spawn::pipe().map_err(io_error)?;
    let shared = Arc::new(Shared::default());
    let theirs = shared.clone();
    let (function, policy) = (function.to_string(), policy.clone());
    std::thread::Builder::new()
        .name("boxed async call".into())
        .spawn(move || {
            let outcome = exchange(&function, &policy, request, Some(stop_read.as_fd()));
            let waker = {
                let mut slot = theirs.lock();
                slot.outcome = Some(outcome);
                slot.waker.take()
            };
            if let Some(waker) = waker {
                waker.wake();
            }
        })
        .map_err(io_error)?;
    Ok(State::Running { shared, stop })
}

impl<R: DeserializeOwned> Future for Pending<R> {
    type Output = Result<R, Error>;

    fn poll(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<Result<R, Error>> {
        let this = self.get_mut();
        loop {
            match std::mem::replace(&mut this.state, State::Done) {
                State::Ready(Err(error)) => return Poll::Ready(Err(error)),
                State::Ready(Ok(request)) => match start(&this.function, &this.policy, request) {
                    Ok(running) => this.state = running,
                    Err(error) => return Poll::Ready(Err(error)),
                },
                State::Running { shared, stop } => {
                    let outcome = {
                        let mut slot = shared.lock();
                        let outcome = slot.outcome.take();
                        if outcome.is_none() {
                            slot.waker = Some(context.waker().clone());
                        }
                        outcome
                    };
                    let Some(outcome) = outcome else {
                        this.state = State::Running { shared, stop };
                        return Poll::Pending;
                    };
                    drop(stop);
                    let function = std::mem::take(&mut this.function);
                    return Poll::Ready(
                        outcome.and_then(|exchange| decide(function, &this.policy, exchange)),
                    );
                }
                State::Done => panic!("a sandboxed call was polled after it returned"),
            }
        }
    }
}
