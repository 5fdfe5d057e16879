//! The root path: a caller running as root needs nothing installed. The child is the running
//! executable itself, started again, and it drops everything a root process holds,
//! the bounding set included, before the function runs.
//!
//! Root-run: `tests/run.sh` runs this file as root. Run any other way, it fails and says so.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use boxed::sandboxed;
use boxed_tests::status_field;

fn root() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "root_caller tests check the path of a caller running as root and must run as root; \
         run them with `bash tests/run.sh`"
    );
}

/// The sandbox's whole `/proc/self/status`.
#[sandboxed]
fn status() -> String {
    std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status")
}

/// What each attempt to regain root returned, as errno names.
#[sandboxed]
fn regain_root() -> Vec<(String, String)> {
    use nix::unistd::{Gid, Uid, setgroups, setresgid, setresuid, setuid};
    let outcome = |result: nix::Result<()>| match result {
        Ok(()) => "succeeded".to_string(),
        Err(errno) => format!("{errno:?}"),
    };
    let (root, group) = (Uid::from_raw(0), Gid::from_raw(0));
    vec![
        (
            "setresuid(0, 0, 0)".into(),
            outcome(setresuid(root, root, root)),
        ),
        ("setuid(0)".into(), outcome(setuid(root))),
        (
            "setresgid(0, 0, 0)".into(),
            outcome(setresgid(group, group, group)),
        ),
        ("setgroups([0])".into(), outcome(setgroups(&[group]))),
    ]
}

/// Reads `path`, then appends to it; what each step returned.
#[sandboxed]
fn touch_root_file(path: &Path) -> (String, String) {
    let read = match std::fs::read(path) {
        Ok(bytes) => format!("read {} bytes", bytes.len()),
        Err(error) => format!("{:?}", error.kind()),
    };
    let write = match std::fs::OpenOptions::new().append(true).open(path) {
        Ok(_) => "opened for writing".to_string(),
        Err(error) => format!("{:?}", error.kind()),
    };
    (read, write)
}

#[test]
fn a_root_caller_needs_nothing_installed() {
    root();
    // tests/run.sh removes the machine's launcher before this file runs (and puts it
    // back at the end), so nothing installed can be what serves the call.
    let launcher = Path::new(boxed::launcher::LAUNCHER);
    assert!(
        launcher.symlink_metadata().is_err(),
        "{} is installed: run this file with `bash tests/run.sh`, which removes it first",
        launcher.display()
    );
    let status = status();
    assert_eq!(status_field(&status, "Uid"), "65534\t65534\t65534\t65534");
    assert!(
        launcher.symlink_metadata().is_err(),
        "the call installed {}",
        launcher.display()
    );
}

#[test]
fn the_sandbox_of_a_root_caller_is_nobody_with_nothing_left() {
    root();
    let mine = fs::read_to_string("/proc/self/status").unwrap();
    assert_eq!(status_field(&mine, "Uid"), "0\t0\t0\t0");
    assert_ne!(status_field(&mine, "CapBnd"), "0000000000000000");

    let status = status();
    assert_eq!(status_field(&status, "Uid"), "65534\t65534\t65534\t65534");
    assert_eq!(status_field(&status, "Gid"), "65534\t65534\t65534\t65534");
    assert_eq!(status_field(&status, "Groups"), "");
    for set in ["CapInh", "CapPrm", "CapEff", "CapAmb", "CapBnd"] {
        assert_eq!(status_field(&status, set), "0000000000000000", "{set}");
    }
    assert_eq!(status_field(&status, "NoNewPrivs"), "1");
}

#[test]
fn the_sandbox_of_a_root_caller_cannot_become_root_again() {
    root();
    for (attempt, outcome) in regain_root() {
        assert_eq!(outcome, "EPERM", "{attempt}");
    }
}

/// A directory of root's for one test, removed when it ends.
struct RootDir(PathBuf);

impl Drop for RootDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

#[test]
fn root_files_stay_closed_to_the_sandbox_of_a_root_caller() {
    root();
    let dir =
        RootDir(std::env::temp_dir().join(format!("boxed-root-caller-{}", std::process::id())));
    let _ = fs::remove_dir_all(&dir.0);
    fs::create_dir(&dir.0).unwrap();
    fs::set_permissions(&dir.0, fs::Permissions::from_mode(0o755)).unwrap();
    for (name, mode, read) in [
        ("secret", 0o600, "PermissionDenied"),
        ("public", 0o644, "read 6 bytes"),
    ] {
        let file = dir.0.join(name);
        fs::write(&file, "secret").unwrap();
        fs::set_permissions(&file, fs::Permissions::from_mode(mode)).unwrap();
        // The directory is granted read and write, so that the file modes (root's
        // ownership against the sandbox's nobody) are what refuse, not Landlock.
        let granted = boxed::Policy::new().write(&dir.0);
        assert_eq!(
            granted.run(|| touch_root_file(&file)),
            (read.to_string(), "PermissionDenied".to_string()),
            "{name}, mode {mode:o}"
        );
        assert_eq!(fs::read_to_string(&file).unwrap(), "secret");
    }
}

/// Reads a world-readable file outside any grant: possible only without Landlock.
#[sandboxed]
fn read_passwd() -> Result<usize, String> {
    std::fs::read_to_string("/etc/passwd")
        .map(|text| text.len())
        .map_err(|error| format!("{:?}", error.kind()))
}

/// Makes the kernel look, to this thread and every process it starts, as if it had no
/// Landlock: the three Landlock syscalls fail with ENOSYS. Root may install a filter
/// without `no_new_privs`; filters are kept across fork and exec.
fn hide_landlock_from_this_thread() {
    const LD_NR: u16 = 0x20; // BPF_LD | BPF_W | BPF_ABS, offset 0: the syscall number
    const JEQ: u16 = 0x15;
    const RET: u16 = 0x06;
    let enosys = 0x0005_0000 | libc::ENOSYS as u32;
    let allow = 0x7fff_0000;
    let op = |code, jt, jf, k| libc::sock_filter { code, jt, jf, k };
    let program = [
        op(LD_NR, 0, 0, 0),
        op(JEQ, 3, 0, libc::SYS_landlock_create_ruleset as u32),
        op(JEQ, 2, 0, libc::SYS_landlock_add_rule as u32),
        op(JEQ, 1, 0, libc::SYS_landlock_restrict_self as u32),
        op(RET, 0, 0, allow),
        op(RET, 0, 0, enosys),
    ];
    let fprog = libc::sock_fprog {
        len: program.len() as u16,
        filter: program.as_ptr().cast_mut(),
    };
    // SAFETY: installs a filter on this thread only; the kernel copies the program.
    let result = unsafe {
        libc::prctl(
            libc::PR_SET_SECCOMP,
            libc::SECCOMP_MODE_FILTER,
            &fprog as *const libc::sock_fprog,
        )
    };
    assert_eq!(result, 0, "{}", std::io::Error::last_os_error());
}

#[test]
fn without_landlock_require_refuses_and_best_effort_runs_without_it() {
    root();
    // Control: with Landlock, the file is closed to the sandbox.
    assert_eq!(read_passwd(), Err("PermissionDenied".to_string()));
    std::thread::spawn(|| {
        hide_landlock_from_this_thread();
        assert_eq!(boxed::kernel_support().landlock_abi, None);
        let error = boxed::try_call(read_passwd).unwrap_err();
        assert_eq!(error.kind(), boxed::ErrorKind::Unsupported, "{error}");
        assert!(error.to_string().contains("best_effort"), "{error}");
        // Chosen degradation: the call runs, without the file-system layer.
        let degraded = boxed::Policy::new()
            .landlock(boxed::Enforcement::BestEffort)
            .run(read_passwd);
        assert!(degraded.is_ok(), "{degraded:?}");
        // And `boxed doctor` says so, with a failing exit code.
        let doctor = std::process::Command::new(env!("CARGO_BIN_EXE_boxed-test-caller"))
            .arg("doctor")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&doctor.stdout);
        assert!(
            text.contains("Landlock") && text.contains("NOT available"),
            "{text}"
        );
        assert!(!doctor.status.success(), "{text}");
    })
    .join()
    .unwrap();
}
