//! A small caller program for tests that need a whole process: killing the caller,
//! starting its image by hand, calls that no launcher serves.
//!
//! `boxed-test-caller sleep` calls a sandboxed function that prints its pid and sleeps;
//! `boxed-test-caller unlink-self` deletes its own executable, then does what
//! `credentials` does (prints the credential lines of a sandbox);
//! `boxed-test-caller caps` prints this process's own capabilities from `main`;
//! `boxed-test-caller sigpipe` puts `SIGPIPE` back to its default, then calls a sandbox
//! that stops at its memory limit while it reads a 96 MiB argument, without and with a
//! zygote, and prints the error kind of each call;
//! `boxed-test-caller errors` makes one call without and one through a zygote and prints,
//! for each, `ok` or the error's kind and message on one line;
//! `boxed-test-caller zygote` makes one call through a zygote, prints the zygote's pid
//! (the sandbox's parent) on a line `zygote pid N`, then reads its standard input to the
//! end and exits (at once when standard input is `/dev/null`).

use boxed::sandboxed;
use nix::sys::signal::{SigHandler, Signal};

/// Prints the sandbox's pid, then sleeps far longer than any test waits.
#[sandboxed]
fn sleep_forever() {
    println!("sandbox pid {}", std::process::id());
    std::thread::sleep(std::time::Duration::from_secs(3600));
}

/// The credential lines of the sandbox's `/proc/self/status`.
#[sandboxed]
fn credentials() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    credential_lines(&status)
}

/// The sandbox's parent: in zygote mode, the zygote.
#[sandboxed(zygote)]
fn zygote_pid() -> i32 {
    nix::unistd::getppid().as_raw()
}

/// Never gets to run: its 96 MiB argument does not fit under its memory limit.
#[sandboxed(memory = "32MiB")]
fn swallow(text: String) -> usize {
    text.len()
}

/// The same, through a zygote.
#[sandboxed(zygote, memory = "32MiB")]
fn swallow_in_zygote(text: String) -> usize {
    text.len()
}

fn credential_lines(status: &str) -> String {
    status
        .lines()
        .filter(|line| {
            ["Uid:", "Gid:", "Groups:", "Cap", "NoNewPrivs:"]
                .iter()
                .any(|key| line.starts_with(key))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn main() {
    match std::env::args().nth(1).as_deref() {
        Some("sleep") => sleep_forever(),
        Some("credentials") => println!("{}", credentials()),
        Some("unlink-self") => {
            // The file this process runs from goes away before its first call.
            let exe = std::env::current_exe().expect("current_exe");
            std::fs::remove_file(&exe).expect("removing its own executable");
            println!("{}", credentials());
        }
        Some("doctor") => {
            let support = boxed::kernel_support();
            println!("{support}");
            std::process::exit(if support.complete() { 0 } else { 1 });
        }
        Some("sigpipe") => {
            // As a program that wants to die quietly at the end of a closed pipeline.
            // SAFETY: SIG_DFL installs no handler code.
            unsafe { nix::sys::signal::signal(Signal::SIGPIPE, SigHandler::SigDfl) }
                .expect("signal(SIGPIPE, SIG_DFL)");
            let text = "x".repeat(96 << 20);
            for call in [swallow, swallow_in_zygote] {
                let text = text.clone();
                match boxed::try_call(|| call(text)) {
                    Ok(length) => println!("no error: {length}"),
                    Err(error) => println!("{:?}", error.kind()),
                }
            }
        }
        Some("errors") => {
            let one_shot = boxed::try_call(credentials).map(drop);
            let zygote = boxed::try_call(zygote_pid).map(drop);
            for (name, result) in [("one-shot", one_shot), ("zygote", zygote)] {
                match result {
                    Ok(()) => println!("{name}: ok"),
                    Err(error) => println!("{name}: {:?}: {error}", error.kind()),
                }
            }
        }
        Some("zygote") => {
            use std::io::{Read, Write};
            println!("zygote pid {}", zygote_pid());
            std::io::stdout().flush().expect("flushing stdout");
            // Whoever started this program decides when it exits: the zygote can be seen
            // alive until then.
            let mut rest = Vec::new();
            std::io::stdin()
                .read_to_end(&mut rest)
                .expect("reading stdin");
        }
        _ => {
            let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
            println!("MAIN RAN\n{}", credential_lines(&status));
        }
    }
}
