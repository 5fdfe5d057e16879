//! Attacks on the installed copy and on its setup, acted out by root as the test users.
//!
//! Each test stages a fresh build of `boxed-test-caller` in a directory of its own,
//! installs its copy for the test user with `boxed install`, and removes both when it
//! ends (also when it fails). The users are played with `runuser`; every program they run
//! starts from an empty environment (`env -i`), so only what a test sets reaches it.
//!
//! Root-run: `tests/run.sh` runs this file as root with `BOXED_E2E_STAGE`,
//! `BOXED_E2E_CALLER` and `BOXED_E2E_OTHER` set. Run any other way, it fails and says so.

use std::ffi::OsStr;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use boxed_tests::status_field;
use nix::fcntl::{FcntlArg, OFlag, fcntl};

/// The `PATH` every program run as a test user gets.
const PATH: &str = "/usr/local/bin:/usr/bin:/bin";
/// The `PATH` root finds `runuser` in.
const ROOT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// The staged program.
const PROGRAM: &str = "boxed-test-caller";
/// `cap_setuid,cap_setgid+ep` as the kernel stores it (revision 2 `vfs_cap_data`).
const CAPABILITY_XATTR: [u8; 20] = [
    1, 0, 0, 2, 0xc0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
];
/// What the init hook says when the copy is started directly without the marker.
const DIRECT_START: &str = "is a sandbox copy made by `boxed install`";
/// What the supervisor says when the marker comes without the protocol pipes.
const NOT_BY_LIBRARY: &str = "not started by the boxed library";

/// What `tests/run.sh` prepared for the root-run tests.
struct Users {
    /// Root-owned stage directory; `bin/` holds the built programs.
    stage: PathBuf,
    /// The user the copies are installed for.
    caller: String,
    /// Another local user, with no copy of its own.
    other: String,
}

fn users() -> Users {
    assert!(
        nix::unistd::geteuid().is_root(),
        "installed_copy tests act as several users and must run as root; \
         run them with `bash tests/run.sh`"
    );
    let var = |name: &str| {
        std::env::var(name)
            .unwrap_or_else(|_| panic!("{name} is not set: run with `bash tests/run.sh`"))
    };
    let users = Users {
        stage: var("BOXED_E2E_STAGE").into(),
        caller: var("BOXED_E2E_CALLER"),
        other: var("BOXED_E2E_OTHER"),
    };
    assert!(
        users.stage.join("bin").join(PROGRAM).is_file(),
        "{} has no bin/{PROGRAM}: run with `bash tests/run.sh`",
        users.stage.display()
    );
    users
}

/// A fresh build of the test program, staged in a directory of the test's own.
struct Staged {
    users: Users,
    /// The test's directory: root's, mode 0755.
    dir: PathBuf,
    /// The staged program, canonical: root's, mode 0755.
    exe: PathBuf,
}

impl Staged {
    fn new(test: &str) -> Staged {
        let users = users();
        let parent = users.stage.join("installed_copy");
        fs::create_dir_all(&parent).expect("create the suite's directory");
        fs::set_permissions(&parent, fs::Permissions::from_mode(0o755)).unwrap();
        let dir = parent.join(test);
        if dir.exists() {
            fs::remove_dir_all(&dir).unwrap();
        }
        fs::create_dir(&dir).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        let exe = dir.join(PROGRAM);
        fs::copy(users.stage.join("bin").join(PROGRAM), &exe).expect("stage the program");
        fs::set_permissions(&exe, fs::Permissions::from_mode(0o755)).unwrap();
        let exe = fs::canonicalize(&exe).unwrap();
        Staged { users, dir, exe }
    }

    fn caller(&self) -> &str {
        &self.users.caller
    }

    /// Runs the staged `boxed` program as root.
    fn boxed(&self, args: &[&str]) -> Output {
        let mut command = Command::new(self.users.stage.join("bin/boxed"));
        command.args(args).arg(&self.exe);
        output(&mut command)
    }

    fn install(&self) {
        let out = self.boxed(&["install", "--user", self.caller()]);
        assert!(
            out.status.success(),
            "boxed install failed:\n{}",
            show(&out)
        );
    }

    /// `boxed status --user CALLER EXE`: its exit code and its one line.
    fn status(&self) -> (Option<i32>, String) {
        let out = self.boxed(&["status", "--user", self.caller()]);
        (out.status.code(), stdout(&out).trim().to_string())
    }

    /// The installed copy, at the path `boxed status` names; it must be current.
    fn copy(&self) -> PathBuf {
        let (code, line) = self.status();
        assert_eq!(code, Some(0), "the copy is not current: {line}");
        let path = line
            .strip_prefix("current: ")
            .unwrap_or_else(|| panic!("unexpected status line {line:?}"));
        PathBuf::from(path)
    }

    /// The command the error messages must name to (re)create the copy.
    fn install_command(&self) -> String {
        format!(
            "sudo boxed install --user {} {}",
            self.caller(),
            self.exe.display()
        )
    }

    /// A directory the calling user owns, for files its programs create.
    fn work(&self) -> PathBuf {
        let work = self.dir.join("work");
        if !work.exists() {
            fs::create_dir(&work).unwrap();
            let (uid, gid) = ids(self.caller());
            std::os::unix::fs::chown(&work, Some(uid), Some(gid)).unwrap();
            fs::set_permissions(&work, fs::Permissions::from_mode(0o755)).unwrap();
        }
        work
    }

    /// The calling user runs the staged program (not the copy) the normal way.
    fn call_credentials(&self) -> Output {
        as_user(self.caller(), &self.exe, &["credentials"], &[])
    }

    /// Asserts that a normal run of the staged program gets a correct sandboxed result.
    fn assert_sandboxed_call_works(&self) {
        let out = self.call_credentials();
        assert!(
            out.status.success(),
            "the sandboxed call failed:\n{}",
            show(&out)
        );
        assert_nobody(&stdout(&out), &show(&out));
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        let out = self.boxed(&["uninstall", "--user", &self.users.caller]);
        if !out.status.success() {
            eprintln!("cleanup: boxed uninstall failed:\n{}", show(&out));
        }
        if let Err(error) = fs::remove_dir_all(&self.dir) {
            eprintln!("cleanup: cannot remove {}: {error}", self.dir.display());
        }
    }
}

/// The uid and primary gid of `user`.
fn ids(user: &str) -> (u32, u32) {
    let user = nix::unistd::User::from_name(user)
        .unwrap()
        .unwrap_or_else(|| panic!("no user {user}: run with `bash tests/run.sh`"));
    (user.uid.as_raw(), user.gid.as_raw())
}

fn output(command: &mut Command) -> Output {
    command
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|error| panic!("cannot run {command:?}: {error}"))
}

/// A command that runs `program args` as `user` with only `PATH` and `vars` in its
/// environment.
fn user_command(
    user: &str,
    program: impl AsRef<OsStr>,
    args: &[&str],
    vars: &[(&str, &str)],
) -> Command {
    let mut command = Command::new("runuser");
    command
        .env_clear()
        .env("PATH", ROOT_PATH)
        .current_dir("/")
        .args(["-u", user, "--", "env", "-i"])
        .arg(format!("PATH={PATH}"));
    for (name, value) in vars {
        command.arg(format!("{name}={value}"));
    }
    command.arg(program).args(args);
    command
}

fn as_user(user: &str, program: impl AsRef<OsStr>, args: &[&str], vars: &[(&str, &str)]) -> Output {
    output(&mut user_command(user, program, args, vars))
}

/// Runs the bash `script` as `user`, with `$0`, `$1`, ... set to `args`.
fn shell_as(user: &str, script: &str, args: &[&str], vars: &[(&str, &str)]) -> Output {
    let mut all = vec!["-c", script];
    all.extend_from_slice(args);
    as_user(user, "bash", &all, vars)
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn show(out: &Output) -> String {
    format!(
        "status: {}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        stdout(out),
        stderr(out)
    )
}

/// The credential lines are those of a sandbox: nobody, nothing held, no_new_privs.
fn assert_nobody(lines: &str, context: &str) {
    assert_eq!(
        status_field(lines, "Uid"),
        "65534\t65534\t65534\t65534",
        "{context}"
    );
    assert_eq!(
        status_field(lines, "Gid"),
        "65534\t65534\t65534\t65534",
        "{context}"
    );
    assert_eq!(status_field(lines, "Groups"), "", "{context}");
    for set in ["CapInh", "CapPrm", "CapEff", "CapAmb"] {
        assert_eq!(
            status_field(lines, set),
            "0000000000000000",
            "{set}: {context}"
        );
    }
    assert_eq!(status_field(lines, "NoNewPrivs"), "1", "{context}");
}

/// The program did not run: no `main`, no result, the refusal code and `message`.
fn assert_refused(what: &str, out: &Output, message: &str) {
    let shown = show(out);
    assert!(
        !stdout(out).contains("MAIN RAN"),
        "{what}: main ran\n{shown}"
    );
    assert!(
        !stdout(out).contains("Uid:"),
        "{what}: it printed credentials\n{shown}"
    );
    assert_eq!(out.status.code(), Some(126), "{what}\n{shown}");
    assert!(stderr(out).contains(message), "{what}\n{shown}");
}

#[test]
fn the_copy_is_roots_runnable_by_its_user_alone_and_carries_its_capabilities() {
    let staged = Staged::new("layout");
    staged.install();
    let copy = staged.copy();
    let (uid, _) = ids(staged.caller());
    let file = fs::symlink_metadata(&copy).expect("the copy exists where status says");
    assert!(file.is_file(), "{} is not a regular file", copy.display());
    assert_eq!(file.uid(), 0, "owner of {}", copy.display());
    assert_eq!(file.gid(), 0, "group of {}", copy.display());
    assert_eq!(file.mode() & 0o7777, 0o550, "mode of {}", copy.display());
    // The access control list: (tag, permissions, id) entries after a 4-byte version.
    let acl = xattr::get(&copy, "system.posix_acl_access")
        .unwrap()
        .expect("the copy has an access control list");
    let entries: Vec<(u16, u16, u32)> = acl[4..]
        .chunks(8)
        .map(|e| {
            (
                u16::from_le_bytes([e[0], e[1]]),
                u16::from_le_bytes([e[2], e[3]]),
                u32::from_le_bytes([e[4], e[5], e[6], e[7]]),
            )
        })
        .collect();
    let named_users: Vec<_> = entries.iter().filter(|e| e.0 == 0x02).collect();
    assert_eq!(
        named_users,
        [&(0x02, 5, uid)],
        "only {uid} may read and run it: {entries:?}"
    );
    for (tag, what) in [
        (0x04, "the owning group"),
        (0x08, "a named group"),
        (0x20, "others"),
    ] {
        assert!(
            entries.iter().all(|e| e.0 != tag || e.1 == 0),
            "{what} has permissions: {entries:?}"
        );
    }
    assert_eq!(
        xattr::get(&copy, "security.capability").unwrap(),
        Some(CAPABILITY_XATTR.to_vec()),
        "file capabilities of {}",
        copy.display()
    );
    match Command::new("getcap").arg(&copy).output() {
        Ok(out) => assert!(
            stdout(&out).contains("cap_setgid,cap_setuid=ep"),
            "getcap {}:\n{}",
            copy.display(),
            show(&out)
        ),
        Err(error) => eprintln!("getcap is not available ({error}); checked the xattr only"),
    }
    assert_eq!(
        fs::read(&copy).unwrap(),
        fs::read(&staged.exe).unwrap(),
        "the copy is not the staged program"
    );

    let dir = copy.parent().unwrap();
    assert_eq!(
        dir,
        Path::new(boxed::setup::COPIES_DIR).join(uid.to_string())
    );
    for dir in [dir, Path::new(boxed::setup::COPIES_DIR)] {
        let meta = fs::symlink_metadata(dir).unwrap();
        assert!(meta.is_dir(), "{}", dir.display());
        assert_eq!(meta.uid(), 0, "owner of {}", dir.display());
        assert_eq!(
            meta.mode() & 0o022,
            0,
            "{} is writable by others",
            dir.display()
        );
    }
    let manifest = copy.with_file_name(format!(
        "{}.manifest",
        copy.file_name().unwrap().to_str().unwrap()
    ));
    let meta = fs::symlink_metadata(&manifest).expect("the manifest exists beside the copy");
    assert_eq!(meta.uid(), 0, "owner of {}", manifest.display());
    assert_eq!(
        meta.mode() & 0o022,
        0,
        "{} is writable by others",
        manifest.display()
    );
}

#[test]
fn the_owner_gets_a_sandboxed_result() {
    let staged = Staged::new("owner");
    staged.install();
    staged.assert_sandboxed_call_works();
    // Its main ran as the caller, not as nobody: the values above come from the drop.
    let out = as_user(staged.caller(), &staged.exe, &[], &[]);
    assert!(stdout(&out).contains("MAIN RAN"), "{}", show(&out));
    let (uid, _) = ids(staged.caller());
    assert_eq!(
        status_field(&stdout(&out), "Uid"),
        format!("{uid}\t{uid}\t{uid}\t{uid}")
    );
}

#[test]
fn another_user_cannot_execute_the_copy() {
    let staged = Staged::new("other");
    staged.install();
    let copy = staged.copy();
    let other = &staged.users.other;
    let copy_str = copy.to_str().unwrap();

    let out = as_user(other, &copy, &[], &[]);
    assert_eq!(out.status.code(), Some(126), "{}", show(&out));
    assert!(stderr(&out).contains("Permission denied"), "{}", show(&out));
    assert!(!stdout(&out).contains("MAIN RAN"), "{}", show(&out));

    let out = shell_as(
        other,
        r#""$0" credentials"#,
        &[copy_str],
        &[("BOXED_SANDBOX", "1")],
    );
    assert_eq!(out.status.code(), Some(126), "{}", show(&out));
    assert!(stderr(&out).contains("Permission denied"), "{}", show(&out));
    assert!(!stdout(&out).contains("MAIN RAN"), "{}", show(&out));

    // Nor read it, to run it through the dynamic loader or copy it elsewhere.
    let out = as_user(other, "cat", &[copy_str], &[]);
    assert!(!out.status.success(), "{}", show(&out));
    assert!(
        out.stdout.is_empty(),
        "{} bytes of the copy were read",
        out.stdout.len()
    );
}

#[test]
fn the_owner_running_the_copy_directly_is_refused() {
    let staged = Staged::new("direct");
    staged.install();
    let copy = staged.copy();
    let copy_str = copy.to_str().unwrap();
    let user = staged.caller();
    let long = "A".repeat(100_000);

    for args in [
        &[][..],
        &["credentials"],
        &["sleep"],
        &["--help"],
        &["MAIN", "--", "-"],
        &[long.as_str()],
    ] {
        let out = as_user(user, &copy, args, &[]);
        let shown: Vec<&str> = args
            .iter()
            .map(|arg| {
                if arg.len() > 40 {
                    "<a long argument>"
                } else {
                    arg
                }
            })
            .collect();
        assert_refused(&format!("args {shown:?}"), &out, DIRECT_START);
        assert!(
            stderr(&out).contains("cannot be started directly"),
            "{}",
            show(&out)
        );
    }
    // Variables other than the marker change nothing.
    let out = as_user(
        user,
        &copy,
        &["credentials"],
        &[("RUST_BACKTRACE", "1"), ("BOXED", "1"), ("HOME", "/")],
    );
    assert_refused("unrelated variables", &out, DIRECT_START);

    // A crafted program name: what the library passes as argv[0], or nothing at all.
    for name in ["boxed: boxed_test_caller::credentials", ""] {
        let out = shell_as(user, r#"exec -a "$1" "$0""#, &[copy_str, name], &[]);
        assert_refused(&format!("argv[0] {name:?}"), &out, DIRECT_START);
    }

    // A fake marker without the protocol pipes.
    for marker in ["1", "2", ""] {
        for args in [&[][..], &["credentials"]] {
            let out = as_user(user, &copy, args, &[("BOXED_SANDBOX", marker)]);
            assert_refused(
                &format!("BOXED_SANDBOX={marker:?} {args:?}"),
                &out,
                NOT_BY_LIBRARY,
            );
        }
    }

    // A fake marker with descriptors 3, 4 and 5 open, but not as pipes.
    let regular = staged.dir.join("regular");
    fs::write(
        &regular,
        "boxed_test_caller::credentials#0000000000000000\nnull",
    )
    .unwrap();
    fs::set_permissions(&regular, fs::Permissions::from_mode(0o644)).unwrap();
    let regular = regular.to_str().unwrap();
    for (what, script, file) in [
        (
            "/dev/null",
            r#"exec "$0" 3<"$1" 4<"$1" 5<"$1""#,
            "/dev/null",
        ),
        (
            "a regular file",
            r#"exec "$0" 3<"$1" 4<"$1" 5<"$1""#,
            regular,
        ),
        (
            "pipes at 3 and 4, a file at 5",
            r#"exec "$0" 3< <(cat "$1") 4> >(cat) 5<"$1""#,
            regular,
        ),
    ] {
        let out = shell_as(user, script, &[copy_str, file], &[("BOXED_SANDBOX", "1")]);
        assert_refused(&format!("descriptors 3-5: {what}"), &out, NOT_BY_LIBRARY);
    }

    // With no_new_privs the kernel grants the copy nothing, and it still runs nothing.
    let out = as_user(user, "setpriv", &["--no-new-privs", copy_str], &[]);
    let shown = show(&out);
    assert!(
        !stdout(&out).contains("MAIN RAN"),
        "no_new_privs: main ran\n{shown}"
    );
    assert!(
        matches!(out.status.code(), Some(125 | 126)),
        "no_new_privs\n{shown}"
    );
    assert!(stderr(&out).starts_with("boxed: "), "no_new_privs\n{shown}");
}

/// Compiles the C program `source` as `dir/name` (a shared library when `shared`),
/// readable and executable by everyone.
fn compile(staged: &Staged, name: &str, source: &str, shared: bool) -> PathBuf {
    let source_file = staged.dir.join(format!("{name}.c"));
    let output_file = staged.dir.join(name);
    fs::write(&source_file, source).unwrap();
    let mut command = Command::new("cc");
    if shared {
        command.args(["-shared", "-fPIC"]);
    }
    let out = command
        .arg("-o")
        .arg(&output_file)
        .arg(&source_file)
        .output()
        .unwrap_or_else(|error| {
            panic!("`cc` is needed to build the test's C helpers and cannot run: {error}")
        });
    assert!(out.status.success(), "cc {name}.c failed:\n{}", show(&out));
    fs::set_permissions(&output_file, fs::Permissions::from_mode(0o755)).unwrap();
    output_file
}

/// A shared library whose constructor creates `marker` and says so on stderr; it is
/// also a valid audit library.
fn preload_library(staged: &Staged, marker: &Path) -> PathBuf {
    let source = format!(
        "#include <fcntl.h>\n\
         #include <unistd.h>\n\
         unsigned int la_version(unsigned int version) {{ return version; }}\n\
         __attribute__((constructor)) static void boxed_test_preload(void) {{\n\
         \x20   int fd = open(\"{}\", O_WRONLY | O_CREAT | O_TRUNC, 0644);\n\
         \x20   if (fd >= 0) close(fd);\n\
         \x20   write(2, \"PRELOAD RAN\\n\", 12);\n\
         }}\n",
        marker.display()
    );
    compile(staged, "preload.so", &source, true)
}

#[test]
fn the_copy_ignores_ld_preload_and_ld_audit() {
    let staged = Staged::new("preload");
    staged.install();
    let copy = staged.copy();
    let user = staged.caller();
    let marker = staged.work().join("preloaded");
    let library = preload_library(&staged, &marker);
    let library = library.to_str().unwrap();

    for variable in ["LD_PRELOAD", "LD_AUDIT"] {
        // Control: the same library does load into the same program without capabilities.
        let out = as_user(user, &staged.exe, &[], &[(variable, library)]);
        assert!(stdout(&out).contains("MAIN RAN"), "{}", show(&out));
        assert!(
            stderr(&out).contains("PRELOAD RAN"),
            "{variable} control\n{}",
            show(&out)
        );
        assert!(
            marker.exists(),
            "{variable} control: no marker\n{}",
            show(&out)
        );
        fs::remove_file(&marker).unwrap();

        for marker_var in [None, Some("1")] {
            let mut vars = vec![(variable, library)];
            vars.extend(marker_var.map(|value| ("BOXED_SANDBOX", value)));
            let out = as_user(user, &copy, &["credentials"], &vars);
            let what = format!("{vars:?}");
            let message = if marker_var.is_some() {
                NOT_BY_LIBRARY
            } else {
                DIRECT_START
            };
            assert_refused(&what, &out, message);
            assert!(
                !stderr(&out).contains("PRELOAD RAN"),
                "{what}\n{}",
                show(&out)
            );
            assert!(
                !marker.exists(),
                "{what}: the library was loaded\n{}",
                show(&out)
            );
        }
    }
}

/// Starts the copy as `user` with a fake marker and real pipes at 3, 4 and 5, sends
/// `request`, and returns the raw response bytes and how the process ended.
fn fake_protocol(user: &str, copy: &Path, name: &str, json: &[u8]) -> (Vec<u8>, Output) {
    // The call: the name line, then the arguments as a payload without attachments
    // (the JSON's length, the JSON, an attachment count of zero).
    let mut request = format!("{name}\n").into_bytes();
    request.extend_from_slice(&(json.len() as u64).to_le_bytes());
    request.extend_from_slice(json);
    request.extend_from_slice(&0u32.to_le_bytes());
    let request = request.as_slice();
    // Every end is close-on-exec and numbered 10 or above, so placing the child's ends
    // at 3, 4, 5 and 6 never overwrites another one, and no other child inherits them.
    let pipe = || -> (OwnedFd, OwnedFd) {
        let (read, write) = nix::unistd::pipe2(OFlag::O_CLOEXEC).unwrap();
        let high = |fd: OwnedFd| -> OwnedFd {
            let raw = fcntl(&fd, FcntlArg::F_DUPFD_CLOEXEC(10)).unwrap();
            // SAFETY: fcntl just returned this new descriptor; nothing else owns it.
            unsafe { std::os::fd::FromRawFd::from_raw_fd(raw) }
        };
        (high(read), high(write))
    };
    let (request_read, request_write) = pipe();
    let (response_read, response_write) = pipe();
    let (lifeline_read, lifeline_write) = pipe();
    let (report_read, report_write) = pipe();
    let mut command = user_command(
        user,
        copy,
        &[],
        &[("BOXED_SANDBOX", boxed::__private::PROTOCOL)],
    );
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let fds = [
        request_read.as_raw_fd(),
        response_write.as_raw_fd(),
        lifeline_read.as_raw_fd(),
        report_write.as_raw_fd(),
    ];
    let place = move || -> std::io::Result<()> {
        for (target, fd) in (3..).zip(fds) {
            // SAFETY: dup2 is async-signal-safe and only changes the forked child's
            // descriptor table; it also clears close-on-exec on the new descriptor.
            if unsafe { libc::dup2(fd, target) } < 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
        Ok(())
    };
    // SAFETY: the closure runs between fork and exec and only calls dup2 on integers it
    // owns by value: no allocation, no lock.
    unsafe {
        command.pre_exec(place);
    }
    let child = command.spawn().expect("start the copy through runuser");
    drop((request_read, response_write, lifeline_read, report_write));
    // The request starts with the policy, as the library sends it: the default one.
    let policy = serde_json::to_vec(&boxed::Policy::new()).unwrap();
    let mut header = (policy.len() as u32).to_le_bytes().to_vec();
    header.extend_from_slice(&policy);
    // Then the call's length, and the call.
    header.extend_from_slice(&(request.len() as u64).to_le_bytes());
    // A child that refuses before reading makes this write fail; its answer says more.
    let mut request_pipe = File::from(request_write);
    let _ = request_pipe.write_all(&header);
    let _ = request_pipe.write_all(request);
    drop(request_pipe);
    let mut response = Vec::new();
    File::from(response_read)
        .read_to_end(&mut response)
        .expect("read the response");
    drop(lifeline_write);
    let out = child.wait_with_output().unwrap();
    drop(report_read);
    (response, out)
}

/// Splits a response frame into its tag and payload.
fn frame(response: &[u8], context: &str) -> (u8, Vec<u8>) {
    assert!(
        response.len() >= 9,
        "no whole frame: {response:?}\n{context}"
    );
    let length = u64::from_le_bytes(response[1..9].try_into().unwrap());
    assert_eq!(
        response.len() as u64,
        9 + length,
        "frame length: {response:?}\n{context}"
    );
    (response[0], response[9..].to_vec())
}

#[test]
fn a_fake_protocol_for_an_unknown_function_gets_a_failure_frame() {
    let staged = Staged::new("fake-unknown");
    staged.install();
    let copy = staged.copy();
    let (response, out) = fake_protocol(
        staged.caller(),
        &copy,
        "no_such_crate::no_such_function#0000000000000000",
        b"null",
    );
    let shown = show(&out);
    assert!(!stdout(&out).contains("MAIN RAN"), "{shown}");
    let (tag, payload) = frame(&response, &shown);
    assert_eq!(tag, b'X', "{shown}");
    assert_eq!(
        String::from_utf8_lossy(&payload),
        r#""UnknownFunction""#,
        "{shown}"
    );
    assert_eq!(out.status.code(), Some(0), "{shown}");
}

/// The mangled name of `boxed_test_caller::credentials`, read from the program itself.
fn credentials_name(exe: &Path) -> String {
    let bytes = fs::read(exe).unwrap();
    let prefix = b"boxed_test_caller::credentials#";
    let start = bytes
        .windows(prefix.len())
        .position(|window| window == prefix)
        .unwrap_or_else(|| panic!("{} does not contain {prefix:?}", exe.display()));
    let hash = &bytes[start + prefix.len()..][..16];
    assert!(
        hash.iter().all(u8::is_ascii_hexdigit),
        "the name hash is not 16 hex digits: {hash:?}"
    );
    // Then `@line:column` of the attribute.
    let rest = &bytes[start + prefix.len() + 16..];
    assert_eq!(rest.first(), Some(&b'@'), "no @line:column after the hash");
    let end = 1 + rest[1..]
        .iter()
        .position(|b| !(b.is_ascii_digit() || *b == b':'))
        .unwrap();
    String::from_utf8(bytes[start..start + prefix.len() + 16 + end].to_vec()).unwrap()
}

#[test]
fn a_fake_protocol_for_a_real_function_gets_only_a_sandbox() {
    let staged = Staged::new("fake-known");
    staged.install();
    let copy = staged.copy();
    let name = credentials_name(&staged.exe);
    let (response, out) = fake_protocol(staged.caller(), &copy, &name, b"null");
    let shown = show(&out);
    assert!(!stdout(&out).contains("MAIN RAN"), "{shown}");
    let (tag, payload) = frame(&response, &shown);
    assert_eq!(tag, b'R', "{}\n{shown}", String::from_utf8_lossy(&payload));
    // A payload: the JSON's length, the JSON, no attachments.
    let length = u64::from_le_bytes(payload[..8].try_into().unwrap()) as usize;
    assert_eq!(payload[8 + length..], 0u32.to_le_bytes(), "{shown}");
    let lines: String =
        serde_json::from_slice(&payload[8..8 + length]).expect("the result is a JSON string");
    assert_nobody(&lines, &lines);
    assert_eq!(out.status.code(), Some(0), "{shown}");
}

/// A call through a copy that is not current fails, names the fix, and runs nothing.
fn assert_call_refused(staged: &Staged, message: &str) {
    let out = staged.call_credentials();
    let shown = show(&out);
    assert!(!out.status.success(), "{shown}");
    assert!(!stdout(&out).contains("Uid:"), "{shown}");
    assert!(stderr(&out).contains(message), "{shown}");
    assert!(stderr(&out).contains(&staged.install_command()), "{shown}");
}

#[test]
fn a_stale_copy_is_refused_until_it_is_reinstalled() {
    let staged = Staged::new("stale");
    staged.install();
    let copy = staged.copy();
    staged.assert_sandboxed_call_works();
    let stale_message = format!("was made from another build of {}", staged.exe.display());

    let changes: [(&str, &dyn Fn()); 2] = [
        ("a byte appended", &|| {
            let mut file = OpenOptions::new().append(true).open(&staged.exe).unwrap();
            file.write_all(b"\0").unwrap();
        }),
        ("a new modification time", &|| {
            let file = File::options().write(true).open(&staged.exe).unwrap();
            let later = std::time::SystemTime::now() + std::time::Duration::from_secs(60);
            file.set_modified(later).unwrap();
        }),
    ];
    for (what, change) in changes {
        change();
        assert_call_refused(&staged, &stale_message);
        let (code, line) = staged.status();
        assert_eq!(code, Some(1), "{what}: {line}");
        assert!(
            line.starts_with(&format!("stale: {}", copy.display())),
            "{what}: {line}"
        );
        assert!(line.contains(&staged.install_command()), "{what}: {line}");

        staged.install();
        assert_eq!(staged.copy(), copy, "{what}");
        staged.assert_sandboxed_call_works();
    }
}

#[test]
fn a_missing_copy_names_the_install_command() {
    let staged = Staged::new("missing");
    let missing_message = format!("no sandbox copy of {} is installed", staged.exe.display());
    assert_call_refused(&staged, &missing_message);
    let (code, line) = staged.status();
    assert_eq!(code, Some(1), "{line}");
    assert!(line.starts_with("missing: "), "{line}");
    assert!(line.contains(&staged.install_command()), "{line}");
    // The program itself runs normally; only its sandboxed calls need the copy.
    let out = as_user(staged.caller(), &staged.exe, &[], &[]);
    assert!(stdout(&out).contains("MAIN RAN"), "{}", show(&out));

    staged.install();
    let copy = staged.copy();
    staged.assert_sandboxed_call_works();
    let out = staged.boxed(&["uninstall", "--user", staged.caller()]);
    assert!(out.status.success(), "{}", show(&out));
    assert!(!copy.exists(), "{} survived uninstall", copy.display());
    assert_call_refused(&staged, &missing_message);
    let (code, line) = staged.status();
    assert_eq!(
        (code, line.starts_with("missing: ")),
        (Some(1), true),
        "{line}"
    );
}

#[test]
fn installing_needs_root_and_root_needs_no_copy() {
    let staged = Staged::new("install");
    let boxed = staged.users.stage.join("bin/boxed");
    let exe = staged.exe.to_str().unwrap();
    for args in [
        &["install", exe][..],
        &["install", "--user", staged.caller(), exe],
    ] {
        let out = as_user(staged.caller(), &boxed, args, &[]);
        assert_eq!(out.status.code(), Some(2), "{args:?}\n{}", show(&out));
        assert!(
            stderr(&out).contains("needs root"),
            "{args:?}\n{}",
            show(&out)
        );
        let (_, line) = staged.status();
        assert!(line.starts_with("missing: "), "{args:?}: {line}");
    }

    for user in ["root", "0"] {
        let out = staged.boxed(&["install", "--user", user]);
        assert_eq!(out.status.code(), Some(2), "--user {user}\n{}", show(&out));
        assert!(
            stderr(&out).contains("root needs no copy"),
            "--user {user}\n{}",
            show(&out)
        );
        let copy = boxed::setup::Copy::locate(&staged.exe, 0);
        assert!(!copy.path.exists(), "{} was created", copy.path.display());
    }

    // Nor can the user remove the copy root made for it.
    staged.install();
    let copy = staged.copy();
    let out = as_user(
        staged.caller(),
        &boxed,
        &["uninstall", "--user", staged.caller(), exe],
        &[],
    );
    assert!(!out.status.success(), "{}", show(&out));
    assert!(stderr(&out).contains("needs root"), "{}", show(&out));
    assert!(copy.exists(), "the user removed {}", copy.display());
    staged.assert_sandboxed_call_works();
}

#[test]
fn the_owner_tampering_with_the_copy_voids_it() {
    let staged = Staged::new("tamper");
    staged.install();
    let copy = staged.copy();
    let copy_str = copy.to_str().unwrap();
    let user = staged.caller();
    // A damaged copy is refused with the stale-copy error.
    let damaged_message = format!("the sandbox copy {copy_str}");

    // The directory is root's: the user can neither remove nor replace the copy.
    let moved = format!("{copy_str}.moved");
    for (what, script) in [
        ("rm", r#"rm -f "$0""#),
        ("mv", r#"mv "$0" "$0.moved""#),
        ("replace", r#"cp /bin/true "$0.new" && mv -f "$0.new" "$0""#),
    ] {
        let out = shell_as(user, script, &[copy_str], &[]);
        assert!(!out.status.success(), "{what}\n{}", show(&out));
    }
    assert!(!Path::new(&moved).exists());
    assert_eq!(staged.copy(), copy);

    // The copy is root's and the user may only read and run it: no chmod, no write, no
    // writable mapping (which, unlike a write, would keep the capabilities).
    for (what, script) in [
        ("chmod", r#"chmod 0755 "$0""#),
        ("append", r#"printf x >> "$0""#),
        ("open for writing", r#"exec 9<>"$0""#),
        ("hard link", r#"ln "$0" "$HOME/boxed-copy-link""#),
    ] {
        let out = shell_as(user, script, &[copy_str], &[]);
        assert!(!out.status.success(), "{what}\n{}", show(&out));
    }
    assert_eq!(
        xattr::get(&copy, "security.capability").unwrap(),
        Some(CAPABILITY_XATTR.to_vec())
    );
    let (code, line) = staged.status();
    assert_eq!(code, Some(0), "{line}");
    staged.assert_sandboxed_call_works();

    // A copy changed behind install's back (here by root, opening it to everyone) is
    // damaged: the library no longer uses it, and another user who now runs it directly
    // gets only the refusal.
    let out = Command::new("chmod")
        .args(["0555", copy_str])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", show(&out));
    let (code, line) = staged.status();
    assert_eq!(code, Some(1), "{line}");
    assert!(line.starts_with("damaged: "), "{line}");
    assert_call_refused(&staged, &damaged_message);
    let other = &staged.users.other;
    let out = as_user(other, &copy, &[], &[]);
    assert_refused("another user, after chmod 0555", &out, DIRECT_START);
    let out = as_user(other, &copy, &["credentials"], &[("BOXED_SANDBOX", "1")]);
    assert_refused("another user with the marker", &out, NOT_BY_LIBRARY);

    staged.install();
    assert_eq!(staged.copy(), copy);
    staged.assert_sandboxed_call_works();
}

/// The program interpreter (`PT_INTERP`) a 64-bit little-endian ELF executable names.
fn interpreter(exe: &Path) -> PathBuf {
    let bytes = fs::read(exe).unwrap();
    assert!(
        bytes.starts_with(b"\x7fELF\x02\x01"),
        "{} is not a 64-bit little-endian ELF file",
        exe.display()
    );
    let u16_at = |at: usize| u16::from_le_bytes(bytes[at..at + 2].try_into().unwrap()) as usize;
    let u64_at = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap()) as usize;
    let (table, entry_size, entries) = (u64_at(0x20), u16_at(0x36), u16_at(0x38));
    (0..entries)
        .map(|i| table + i * entry_size)
        .find(|&header| bytes[header..header + 4] == 3u32.to_le_bytes())
        .map(|header| {
            let (offset, size) = (u64_at(header + 8), u64_at(header + 32));
            let name = &bytes[offset..offset + size];
            PathBuf::from(
                String::from_utf8(name.strip_suffix(b"\0").unwrap_or(name).to_vec()).unwrap(),
            )
        })
        .unwrap_or_else(|| panic!("{} has no program interpreter", exe.display()))
}

#[test]
fn the_copy_run_through_the_loader_gains_nothing() {
    let staged = Staged::new("loader");
    staged.install();
    let copy = staged.copy();
    let copy_str = copy.to_str().unwrap();
    let loader = interpreter(&staged.exe);
    let user = staged.caller();
    let (uid, _) = ids(user);

    // The owner may read its copy, so the loader can map it; that runs the program as the
    // owner and without the file's capabilities, like the program it was made from.
    let out = as_user(user, &loader, &[copy_str], &[("BOXED_SANDBOX", "1")]);
    let shown = show(&out);
    if stdout(&out).contains("MAIN RAN") {
        let lines = stdout(&out);
        assert_eq!(
            status_field(&lines, "Uid"),
            format!("{uid}\t{uid}\t{uid}\t{uid}"),
            "{shown}"
        );
        for set in ["CapInh", "CapPrm", "CapEff", "CapAmb"] {
            assert_eq!(
                status_field(&lines, set),
                "0000000000000000",
                "{set}\n{shown}"
            );
        }
    } else {
        assert!(!out.status.success(), "{shown}");
        assert!(stderr(&out).starts_with("boxed: "), "{shown}");
    }

    // Another user cannot even read it.
    let out = as_user(&staged.users.other, &loader, &[copy_str], &[]);
    assert!(!out.status.success(), "{}", show(&out));
    assert!(!stdout(&out).contains("MAIN RAN"), "{}", show(&out));
}

/// Writes the file `argv[2]` over the first bytes of `argv[1]` through a shared writable
/// mapping, making `argv[1]` writable for the time it takes and read-only again after.
const REWRITE_C: &str = r#"
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static char payload[1 << 20];

int main(int argc, char **argv) {
    if (argc != 3) return 2;
    int in = open(argv[2], O_RDONLY);
    ssize_t size = in < 0 ? -1 : read(in, payload, sizeof payload);
    if (size <= 0) { perror("read the payload"); return 2; }
    if (chmod(argv[1], 0700) != 0) { perror("chmod 0700"); return 3; }
    int fd = open(argv[1], O_RDWR);
    if (fd < 0) { perror("open for writing"); return 4; }
    char *map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED) { perror("mmap"); return 5; }
    memcpy(map, payload, size);
    msync(map, size, MS_SYNC);
    munmap(map, size);
    close(fd);
    if (chmod(argv[1], 0500) != 0) { perror("chmod 0500"); return 6; }
    puts("REWRITTEN");
    return 0;
}
"#;

/// Tries to become root and says whether it worked; does nothing else.
const PAYLOAD_C: &str = r#"
#define _GNU_SOURCE
#include <stdio.h>
#include <unistd.h>

int main(void) {
    int result = setresuid(0, 0, 0);
    printf("PAYLOAD setresuid(0, 0, 0) = %d, euid %d\n", result, (int)geteuid());
    if (geteuid() == 0) puts("ESCALATED TO ROOT");
    return 0;
}
"#;

#[test]
fn the_owner_cannot_rewrite_its_copy_and_keep_the_capabilities() {
    let staged = Staged::new("rewrite");
    staged.install();
    let copy = staged.copy();
    let copy_str = copy.to_str().unwrap();
    let user = staged.caller();
    let rewrite = compile(&staged, "rewrite", REWRITE_C, false);
    let payload = compile(&staged, "payload", PAYLOAD_C, false);

    // A write(2) makes the kernel remove file capabilities; a store through a shared
    // mapping does not. Whatever the owner manages to change, running the copy must not
    // give it root.
    let rewritten = as_user(user, &rewrite, &[copy_str, payload.to_str().unwrap()], &[]);
    let run = as_user(user, &copy, &[], &[]);
    let capability = xattr::get(&copy, "security.capability").unwrap();
    let (_, status) = staged.status();
    assert!(
        !stdout(&run).contains("ESCALATED TO ROOT"),
        "the owner of a copy became root: it made the copy writable (it owns the file), \
         rewrote it through a shared writable mapping, which keeps the file capabilities \
         ({capability:?}), and ran it; `boxed status` says {status:?}\n\
         rewrite:\n{}\nrun:\n{}",
        show(&rewritten),
        show(&run)
    );
}
