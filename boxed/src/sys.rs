//! The only module with `unsafe` blocks: the few system calls that neither `std`, `nix`
//! nor `caps` offer safely. Each block says why it is sound. (The start-up hook's one
//! unsafe attribute is in `startup`.)
#![allow(unsafe_code)]

use std::fs::File;
use std::io;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

use nix::sys::signal::{SigHandler, SigSet, Signal};
use nix::unistd::{ForkResult, Pid};

/// Whether the kernel started this process with more privileges than its parent had
/// (file capabilities, set-user-ID or set-group-ID): the `AT_SECURE` auxiliary value.
pub fn started_with_privileges() -> bool {
    // SAFETY: getauxval only reads the auxiliary vector the kernel placed on the stack.
    unsafe { libc::getauxval(libc::AT_SECURE) != 0 }
}

/// Closes every descriptor numbered `first` or higher.
pub fn close_descriptors_from(first: RawFd) -> io::Result<()> {
    // SAFETY: close_range takes plain integers; closing descriptors this runtime does not
    // use is its purpose, and it runs while the process is single-threaded.
    let result = unsafe { libc::syscall(libc::SYS_close_range, first as u32, u32::MAX, 0u32) };
    if result == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Takes ownership of one of the protocol descriptors the caller placed at a fixed number.
///
/// Only called by the child for the protocol descriptors 3 to 6, after the supervisor
/// checked that each one is open and a pipe or socket, and each number is taken once.
pub fn take_descriptor(fd: RawFd) -> File {
    // SAFETY: the descriptor is open (checked by the caller of this function) and nothing
    // else in the process owns it: the child runtime takes each protocol number once.
    unsafe { File::from_raw_fd(fd) }
}

/// Borrows a descriptor of this process by number, to look at it.
pub fn borrow(fd: RawFd) -> std::os::fd::BorrowedFd<'static> {
    // SAFETY: only used on the protocol numbers, for one `fstat`, while no other code
    // runs that could close them; a number that is not open makes fstat fail with EBADF.
    unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) }
}

/// Takes ownership of a descriptor a `nix` call just returned as a bare number.
pub fn owned(fd: RawFd) -> OwnedFd {
    // SAFETY: only called on a descriptor the kernel has just created for this process,
    // which nothing else owns yet.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// `fork(2)` for the supervisor, which checked that it is single-threaded.
pub fn fork_single_threaded() -> nix::Result<ForkResult> {
    // SAFETY: the only caller runs in a process it verified to have one thread, so the
    // child inherits no lock held by another thread.
    unsafe { nix::unistd::fork() }
}

/// A descriptor that becomes readable when process `pid` (a child of ours) exits.
pub fn pidfd_open(pid: Pid) -> io::Result<OwnedFd> {
    // SAFETY: pidfd_open takes plain integers and returns a new descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid.as_raw(), 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel just returned this descriptor to us; nobody else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// Sends `signal` to the process of `pidfd`: exactly that process, even if its pid has
/// been reused since it exited.
pub fn pidfd_send_signal(pidfd: &OwnedFd, signal: Signal) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: pidfd_send_signal takes a descriptor, a signal number, a null siginfo (the
    // kernel fills in a plain kill's) and no flags; it reads no memory of ours.
    let result = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            signal as libc::c_int,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    if result < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Ends this process the way a child ended: by the same signal, with its default action.
pub fn die_by(signal: Signal) -> ! {
    // SAFETY: restoring the default disposition installs no handler code.
    let _ = unsafe { nix::sys::signal::signal(signal, SigHandler::SigDfl) };
    let mut set = SigSet::empty();
    set.add(signal);
    let _ = set.thread_unblock();
    let _ = nix::sys::signal::raise(signal);
    exit_now(128 + signal as i32)
}

/// Puts every signal back to its default action and unblocks them all, whatever the
/// process that started this one left: an ignored `SIGCHLD`, above all, makes the kernel
/// reap children before they are waited for, so that their pids could be reused while
/// they are still being killed by number.
pub fn reset_signals() {
    for signal in Signal::iterator() {
        if matches!(signal, Signal::SIGKILL | Signal::SIGSTOP) {
            continue;
        }
        // SAFETY: the default disposition installs no handler code.
        let _ = unsafe { nix::sys::signal::signal(signal, SigHandler::SigDfl) };
    }
    // The realtime signals, which nix's Signal does not list.
    for number in libc::SIGRTMIN()..=libc::SIGRTMAX() {
        // SAFETY: SIG_DFL installs no handler code; a number the C library keeps for
        // itself is refused with EINVAL, which changes nothing.
        unsafe { libc::signal(number, libc::SIG_DFL) };
    }
    let _ = SigSet::empty().thread_set_mask();
}

/// Disarms the interval timers (real, virtual, profiling), which survive `execve`: a
/// starter could have armed one to end this process by `SIGALRM`, `SIGVTALRM` or
/// `SIGPROF` later, with no permission check.
pub fn disarm_interval_timers() {
    let zero = libc::itimerval {
        it_interval: libc::timeval {
            tv_sec: 0,
            tv_usec: 0,
        },
        it_value: libc::timeval {
            tv_sec: 0,
            tv_usec: 0,
        },
    };
    for which in [libc::ITIMER_REAL, libc::ITIMER_VIRTUAL, libc::ITIMER_PROF] {
        // SAFETY: `zero` is a valid itimerval; the old value is not asked for (null).
        unsafe { libc::setitimer(which, &raw const zero, std::ptr::null_mut()) };
    }
}

/// Ignores the signals a terminal sends to its session's processes (`SIGINT`,
/// `SIGQUIT`, `SIGHUP`, and the stops `SIGTSTP`, `SIGTTIN`, `SIGTTOU`), which need no
/// permission, for a process no one but the kernel and root should end.
pub fn ignore_terminal_signals() {
    for signal in [
        Signal::SIGINT,
        Signal::SIGQUIT,
        Signal::SIGHUP,
        Signal::SIGTSTP,
        Signal::SIGTTIN,
        Signal::SIGTTOU,
    ] {
        // SAFETY: SIG_IGN installs no handler code.
        let _ = unsafe { nix::sys::signal::signal(signal, SigHandler::SigIgn) };
    }
}

/// Removes a variable from this process's environment.
pub fn remove_env(name: &str) {
    // SAFETY: only called by the sandbox child before it runs any user code, while it has
    // a single thread, so no other thread can be reading the environment.
    unsafe { std::env::remove_var(name) }
}

/// `_exit(2)`: ends the process at once, without running exit handlers or destructors
/// that the child never set up or must not run.
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit takes an integer and does not return; it touches no Rust state.
    unsafe { libc::_exit(code) }
}

/// The bytes to write, and where, when an allocation fails: made before they are
/// needed, since the signal handler below may not allocate.
static ALLOCATION_FAILURE: std::sync::OnceLock<(RawFd, Vec<u8>)> = std::sync::OnceLock::new();

/// Makes an abort caused by a failed allocation write `bytes` to descriptor `fd` (the
/// caller prepares them: the sandbox's answer that says so).
///
/// Rust aborts when an allocation fails, and the allocator's `ENOMEM` is still in
/// `errno` when the `SIGABRT` handler runs on the same thread. The handler writes the
/// prepared bytes and returns; `abort` then ends the process.
pub fn on_allocation_failure_write(fd: RawFd, bytes: Vec<u8>) {
    let _ = ALLOCATION_FAILURE.set((fd, bytes));
    let action = nix::sys::signal::SigAction::new(
        SigHandler::Handler(on_abort),
        nix::sys::signal::SaFlags::SA_RESETHAND,
        SigSet::empty(),
    );
    // SAFETY: the handler only reads errno and the bytes prepared above, and calls
    // write(2), which is async-signal-safe.
    let _ = unsafe { nix::sys::signal::sigaction(Signal::SIGABRT, &action) };
}

extern "C" fn on_abort(_: libc::c_int) {
    // SAFETY: errno is this thread's; reading it is what the handler exists for.
    let errno = unsafe { *libc::__errno_location() };
    if errno != libc::ENOMEM {
        return;
    }
    if let Some((fd, bytes)) = ALLOCATION_FAILURE.get() {
        // SAFETY: write(2) on the descriptor the sandbox keeps open for it, from a buffer
        // that lives for the whole process.
        let _ = unsafe { libc::write(*fd, bytes.as_ptr().cast(), bytes.len()) };
    }
}

/// The calling thread's seccomp mode: 0 none, 1 strict, 2 filter.
pub fn seccomp_mode() -> i32 {
    // SAFETY: PR_GET_SECCOMP takes no pointer and only returns a number.
    unsafe { libc::prctl(libc::PR_GET_SECCOMP) }
}

/// The Landlock ABI version the kernel offers, or `None` without Landlock.
pub fn landlock_abi() -> Option<u32> {
    const LANDLOCK_CREATE_RULESET_VERSION: libc::c_uint = 1;
    // SAFETY: with a null attribute pointer, size 0 and the version flag, the call only
    // returns a number and creates nothing.
    let version = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<libc::c_void>(),
            0usize,
            LANDLOCK_CREATE_RULESET_VERSION,
        )
    };
    u32::try_from(version).ok().filter(|&v| v > 0)
}

/// Installs a seccomp filter on the calling thread (`no_new_privs` must be set).
pub fn install_seccomp_filter(program: &[libc::sock_filter]) -> io::Result<()> {
    let program = libc::sock_fprog {
        len: u16::try_from(program.len()).map_err(io::Error::other)?,
        filter: program.as_ptr().cast_mut(),
    };
    // SAFETY: the kernel copies the program during the call; `program` outlives it.
    let result = unsafe {
        libc::prctl(
            libc::PR_SET_SECCOMP,
            libc::SECCOMP_MODE_FILTER,
            &program as *const libc::sock_fprog,
        )
    };
    if result == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Moves `fd` to the number `target` (which must not be open), close-on-exec cleared.
pub fn move_descriptor(fd: OwnedFd, target: RawFd) -> io::Result<OwnedFd> {
    use std::os::fd::AsRawFd;
    if fd.as_raw_fd() == target {
        return Ok(fd);
    }
    // SAFETY: dup2 onto a number this process does not use (the caller's contract); the
    // new descriptor is owned by the returned value and the old one is closed by drop.
    let moved = unsafe { libc::dup2(fd.as_raw_fd(), target) };
    if moved < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(owned(moved))
}

/// How many supplementary groups this process has.
pub fn supplementary_group_count() -> io::Result<usize> {
    // SAFETY: with a size of 0, getgroups writes nothing and only returns the count.
    let count = unsafe { libc::getgroups(0, std::ptr::null_mut()) };
    usize::try_from(count).map_err(|_| io::Error::last_os_error())
}

/// Runs `f` with `SIGPIPE` blocked in this thread, and takes back a `SIGPIPE` that `f`
/// raised, so that a write to a pipe whose reader is gone only fails with `EPIPE`,
/// whatever the program does with `SIGPIPE` (the kernel sends it to the writing thread).
/// One that was pending before is left pending.
pub fn without_sigpipe<T>(f: impl FnOnce() -> T) -> T {
    use nix::sys::signal::SigmaskHow;
    let mut pipe = nix::sys::signal::SigSet::empty();
    pipe.add(Signal::SIGPIPE);
    let Ok(previous) = pipe.thread_swap_mask(SigmaskHow::SIG_BLOCK) else {
        return f();
    };
    let pending_before = sigpipe_pending();
    let result = f();
    if !pending_before && sigpipe_pending() {
        let none = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: sigtimedwait reads the set and the timeout, both alive locals, and
        // writes no siginfo (null); with a zero timeout it never blocks.
        unsafe { libc::sigtimedwait(pipe.as_ref(), std::ptr::null_mut(), &none) };
    }
    let _ = previous.thread_set_mask();
    result
}

/// Whether `SIGPIPE` is pending for this thread or the process.
fn sigpipe_pending() -> bool {
    let mut pending = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: sigemptyset initialises the set; sigpending fills it; sigismember reads it
    // only once both succeeded.
    unsafe {
        libc::sigemptyset(pending.as_mut_ptr()) == 0
            && libc::sigpending(pending.as_mut_ptr()) == 0
            && libc::sigismember(pending.as_ptr(), libc::SIGPIPE) == 1
    }
}

/// Ignores `SIGPIPE`, as the Rust runtime does before `main`: writing to a closed pipe
/// then fails with `EPIPE` instead of killing the process.
pub fn ignore_sigpipe() {
    // SAFETY: SIG_IGN installs no handler code.
    let _ = unsafe { nix::sys::signal::signal(Signal::SIGPIPE, SigHandler::SigIgn) };
}

/// Moves `fd` to the lowest free number at or above `lowest`, close-on-exec.
pub fn move_above(fd: OwnedFd, lowest: RawFd) -> io::Result<OwnedFd> {
    let moved = nix::fcntl::fcntl(&fd, nix::fcntl::FcntlArg::F_DUPFD_CLOEXEC(lowest))?;
    Ok(owned(moved))
}

/// The bytes of `value`, if it is a byte buffer: `[u8]`, `Vec<u8>` or `Box<[u8]>`, or a
/// reference (or a reference to a reference) to one. The payload codec uses it to take
/// such a buffer whole, where serde would hand it over one byte at a time. Type ids are
/// compared with lifetimes erased (`typeid`).
#[allow(clippy::borrowed_box)] // `&Box<[u8]>` is one of the types it recognises
pub fn bytes_of<'v, T: ?Sized>(value: &'v T) -> Option<&'v [u8]> {
    let id = typeid::of::<T>();
    macro_rules! as_type {
        ($($ty:ty => $bytes:expr),* $(,)?) => {
            $(
                if id == typeid::of::<$ty>() {
                    // SAFETY: `T` is `$ty` but for lifetimes (equal type ids), and every
                    // lifetime in `$ty` is written `'v`: `value: &'v T` makes `T: 'v`, so by
                    // covariance a `&'v T` is a valid `&'v $ty`, of the same size and
                    // metadata. The result borrows no longer than `value`.
                    let value: &'v $ty = unsafe { std::mem::transmute_copy::<&'v T, &'v $ty>(&value) };
                    return Some($bytes(value));
                }
            )*
        };
    }
    as_type! {
        [u8] => |v: &'v [u8]| v,
        Vec<u8> => |v: &'v Vec<u8>| v.as_slice(),
        Box<[u8]> => |v: &'v Box<[u8]>| &**v,
        &'v [u8] => |v: &'v &'v [u8]| *v,
        &'v Vec<u8> => |v: &'v &'v Vec<u8>| v.as_slice(),
        &'v Box<[u8]> => |v: &'v &'v Box<[u8]>| &***v,
        &'v &'v [u8] => |v: &'v &'v &'v [u8]| **v,
        &'v &'v Vec<u8> => |v: &'v &'v &'v Vec<u8>| v.as_slice(),
    }
    None
}

/// `value` as a `U`, if `T` is `U`; `Err(value)` otherwise. One of the two must be a type
/// without lifetime parameters (`Vec<u8>`, `Box<[u8]>`): type ids are compared with
/// lifetimes erased, which makes equal ids mean equal types only then.
pub fn into_same_type<T, U>(value: T) -> Result<U, T> {
    if typeid::of::<T>() != typeid::of::<U>() {
        return Err(value);
    }
    let value = std::mem::ManuallyDrop::new(value);
    // SAFETY: `T` and `U` are one type (equal ids, and one of them has no lifetimes that
    // could differ), so they have one size and layout; the value is read once, out of a
    // `ManuallyDrop` that is never dropped, so it is moved, not duplicated.
    Ok(unsafe { std::mem::transmute_copy::<std::mem::ManuallyDrop<T>, U>(&value) })
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_write_to_a_closed_pipe_fails_and_leaves_no_sigpipe_behind() {
        use nix::sys::signal::{SigSet, SigmaskHow, Signal};
        // Blocked around the whole test, so that a SIGPIPE left behind would stay
        // pending here instead of being discarded (the test harness ignores it).
        let mut pipe_signal = SigSet::empty();
        pipe_signal.add(Signal::SIGPIPE);
        let previous = pipe_signal
            .thread_swap_mask(SigmaskHow::SIG_BLOCK)
            .expect("blocking SIGPIPE");
        let (read, write) = nix::unistd::pipe().expect("pipe");
        drop(read);
        let written = super::without_sigpipe(|| nix::unistd::write(&write, b"x"));
        let left_behind = super::sigpipe_pending();
        previous.thread_set_mask().expect("restoring the mask");
        assert_eq!(written, Err(nix::errno::Errno::EPIPE));
        assert!(!left_behind);
    }

    #[test]
    fn byte_buffers_are_recognised_by_type_and_nothing_else() {
        let vec = vec![1u8, 2];
        let boxed: Box<[u8]> = vec.clone().into_boxed_slice();
        let slice: &[u8] = &vec;
        assert_eq!(super::bytes_of(&vec), Some(&[1u8, 2][..]));
        assert_eq!(super::bytes_of(&boxed), Some(&[1u8, 2][..]));
        assert_eq!(super::bytes_of(slice), Some(&[1u8, 2][..]));
        assert_eq!(super::bytes_of(&slice), Some(&[1u8, 2][..]));
        assert_eq!(super::bytes_of(&&slice), Some(&[1u8, 2][..]));
        assert_eq!(super::bytes_of(&&vec), Some(&[1u8, 2][..]));
        assert_eq!(super::bytes_of(&vec![1i8, 2]), None);
        assert_eq!(super::bytes_of(&[1u8, 2]), None);
        assert_eq!(super::bytes_of("text"), None);
        assert_eq!(
            super::into_same_type::<Vec<u8>, Vec<u8>>(vec.clone()),
            Ok(vec.clone())
        );
        assert_eq!(
            super::into_same_type::<Vec<u8>, Vec<i8>>(vec.clone()),
            Err(vec)
        );
    }
}
