//! The minimal executor the child runs the body of a sandboxed `async fn` on: the one
//! thread of the call polls the future, and sleeps between polls until its waker is
//! called. No runtime is there: a body that needs one (a runtime's timers or sockets)
//! must start its own inside.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};

/// Wakes the thread that runs [`block_on`].
struct Unpark(Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

/// Runs `future` to completion on this thread.
pub fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let waker = Waker::from(Arc::new(Unpark(thread::current())));
    let mut context = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return output;
        }
        // A wake that came before this park makes it return at once.
        thread::park();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use std::time::Duration;

    /// Pending until another thread, woken by its first poll, sets it done.
    struct Elsewhere {
        done: Arc<Mutex<bool>>,
        started: bool,
    }

    impl Future for Elsewhere {
        type Output = &'static str;
        fn poll(
            mut self: std::pin::Pin<&mut Self>,
            context: &mut Context<'_>,
        ) -> Poll<&'static str> {
            if *self.done.lock().unwrap() {
                return Poll::Ready("done");
            }
            if !self.started {
                self.started = true;
                let done = self.done.clone();
                let waker = context.waker().clone();
                thread::spawn(move || {
                    thread::sleep(Duration::from_millis(20));
                    *done.lock().unwrap() = true;
                    waker.wake();
                });
            }
            Poll::Pending
        }
    }

    #[test]
    fn a_future_woken_from_another_thread_completes() {
        let future = Elsewhere {
            done: Arc::new(Mutex::new(false)),
            started: false,
        };
        assert_eq!(block_on(future), "done");
        assert_eq!(block_on(async { 1 + 1 }), 2);
    }
}
