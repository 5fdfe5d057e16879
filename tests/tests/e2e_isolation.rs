//! Sandboxes against each other and against their caller, end to end. Every sandbox
//! runs as `nobody`, so the permission checks of the kernel would let one signal,
//! trace or read another; the syscall filter and Landlock's signal scope must not.
//!
//! A first sandbox says its pid and waits to be told to finish; a second one, started
//! meanwhile, attacks it and the caller; the first still returns normally. The same
//! attacks on the attacker itself, or on a process it started, succeed.

use std::fs::{self, File};
use std::path::Path;
use std::time::Duration;

use boxed::{Policy, sandboxed};
use boxed_tests::{e2e, errno_name, eventually, open_directory, read_pid, real_uid};
use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::{ForkResult, Pid, fork, getppid};

/// The uid a sandbox under `policy` runs as: its `user`'s, or nobody's.
fn sandbox_uid(policy: &Policy) -> u32 {
    Policy::clone(policy).run(own_uid)
}

#[boxed::sandboxed]
fn own_uid() -> u32 {
    nix::unistd::getuid().as_raw()
}

/// How long the tests wait for an event: a file appearing, a call ending.
const EVENT_WITHIN: Duration = Duration::from_secs(30);

/// Says its pid in `dir/pid` (readable by the caller), then waits until `dir/done`
/// exists: `"survived"`, or what went wrong.
#[sandboxed]
fn target(dir: &Path) -> String {
    use std::os::unix::fs::PermissionsExt;
    let pid_file = dir.join("pid");
    fs::write(&pid_file, format!("{}\n", std::process::id())).expect("writing the pid");
    // Through the descriptor (fchmod): a mode change by path is refused.
    fs::File::open(&pid_file)
        .and_then(|file| file.set_permissions(fs::Permissions::from_mode(0o644)))
        .expect("fchmod");
    if boxed_tests::eventually(Duration::from_secs(120), || dir.join("done").exists()) {
        "survived".into()
    } else {
        "never told to finish".into()
    }
}

/// `Ok("")` for a system call that succeeded, else its errno name.
fn outcome<T>(result: nix::Result<T>) -> Result<String, String> {
    result.map(|_| String::new()).map_err(|e| format!("{e:?}"))
}

/// Every attack on the process `victim` and on the caller `caller`, and the same on the
/// sandbox itself; what each gave.
#[sandboxed]
fn attack(victim: i32, caller: i32) -> Vec<(String, Result<String, String>)> {
    let me = std::process::id() as i32;
    let ptrace = |request, pid: i32| {
        // SAFETY: PTRACE_ATTACH and PTRACE_SEIZE take a pid and no memory.
        let result = unsafe {
            libc::ptrace(
                request,
                pid,
                std::ptr::null_mut::<libc::c_void>(),
                std::ptr::null_mut::<libc::c_void>(),
            )
        };
        outcome(nix::errno::Errno::result(result))
    };
    let read_memory = |pid: i32| {
        let mut buffer = [0u8; 8];
        let local = &mut [std::io::IoSliceMut::new(&mut buffer)];
        let remote = &[nix::sys::uio::RemoteIoVec {
            base: 0x40_0000,
            len: 8,
        }];
        outcome(nix::sys::uio::process_vm_readv(
            Pid::from_raw(pid),
            local,
            remote,
        ))
    };
    let pidfd = |pid: i32| {
        // SAFETY: pidfd_open takes a pid and flags; a descriptor it returns is leaked
        // until the sandbox exits.
        let result = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
        outcome(nix::errno::Errno::result(result))
    };
    let open = |path: String| errno_name(File::open(path).map(|_| String::new()));
    let read = |path: String| errno_name(fs::read(path).map(|_| String::new()));
    let victim_pid = Pid::from_raw(victim);
    let caller_pid = Pid::from_raw(caller);
    vec![
        ("kill(victim, 0)", outcome(kill(victim_pid, None))),
        (
            "kill(victim, SIGKILL)",
            outcome(kill(victim_pid, Signal::SIGKILL)),
        ),
        (
            "killpg(victim, SIGKILL)",
            outcome(killpg(victim_pid, Signal::SIGKILL)),
        ),
        (
            "kill(-1, SIGKILL)",
            outcome(kill(Pid::from_raw(-1), Signal::SIGKILL)),
        ),
        ("ptrace attach victim", ptrace(libc::PTRACE_ATTACH, victim)),
        ("ptrace seize victim", ptrace(libc::PTRACE_SEIZE, victim)),
        ("process_vm_readv victim", read_memory(victim)),
        ("pidfd_open victim", pidfd(victim)),
        ("open /proc/victim/mem", open(format!("/proc/{victim}/mem"))),
        (
            "read /proc/victim/environ",
            read(format!("/proc/{victim}/environ")),
        ),
        (
            "read /proc/victim/status",
            read(format!("/proc/{victim}/status")),
        ),
        ("kill(caller, 0)", outcome(kill(caller_pid, None))),
        ("kill(supervisor, 0)", outcome(kill(getppid(), None))),
        ("ptrace attach caller", ptrace(libc::PTRACE_ATTACH, caller)),
        (
            "read /proc/caller/environ",
            read(format!("/proc/{caller}/environ")),
        ),
        (
            "read /proc/caller/status",
            read(format!("/proc/{caller}/status")),
        ),
        // The same on the sandbox itself. Its `mem` and `environ` are root's, the
        // sandbox being non-dumpable, so only `status` (mode 0444) has a counterpart.
        ("kill(self, 0)", outcome(kill(Pid::from_raw(me), None))),
        ("read /proc/self/status", read(format!("/proc/{me}/status"))),
    ]
    .into_iter()
    .map(|(what, outcome)| (what.to_string(), outcome))
    .collect()
}

/// Starts a child that waits forever and kills it: `Ok` once it is reaped, or the errno.
#[sandboxed]
fn kill_own_child() -> Result<(), String> {
    // SAFETY: the sandbox runs one thread; the child only calls pause.
    match unsafe { fork() } {
        Ok(ForkResult::Child) => loop {
            nix::unistd::pause();
        },
        Ok(ForkResult::Parent { child }) => {
            kill(child, Signal::SIGKILL).map_err(|e| format!("kill: {e:?}"))?;
            nix::sys::wait::waitpid(child, None).map_err(|e| format!("waitpid: {e:?}"))?;
            Ok(())
        }
        Err(errno) => Err(format!("fork: {errno:?}")),
    }
}

/// What every attack must give.
fn refused() -> Vec<(String, Result<String, String>)> {
    let eperm = || Err("EPERM".to_string());
    let eacces = || Err("EACCES".to_string());
    [
        ("kill(victim, 0)", eperm()),
        ("kill(victim, SIGKILL)", eperm()),
        ("killpg(victim, SIGKILL)", eperm()),
        ("kill(-1, SIGKILL)", eperm()),
        ("ptrace attach victim", eperm()),
        ("ptrace seize victim", eperm()),
        ("process_vm_readv victim", eperm()),
        ("pidfd_open victim", eperm()),
        ("open /proc/victim/mem", eacces()),
        ("read /proc/victim/environ", eacces()),
        ("read /proc/victim/status", eacces()),
        ("kill(caller, 0)", eperm()),
        ("kill(supervisor, 0)", eperm()),
        ("ptrace attach caller", eperm()),
        ("read /proc/caller/environ", eacces()),
        ("read /proc/caller/status", eacces()),
        ("kill(self, 0)", Ok(String::new())),
        ("read /proc/self/status", Ok(String::new())),
    ]
    .into_iter()
    .map(|(what, outcome)| (what.to_string(), outcome))
    .collect()
}

/// Runs `target` in a first sandbox, and `attacker` with its pid once it has said it;
/// checks the first survives, and returns what `attacker` returned.
fn against_a_running_sandbox<R>(
    name: &str,
    identity: &Policy,
    attacker: impl FnOnce(i32) -> R,
) -> R {
    let env = e2e();
    let dir = open_directory(&env.work, name);
    let uid = sandbox_uid(identity);
    let first = std::thread::spawn({
        let dir = dir.clone();
        let identity = identity.clone();
        move || {
            identity
                .write(&dir)
                .run(|| boxed::try_call(|| target(&dir)))
        }
    });
    let pid_file = dir.join("pid");
    let pid = || read_pid(&pid_file);
    let said = eventually(EVENT_WITHIN, || pid().is_some() || first.is_finished());
    let Some(victim) = pid() else {
        panic!(
            "the first sandbox never said its pid (waited: {said}); it ended with {:?}",
            first.join()
        );
    };
    assert_eq!(real_uid(victim), Some(uid), "the first sandbox");

    let attacked = attacker(victim);

    assert_eq!(
        real_uid(victim),
        Some(uid),
        "the first sandbox is gone after the attack"
    );
    fs::write(dir.join("done"), "").unwrap();
    let survived = first.join().expect("the first sandbox's thread");
    assert_eq!(
        survived.map_err(|e| e.to_string()),
        Ok("survived".to_string())
    );
    attacked
}

#[test]
fn a_sandbox_cannot_reach_another_running_sandbox_or_its_caller() {
    let caller = std::process::id() as i32;
    let outcomes = against_a_running_sandbox("isolation-default", &Policy::new(), |victim| {
        attack(victim, caller)
    });
    assert_eq!(outcomes, refused());
}

#[test]
fn a_sandbox_that_may_start_processes_still_cannot_reach_another() {
    // With more than one process the syscall filter lets signals to other pids through
    // (only kill(-1) stays refused); Landlock's signal scope must refuse them.
    let caller = std::process::id() as i32;
    // Both run as one identity (a user root allowed for this binary's copy), so that
    // nothing but the scope stands between them; not as `nobody`, whose process count
    // on the machine (which RLIMIT_NPROC counts) the test cannot know.
    let other = std::env::var("BOXED_E2E_OTHER").expect("BOXED_E2E_OTHER: run with tests/run.sh");
    let identity = Policy::new().user(other.as_str());
    let policy = identity.clone().max_processes(16);
    let (outcomes, own_child) =
        against_a_running_sandbox("isolation-processes", &identity, |victim| {
            (
                policy.run(|| attack(victim, caller)),
                policy.run(kill_own_child),
            )
        });
    assert_eq!(outcomes, refused());
    // Signals inside the sandbox work: it kills a child of its own.
    assert_eq!(own_child, Ok(()));
}
