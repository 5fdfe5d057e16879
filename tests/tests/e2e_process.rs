//! The child's processes, end to end: nothing of a sandbox outlives its caller, and
//! nothing a sandbox starts outlives the call, not even a daemon that left the sandbox's
//! session.

use std::process::{Command, Stdio};
use std::time::Duration;

use boxed::sandboxed;
use boxed_tests::{
    announced_pid, e2e, eventually, proc_stat, running_in_session, running_programs, status_field,
    still_running,
};

/// How long a process may take to go away after what should end it.
const GONE_WITHIN: Duration = Duration::from_secs(10);

/// One process, told apart from a later one that reuses its pid by its start time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct Process {
    pid: i32,
    start: u64,
}

impl Process {
    fn of(pid: i32) -> Process {
        let start = proc_stat(pid)
            .unwrap_or_else(|| panic!("process {pid} does not exist"))
            .start;
        Process { pid, start }
    }

    /// Whether it still runs: it exists and is not a zombie (a zombie runs nothing; its
    /// parent, which may be init, reaps it in its own time).
    fn alive(self) -> bool {
        still_running(self.pid, self.start)
    }
}

#[test]
fn a_sandbox_that_stops_reading_its_request_does_not_kill_the_caller() {
    let env = e2e();
    let program = env.stage.join("bin/boxed-test-caller");
    let output = Command::new(&program)
        .arg("sigpipe")
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("starting {}: {e}", program.display()));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{output:?}");
    assert_eq!(stdout, "MemoryLimit\nMemoryLimit\n", "{output:?}");
}

#[test]
fn killing_the_caller_kills_its_sandbox() {
    let env = e2e();
    let program = env.stage.join("bin/boxed-test-caller");
    let mut caller = Command::new(&program)
        .arg("sleep")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("starting {}: {e}", program.display()));
    let caller_pid = caller.id() as i32;

    // The sandbox says its pid.
    let sandbox_pid = announced_pid(&mut caller, &program, "sandbox", GONE_WITHIN);

    // Caller -> supervisor -> sandbox, the sandbox running as nobody.
    let sandbox = Process::of(sandbox_pid);
    let sandbox_stat = proc_stat(sandbox_pid).unwrap();
    let supervisor = Process::of(sandbox_stat.ppid);
    assert_eq!(
        proc_stat(supervisor.pid).unwrap().ppid,
        caller_pid,
        "the sandbox's parent is not a child of the caller"
    );
    assert_eq!(
        sandbox_stat.session, sandbox_pid,
        "the sandbox leads a session"
    );
    let status = std::fs::read_to_string(format!("/proc/{sandbox_pid}/status")).unwrap();
    assert_eq!(status_field(&status, "Uid"), "65534\t65534\t65534\t65534");

    caller.kill().unwrap();
    let ended = caller.wait().unwrap();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&ended),
        Some(libc::SIGKILL)
    );

    let gone = eventually(GONE_WITHIN, || {
        !sandbox.alive() && !supervisor.alive() && running_in_session(sandbox_pid).is_empty()
    });
    assert!(
        gone,
        "after the caller died: sandbox {sandbox:?} alive: {}, supervisor {supervisor:?} \
         alive: {}, processes left in the sandbox's session: {:?}",
        sandbox.alive(),
        supervisor.alive(),
        running_in_session(sandbox_pid)
    );
}

/// What the sandbox learnt about the background processes it started.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Started {
    /// The sandbox's own parent, the supervisor.
    supervisor: i32,
    /// (process, its parent, its session) of each background `sleep`, once the shell
    /// that started them has exited.
    sleepers: Vec<(Process, i32, i32)>,
}

/// Starts two `sleep 300` through a shell that exits at once: one in the background of
/// the sandbox's session, one daemonised into a session of its own with `setsid`.
///
/// Runs under the policy its test grants: by default the sandbox could start neither the
/// shell nor anything else, nor read the `/proc` entries of its grandchildren.
#[sandboxed]
fn start_daemons() -> Started {
    let output = Command::new("/bin/sh")
        .arg("-c")
        .arg(
            "sleep 300 </dev/null >/dev/null 2>&1 & echo $!; \
             setsid sleep 300 </dev/null >/dev/null 2>&1 & echo $!",
        )
        .output()
        .expect("running /bin/sh");
    assert!(output.status.success(), "{output:?}");
    let pids: Vec<i32> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| line.trim().parse().unwrap())
        .collect();
    assert_eq!(pids.len(), 2, "{pids:?}");
    let sleepers = pids
        .into_iter()
        .enumerate()
        .map(|(index, pid)| {
            // Wait until each has become `sleep` (and the second has left the session).
            let ready = eventually(GONE_WITHIN, || {
                proc_stat(pid)
                    .is_some_and(|s| s.comm == "sleep" && (index == 0 || s.session == pid))
            });
            let s = proc_stat(pid).unwrap_or_else(|| panic!("sleep {pid} is gone"));
            assert!(
                ready,
                "process {pid} did not become a daemonised sleep: {s:?}"
            );
            (
                Process {
                    pid,
                    start: s.start,
                },
                s.ppid,
                s.session,
            )
        })
        .collect();
    Started {
        supervisor: nix::unistd::getppid().as_raw(),
        sleepers,
    }
}

/// The processes `start_daemons` has at once: the sandbox, the shell, and the two sleeps
/// (the second started by `setsid`, which becomes it).
const DAEMONS: u64 = 4;

#[test]
fn a_daemonised_grandchild_does_not_outlive_the_call() {
    e2e();
    // The sandbox may run the shell and its programs (read on the system trees, and
    // DAEMONS processes), and read /proc, where it watches its grandchildren become
    // daemons (Landlock can name no /proc entry of a process that does not exist yet).
    // So nothing stops the daemon from starting: what ends it is the supervisor, not a
    // confinement layer.
    let started = running_programs(DAEMONS).read("/proc").run(start_daemons);
    let [
        (background, background_parent, background_session),
        (daemon, daemon_parent, daemon_session),
    ] = started.sleepers[..]
    else {
        panic!("expected two sleepers: {started:?}");
    };
    // Both were orphans of the shell, adopted by the supervisor; the daemon had a
    // session of its own.
    assert_eq!(background_parent, started.supervisor, "{started:?}");
    assert_eq!(daemon_parent, started.supervisor, "{started:?}");
    assert_ne!(background_session, daemon_session, "{started:?}");
    assert_eq!(daemon_session, daemon.pid, "{started:?}");

    let gone = eventually(GONE_WITHIN, || !background.alive() && !daemon.alive());
    assert!(
        gone,
        "after the call returned: background sleep {background:?} alive: {}, daemonised \
         sleep {daemon:?} alive: {}",
        background.alive(),
        daemon.alive()
    );
}

/// What `prctl(PR_SET_PDEATHSIG, 0)` answered, and the parent-death signal after it.
fn clear_parent_death_signal() -> (Result<(), String>, i32) {
    // SAFETY: PR_SET_PDEATHSIG takes an integer; PR_GET_PDEATHSIG writes one int to the
    // local it is given.
    let cleared = unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, 0, 0, 0, 0) };
    let cleared = if cleared == 0 {
        Ok(())
    } else {
        Err(nix::errno::Errno::last().to_string())
    };
    let mut signal: libc::c_int = -1;
    // SAFETY: as above.
    unsafe { libc::prctl(libc::PR_GET_PDEATHSIG, &raw mut signal, 0, 0, 0) };
    (cleared, signal)
}

#[sandboxed]
fn clear_parent_death_signal_in_a_sandbox() -> (Result<(), String>, i32) {
    clear_parent_death_signal()
}

#[sandboxed(zygote)]
fn clear_parent_death_signal_through_a_zygote() -> (Result<(), String>, i32) {
    clear_parent_death_signal()
}

/// A sandbox dies with its supervisor (the parent-death signal is SIGKILL): it cannot
/// clear or change that, so that if its caller kills the supervisor, it goes too.
#[test]
fn a_sandbox_cannot_clear_its_parent_death_signal() {
    e2e();
    for (how, (cleared, signal)) in [
        ("one-shot", clear_parent_death_signal_in_a_sandbox()),
        ("zygote", clear_parent_death_signal_through_a_zygote()),
    ] {
        assert_eq!(
            cleared,
            Err("EPERM: Operation not permitted".into()),
            "{how}"
        );
        assert_eq!(signal, libc::SIGKILL, "{how}");
    }
    // Control: the caller itself may (it has none, and keeps none).
    let (cleared, signal) = clear_parent_death_signal();
    assert_eq!((cleared, signal), (Ok(()), 0));
}
