//! The sweep: every syscall number up to a few past the last one the filter reviewed,
//! called once with all six arguments zero, from inside a sandbox under the default
//! policy (one-shot and through a zygote) and from an unconfined process of the caller,
//! the control. It counts how many numbers reach an implementation in the kernel inside
//! the sandbox: the README reports that count, and the goal is at most 150.
//!
//! An `EPERM` or `ENOSYS` answer alone cannot say whether the filter or the kernel gave
//! it, so each side sweeps twice. The second time, a filter of the sweep's own is on top,
//! answering `SECCOMP_RET_TRACE` to every call whose sixth argument is a marker. With no
//! tracer, such a call is not made and fails with `ENOSYS`; but the kernel takes the
//! strictest answer of all its filters, so where the sandbox's filter refuses a call
//! (`EPERM` or `ENOSYS`, both stricter than a trace), its answer comes through instead.
//! A number reaches the kernel when the second sweep answers `ENOSYS` (the sandbox's
//! filter let it through) and the first does not (the kernel implements it). The
//! control's second sweep answers `ENOSYS` everywhere, which shows the marker filter at
//! work; its first answers show the calls really made.

use boxed::sandboxed;
use boxed_tests::{e2e, syscall6};
use libc::c_long;

/// One past the highest number swept: past the filter's last reviewed (462) into calls
/// newer kernels have (463 is `setxattrat`), which the filter answers with `ENOSYS`.
const END: usize = 471;

/// The sixth argument that makes the sweep's own filter answer with a trace.
const MARKER: u32 = 0x5eed_f11e;

/// What is not called, and why: each would end or block the process, or harm the
/// control (which runs unconfined as the caller).
const SKIPPED: &[(c_long, &str)] = &[
    (
        libc::SYS_rt_sigreturn,
        "restores a signal frame that is not there: ends the process",
    ),
    (libc::SYS_pause, "blocks until a signal"),
    (libc::SYS_select, "a null timeout blocks forever"),
    (libc::SYS_pselect6, "a null timeout blocks forever"),
    (libc::SYS_ppoll, "a null timeout blocks forever"),
    (libc::SYS_clone, "makes a process in the control"),
    (libc::SYS_fork, "makes a process in the control"),
    (libc::SYS_vfork, "makes a process in the control"),
    (libc::SYS_exit, "ends the thread"),
    (libc::SYS_exit_group, "ends the process"),
    (
        libc::SYS_ptrace,
        "PTRACE_TRACEME: the control would stop at its next signal",
    ),
    (
        libc::SYS_seccomp,
        "SECCOMP_SET_MODE_STRICT: the control's next call would end it",
    ),
    (
        335,
        "uretprobe: outside the kernel's trampolines, the kernel kills the caller",
    ),
    (
        336,
        "uprobe: outside the kernel's trampolines, the kernel kills the caller",
    ),
    (
        libc::SYS_msgget,
        "IPC_PRIVATE: makes a message queue in the control that outlives it",
    ),
    (libc::SYS_msgsnd, "blocks on a full queue 0"),
    (libc::SYS_msgrcv, "blocks on an empty queue 0"),
    (
        libc::SYS_shmctl,
        "IPC_RMID: would remove the control's segment 0",
    ),
    (
        libc::SYS_msgctl,
        "IPC_RMID: would remove the control's queue 0",
    ),
    (
        libc::SYS_semctl,
        "IPC_RMID: would remove the control's semaphore set 0",
    ),
];

fn skipped(nr: usize) -> bool {
    SKIPPED.iter().any(|&(skip, _)| skip as usize == nr)
}

/// The raw answer: the return value, or minus the errno.
fn raw(result: c_long) -> i64 {
    if result == -1 {
        -i64::from(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
    } else {
        result
    }
}

/// The two sweeps of one process: without, then with, the marker filter on top. Makes
/// no allocation between its system calls, so that it may run in a forked child of the
/// multi-threaded test process.
fn sweep_into(first: &mut [i64; END], second: &mut [i64; END], marker: &[libc::sock_filter]) {
    let sweep = |answers: &mut [i64; END], sixth: c_long| {
        for (nr, answer) in answers.iter_mut().enumerate() {
            if !skipped(nr) {
                // SAFETY: every argument is zero but the sixth, a number no swept call
                // reads as a pointer: null pointers and descriptor 0, which each call
                // checks, fails on, or reads as nothing to do. Calls that would end,
                // block or harm the process are in SKIPPED.
                *answer = raw(unsafe { syscall6(nr as c_long, [0, 0, 0, 0, 0, sixth]) });
            }
        }
    };
    sweep(first, 0);
    let program = libc::sock_fprog {
        len: marker.len() as u16,
        filter: marker.as_ptr().cast_mut(),
    };
    // SAFETY: PR_SET_NO_NEW_PRIVS takes integers; PR_SET_SECCOMP reads the program,
    // which outlives the call.
    let installed = unsafe {
        libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0
            && libc::prctl(
                libc::PR_SET_SECCOMP,
                libc::SECCOMP_MODE_FILTER,
                &raw const program,
            ) == 0
    };
    if !installed {
        second.fill(i64::MIN);
        return;
    }
    sweep(second, c_long::from(MARKER));
    // The marker is still in the register of the sixth argument, where a later call
    // with fewer arguments (the write of the answers, `exit_group`) would pass it on to
    // the marker filter; one more call with a zero there clears it.
    // SAFETY: getpid reads no argument.
    unsafe { syscall6(libc::SYS_getpid, [0; 6]) };
}

/// Answers `SECCOMP_RET_TRACE` when the sixth argument's low half is [`MARKER`], and
/// allows everything else.
fn marker_filter() -> Vec<libc::sock_filter> {
    let insn = |code: u16, jt: u8, jf: u8, k: u32| libc::sock_filter { code, jt, jf, k };
    vec![
        insn(0x20, 0, 0, 16 + 8 * 5),  // ld the low half of argument 5
        insn(0x15, 0, 1, MARKER),      // jeq MARKER
        insn(0x06, 0, 0, 0x7ff0_0000), // ret TRACE
        insn(0x06, 0, 0, 0x7fff_0000), // ret ALLOW
    ]
}

type Sweeps = (Vec<i64>, Vec<i64>);

fn sweep_here() -> Sweeps {
    let (mut first, mut second) = ([0i64; END], [0i64; END]);
    let marker = marker_filter();
    sweep_into(&mut first, &mut second, &marker);
    (first.to_vec(), second.to_vec())
}

#[sandboxed]
fn sweep_in_sandbox() -> Sweeps {
    sweep_here()
}

#[sandboxed(zygote)]
fn sweep_in_zygote() -> Sweeps {
    sweep_here()
}

/// The control: the same sweeps in a forked child of the caller, unconfined.
fn sweep_in_control() -> Sweeps {
    let (mut first, mut second) = (Box::new([0i64; END]), Box::new([0i64; END]));
    let marker = marker_filter();
    let (read, write) = nix::unistd::pipe().expect("a pipe");
    // SAFETY: the child only makes system calls on memory allocated before the fork,
    // writes the answers to the pipe and exits without running any destructor.
    match unsafe { nix::unistd::fork() }.expect("fork") {
        nix::unistd::ForkResult::Child => {
            sweep_into(&mut first, &mut second, &marker);
            let bytes = |answers: &[i64; END]| {
                // SAFETY: an array of integers is readable as its bytes.
                unsafe {
                    std::slice::from_raw_parts(answers.as_ptr().cast::<u8>(), size_of_val(answers))
                }
            };
            for answers in [&*first, &*second] {
                let mut left = bytes(answers);
                while !left.is_empty() {
                    match nix::unistd::write(&write, left) {
                        Ok(n) => left = &left[n..],
                        Err(nix::errno::Errno::EINTR) => {}
                        // SAFETY: ends the child at once.
                        Err(_) => unsafe { libc::_exit(1) },
                    }
                }
            }
            // SAFETY: ends the child at once, running nothing of the test.
            unsafe { libc::_exit(0) }
        }
        nix::unistd::ForkResult::Parent { child } => {
            drop(write);
            let mut data = Vec::new();
            std::io::Read::read_to_end(&mut std::fs::File::from(read), &mut data)
                .expect("reading the answers");
            let status = nix::sys::wait::waitpid(child, None).expect("waitpid");
            assert_eq!(
                status,
                nix::sys::wait::WaitStatus::Exited(child, 0),
                "the control sweep"
            );
            assert_eq!(data.len(), 2 * END * 8, "the control's answers");
            let numbers: Vec<i64> = data
                .chunks(8)
                .map(|c| i64::from_ne_bytes(c.try_into().unwrap()))
                .collect();
            (numbers[..END].to_vec(), numbers[END..].to_vec())
        }
    }
}

const ENOSYS: i64 = -(libc::ENOSYS as i64);
const EPERM: i64 = -(libc::EPERM as i64);

/// The numbers that reach an implementation in the kernel, by the two sweeps.
fn reached((first, second): &Sweeps) -> Vec<usize> {
    (0..END)
        .filter(|&nr| !skipped(nr) && second[nr] == ENOSYS && first[nr] != ENOSYS)
        .collect()
}

fn check(name: &str, inside: &Sweeps, control: &Sweeps) -> usize {
    assert!(
        inside.1.iter().all(|&a| a != i64::MIN),
        "{name}: the marker filter could not be installed"
    );
    let reached = reached(inside);
    // Refused by the sandbox's filter: EPERM, or ENOSYS where the kernel has the call.
    let refused: Vec<usize> = (0..END)
        .filter(|&nr| {
            !skipped(nr)
                && (inside.1[nr] == EPERM || (inside.0[nr] == ENOSYS && control.0[nr] != ENOSYS))
        })
        .collect();
    eprintln!(
        "{name}: {} of {} swept numbers reach the kernel: {reached:?}\n{name}: refused: {refused:?}",
        reached.len(),
        END - SKIPPED.len()
    );
    // Ordinary calls reach it, escapes do not.
    for nr in [
        libc::SYS_read,
        libc::SYS_write,
        libc::SYS_getpid,
        libc::SYS_mmap,
        libc::SYS_futex,
        libc::SYS_openat,
    ] {
        assert!(
            reached.contains(&(nr as usize)),
            "{name}: syscall {nr} should reach the kernel"
        );
    }
    for nr in [
        libc::SYS_unshare,
        libc::SYS_mount,
        libc::SYS_shmget,
        libc::SYS_semget,
        libc::SYS_mq_open,
        libc::SYS_inotify_init,
        libc::SYS_chmod,
        libc::SYS_setxattr,
        libc::SYS_bind,
        libc::SYS_listen,
        libc::SYS_keyctl,
        libc::SYS_bpf,
        libc::SYS_io_uring_setup,
        libc::SYS_personality,
    ] {
        assert!(
            !reached.contains(&(nr as usize)),
            "{name}: syscall {nr} reached the kernel"
        );
        assert!(
            refused.contains(&(nr as usize)),
            "{name}: syscall {nr} should be refused"
        );
    }
    // Above the last number reviewed, nothing reaches it.
    assert!(reached.iter().all(|&nr| nr <= 462), "{name}: {reached:?}");
    assert!(
        reached.len() <= 150,
        "{name}: {} numbers reach the kernel",
        reached.len()
    );
    reached.len()
}

#[test]
fn at_most_150_syscall_numbers_reach_the_kernel_from_a_sandbox() {
    e2e();
    let control = sweep_in_control();
    // The control's calls were made (the kernel answered most of them with something
    // other than ENOSYS), and its marker filter answered every one of them.
    let answered = (0..END)
        .filter(|&nr| !skipped(nr) && control.0[nr] != ENOSYS)
        .count();
    assert!(
        answered >= 330,
        "only {answered} numbers answered in the control"
    );
    for nr in (0..END).filter(|&nr| !skipped(nr)) {
        assert_eq!(control.1[nr], ENOSYS, "the control's marked syscall {nr}");
    }
    let one_shot = check("one-shot", &sweep_in_sandbox(), &control);
    let zygote = check("zygote", &sweep_in_zygote(), &control);
    eprintln!(
        "reached: one-shot {one_shot}, zygote {zygote}; skipped: {:?}",
        SKIPPED
    );
}
