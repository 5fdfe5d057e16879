//! `#[sandboxed] async fn`, end to end, on tokio's current-thread and multi-thread
//! runtimes, one-shot and through a zygote: a call awaits without blocking the
//! executor's thread (a ticker on the same thread keeps ticking through it), many calls
//! on one thread run at the same time, dropping a call's future ends its sandbox and
//! leaves no process, and results, errors and panics arrive as for a sync call.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use boxed::{ErrorKind, Policy, sandboxed};
use boxed_tests::{e2e, eventually, open_directory, proc_stat, still_running};
use serde::{Deserialize, Serialize};

/// How long a process may take to go away after what should end it.
const GONE_WITHIN: Duration = Duration::from_secs(10);

/// Now, as milliseconds since the epoch: a clock the sandbox and the test share.
fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("a clock after 1970")
        .as_millis() as u64
}

/// Sleeps `ms` milliseconds in the sandbox; returns when it started and ended there.
#[sandboxed]
async fn nap(ms: u64) -> (u64, u64) {
    let start = now_ms();
    std::thread::sleep(Duration::from_millis(ms));
    (start, now_ms())
}

/// Creates a file named after its pid in `dir`, then sleeps `ms` milliseconds.
#[sandboxed]
async fn announce_then_nap(dir: &Path, ms: u64) -> u32 {
    let pid = std::process::id();
    std::fs::File::create(dir.join(pid.to_string())).expect("announcing the pid");
    std::thread::sleep(Duration::from_millis(ms));
    pid
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
enum ParseError {
    Syntax(String),
    Sandbox(ErrorKind),
}

impl From<boxed::Error> for ParseError {
    fn from(error: boxed::Error) -> Self {
        ParseError::Sandbox(error.kind())
    }
}

/// Parses `text`; panics on "panic", dies of SIGKILL on "die".
#[sandboxed]
async fn parse(text: &str, bytes: &[u8]) -> Result<u64, ParseError> {
    match text {
        "panic" => panic!("the parser gave up on {} bytes", bytes.len()),
        // SAFETY: raises a signal on this process; nothing runs after it.
        "die" => unsafe {
            libc::raise(libc::SIGKILL);
            unreachable!()
        },
        _ => text
            .trim()
            .parse::<u64>()
            .map(|n| n + bytes.len() as u64)
            .map_err(|_| ParseError::Syntax(text.into())),
    }
}

/// The same failures, for a result that is not a `Result`: they panic in the caller.
#[sandboxed]
async fn length(text: String) -> usize {
    if text == "panic" {
        panic!("length gave up");
    }
    text.len()
}

fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a current-thread runtime")
}

fn multi_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .expect("a multi-thread runtime")
}

/// One-shot, then through a zygote.
fn modes() -> [(&'static str, Policy); 2] {
    [
        ("one-shot", Policy::new()),
        ("zygote", Policy::new().zygote(true)),
    ]
}

#[test]
fn a_ticker_on_the_same_thread_keeps_ticking_through_a_call() {
    e2e();
    for (mode, policy) in modes() {
        current_thread().block_on(async {
            let ticks = std::rc::Rc::new(std::cell::Cell::new(0u32));
            let counted = ticks.clone();
            let local = tokio::task::LocalSet::new();
            local
                .run_until(async move {
                    let ticker = tokio::task::spawn_local(async move {
                        let mut interval = tokio::time::interval(Duration::from_millis(10));
                        loop {
                            interval.tick().await;
                            counted.set(counted.get() + 1);
                        }
                    });
                    // Control: the ticker ticks while nothing else runs.
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    let before = ticks.get();
                    assert!(
                        before >= 3,
                        "{mode}: {before} ticks in 100 ms without a call"
                    );
                    let (start, end) = policy.run(|| nap(400)).await;
                    assert!(
                        end - start >= 400,
                        "{mode}: the body slept {} ms",
                        end - start
                    );
                    let during = ticks.get() - before;
                    // About 40 ticks of 10 ms; a call that blocked the thread would leave
                    // one at most.
                    assert!(during >= 10, "{mode}: {during} ticks through a 400 ms call");
                    ticker.abort();
                })
                .await;
        });
    }
}

#[test]
fn calls_started_together_on_one_thread_run_at_the_same_time() {
    e2e();
    for (mode, policy) in modes() {
        current_thread().block_on(async {
            let started = Instant::now();
            let calls: Vec<_> = (0..16)
                .map(|_| tokio::spawn(policy.run(|| nap(300))))
                .collect();
            let mut spans = Vec::new();
            for call in calls {
                spans.push(call.await.expect("the task"));
            }
            let elapsed = started.elapsed();
            // Every sandbox was asleep at one moment: the latest start came before the
            // earliest end.
            let latest_start = spans.iter().map(|span| span.0).max().unwrap();
            let earliest_end = spans.iter().map(|span| span.1).min().unwrap();
            assert!(
                latest_start < earliest_end,
                "{mode}: the 16 calls did not overlap: {spans:?}"
            );
            assert!(
                elapsed < Duration::from_millis(16 * 300 / 2),
                "{mode}: 16 calls of 300 ms took {elapsed:?}"
            );
        });
    }
}

/// Waits for the pid the sandbox announces in `dir`.
fn announced(dir: &Path) -> i32 {
    let mut pid = None;
    let found = eventually(GONE_WITHIN, || {
        pid = std::fs::read_dir(dir)
            .expect("listing the directory")
            .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
            .next();
        pid.is_some()
    });
    assert!(found, "no sandbox announced its pid in {}", dir.display());
    pid.unwrap()
}

#[test]
fn dropping_a_call_ends_its_sandbox_and_leaves_no_process() {
    let e2e = e2e();
    for (mode, policy) in modes() {
        let dir: PathBuf = open_directory(&e2e.work, &format!("async-drop-{mode}"));
        let policy = policy.write(&dir);
        let processes = current_thread().block_on(async {
            let mut call = Box::pin(policy.run(|| announce_then_nap(&dir, 5000)));
            let timed_out = tokio::time::timeout(Duration::from_millis(300), &mut call).await;
            assert!(timed_out.is_err(), "{mode}: the 5 s call returned early");
            // 300 ms in, the call runs: its sandbox (and in one-shot mode the supervisor,
            // its parent) are alive.
            let sandbox = announced(&dir);
            let stat = proc_stat(sandbox).expect("the sandbox runs before the drop");
            let mut processes = vec![(sandbox, stat.start)];
            if mode == "one-shot" {
                let supervisor = proc_stat(stat.ppid).expect("its supervisor runs");
                processes.push((stat.ppid, supervisor.start));
            }
            for &(pid, start) in &processes {
                assert!(still_running(pid, start), "{mode}: {pid} before the drop");
            }
            drop(call);
            processes
        });
        // The future is gone: its processes end soon after, long before the body's 5 s.
        let dropped_at = Instant::now();
        let gone = eventually(GONE_WITHIN, || {
            processes
                .iter()
                .all(|&(pid, start)| !still_running(pid, start))
        });
        assert!(gone, "{mode}: {processes:?} still running after the drop");
        assert!(
            dropped_at.elapsed() < Duration::from_millis(4000),
            "{mode}: the sandbox lasted as long as its body"
        );
    }
}

#[test]
fn results_errors_and_panics_arrive_as_for_a_sync_call() {
    e2e();
    for (mode, policy) in modes() {
        for runtime in [current_thread(), multi_thread()] {
            runtime.block_on(async {
                assert_eq!(policy.run(|| parse("40", &[1, 2])).await, Ok(42), "{mode}");
                assert_eq!(
                    policy.run(|| parse("x", &[])).await,
                    Err(ParseError::Syntax("x".into())),
                    "{mode}"
                );
                assert_eq!(
                    policy.run(|| parse("panic", &[])).await,
                    Err(ParseError::Sandbox(ErrorKind::Panic)),
                    "{mode}"
                );
                assert_eq!(
                    policy.run(|| parse("die", &[])).await,
                    Err(ParseError::Sandbox(ErrorKind::Signal)),
                    "{mode}"
                );
                assert_eq!(policy.run(|| length("four".into())).await, 4, "{mode}");
                // A failure of a function whose result is not a `Result` panics where the
                // future is polled, with the sandbox's message.
                let panicked = tokio::spawn(policy.run(|| length("panic".into())))
                    .await
                    .expect_err("the call panics");
                let payload = panicked.into_panic();
                let message = payload
                    .downcast_ref::<String>()
                    .cloned()
                    .unwrap_or_default();
                assert!(message.contains("length gave up"), "{mode}: {message:?}");
            });
        }
    }
}
