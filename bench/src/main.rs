//! What a sandboxed call costs, measured in one run, as an unprivileged caller through
//! the launcher, the way boxed is used.
//!
//! Every row is compared with the floor: a spawn and wait of this same binary doing
//! nothing. Beside it: an in-process call and a thread, a start of the launcher on
//! its own, payloads of 1 MiB and 64 MiB through a sandboxed echo (beside the JSON work
//! and the pipe transfer they need), and calls per second from one and two threads.
//!
//! Run it with `bash bench/run.sh`, which builds it, sets the launcher up for the user
//! `boxed-test` and runs it as that user. Flags:
//!
//! - `--iterations N`: samples of each process and 1 MiB row, and sandboxed calls of each
//!   concurrency row (default 300);
//! - `--large-iterations N`: samples of each 64 MiB row (default 10);
//! - `--only GROUP`: only the floor and one group of rows: `sandboxed`, `zygote`,
//!   `payload`, `threads` or `filter` (the ratios of the other groups are left out).
//!
//! Each row is warmed up first with a tenth of its iterations (at least one). The program
//! only measures and prints; it asserts nothing about times.
//!
//! Beside the zygote rows, two rows measure what this machine allows any helper that is
//! already running: a round trip of 8 bytes through pipes to a process that waits for
//! them, back to back and 5 ms apart. Beside the default path, a row measures the floor
//! plus one `fork` of a child that exits at once, the least a supervisor and its sandbox
//! add to one process start.
//!
//! The `filter` rows time the kernel installing the syscall filter on a fresh thread of
//! the benchmark (the `seccomp` call only), each part for the default policy and for one
//! with the network and processes open: the whole filter of a root caller's one-shot
//! call, the zygote's bulk, the spare's part, installed on top of the bulk as in a zygote
//! call, the launcher's part of a one-shot call (all but the Landlock calls), and the
//! closing part its image adds on top of it. The note says how many classic-BPF
//! instructions the part has.
//!
//! More modes are the programs some rows start: `--noop` returns from `main` at once,
//! `--fork-noop` forks a child that exits at once and waits for it, `--echo` reads its
//! stdin to the end then writes it all to stdout, `--pong` sends back every 8 bytes
//! it reads until its stdin ends, and `--peak SIZE` makes one sandboxed echo of SIZE
//! bytes and prints how much its peak resident memory grew.

use std::fs;
use std::hint::black_box;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde::de::DeserializeOwned;

/// The environment of every process the benchmark starts itself, as boxed gives its child.
const PATH: &str = "/usr/local/bin:/usr/bin:/bin";

const MIB: usize = 1 << 20;

#[boxed::sandboxed]
fn add(a: u64, b: u64) -> u64 {
    a + b
}

#[boxed::sandboxed]
fn echo_string(s: String) -> String {
    s
}

#[boxed::sandboxed]
fn echo_bytes(v: Vec<u8>) -> Vec<u8> {
    v
}

/// A struct that holds its bytes in a plain `Vec<u8>` field (no `serde_bytes`).
#[derive(Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct Blob {
    name: String,
    data: Vec<u8>,
}

#[boxed::sandboxed]
fn echo_blob(blob: Blob) -> Blob {
    blob
}

/// The same `add`, through a zygote.
#[boxed::sandboxed(zygote)]
fn zygote_add(a: u64, b: u64) -> u64 {
    a + b
}

/// The same `add`, called in process.
#[inline(never)]
fn plain_add(a: u64, b: u64) -> u64 {
    a + b
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("boxed-bench: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("--noop") => return Ok(()),
        Some("--fork-noop") => return fork_noop(),
        Some("--echo") => return echo_stdin(),
        Some("--pong") => return pong(),
        Some("--peak") => return peak(args.get(1).map(String::as_str)),
        _ => {}
    }
    let options = Options::parse(&args)?;
    let exe = fs::canonicalize(std::env::current_exe()?)?;
    let uid = nix::unistd::getuid();
    // What a sandboxed call of a caller that is not root starts: the launcher.
    let copy = (!uid.is_root()).then(|| PathBuf::from(boxed::launcher::LAUNCHER));
    print_machine(&exe, &copy);
    let n = options.iterations;

    let wanted = |group: &str| options.only.as_deref().is_none_or(|only| only == group);

    let direct = direct_add(n);
    let thread = thread_spawn_join(n);
    let floor = floor(&exe, n);
    let fork_floor = wanted("sandboxed").then(|| fork_floor(&exe, n));
    let copy_exec = copy.as_deref().map(|copy| copy_exec(copy, n));
    let sandboxed = wanted("sandboxed").then(|| sandboxed_add(n));
    let zygote = wanted("zygote").then(|| zygote_rows(n));
    let round_trips = wanted("zygote").then(|| round_trips(&exe, n));
    let payloads = wanted("payload").then(|| {
        (
            payload_rows(&exe, MIB, n),
            payload_rows(&exe, 64 * MIB, options.large_iterations),
        )
    });
    let threads = wanted("threads").then(|| (concurrent_add(1, n), concurrent_add(2, n)));
    let filter = wanted("filter").then(|| filter_rows(n)).transpose()?;

    // The table, in this order.
    let mut rows: Vec<&Row> = vec![&direct, &thread, &floor];
    rows.extend(&copy_exec);
    rows.extend(&fork_floor);
    rows.extend(&sandboxed);
    if let Some((back_to_back, spaced)) = &round_trips {
        rows.extend([back_to_back, spaced]);
    }
    if let Some((back_to_back, spaced)) = &zygote {
        rows.extend([back_to_back, spaced]);
    }
    if let Some((small, large)) = &payloads {
        rows.extend(small.rows());
        rows.extend(large.rows());
    }
    if let Some(((one, _), (two, _))) = &threads {
        rows.extend([one, two]);
    }
    rows.extend(filter.iter().flatten());
    print_table(&rows);
    if copy_exec.is_none() {
        println!("(no row for the launcher: running as root, which needs none)");
    }

    println!();
    println!("ratios (of p50 unless said otherwise):");
    if let Some(sandboxed) = &sandboxed {
        println!(
            "  sandboxed add / floor                                     {:>8.2}",
            ratio(sandboxed.p50(), floor.p50())
        );
    }
    if let Some(fork_floor) = &fork_floor {
        println!(
            "  floor + one fork / floor                                  {:>8.2}",
            ratio(fork_floor.p50(), floor.p50())
        );
    }
    if let Some((back_to_back, spaced)) = &zygote {
        println!(
            "  zygote add back to back / floor                           {:>8.2}   ({})",
            ratio(back_to_back.p50(), floor.p50()),
            show(back_to_back.p50())
        );
        println!(
            "  zygote add, 5 ms apart / floor                            {:>8.2}   ({})",
            ratio(spaced.p50(), floor.p50()),
            show(spaced.p50())
        );
    }
    if let (Some((zygote_back, zygote_spaced)), Some((pipe_back, pipe_spaced))) =
        (&zygote, &round_trips)
    {
        println!(
            "  zygote add back to back / pipe round trip back to back    {:>8.2}   ({})",
            ratio(zygote_back.p50(), pipe_back.p50()),
            show(pipe_back.p50())
        );
        println!(
            "  zygote add, 5 ms apart / pipe round trip, 5 ms apart      {:>8.2}   ({})",
            ratio(zygote_spaced.p50(), pipe_spaced.p50()),
            show(pipe_spaced.p50())
        );
    }
    if let Some((small, large)) = &payloads {
        println!(
            "  64 MiB Vec<u8> round trip / pipe echo 64 MiB              {:>8.2}   (target 1.5)",
            ratio(large.bytes_sandboxed.p50(), large.pipe.p50())
        );
        println!(
            "  64 MiB struct{{Vec<u8>}} round trip / pipe echo 64 MiB      {:>8.2}   (target 1.5)",
            ratio(large.blob_sandboxed.p50(), large.pipe.p50())
        );
        println!(
            "  1 MiB Vec<u8> call / 1 MiB String call                    {:>8.2}   (target 1.3)",
            ratio(small.bytes_sandboxed.p50(), small.string_sandboxed.p50())
        );
        match peak_memory(&exe, 64 * MIB) {
            Ok(peak) => println!(
                "  caller's peak memory, 64 MiB Vec<u8> echo / 64 MiB        {:>8.2}   (target 3)",
                peak as f64 / (64 * MIB) as f64
            ),
            Err(error) => println!("  caller's peak memory: not measured: {error}"),
        }
        let parts = 2 * large.string_json.p50() + large.pipe.p50();
        println!(
            "  64 MiB String round trip / (2 x JSON enc+dec + pipe echo) {:>8.2}   ({} / {})",
            ratio(large.string_sandboxed.p50(), parts),
            show(large.string_sandboxed.p50()),
            show(parts)
        );
    }
    if let Some(((_, one_per_second), (_, two_per_second))) = threads {
        println!(
            "  calls per second, 2 threads / 1 thread                    {:>8.2}   ({:.0} / {:.0})",
            two_per_second / one_per_second,
            two_per_second,
            one_per_second
        );
    }
    Ok(())
}

/// What the flags ask for.
struct Options {
    iterations: usize,
    large_iterations: usize,
    only: Option<String>,
}

impl Options {
    fn parse(args: &[String]) -> Result<Options, String> {
        let mut options = Options {
            iterations: 300,
            large_iterations: 10,
            only: None,
        };
        let mut args = args.iter();
        while let Some(flag) = args.next() {
            if flag == "--only" {
                let group = args.next().map(String::as_str);
                match group {
                    Some(group @ ("sandboxed" | "zygote" | "payload" | "threads" | "filter")) => {
                        options.only = Some(group.to_string());
                        continue;
                    }
                    _ => {
                        return Err(
                            "--only needs one of sandboxed, zygote, payload, threads, filter"
                                .into(),
                        );
                    }
                }
            }
            let slot = match flag.as_str() {
                "--iterations" => &mut options.iterations,
                "--large-iterations" => &mut options.large_iterations,
                other => {
                    return Err(format!(
                        "unknown argument {other:?}; flags: --iterations N, --large-iterations N, \
                         --only GROUP"
                    ));
                }
            };
            *slot = args
                .next()
                .and_then(|value| value.parse().ok())
                .filter(|&value| value > 0)
                .ok_or(format!("{flag} needs a positive number"))?;
        }
        Ok(options)
    }
}

/// The `--echo` mode: all of stdin, then all of it to stdout, as a sandbox reads its whole
/// request before it answers.
fn echo_stdin() -> Result<(), Box<dyn std::error::Error>> {
    let mut bytes = Vec::new();
    io::stdin().lock().read_to_end(&mut bytes)?;
    io::stdout().lock().write_all(&bytes)?;
    Ok(())
}

/// The `--fork-noop` mode: a fork of a child that exits at once, and a wait for it.
fn fork_noop() -> Result<(), Box<dyn std::error::Error>> {
    use nix::unistd::{ForkResult, fork};
    // SAFETY: this process has one thread (this mode returns before anything could start
    // another), so the child may run any code; it only exits, and has nothing buffered
    // that the parent would also write.
    match unsafe { fork() }? {
        ForkResult::Child => std::process::exit(0),
        ForkResult::Parent { child } => {
            nix::sys::wait::waitpid(child, None)?;
            Ok(())
        }
    }
}

/// The `--pong` mode: sends back every 8 bytes read from stdin, until stdin ends.
fn pong() -> Result<(), Box<dyn std::error::Error>> {
    let mut input = io::stdin().lock();
    let mut output = io::stdout().lock();
    let mut message = [0u8; 8];
    loop {
        match input.read_exact(&mut message) {
            Ok(()) => {}
            Err(error) if error.kind() == io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(error) => return Err(error.into()),
        }
        output.write_all(&message)?;
        output.flush()?;
    }
}

/// The `--peak SIZE` mode: one sandboxed echo of a `Vec<u8>` of SIZE bytes, then prints
/// how far the process's peak resident memory grew from the call's start, in bytes.
fn peak(size: Option<&str>) -> Result<(), Box<dyn std::error::Error>> {
    let size: usize = size.ok_or("--peak needs a size")?.parse()?;
    let before = max_rss()?;
    let bytes: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
    let echoed = echo_bytes(bytes);
    black_box(&echoed);
    println!("{}", max_rss()? - before);
    Ok(())
}

/// The peak resident memory of this program so far, in bytes: `VmHWM`, which starts
/// anew at `exec` (`getrusage` would count the peak of the process before it).
fn max_rss() -> Result<u64, Box<dyn std::error::Error>> {
    let status = fs::read_to_string("/proc/self/status")?;
    let kib = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| value.trim().strip_suffix("kB"))
        .ok_or("no VmHWM line in /proc/self/status")?
        .trim()
        .parse::<u64>()?;
    Ok(kib * 1024)
}

/// The growth of the peak memory of a fresh caller over one echo of `size` bytes
/// (the argument it builds included), run in a process of its own.
fn peak_memory(exe: &Path, size: usize) -> Result<u64, Box<dyn std::error::Error>> {
    let out = quiet(exe)
        .args(["--peak", &size.to_string()])
        .stdout(Stdio::piped())
        .output()?;
    if !out.status.success() {
        return Err(format!("the --peak run ended with {}", out.status).into());
    }
    Ok(String::from_utf8(out.stdout)?.trim().parse()?)
}

/// One line of the table: the samples of one measurement, sorted.
struct Row {
    name: String,
    samples: Vec<Duration>,
    note: String,
}

impl Row {
    fn new(name: impl Into<String>, mut samples: Vec<Duration>) -> Row {
        samples.sort();
        Row {
            name: name.into(),
            samples,
            note: String::new(),
        }
    }

    fn with_note(mut self, note: impl Into<String>) -> Row {
        self.note = note.into();
        self
    }

    fn p50(&self) -> Duration {
        percentile(&self.samples, 50.0)
    }

    fn p99(&self) -> Duration {
        percentile(&self.samples, 99.0)
    }

    fn mean(&self) -> Duration {
        self.samples.iter().sum::<Duration>() / self.samples.len() as u32
    }
}

/// The nearest-rank percentile `p` of `sorted`: the smallest sample that at least `p`
/// percent of the samples do not exceed.
fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Runs `once` a tenth of `iterations` times (at least once) to warm up, then
/// `iterations` times. Each run times itself, so what it prepares stays outside.
fn sample(iterations: usize, mut once: impl FnMut() -> Duration) -> Vec<Duration> {
    for _ in 0..(iterations / 10).max(1) {
        once();
    }
    (0..iterations).map(|_| once()).collect()
}

fn time(f: impl FnOnce()) -> Duration {
    let start = Instant::now();
    f();
    start.elapsed()
}

fn direct_add(n: usize) -> Row {
    let samples = sample(n, || {
        time(|| {
            black_box(plain_add(black_box(2), black_box(3)));
        })
    });
    Row::new("direct call of add", samples).with_note("the clock's own cost dominates")
}

fn thread_spawn_join(n: usize) -> Row {
    let samples = sample(n, || {
        time(|| {
            thread::spawn(|| black_box(1))
                .join()
                .expect("the thread panicked");
        })
    });
    Row::new("thread spawn + join", samples)
}

/// The floor: this binary started with `--noop`, which returns from `main` at once.
fn floor(exe: &Path, n: usize) -> Row {
    let samples = sample(n, || {
        let mut command = quiet(exe);
        command.arg("--noop");
        time(|| {
            let status = command.status().expect("starting this binary failed");
            assert!(
                status.success(),
                "this binary with --noop ended with {status}"
            );
        })
    });
    Row::new("floor: spawn+wait of this binary --noop", samples)
}

/// The launcher started directly: it drops its privileges and refuses, exit 126.
fn copy_exec(copy: &Path, n: usize) -> Row {
    let samples = sample(n, || {
        let mut command = quiet(copy);
        command.stderr(Stdio::null());
        time(|| {
            let status = command.status().expect("starting the launcher failed");
            assert_eq!(status.code(), Some(126), "it ended with {status}");
        })
    });
    Row::new("exec of the launcher or copy alone (refuses, 126)", samples)
}

/// A command for `program` with stdin and stdout on `/dev/null` and only `PATH` set.
fn quiet(program: &Path) -> Command {
    let mut command = Command::new(program);
    command
        .env_clear()
        .env("PATH", PATH)
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    command
}

fn sandboxed_add(n: usize) -> Row {
    let samples = sample(n, || {
        let mut sum = 0;
        let elapsed = time(|| sum = add(2, 3));
        assert_eq!(sum, 5);
        elapsed
    });
    Row::new("sandboxed add (default policy)", samples)
}

/// `add` through a zygote: calls back to back, and calls 5 ms apart, so that a spare
/// is forked and waiting when each call comes. The first call starts the zygote and is
/// left out with the warm-up.
fn zygote_rows(n: usize) -> (Row, Row) {
    let call = || {
        let mut sum = 0;
        let elapsed = time(|| sum = zygote_add(2, 3));
        assert_eq!(sum, 5);
        elapsed
    };
    let back_to_back = sample(n, call);
    let spaced = sample(n, || {
        thread::sleep(Duration::from_millis(5));
        call()
    });
    (
        Row::new("zygote add, back to back", back_to_back),
        Row::new("zygote add, 5 ms apart", spaced),
    )
}

/// The floor plus one fork: this binary started with `--fork-noop`.
fn fork_floor(exe: &Path, n: usize) -> Row {
    let samples = sample(n, || {
        let mut command = quiet(exe);
        command.arg("--fork-noop");
        time(|| {
            let status = command.status().expect("starting this binary failed");
            assert!(status.success(), "--fork-noop ended with {status}");
        })
    });
    Row::new("floor + fork and wait of one child", samples)
}

/// Round trips of 8 bytes through pipes to this binary in `--pong` mode, started once and
/// waiting: back to back, and 5 ms apart like the spaced zygote calls.
fn round_trips(exe: &Path, n: usize) -> (Row, Row) {
    let mut command = quiet(exe);
    command
        .arg("--pong")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped());
    let mut child = command.spawn().expect("starting this binary failed");
    let mut input = child.stdin.take().expect("piped stdin");
    let mut output = child.stdout.take().expect("piped stdout");
    let mut round_trip = || {
        let mut message = *b"pingpong";
        time(|| {
            input.write_all(&message).expect("writing to --pong");
            output
                .read_exact(&mut message)
                .expect("reading from --pong");
        })
    };
    let back_to_back = sample(n, &mut round_trip);
    let spaced = sample(n, || {
        thread::sleep(Duration::from_millis(5));
        round_trip()
    });
    drop((input, output));
    let status = child.wait().expect("waiting for --pong failed");
    assert!(status.success(), "--pong ended with {status}");
    (
        Row::new("pipe round trip to a waiting process", back_to_back),
        Row::new("same, 5 ms apart", spaced),
    )
}

/// The rows of one payload size.
struct PayloadRows {
    string_sandboxed: Row,
    string_json: Row,
    bytes_sandboxed: Row,
    bytes_json: Row,
    blob_sandboxed: Row,
    pipe: Row,
}

impl PayloadRows {
    fn rows(&self) -> [&Row; 6] {
        [
            &self.string_sandboxed,
            &self.string_json,
            &self.bytes_sandboxed,
            &self.bytes_json,
            &self.blob_sandboxed,
            &self.pipe,
        ]
    }
}

/// A `String` of `size` ASCII letters (nothing JSON escapes) and a `Vec<u8>` of `size`
/// bytes cycling through 0 to 250, each through a sandboxed echo and through JSON in
/// process; and `size` bytes through a pipe to this binary and back.
fn payload_rows(exe: &Path, size: usize, n: usize) -> PayloadRows {
    let label = format!("{} MiB", size / MIB);
    let string: String = (0..size)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    let bytes: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
    PayloadRows {
        string_sandboxed: sandboxed_echo(
            &format!("sandboxed echo String {label}"),
            &string,
            echo_string,
            n,
        ),
        string_json: json_round_trip(&format!("  JSON enc+dec String {label}"), &string, n),
        bytes_sandboxed: sandboxed_echo(
            &format!("sandboxed echo Vec<u8> {label}"),
            &bytes,
            echo_bytes,
            n,
        ),
        bytes_json: json_round_trip(&format!("  JSON enc+dec Vec<u8> {label}"), &bytes, n),
        blob_sandboxed: sandboxed_echo(
            &format!("sandboxed echo struct{{Vec<u8>}} {label}"),
            &Blob {
                name: label.clone(),
                data: bytes.clone(),
            },
            echo_blob,
            n,
        ),
        pipe: pipe_echo(exe, &format!("  pipe echo {label}"), &bytes, n),
    }
}

/// Round trips of `value` through the sandboxed `echo`; the clone it takes is made
/// outside the timed part.
fn sandboxed_echo<T: Clone + PartialEq>(name: &str, value: &T, echo: fn(T) -> T, n: usize) -> Row {
    let samples = sample(n, || {
        let argument = value.clone();
        let mut echoed = None;
        let elapsed = time(|| echoed = Some(echo(argument)));
        assert!(echoed.as_ref() == Some(value), "{name}: the echo differs");
        elapsed
    });
    Row::new(name, samples)
}

/// `value` encoded to JSON and decoded back, in process.
fn json_round_trip<T: Serialize + DeserializeOwned>(name: &str, value: &T, n: usize) -> Row {
    let mut json_size = 0;
    let samples = sample(n, || {
        time(|| {
            let json = serde_json::to_vec(value).expect("encoding failed");
            json_size = json.len();
            let decoded: T = serde_json::from_slice(&json).expect("decoding failed");
            black_box(decoded);
        })
    });
    Row::new(name, samples).with_note(format!("JSON is {:.1} MiB", json_size as f64 / MIB as f64))
}

/// `bytes` written to this binary started with `--echo`, read back, and the child waited
/// for: the pipe transfer of a sandboxed round trip, without its JSON or its sandbox.
fn pipe_echo(exe: &Path, name: &str, bytes: &[u8], n: usize) -> Row {
    let samples = sample(n, || {
        let mut command = quiet(exe);
        command
            .arg("--echo")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped());
        let mut echoed = Vec::with_capacity(bytes.len());
        let elapsed = time(|| {
            let mut child = command.spawn().expect("starting this binary failed");
            let mut stdin = child.stdin.take().expect("stdin is piped");
            stdin.write_all(bytes).expect("writing to the echo failed");
            drop(stdin);
            let mut stdout = child.stdout.take().expect("stdout is piped");
            stdout
                .read_to_end(&mut echoed)
                .expect("reading the echo failed");
            let status = child.wait().expect("waiting for the echo failed");
            assert!(status.success(), "the echo ended with {status}");
        });
        assert!(echoed == bytes, "{name}: the echo differs");
        elapsed
    });
    Row::new(name, samples)
}

/// `calls` sandboxed `add`s shared among `threads` threads that start together. Returns
/// the latency of each call, and the calls per second over the whole run.
fn concurrent_add(threads: usize, calls: usize) -> (Row, f64) {
    let start = Barrier::new(threads + 1);
    let (samples, elapsed) = thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let warm_up = (calls / threads / 10).max(1);
                    for _ in 0..warm_up {
                        add(2, 3);
                    }
                    start.wait();
                    (0..calls / threads)
                        .map(|_| time(|| assert_eq!(add(2, 3), 5)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        start.wait();
        let began = Instant::now();
        let samples: Vec<Duration> = workers
            .into_iter()
            .flat_map(|worker| worker.join().expect("a calling thread panicked"))
            .collect();
        (samples, began.elapsed())
    });
    let per_second = samples.len() as f64 / elapsed.as_secs_f64();
    let name = format!("sandboxed add, {threads} thread(s)");
    let row = Row::new(name, samples).with_note(format!("{per_second:.0} calls/s"));
    (row, per_second)
}

/// The install time of each part of the syscall filter, for the default policy and for
/// one with the network and processes open.
fn filter_rows(n: usize) -> Result<Vec<Row>, String> {
    use boxed::__private::{FilterPart, filter_install_time, filter_instructions};
    let mut rows = Vec::new();
    for (name, policy) in [
        ("default", boxed::Policy::new()),
        (
            "net+procs",
            boxed::Policy::new().network(true).max_processes(4),
        ),
    ] {
        for (part, what, policy) in [
            (FilterPart::Whole, "whole", policy.clone()),
            (FilterPart::Zygote, "zygote's", policy.clone().zygote(true)),
            (FilterPart::Spare, "spare's", policy.clone().zygote(true)),
            (FilterPart::Launch, "launcher's", policy.clone()),
            (FilterPart::Closing, "closing", policy.clone()),
        ] {
            let mut failure = None;
            let samples = sample(n, || {
                filter_install_time(&policy, part).unwrap_or_else(|error| {
                    failure.get_or_insert(error);
                    Duration::ZERO
                })
            });
            if let Some(error) = failure {
                return Err(format!("installing the {what} filter ({name}): {error}"));
            }
            let instructions = filter_instructions(&policy, part);
            rows.push(
                Row::new(format!("install filter, {what}, {name}"), samples)
                    .with_note(format!("{instructions} BPF instructions")),
            );
        }
    }
    Ok(rows)
}

fn print_table(rows: &[&Row]) {
    println!(
        "{:<42} {:>5} {:>10} {:>10} {:>10}  note",
        "row", "n", "p50", "p99", "mean"
    );
    for row in rows {
        let line = format!(
            "{:<42} {:>5} {:>10} {:>10} {:>10}  {}",
            row.name,
            row.samples.len(),
            show(row.p50()),
            show(row.p99()),
            show(row.mean()),
            row.note
        );
        println!("{}", line.trim_end());
    }
}

/// A duration in the unit that suits it.
fn show(duration: Duration) -> String {
    let nanos = duration.as_nanos() as f64;
    match nanos {
        n if n < 1e3 => format!("{n:.0} ns"),
        n if n < 1e6 => format!("{:.1} µs", n / 1e3),
        n if n < 1e9 => format!("{:.2} ms", n / 1e6),
        n => format!("{:.2} s", n / 1e9),
    }
}

fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64()
}

fn print_machine(exe: &Path, copy: &Option<PathBuf>) {
    let cpus = thread::available_parallelism().map_or(0, |n| n.get());
    let kernel = fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|line| line.strip_prefix("model name")?.split_once(':'))
        .map_or("unknown", |(_, model)| model.trim());
    println!(
        "machine: {cpus} CPUs (nproc), kernel {}, {model}",
        kernel.trim()
    );
    println!("binary:  {} ({})", exe.display(), linking(exe));
    match copy {
        Some(copy) => println!(
            "caller:  uid {}, sandboxed calls through {}",
            nix::unistd::getuid(),
            copy.display()
        ),
        None => {
            println!("caller:  root, so sandboxed calls start this binary itself, with no launcher")
        }
    }
    println!();
}

/// Whether `exe` is linked statically: a dynamically linked ELF file names its loader in
/// a `PT_INTERP` program header. Reads 64-bit little-endian ELF files only.
fn linking(exe: &Path) -> String {
    const PT_INTERP: u64 = 3;
    let Ok(elf) = fs::read(exe) else {
        return "unreadable".into();
    };
    let field = |at: usize, size: usize| -> Option<u64> {
        let bytes = elf.get(at..at + size)?;
        Some(
            bytes
                .iter()
                .rev()
                .fold(0, |value, &byte| value << 8 | u64::from(byte)),
        )
    };
    if elf.get(..6) != Some(b"\x7fELF\x02\x01") {
        return "not a 64-bit little-endian ELF file".into();
    }
    let interpreter = || -> Option<Option<String>> {
        let (table, entry_size, entries) = (field(0x20, 8)?, field(0x36, 2)?, field(0x38, 2)?);
        for index in 0..entries {
            let header = (table + index * entry_size) as usize;
            if field(header, 4)? == PT_INTERP {
                let (offset, size) = (
                    field(header + 8, 8)? as usize,
                    field(header + 32, 8)? as usize,
                );
                let path = elf.get(offset..offset + size)?;
                return Some(Some(
                    String::from_utf8_lossy(path).trim_end_matches('\0').into(),
                ));
            }
        }
        Some(None)
    };
    match interpreter() {
        Some(None) => "static".into(),
        Some(Some(loader)) => format!("not static: dynamically linked, loader {loader}"),
        None => "malformed ELF program headers".into(),
    }
}
