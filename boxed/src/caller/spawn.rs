//! Starting the child process: `posix_spawn`, which does not copy the caller's memory
//! (glibc starts the child with `CLONE_VM | CLONE_VFORK`), so its cost does not grow with
//! the size of the caller, as a `fork` would.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::{FcntlArg, OFlag, fcntl};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::spawn::{PosixSpawnAttr, PosixSpawnFileActions, PosixSpawnFlags, posix_spawn};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::stat::Mode;
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::Pid;

use crate::wire::{CHILD_PATH, MARKER_VAR};

/// A pipe, both ends close-on-exec and numbered 10 or above, so that placing the child's
/// ends at 3 to 6 can never overwrite another end before it is placed, and no other
/// process the caller starts meanwhile inherits them.
pub(crate) fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let (read, write) = nix::unistd::pipe2(OFlag::O_CLOEXEC)?;
    Ok((high(read)?, high(write)?))
}

/// A socket pair for a child, numbered like [`pipe`]'s ends.
pub(crate) fn socket_pair() -> io::Result<(OwnedFd, OwnedFd)> {
    let (ours, theirs) = nix::sys::socket::socketpair(
        nix::sys::socket::AddressFamily::Unix,
        nix::sys::socket::SockType::SeqPacket,
        None,
        nix::sys::socket::SockFlag::SOCK_CLOEXEC,
    )?;
    Ok((high(ours)?, high(theirs)?))
}

/// `fd`, moved to 3 or above if it took the number of a standard descriptor: a program
/// that closed those gets their numbers back as its next new descriptors, and the relay
/// writes to 1 and 2 whatever they are.
pub(crate) fn above_standard(fd: OwnedFd) -> io::Result<OwnedFd> {
    if fd.as_raw_fd() > 2 {
        return Ok(fd);
    }
    Ok(fcntl(&fd, FcntlArg::F_DUPFD_CLOEXEC(3)).map(crate::sys::owned)?)
}

fn high(fd: OwnedFd) -> io::Result<OwnedFd> {
    if fd.as_raw_fd() >= 10 {
        return Ok(fd);
    }
    Ok(fcntl(&fd, FcntlArg::F_DUPFD_CLOEXEC(10)).map(crate::sys::owned)?)
}

/// A started child, known by a pidfd where the kernel has them, and reaped when dropped
/// if [`Child::wait`] was not called.
///
/// The program may reap children itself (a thread calling `waitpid(-1, ..)`) or discard
/// their statuses (`SIGCHLD` ignored): then the child is gone before it is waited for,
/// and waiting finds nothing (`ECHILD`), which is not an error. Through its pidfd the
/// child is signalled and waited for exactly, never a process that reused its pid.
pub(crate) struct Child {
    pid: Pid,
    pidfd: Option<OwnedFd>,
    waited: bool,
}

impl Child {
    /// Starts `program` as `argv0`, with stdin `/dev/null`, `stdio` as stdout and stderr
    /// (`/dev/null` without), an environment of only the fixed `PATH` and the marker
    /// (`marker` as its value), every signal at its default and none blocked, and
    /// `fds[i]` as descriptor `3 + i`. With `image`, descriptor 7 is this process's own
    /// executable, open for reading: the file it was started from even if that has since
    /// been rebuilt, replaced or deleted. The child opens it before its exec (its
    /// `/proc/self/exe` is still this process's then), so the caller holds no descriptor
    /// for it.
    pub(crate) fn start(
        program: &Path,
        argv0: &str,
        marker: &str,
        stdio: Option<[&OwnedFd; 2]>,
        fds: [&OwnedFd; 4],
        image: bool,
    ) -> io::Result<Child> {
        let mut actions = PosixSpawnFileActions::init()?;
        actions.add_open(0, "/dev/null", OFlag::O_RDONLY, Mode::empty())?;
        match stdio {
            Some([stdout, stderr]) => {
                actions.add_dup2(stdout.as_raw_fd(), 1)?;
                actions.add_dup2(stderr.as_raw_fd(), 2)?;
            }
            None => {
                actions.add_open(1, "/dev/null", OFlag::O_WRONLY, Mode::empty())?;
                actions.add_dup2(1, 2)?;
            }
        }
        for (target, fd) in (3..).zip(fds) {
            actions.add_dup2(fd.as_raw_fd(), target)?;
        }
        if image {
            actions.add_open(
                crate::wire::IMAGE_FD,
                "/proc/self/exe",
                OFlag::O_RDONLY,
                Mode::empty(),
            )?;
        }
        let mut attributes = PosixSpawnAttr::init()?;
        attributes.set_sigmask(&SigSet::empty())?;
        attributes.set_sigdefault(&SigSet::all())?;
        attributes.set_flags(
            PosixSpawnFlags::POSIX_SPAWN_SETSIGMASK | PosixSpawnFlags::POSIX_SPAWN_SETSIGDEF,
        )?;
        let c_string = |text: String| CString::new(text).map_err(io::Error::other);
        let program = c_string(program.display().to_string())?;
        let argv = [c_string(argv0.to_string())?];
        let env = [
            c_string(format!("PATH={CHILD_PATH}"))?,
            c_string(format!("{MARKER_VAR}={marker}"))?,
        ];
        let pid = posix_spawn(program.as_c_str(), &actions, &attributes, &argv, &env)?;
        // Without pidfds (kernels before 5.3), or if the child is already gone and
        // reaped by someone else, the pid is all there is.
        let pidfd = crate::sys::pidfd_open(pid).and_then(above_standard).ok();
        Ok(Child {
            pid,
            pidfd,
            waited: false,
        })
    }

    /// Whether the child has exited, without collecting it. A child someone else has
    /// reaped has exited.
    pub(crate) fn has_exited(&self) -> bool {
        use nix::sys::wait::{Id, WaitPidFlag, waitid};
        if let Some(pidfd) = &self.pidfd {
            let mut fds = [PollFd::new(pidfd.as_fd(), PollFlags::POLLIN)];
            return matches!(poll(&mut fds, PollTimeout::ZERO), Ok(n) if n > 0);
        }
        let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG | WaitPidFlag::WNOWAIT;
        matches!(
            waitid(Id::Pid(self.pid), flags),
            Ok(WaitStatus::Exited(..) | WaitStatus::Signaled(..)) | Err(Errno::ECHILD)
        )
    }

    /// Kills the child with `SIGKILL`, unless it has exited.
    pub(crate) fn kill(&self) {
        match &self.pidfd {
            Some(pidfd) => {
                let _ = crate::sys::pidfd_send_signal(pidfd, Signal::SIGKILL);
            }
            None if !self.has_exited() => {
                let _ = nix::sys::signal::kill(self.pid, Signal::SIGKILL);
            }
            None => {}
        }
    }

    /// Waits for the child to exit and collects it: its status, or `None` if the
    /// program reaped it first or discards its children's statuses.
    pub(crate) fn wait(mut self) -> Option<WaitStatus> {
        self.collect()
    }

    fn collect(&mut self) -> Option<WaitStatus> {
        use nix::sys::wait::{Id, WaitPidFlag, waitid};
        if std::mem::replace(&mut self.waited, true) {
            return None;
        }
        loop {
            let status = match &self.pidfd {
                Some(pidfd) => waitid(Id::PIDFd(pidfd.as_fd()), WaitPidFlag::WEXITED),
                None => waitpid(self.pid, None),
            };
            match status {
                Err(Errno::EINTR) => continue,
                // ECHILD: someone else reaped it, or SIGCHLD is ignored and the kernel did.
                result => return result.ok(),
            }
        }
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        self.collect();
    }
}
