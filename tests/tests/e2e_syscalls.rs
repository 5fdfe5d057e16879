//! The syscall surface, end to end: from inside a sandbox, each system call that could
//! reach beyond it (tracing, mounting, namespaces, the keyring, eBPF, performance
//! counters, userfaultfd, io_uring, kexec, modules, personality, new processes, faking
//! terminal input) fails with `EPERM`, and `clone3`, other ABIs and syscalls newer than
//! the filter's review fail with `ENOSYS`, while ordinary calls and threads keep working.
//!
//! Where an unprivileged process outside the sandbox gets another answer to the same
//! call with the same arguments, the caller makes it too, so an `EPERM` is shown to be
//! the filter's rather than the kernel's usual refusal. Arguments are harmless: null
//! pointers and invalid descriptors where the kernel would reject them, queries where
//! it would answer.

use boxed::sandboxed;
use boxed_tests::{Outcome, e2e, outcome, status_field, syscall6 as sys};
use libc::c_long;
use serde::{Deserialize, Serialize};

/// For a call that may create a process if it is not refused: the new process exits at
/// once (it only returns from the call, and runs nothing of the test), and is reaped.
fn process_creating(result: c_long) -> Outcome {
    if result == 0 {
        // SAFETY: _exit ends the new process at once, running nothing else.
        unsafe { libc::_exit(0) }
    }
    let outcome = outcome(result);
    if let Ok(pid) = outcome {
        let mut status = 0;
        // SAFETY: waitpid reaps the process just created, writing its status to a local.
        unsafe { libc::waitpid(pid as libc::pid_t, &mut status, libc::__WALL) };
    }
    outcome
}

/// For a call that may return a descriptor: closes it.
fn closing(result: c_long) -> Outcome {
    let outcome = outcome(result);
    if let Ok(fd) = outcome {
        // SAFETY: fd was just returned to this process and nothing else owns it.
        unsafe { libc::close(fd as i32) };
    }
    outcome
}

/// Something to read with `process_vm_readv`.
static TARGET: u8 = 42;

/// `process_vm_readv` of one byte at `TARGET`'s address in process `pid`.
fn read_memory_of(pid: libc::pid_t) -> Outcome {
    let mut byte = 0u8;
    let local = libc::iovec {
        iov_base: (&raw mut byte).cast(),
        iov_len: 1,
    };
    let remote = libc::iovec {
        iov_base: (&raw const TARGET).cast_mut().cast(),
        iov_len: 1,
    };
    let (local, remote) = (&raw const local as c_long, &raw const remote as c_long);
    let args = [pid.into(), local, 1, remote, 1, 0];
    // SAFETY: both vectors describe one byte: the local one `byte`, the only memory the
    // call may write; the remote one is only an address in the other process.
    let result = unsafe { sys(libc::SYS_process_vm_readv, args) };
    outcome(result)
}

/// The `clone_args` of `clone3`, in its first (64-byte) version.
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
}

/// The pid after this process's own.
fn next_pid() -> c_long {
    c_long::from(std::process::id()) + 1
}

/// Makes the attempt called `name`. `caller` is the caller's pid; the ioctls go to `fd`.
fn attempt(name: &str, caller: libc::pid_t, fd: i32) -> Outcome {
    const NULL: c_long = 0;
    let fd = c_long::from(fd);
    let byte = b'x';
    let byte = &raw const byte as c_long;
    let new_user = CloneArgs {
        flags: libc::CLONE_NEWUSER as u64,
        exit_signal: libc::SIGCHLD as u64,
        ..CloneArgs::default()
    };
    let new_user = &raw const new_user as c_long;
    let clone_args_size = size_of::<CloneArgs>() as c_long;
    // SAFETY: every argument is an integer, a null pointer, or a pointer to one of the
    // locals above, of the type the call reads there; no call writes to memory of this
    // process. A call that could create a process goes through `process_creating`, whose
    // new process exits at once; one that could return a descriptor through `closing`.
    unsafe {
        match name {
            "ptrace(PTRACE_TRACEME)" => {
                let request = libc::PTRACE_TRACEME.into();
                outcome(sys(libc::SYS_ptrace, [request, 0, 0, 0, 0, 0]))
            }
            "process_vm_readv(parent)" => read_memory_of(nix::unistd::getppid().as_raw()),
            "process_vm_readv(caller)" => read_memory_of(caller),
            "process_vm_readv(itself)" => read_memory_of(std::process::id() as libc::pid_t),
            "mount(null)" => outcome(sys(libc::SYS_mount, [NULL; 6])),
            "umount2(null)" => outcome(sys(libc::SYS_umount2, [NULL; 6])),
            "pivot_root(null)" => outcome(sys(libc::SYS_pivot_root, [NULL; 6])),
            "chroot(null)" => outcome(sys(libc::SYS_chroot, [NULL; 6])),
            "unshare(CLONE_NEWUSER)" => {
                let flags = libc::CLONE_NEWUSER.into();
                outcome(sys(libc::SYS_unshare, [flags, 0, 0, 0, 0, 0]))
            }
            "unshare(0)" => outcome(sys(libc::SYS_unshare, [0; 6])),
            "setns(-1)" => outcome(sys(libc::SYS_setns, [-1, 0, 0, 0, 0, 0])),
            // The thread keyring, without creating it: a query.
            "keyctl(GET_KEYRING_ID, thread)" => {
                let keyring = libc::KEY_SPEC_THREAD_KEYRING.into();
                let args = [libc::KEYCTL_GET_KEYRING_ID.into(), keyring, 0, 0, 0, 0];
                outcome(sys(libc::SYS_keyctl, args))
            }
            "add_key(null)" => outcome(sys(libc::SYS_add_key, [NULL, NULL, NULL, 0, 0, 0])),
            "request_key(null)" => outcome(sys(libc::SYS_request_key, [NULL, NULL, NULL, 0, 0, 0])),
            // BPF_PROG_LOAD with no attributes.
            "bpf(BPF_PROG_LOAD, null)" => outcome(sys(libc::SYS_bpf, [5, NULL, 0, 0, 0, 0])),
            "perf_event_open(null)" => {
                outcome(sys(libc::SYS_perf_event_open, [NULL, 0, -1, -1, 0, 0]))
            }
            // The kind an unprivileged process may create; the descriptor is closed again.
            "userfaultfd(UFFD_USER_MODE_ONLY)" => {
                let flags = c_long::from(libc::O_CLOEXEC) | 1;
                closing(sys(libc::SYS_userfaultfd, [flags, 0, 0, 0, 0, 0]))
            }
            "io_uring_setup(1, null)" => {
                outcome(sys(libc::SYS_io_uring_setup, [1, NULL, 0, 0, 0, 0]))
            }
            "kexec_load(nothing)" => outcome(sys(libc::SYS_kexec_load, [0, 0, NULL, 0, 0, 0])),
            "init_module(null)" => outcome(sys(libc::SYS_init_module, [NULL, 0, NULL, 0, 0, 0])),
            "finit_module(-1)" => outcome(sys(libc::SYS_finit_module, [-1, NULL, 0, 0, 0, 0])),
            "delete_module(null)" => outcome(sys(libc::SYS_delete_module, [NULL; 6])),
            // 0xffffffff only asks for the current persona.
            "personality(query)" => {
                outcome(sys(libc::SYS_personality, [0xffff_ffff, 0, 0, 0, 0, 0]))
            }
            "clone(CLONE_NEWUSER)" => {
                let flags = c_long::from(libc::CLONE_NEWUSER | libc::SIGCHLD);
                process_creating(sys(libc::SYS_clone, [flags, 0, 0, 0, 0, 0]))
            }
            "fork()" => process_creating(libc::fork().into()),
            "syscall(fork)" => process_creating(sys(libc::SYS_fork, [0; 6])),
            // TIOCSTI and TIOCLINUX read one byte: the character to push, the subcode.
            "ioctl(TIOCSTI)" => {
                let request = libc::TIOCSTI as c_long;
                outcome(sys(libc::SYS_ioctl, [fd, request, byte, 0, 0, 0]))
            }
            // The kernel reads the request as 32 bits, so a filter must compare only those.
            "ioctl(TIOCSTI | 1 << 32)" => {
                let request = (libc::TIOCSTI | 0x1_0000_0000) as c_long;
                outcome(sys(libc::SYS_ioctl, [fd, request, byte, 0, 0, 0]))
            }
            "ioctl(TIOCLINUX)" => {
                let request = libc::TIOCLINUX as c_long;
                outcome(sys(libc::SYS_ioctl, [fd, request, byte, 0, 0, 0]))
            }
            // Signal 0 only asks whether a signal could be sent. Through a zygote, the
            // next pid is likely a spare waiting for the next call, run by the same user.
            "kill(-1, 0)" => outcome(sys(libc::SYS_kill, [-1, 0, 0, 0, 0, 0])),
            "kill(next pid, 0)" => outcome(sys(libc::SYS_kill, [next_pid(), 0, 0, 0, 0, 0])),
            "tgkill(next pid, 0)" => {
                let next = next_pid();
                outcome(sys(libc::SYS_tgkill, [next, next, 0, 0, 0, 0]))
            }
            "pidfd_open(parent)" => {
                let parent = nix::unistd::getppid().as_raw().into();
                closing(sys(libc::SYS_pidfd_open, [parent, 0, 0, 0, 0, 0]))
            }
            "prctl(PR_SET_DUMPABLE, 1)" => {
                let option = libc::PR_SET_DUMPABLE.into();
                outcome(sys(libc::SYS_prctl, [option, 1, 0, 0, 0, 0]))
            }
            "setpgid(0, 0)" => outcome(sys(libc::SYS_setpgid, [0; 6])),
            "clone3(null)" => outcome(sys(libc::SYS_clone3, [NULL, 0, 0, 0, 0, 0])),
            "clone3(CLONE_NEWUSER)" => process_creating(sys(
                libc::SYS_clone3,
                [new_user, clone_args_size, 0, 0, 0, 0],
            )),
            // setxattrat from Linux 6.13 on: invalid descriptor and null pointers.
            "syscall 463" => outcome(sys(463, [-1, NULL, 0, NULL, NULL, 0])),
            "syscall 1000" => outcome(sys(1000, [0; 6])),
            "x32 getpid" => outcome(sys(0x4000_0000 | libc::SYS_getpid, [0; 6])),
            other => unreachable!("no attempt {other}"),
        }
    }
}

/// What the filter refuses with `EPERM`, whatever the kernel would have answered.
const REFUSED: &[&str] = &[
    "ptrace(PTRACE_TRACEME)",
    "process_vm_readv(parent)",
    "process_vm_readv(caller)",
    "process_vm_readv(itself)",
    "mount(null)",
    "umount2(null)",
    "pivot_root(null)",
    "chroot(null)",
    "unshare(CLONE_NEWUSER)",
    "unshare(0)",
    "setns(-1)",
    "keyctl(GET_KEYRING_ID, thread)",
    "add_key(null)",
    "request_key(null)",
    "bpf(BPF_PROG_LOAD, null)",
    "perf_event_open(null)",
    "userfaultfd(UFFD_USER_MODE_ONLY)",
    "io_uring_setup(1, null)",
    "kexec_load(nothing)",
    "init_module(null)",
    "finit_module(-1)",
    "delete_module(null)",
    "personality(query)",
    "clone(CLONE_NEWUSER)",
    "fork()",
    "syscall(fork)",
    "ioctl(TIOCSTI)",
    "ioctl(TIOCSTI | 1 << 32)",
    "ioctl(TIOCLINUX)",
    "kill(-1, 0)",
    "kill(next pid, 0)",
    "tgkill(next pid, 0)",
    "pidfd_open(parent)",
    "prctl(PR_SET_DUMPABLE, 1)",
];

/// Refused too through a zygote, whose calls must stay in their process group.
const REFUSED_IN_ZYGOTE: &[&str] = &["setpgid(0, 0)"];

/// What the filter answers with `ENOSYS`, as a kernel without these calls would.
const UNKNOWN: &[&str] = &[
    "clone3(null)",
    "clone3(CLONE_NEWUSER)",
    "syscall 463",
    "syscall 1000",
    "x32 getpid",
];

/// The same attempts made by the caller, unfiltered and unprivileged, and what the
/// kernel answers it: never what the filter answered the sandbox, except where noted.
/// (`ok` is any success.) The ioctls go to a pipe, never to the caller's own stdin. The
/// answers are those of Linux 6.13 or later (`setxattrat` is 463).
const OUTSIDE: &[(&str, &str)] = &[
    ("process_vm_readv(itself)", "ok"),
    ("mount(null)", "EFAULT"),
    ("umount2(null)", "EFAULT"),
    ("chroot(null)", "EFAULT"),
    ("unshare(0)", "ok"),
    ("setns(-1)", "EBADF"),
    ("keyctl(GET_KEYRING_ID, thread)", "ENOKEY"),
    ("add_key(null)", "EFAULT"),
    ("request_key(null)", "EFAULT"),
    ("perf_event_open(null)", "EFAULT"),
    ("userfaultfd(UFFD_USER_MODE_ONLY)", "ok"),
    ("io_uring_setup(1, null)", "EFAULT"),
    ("personality(query)", "ok"),
    ("clone(CLONE_NEWUSER)", "ok"),
    ("fork()", "ok"),
    ("syscall(fork)", "ok"),
    ("ioctl(TIOCSTI)", "ENOTTY"),
    ("ioctl(TIOCSTI | 1 << 32)", "ENOTTY"),
    ("ioctl(TIOCLINUX)", "ENOTTY"),
    ("pidfd_open(parent)", "ok"),
    ("clone3(null)", "EINVAL"),
    ("clone3(CLONE_NEWUSER)", "ok"),
    ("syscall 463", "EINVAL"),
    // No such call in the kernel either: the filter's answer is the kernel's.
    ("syscall 1000", "ENOSYS"),
];

fn attempts(names: &[String], caller: i32, fd: i32) -> Vec<(String, Outcome)> {
    names
        .iter()
        .map(|name| (name.clone(), attempt(name, caller, fd)))
        .collect()
}

/// The attempts, from inside; the ioctls go to its stdin, where a terminal would be.
#[sandboxed]
fn attempts_in_sandbox(names: Vec<String>, caller: i32) -> Vec<(String, Outcome)> {
    attempts(&names, caller, 0)
}

/// The same, in a sandbox that may start processes. The limit is high because the kernel
/// counts it over every process and thread of `nobody`, other sandboxes included.
#[sandboxed(max_processes = 1024, unique_uid = true)]
fn attempts_with_processes(names: Vec<String>, caller: i32) -> Vec<(String, Outcome)> {
    attempts(&names, caller, 0)
}

/// The same, in a call through a zygote: its filter is in two parts, the zygote's and
/// the one each call adds.
#[sandboxed(zygote)]
fn attempts_in_zygote(names: Vec<String>, caller: i32) -> (Vec<(String, Outcome)>, String) {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    (attempts(&names, caller, 0), status)
}

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|name| name.to_string()).collect()
}

fn caller_pid() -> i32 {
    std::process::id() as i32
}

#[test]
fn dangerous_syscalls_fail_with_eperm() {
    e2e();
    let outcomes = attempts_in_sandbox(names(REFUSED), caller_pid());
    assert_eq!(outcomes.len(), REFUSED.len());
    for (name, outcome) in outcomes {
        assert_eq!(outcome, Err("EPERM".to_string()), "{name}");
    }
}

#[test]
fn clone3_other_abis_and_unreviewed_syscalls_fail_with_enosys() {
    e2e();
    let outcomes = attempts_in_sandbox(names(UNKNOWN), caller_pid());
    assert_eq!(outcomes.len(), UNKNOWN.len());
    for (name, outcome) in outcomes {
        assert_eq!(outcome, Err("ENOSYS".to_string()), "{name}");
    }
}

#[test]
fn through_a_zygote_the_same_calls_fail_the_same_way() {
    e2e();
    let refused: Vec<&str> = REFUSED.iter().chain(REFUSED_IN_ZYGOTE).copied().collect();
    for (list, errno) in [(&refused[..], "EPERM"), (UNKNOWN, "ENOSYS")] {
        let (outcomes, status) = attempts_in_zygote(names(list), caller_pid());
        assert_eq!(outcomes.len(), list.len());
        for (name, outcome) in outcomes {
            assert_eq!(outcome, Err(errno.to_string()), "{name} through a zygote");
        }
        // The zygote's filter, inherited, and the call's own on top of it.
        assert_eq!(status_field(&status, "Seccomp"), "2", "{status}");
        assert_eq!(status_field(&status, "Seccomp_filters"), "2", "{status}");
    }
}

#[test]
fn outside_the_sandbox_the_kernel_answers_otherwise() {
    e2e();
    let (read, _write) = nix::unistd::pipe().expect("a pipe");
    let fd = std::os::fd::AsRawFd::as_raw_fd(&read);
    let listed: Vec<String> = OUTSIDE.iter().map(|(name, _)| name.to_string()).collect();
    for ((name, outcome), (_, expected)) in attempts(&listed, caller_pid(), fd).iter().zip(OUTSIDE)
    {
        match *expected {
            "ok" => assert!(outcome.is_ok(), "the caller's {name}: {outcome:?}"),
            errno => assert_eq!(outcome, &Err(errno.to_string()), "the caller's {name}"),
        }
    }
}

#[test]
fn with_processes_allowed_fork_works_but_namespaces_stay_closed() {
    e2e();
    let outcomes = attempts_with_processes(
        names(&[
            "fork()",
            "syscall(fork)",
            "clone(CLONE_NEWUSER)",
            "unshare(CLONE_NEWUSER)",
            "clone3(CLONE_NEWUSER)",
            "ptrace(PTRACE_TRACEME)",
        ]),
        caller_pid(),
    );
    let expected = ["ok", "ok", "EPERM", "EPERM", "ENOSYS", "EPERM"];
    assert_eq!(outcomes.len(), expected.len());
    for ((name, outcome), expected) in outcomes.iter().zip(expected) {
        match expected {
            "ok" => assert!(
                matches!(outcome, Ok(pid) if *pid > 0),
                "{name}: {outcome:?}"
            ),
            errno => assert_eq!(outcome, &Err(errno.to_string()), "{name}"),
        }
    }
}

/// What ordinary work gives inside the sandbox.
#[derive(Serialize, Deserialize, Debug)]
struct Ordinary {
    /// `getpid` as a raw call, and as the standard library sees it.
    getpid: Outcome,
    pid: u32,
    /// `ioctl(FIONREAD)` on a pipe holding three bytes, and the count it wrote.
    fionread: Outcome,
    readable: i32,
    /// What a spawned thread returned through `join`.
    thread: Result<u64, String>,
    /// `/proc/self/status`.
    status: String,
}

fn ordinary_work() -> Ordinary {
    // SAFETY: getpid takes no argument.
    let getpid = outcome(unsafe { sys(libc::SYS_getpid, [0; 6]) });
    let (read, write) = nix::unistd::pipe().expect("a pipe");
    nix::unistd::write(&write, b"abc").expect("writing to the pipe");
    let mut readable: libc::c_int = 0;
    let fd = c_long::from(std::os::fd::AsRawFd::as_raw_fd(&read));
    let args = [
        fd,
        libc::FIONREAD as c_long,
        &raw mut readable as c_long,
        0,
        0,
        0,
    ];
    // SAFETY: FIONREAD writes one int, to `readable`.
    let fionread = outcome(unsafe { sys(libc::SYS_ioctl, args) });
    let thread = std::thread::Builder::new()
        .spawn(|| (1..=10u64).sum())
        .map_err(|e| e.to_string())
        .and_then(|handle| handle.join().map_err(|_| "the thread panicked".to_string()));
    Ordinary {
        getpid,
        pid: std::process::id(),
        fionread,
        readable,
        thread,
        status: std::fs::read_to_string("/proc/self/status").expect("/proc/self/status"),
    }
}

#[sandboxed]
fn ordinary_in_sandbox() -> Ordinary {
    ordinary_work()
}

#[test]
fn ordinary_calls_and_threads_still_work_under_the_filter() {
    e2e();
    let inside = ordinary_in_sandbox();
    assert_eq!(inside.getpid, Ok(i64::from(inside.pid)));
    assert_ne!(inside.pid, std::process::id());
    assert_eq!(inside.fionread, Ok(0));
    assert_eq!(inside.readable, 3);
    assert_eq!(inside.thread, Ok(55));
    assert_eq!(status_field(&inside.status, "Seccomp"), "2");
    // Control: the caller runs unfiltered.
    let outside = ordinary_work();
    assert_eq!(status_field(&outside.status, "Seccomp"), "0");
    assert_eq!(outside.thread, Ok(55));
}
