//! Metadata outside the grants, end to end. Landlock governs opening, creating and
//! removing files, not changing their mode, owner, times or extended attributes, nor
//! watching them; so the syscall filter refuses every such call by path, and allows
//! the descriptor forms (on a file the sandbox could open) only under a write grant.
//!
//! A first sandbox, with a write grant, makes a file (mode 0600, owned by the sandbox's
//! identity). A second one, with no grant at all, tries to change it by path, every
//! variant; a third, with a read grant on its directory, opens it and tries the
//! descriptor forms. Both fail with `EPERM` and the file stays as it was. The controls:
//! a sandbox with a write grant changes its own file through the descriptor, and the
//! caller, unconfined, changes and watches its own files.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use boxed::{Policy, sandboxed};
use boxed_tests::{Outcome, e2e, open_directory, outcome, syscall6};
use libc::c_long;

/// A nul-terminated copy of `path`, kept alive by the caller.
fn c_path(path: &Path) -> std::ffi::CString {
    std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).expect("a path without nul")
}

/// Every metadata change by path, and every watch, aimed at `victim`.
fn by_path(victim: &Path) -> Vec<(String, Outcome)> {
    let path = c_path(victim);
    let path = path.as_ptr() as c_long;
    let at = c_long::from(libc::AT_FDCWD);
    let name = c"user.boxed".as_ptr() as c_long;
    let value = b"x".as_ptr() as c_long;
    let mode = 0o644;
    let uid = c_long::from(nix::unistd::getuid().as_raw());
    let gid = c_long::from(nix::unistd::getgid().as_raw());
    let calls: Vec<(&str, c_long, [c_long; 6])> = vec![
        ("chmod", libc::SYS_chmod, [path, mode, 0, 0, 0, 0]),
        ("fchmodat", libc::SYS_fchmodat, [at, path, mode, 0, 0, 0]),
        ("fchmodat2", libc::SYS_fchmodat2, [at, path, mode, 0, 0, 0]),
        ("chown", libc::SYS_chown, [path, uid, gid, 0, 0, 0]),
        ("lchown", libc::SYS_lchown, [path, uid, gid, 0, 0, 0]),
        ("fchownat", libc::SYS_fchownat, [at, path, uid, gid, 0, 0]),
        ("utime", libc::SYS_utime, [path, 0, 0, 0, 0, 0]),
        ("utimes", libc::SYS_utimes, [path, 0, 0, 0, 0, 0]),
        ("futimesat", libc::SYS_futimesat, [at, path, 0, 0, 0, 0]),
        (
            "utimensat(path)",
            libc::SYS_utimensat,
            [at, path, 0, 0, 0, 0],
        ),
        ("setxattr", libc::SYS_setxattr, [path, name, value, 1, 0, 0]),
        (
            "removexattr",
            libc::SYS_removexattr,
            [path, name, 0, 0, 0, 0],
        ),
        (
            "lsetxattr",
            libc::SYS_lsetxattr,
            [path, name, value, 1, 0, 0],
        ),
        (
            "lremovexattr",
            libc::SYS_lremovexattr,
            [path, name, 0, 0, 0, 0],
        ),
        ("inotify_init1", libc::SYS_inotify_init1, [0; 6]),
        ("inotify_init", libc::SYS_inotify_init, [0; 6]),
        ("fanotify_init", libc::SYS_fanotify_init, [0; 6]),
    ];
    calls
        .into_iter()
        .map(|(what, nr, args)| {
            // SAFETY: the pointers among the arguments are nul-terminated strings, a
            // one-byte value, or null (the current time); a descriptor an inotify call
            // may return is leaked until the process exits.
            (what.to_string(), outcome(unsafe { syscall6(nr, args) }))
        })
        .collect()
}

/// The metadata changes through a descriptor of `victim`, opened for reading.
fn by_descriptor(victim: &Path) -> Vec<(String, Outcome)> {
    let file = match fs::File::open(victim) {
        Ok(file) => file,
        Err(error) => return vec![("open".into(), Err(error.to_string()))],
    };
    let fd = c_long::from(std::os::fd::AsRawFd::as_raw_fd(&file));
    let name = c"user.boxed".as_ptr() as c_long;
    let value = b"x".as_ptr() as c_long;
    let uid = c_long::from(nix::unistd::getuid().as_raw());
    let gid = c_long::from(nix::unistd::getgid().as_raw());
    let calls: [(&str, c_long, [c_long; 6]); 5] = [
        ("fchmod", libc::SYS_fchmod, [fd, 0o600, 0, 0, 0, 0]),
        ("fchown", libc::SYS_fchown, [fd, uid, gid, 0, 0, 0]),
        ("futimens", libc::SYS_utimensat, [fd, 0, 0, 0, 0, 0]),
        ("fsetxattr", libc::SYS_fsetxattr, [fd, name, value, 1, 0, 0]),
        (
            "fremovexattr",
            libc::SYS_fremovexattr,
            [fd, name, 0, 0, 0, 0],
        ),
    ];
    calls
        .into_iter()
        .map(|(what, nr, args)| {
            // SAFETY: a descriptor this function holds, a nul-terminated name, a one-byte
            // value, or null (the current time).
            (what.to_string(), outcome(unsafe { syscall6(nr, args) }))
        })
        .collect()
}

/// Makes `dir/name` with `content`: mode 0600 (the sandbox's umask), its identity's.
#[sandboxed]
fn make(dir: &Path, name: String) -> Result<(), String> {
    fs::write(dir.join(name), "secret").map_err(|e| e.to_string())
}

#[sandboxed]
fn by_path_in_sandbox(victim: PathBuf) -> Vec<(String, Outcome)> {
    by_path(&victim)
}

#[sandboxed(zygote)]
fn by_path_in_zygote(victim: PathBuf) -> Vec<(String, Outcome)> {
    by_path(&victim)
}

#[sandboxed]
fn by_descriptor_in_sandbox(victim: PathBuf) -> Vec<(String, Outcome)> {
    by_descriptor(&victim)
}

#[sandboxed(zygote)]
fn by_descriptor_in_zygote(victim: PathBuf) -> Vec<(String, Outcome)> {
    by_descriptor(&victim)
}

/// The mode, owner, modification time and `user.boxed` attribute of `path`.
fn metadata(path: &Path) -> (u32, u32, i64, Option<Vec<u8>>) {
    let meta = fs::metadata(path).expect("stat");
    let attribute = xattr::get(path, "user.boxed").ok().flatten();
    (
        meta.mode() & 0o7777,
        meta.uid(),
        meta.mtime_nsec() + meta.mtime() * 1_000_000_000,
        attribute,
    )
}

#[test]
fn metadata_of_a_file_outside_the_write_grants_cannot_change() {
    let env = e2e();
    let dir = open_directory(&env.work, "metadata");
    let victim = dir.join("victim");
    Policy::new()
        .write(&dir)
        .run(|| make(&dir, "victim".into()))
        .expect("making the victim");
    let before = metadata(&victim);
    assert_eq!(before.0, 0o600, "the victim's mode");
    // No grant: every change by path is refused. A read grant: the descriptor forms too.
    for (how, outcomes) in [
        ("one-shot, by path", by_path_in_sandbox(victim.clone())),
        ("zygote, by path", by_path_in_zygote(victim.clone())),
        (
            "one-shot, by descriptor",
            Policy::new()
                .read(&dir)
                .run(|| by_descriptor_in_sandbox(victim.clone())),
        ),
        (
            "zygote, by descriptor",
            Policy::new()
                .read(&dir)
                .zygote(true)
                .run(|| by_descriptor_in_zygote(victim.clone())),
        ),
    ] {
        assert!(outcomes.len() >= 5, "{how}: {outcomes:?}");
        for (name, outcome) in outcomes {
            assert_eq!(outcome, Err("EPERM".to_string()), "{how}: {name}");
        }
    }
    assert_eq!(metadata(&victim), before, "the victim changed");
    fs::remove_dir_all(&dir).expect("removing the directory");
}

/// Under a write grant, the sandbox changes its own file through the descriptor (mode,
/// times, attributes): the same calls, allowed by the policy.
#[test]
fn under_a_write_grant_the_descriptor_forms_work() {
    let env = e2e();
    let dir = open_directory(&env.work, "metadata-granted");
    let own = dir.join("own");
    for zygote in [false, true] {
        let policy = Policy::new().write(&dir).zygote(zygote);
        policy
            .run(|| make(&dir, "own".into()))
            .expect("making the file");
        let outcomes = if zygote {
            policy.run(|| by_descriptor_in_zygote(own.clone()))
        } else {
            policy.run(|| by_descriptor_in_sandbox(own.clone()))
        };
        assert_eq!(outcomes.len(), 5, "{outcomes:?}");
        for (name, outcome) in outcomes {
            assert_eq!(outcome, Ok(0), "zygote {zygote}: {name}");
        }
        // And through the standard library.
        let copied = policy.run(|| copy_and_set(&dir));
        assert_eq!(copied, Ok(0o640), "zygote {zygote}");
        fs::remove_file(&own).expect("removing the file");
    }
    fs::remove_dir_all(&dir).expect("removing the directory");
}

/// `std::fs::copy` (which sets the copy's mode through its descriptor), then
/// `File::set_permissions` and `File::set_modified`; the copy's mode.
#[sandboxed]
fn copy_and_set(dir: &Path) -> Result<u32, String> {
    let (source, copy) = (dir.join("own"), dir.join("copy"));
    fs::copy(&source, &copy).map_err(|e| format!("copy: {e}"))?;
    let file = fs::OpenOptions::new()
        .write(true)
        .open(&copy)
        .map_err(|e| e.to_string())?;
    file.set_permissions(fs::Permissions::from_mode(0o640))
        .map_err(|e| format!("set_permissions: {e}"))?;
    file.set_modified(std::time::SystemTime::UNIX_EPOCH)
        .map_err(|e| format!("set_modified: {e}"))?;
    let mode = file.metadata().map_err(|e| e.to_string())?.mode() & 0o7777;
    fs::remove_file(&copy).map_err(|e| e.to_string())?;
    Ok(mode)
}

/// The control for the path forms and the watches: the caller, unconfined, on a file of
/// its own.
#[test]
fn outside_the_sandbox_the_path_forms_and_watches_work() {
    let env = e2e();
    let dir = open_directory(&env.work, "metadata-caller");
    let own = dir.join("own");
    fs::write(&own, "x").expect("writing");
    for (name, outcome) in by_path(&own) {
        if name == "fanotify_init" {
            continue; // needs CAP_SYS_ADMIN, also outside the sandbox
        }
        assert!(outcome.is_ok(), "the caller's {name}: {outcome:?}");
    }
    fs::remove_dir_all(&dir).expect("removing the directory");
}
