//! A small caller program for tests that need a whole process: killing the caller, and
//! running the installed copy directly.
//!
//! `boxed-test-caller sleep` calls a sandboxed function that prints its pid and sleeps;
//! `boxed-test-caller caps` prints this process's own capabilities from `main`.

use boxed::sandboxed;

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
        Some("doctor") => {
            let support = boxed::kernel_support();
            println!("{support}");
            std::process::exit(if support.complete() { 0 } else { 1 });
        }
        _ => {
            let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
            println!("MAIN RAN\n{}", credential_lines(&status));
        }
    }
}
