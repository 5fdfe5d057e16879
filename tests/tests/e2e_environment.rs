//! What the child inherits from the caller, end to end: no environment but `PATH`, no
//! descriptor but its standard streams (stdin being `/dev/null`), no working directory,
//! umask, session or dumpability of the caller's, and no gain from a setuid-root binary.
//!
//! The sandbox's default policy lets it start no process (the syscall filter) and read
//! no program (Landlock). The tests that run a program grant, through `boxed::Policy`,
//! exactly that: the system trees and the program, and a few processes. What they prove
//! then rests on the privilege drop (the empty environment, `no_new_privs`), not on a
//! confinement layer that would stop the program from running at all.

use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use boxed::sandboxed;
use boxed_tests::{e2e, errno_name, running_programs, status_field};
use nix::fcntl::{FcntlArg, FdFlag, fcntl};
use serde::{Deserialize, Serialize};

/// What the child sees of its environment.
#[derive(Serialize, Deserialize, Debug)]
struct Environment {
    /// As `std::env` sees it.
    vars: Vec<(String, String)>,
    /// What a program the child starts gets, as `env` prints it.
    passed_on: String,
    /// `/proc/self/environ` as it is: unreadable, the child being non-dumpable.
    sealed: Result<Vec<u8>, String>,
    /// What `PR_SET_DUMPABLE 1` gave: the syscall filter refuses it.
    redump: Result<(), String>,
    /// The block the child was started with, which `/proc/self/environ` would show: read
    /// from the child's own memory, since it cannot make itself dumpable again.
    environ: Result<Vec<u8>, String>,
}

#[sandboxed]
fn environment() -> Environment {
    let vars = std::env::vars_os()
        .map(|(name, value)| {
            (
                name.to_string_lossy().into_owned(),
                value.to_string_lossy().into_owned(),
            )
        })
        .collect();
    let env = std::process::Command::new("/usr/bin/env")
        .output()
        .expect("running /usr/bin/env");
    let sealed = errno_name(std::fs::read("/proc/self/environ"));
    let redump = errno_name(nix::sys::prctl::set_dumpable(true).map_err(std::io::Error::from));
    Environment {
        vars,
        passed_on: String::from_utf8_lossy(&env.stdout).into_owned(),
        sealed,
        redump,
        environ: environment_block(),
    }
}

/// The environment block the kernel built for this process at `execve`, the bytes
/// `/proc/self/environ` shows: read from the process's own memory, between `env_start`
/// and `env_end` (fields 50 and 51 of `/proc/self/stat`, which the kernel always fills
/// in for the process itself, dumpable or not).
fn environment_block() -> Result<Vec<u8>, String> {
    let stat = errno_name(std::fs::read_to_string("/proc/self/stat"))?;
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .ok_or_else(|| format!("/proc/self/stat has no `)`: {stat}"))?
        .1
        .split_whitespace()
        .collect();
    // Field 3 of proc_pid_stat(5) is the first after the command's `)`.
    let field = |number: usize| -> Result<usize, String> {
        fields
            .get(number - 3)
            .and_then(|value| value.parse().ok())
            .ok_or_else(|| format!("/proc/self/stat has no field {number}: {stat}"))
    };
    let (start, end) = (field(50)?, field(51)?);
    if start == 0 || end <= start {
        return Err(format!(
            "/proc/self/stat gives no environment: {start:#x}..{end:#x}"
        ));
    }
    // SAFETY: [start, end) is the environment block the kernel copied onto this process's
    // initial stack at execve; that memory stays mapped and readable for the life of the
    // process, and no other thread writes it.
    let block = unsafe { std::slice::from_raw_parts(start as *const u8, end - start) };
    Ok(block.to_vec())
}

/// Whether `haystack` contains `needle`.
fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

#[test]
fn the_callers_environment_does_not_reach_the_child() {
    let env = e2e();
    // The secret is really in the caller's environment, both views of it.
    assert_eq!(std::env::var("BOXED_E2E_SECRET").unwrap(), env.secret);
    let own = std::fs::read("/proc/self/environ").unwrap();
    assert!(contains(&own, env.secret.as_bytes()));

    // The child may run /usr/bin/env (read on the system trees, and a process more); it
    // is not granted the caller's environment in any way, so what keeps the secret out is
    // the privilege drop, not Landlock or the syscall filter.
    let Environment {
        vars,
        passed_on,
        sealed,
        redump,
        environ,
    } = running_programs(2).run(environment);
    let names: Vec<&str> = vars.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(names, ["PATH"], "the child's environment: {vars:?}");
    assert!(!vars[0].1.contains(&env.secret));
    let passed_on: Vec<&str> = passed_on.lines().collect();
    assert_eq!(
        passed_on,
        [format!("PATH={}", vars[0].1)],
        "what env printed"
    );

    // A non-dumpable process's /proc entries belong to root (Landlock grants /proc/self,
    // so the refusal is the entry's owner and mode).
    assert_eq!(sealed, Err("EACCES".to_string()));
    // And the child cannot make itself dumpable again to read it.
    assert_eq!(redump, Err("EPERM".to_string()));
    let environ = environ.expect("the child reads its environment block from its memory");
    assert!(
        !contains(&environ, env.secret.as_bytes()),
        "the secret is in the child's /proc/self/environ: {}",
        String::from_utf8_lossy(&environ)
    );
    // The block the child was started with: PATH, and the runtime's own marker and (from
    // the launcher, which made this block) the policy, which the child removes from its
    // environment but cannot erase from the kernel's copy.
    let entries: Vec<String> = environ
        .split(|&byte| byte == 0)
        .filter(|entry| !entry.is_empty())
        .map(|entry| String::from_utf8_lossy(entry).into_owned())
        .collect();
    assert!(
        entries.contains(&format!("PATH={}", vars[0].1)),
        "{entries:?}"
    );
    assert!(
        entries
            .iter()
            .all(|entry| ["PATH=", "BOXED_SANDBOX=", "BOXED_POLICY="]
                .iter()
                .any(|name| entry.starts_with(name))),
        "the child's /proc/self/environ has more than PATH, the marker and the policy: \
         {entries:?}"
    );
}

/// What `fstat` gives for each descriptor number: (device, inode), or the errno name.
#[sandboxed]
fn fstat_each(fds: &[RawFd]) -> Vec<Result<(u64, u64), String>> {
    fds.iter().map(|&fd| fstat_raw(fd)).collect()
}

fn fstat_raw(fd: RawFd) -> Result<(u64, u64), String> {
    let mut stat = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: fstat takes any integer and writes a `struct stat` only when it succeeds;
    // the descriptor may well not exist, which is what the call is for.
    let result = unsafe { libc::fstat(fd, stat.as_mut_ptr()) };
    errno_name(if result == 0 {
        // SAFETY: fstat returned 0, so it filled the whole struct.
        let stat = unsafe { stat.assume_init() };
        Ok((stat.st_dev, stat.st_ino))
    } else {
        Err(std::io::Error::last_os_error())
    })
}

/// A duplicate of `file` numbered `at` or higher, without close-on-exec.
fn inheritable_copy(file: &File, at: RawFd) -> OwnedFd {
    let fd = fcntl(file, FcntlArg::F_DUPFD_CLOEXEC(at))
        .unwrap_or_else(|e| panic!("duplicating a descriptor to {at} or above: {e}"));
    // SAFETY: fcntl just returned this new descriptor; nothing else owns it.
    let copy = unsafe { OwnedFd::from_raw_fd(fd) };
    fcntl(&copy, FcntlArg::F_SETFD(FdFlag::empty())).expect("clearing FD_CLOEXEC");
    let flags = FdFlag::from_bits_truncate(fcntl(&copy, FcntlArg::F_GETFD).unwrap());
    assert!(
        !flags.contains(FdFlag::FD_CLOEXEC),
        "{fd} is still close-on-exec"
    );
    copy
}

#[test]
fn descriptors_the_caller_leaves_inheritable_are_closed_in_the_child() {
    e2e();
    // A high number needs a soft descriptor limit above it.
    let (_, hard) = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
        .expect("getrlimit");
    assert!(
        hard > 1600,
        "the hard RLIMIT_NOFILE ({hard}) leaves no room for a descriptor above 1500"
    );
    nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE, hard, hard)
        .expect("raising the soft RLIMIT_NOFILE");

    // /etc/passwd: a file nobody may open, so only the descriptor's absence can stop it.
    let file = File::open("/etc/passwd").unwrap();
    let meta = file.metadata().unwrap();
    let expected = (meta.dev(), meta.ino());
    // Above the protocol descriptors 3 to 5, so the child cannot have that number for
    // another reason, and above 1024 (the default soft limit, and FD_SETSIZE).
    let low = inheritable_copy(&file, 10);
    let high = inheritable_copy(&file, 1500);
    assert!(high.as_raw_fd() >= 1500);
    let fds = [low.as_raw_fd(), high.as_raw_fd()];

    // The caller can use both.
    for fd in fds {
        assert_eq!(fstat_raw(fd), Ok(expected), "fstat({fd}) in the caller");
    }
    let outcomes = fstat_each(&fds);
    assert_eq!(
        outcomes,
        vec![Err("EBADF".to_string()), Err("EBADF".to_string())],
        "fstat of {fds:?} in the child"
    );
    drop((low, high));
}

/// The state a process starts in, as the child sees its own.
#[derive(Serialize, Deserialize, Debug)]
struct ProcessState {
    /// What reading stdin gave: the byte count, or the errno name.
    stdin_read: Result<usize, String>,
    /// stdin's file type bits, device, inode and represented device.
    stdin_stat: (u32, u64, u64, u64),
    cwd: PathBuf,
    /// The `Umask` line of `/proc/self/status`.
    umask: String,
    pid: i32,
    sid: i32,
    dumpable: bool,
}

#[sandboxed]
fn process_state() -> ProcessState {
    use std::io::Read;
    let mut buffer = [0u8; 64];
    let stdin_read = errno_name(std::io::stdin().read(&mut buffer));
    let stat = nix::sys::stat::fstat(std::io::stdin()).expect("fstat(0)");
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    ProcessState {
        stdin_read,
        stdin_stat: (
            stat.st_mode & libc::S_IFMT,
            stat.st_dev,
            stat.st_ino,
            stat.st_rdev,
        ),
        cwd: std::env::current_dir().expect("current_dir"),
        umask: status_field(&status, "Umask"),
        pid: nix::unistd::getpid().as_raw(),
        sid: nix::unistd::getsid(None).expect("getsid").as_raw(),
        dumpable: nix::sys::prctl::get_dumpable().expect("PR_GET_DUMPABLE"),
    }
}

#[test]
fn the_child_starts_with_nothing_of_the_callers_process() {
    e2e();
    let state = process_state();

    let null = std::fs::metadata("/dev/null").unwrap();
    assert_eq!(
        state.stdin_stat,
        (libc::S_IFCHR, null.dev(), null.ino(), null.rdev()),
        "the child's stdin is not /dev/null"
    );
    assert_eq!(state.stdin_read, Ok(0));

    assert_eq!(state.cwd, Path::new("/"));
    // The caller is elsewhere (cargo starts it in its package's directory).
    assert_ne!(std::env::current_dir().unwrap(), Path::new("/"));

    assert_eq!(state.umask, "0077");

    assert_eq!(state.sid, state.pid, "the child leads its own session");
    let own_sid = nix::unistd::getsid(None).unwrap().as_raw();
    assert_ne!(state.sid, own_sid, "the child is in the caller's session");

    assert!(!state.dumpable, "the child is dumpable");
    assert!(
        nix::sys::prctl::get_dumpable().unwrap(),
        "the caller is dumpable"
    );
}

/// Runs `program` and returns whether it succeeded, and its stdout and stderr.
#[sandboxed]
fn run(program: &Path) -> Result<(bool, String, String), String> {
    let output = errno_name(std::process::Command::new(program).output())?;
    Ok((
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    ))
}

#[test]
fn a_setuid_root_binary_gives_the_child_nothing() {
    let env = e2e();
    let suid_id = env.stage.join("suid-id");
    let meta = std::fs::metadata(&suid_id).unwrap_or_else(|e| panic!("{}: {e}", suid_id.display()));
    assert_eq!(meta.uid(), 0, "{} must belong to root", suid_id.display());
    assert_eq!(
        meta.mode() & 0o4000,
        0o4000,
        "{} must be setuid",
        suid_id.display()
    );

    // The caller gains root's effective uid through it.
    let output = std::process::Command::new(&suid_id).output().unwrap();
    assert!(output.status.success());
    let caller_sees = String::from_utf8_lossy(&output.stdout);
    assert!(
        caller_sees.contains("euid=0"),
        "the caller ran {}: {caller_sees}",
        suid_id.display()
    );

    // The child may run the binary (read on the system trees and on suid-id, and a
    // process more), so what keeps it from gaining root is no_new_privs, not Landlock or
    // the syscall filter.
    let (success, stdout, stderr) = running_programs(2)
        .read(&suid_id)
        .run(|| run(&suid_id))
        .expect("the child runs the program");
    assert!(success, "suid-id failed in the child: {stderr}");
    // The sandbox's own uid (`running_programs` gives it a unique one), not root's.
    let uid: u32 = stdout
        .strip_prefix("uid=")
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|digits| digits.parse().ok())
        .unwrap_or_else(|| panic!("no uid in {stdout:?}"));
    assert!(uid >= 2_000_000_000, "{stdout}");
    assert!(!stdout.contains("euid="), "{stdout}");
    assert!(!stdout.contains("=0("), "{stdout}");
}
