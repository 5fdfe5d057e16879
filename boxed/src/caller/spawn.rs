//! Starting the child process: `posix_spawn`, which does not copy the caller's memory
//! (glibc starts the child with `CLONE_VM | CLONE_VFORK`), so its cost does not grow with
//! the size of the caller, as a `fork` would.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

use nix::fcntl::{FcntlArg, OFlag, fcntl};
use nix::spawn::{PosixSpawnAttr, PosixSpawnFileActions, PosixSpawnFlags, posix_spawn};
use nix::sys::signal::SigSet;
use nix::sys::stat::Mode;
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::Pid;

use crate::wire::{CHILD_PATH, MARKER_VAR, PROTOCOL};

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

fn high(fd: OwnedFd) -> io::Result<OwnedFd> {
    if fd.as_raw_fd() >= 10 {
        return Ok(fd);
    }
    Ok(fcntl(&fd, FcntlArg::F_DUPFD_CLOEXEC(10)).map(crate::sys::owned)?)
}

/// A started child, reaped when dropped if [`Child::wait`] was not called.
pub(crate) struct Child(Option<Pid>);

impl Child {
    /// Starts `program` as `argv0`, with stdin `/dev/null`, an environment of only the
    /// fixed `PATH` and the marker, every signal at its default and none blocked, and
    /// `fds[i]` as descriptor `3 + i`.
    pub(crate) fn start(program: &Path, argv0: &str, fds: [&OwnedFd; 4]) -> io::Result<Child> {
        let mut actions = PosixSpawnFileActions::init()?;
        actions.add_open(0, "/dev/null", OFlag::O_RDONLY, Mode::empty())?;
        for (target, fd) in (3..).zip(fds) {
            actions.add_dup2(fd.as_raw_fd(), target)?;
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
            c_string(format!("{MARKER_VAR}={PROTOCOL}"))?,
        ];
        let pid = posix_spawn(program.as_c_str(), &actions, &attributes, &argv, &env)?;
        Ok(Child(Some(pid)))
    }

    /// The child's pid.
    pub(crate) fn pid(&self) -> Pid {
        self.0.expect("not waited yet")
    }

    /// Whether the child has exited, without collecting it (it stays to be reaped).
    pub(crate) fn has_exited(&self) -> bool {
        use nix::sys::wait::{Id, WaitPidFlag, waitid};
        let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG | WaitPidFlag::WNOWAIT;
        matches!(
            waitid(Id::Pid(self.pid()), flags),
            Ok(WaitStatus::Exited(..) | WaitStatus::Signaled(..))
        )
    }

    /// Waits for the child to exit.
    pub(crate) fn wait(mut self) -> io::Result<WaitStatus> {
        let pid = self.0.take().expect("waited once");
        loop {
            match waitpid(pid, None) {
                Err(nix::errno::Errno::EINTR) => continue,
                result => return Ok(result?),
            }
        }
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if let Some(pid) = self.0.take() {
            while waitpid(pid, None) == Err(nix::errno::Errno::EINTR) {}
        }
    }
}
