//! Attacks on the launcher, acted out by root as the test users: the launcher started by
//! hand by a user it does not serve and by the user it serves, with crafted environment,
//! descriptors and a forged protocol, and with the image of a program that is not a
//! boxed program.
//!
//! Each test installs the launcher for the test user with the staged `boxed setup`, and
//! removes it when it ends (also when it fails); the tests take turns, since there is one
//! launcher per machine. Users are played with `runuser`, from an empty environment.
//!
//! Root-run: `tests/run.sh` runs this file as root with `BOXED_E2E_STAGE`,
//! `BOXED_E2E_CALLER` and `BOXED_E2E_OTHER` set. Run any other way, it fails and says so.

use std::ffi::OsStr;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Mutex, MutexGuard};

use boxed_tests::status_field;

const PATH: &str = "/usr/local/bin:/usr/bin:/bin";
const ROOT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const LAUNCHER: &str = "/usr/local/lib/boxed/launcher";
/// `cap_setuid,cap_setgid+ep` as the kernel stores it (revision 2 `vfs_cap_data`).
const CAPABILITY_XATTR: [u8; 20] = [
    1, 0, 0, 2, 0xc0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
];

/// The launcher, installed for the test user while a test holds it.
struct Installed {
    stage: PathBuf,
    caller: String,
    other: String,
    /// A directory of this test's own, root's, mode 0755.
    dir: PathBuf,
    _turn: MutexGuard<'static, ()>,
}

impl Installed {
    fn new(test: &str) -> Installed {
        static TURN: Mutex<()> = Mutex::new(());
        let turn = TURN.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        assert!(
            nix::unistd::geteuid().is_root(),
            "launcher tests act as several users and must run as root; run them with \
             `bash tests/run.sh`"
        );
        let var = |name: &str| {
            std::env::var(name)
                .unwrap_or_else(|_| panic!("{name} is not set: run with `bash tests/run.sh`"))
        };
        let stage = PathBuf::from(var("BOXED_E2E_STAGE"));
        let dir = stage.join("launcher").join(test);
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("creating the test's directory");
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        fs::set_permissions(dir.parent().unwrap(), fs::Permissions::from_mode(0o755)).unwrap();
        let installed = Installed {
            stage,
            caller: var("BOXED_E2E_CALLER"),
            other: var("BOXED_E2E_OTHER"),
            dir,
            _turn: turn,
        };
        let out = installed.boxed(&["setup", "--user", &installed.caller]);
        assert!(out.status.success(), "boxed setup failed:\n{}", show(&out));
        installed
    }

    fn boxed(&self, args: &[&str]) -> Output {
        output(Command::new(self.stage.join("bin/boxed")).args(args))
    }

    /// A directory the test user owns, for files it writes.
    fn work(&self) -> PathBuf {
        let work = self.dir.join("work");
        fs::create_dir_all(&work).unwrap();
        let (uid, gid) = ids(&self.caller);
        nix::unistd::chown(&work, Some(uid.into()), Some(gid.into())).unwrap();
        work
    }

    fn compile(&self, name: &str, source: &str, shared: bool) -> PathBuf {
        let source_file = self.dir.join(format!("{name}.c"));
        let output_file = self.dir.join(name);
        fs::write(&source_file, source).unwrap();
        let mut command = Command::new("cc");
        if shared {
            command.args(["-shared", "-fPIC"]);
        }
        let out = output(command.arg("-o").arg(&output_file).arg(&source_file));
        assert!(out.status.success(), "cc {name}.c failed:\n{}", show(&out));
        fs::set_permissions(&output_file, fs::Permissions::from_mode(0o755)).unwrap();
        output_file
    }

    /// A C program, not a boxed program, that prints its credentials, its syscall
    /// filter mode and environment, and tries to read `secret` and `/etc/passwd` and to
    /// become root.
    fn probe(&self, secret: &Path) -> PathBuf {
        let source = format!(
            "#include <errno.h>\n#include <fcntl.h>\n#include <stdio.h>\n\
             #include <string.h>\n#include <unistd.h>\n\
             extern char **environ;\n\
             static const char *try_open(const char *path) {{\n\
             \x20   int fd = open(path, O_RDONLY);\n\
             \x20   if (fd < 0) return strerror(errno);\n\
             \x20   close(fd); return \"ok\";\n\
             }}\n\
             int main(void) {{\n\
             \x20   char line[512];\n\
             \x20   FILE *status = fopen(\"/proc/self/status\", \"r\");\n\
             \x20   while (status && fgets(line, sizeof line, status))\n\
             \x20       if (!strncmp(line, \"Uid:\", 4) || !strncmp(line, \"Gid:\", 4) ||\n\
             \x20           !strncmp(line, \"Groups:\", 7) || !strncmp(line, \"Cap\", 3) ||\n\
             \x20           !strncmp(line, \"NoNewPrivs:\", 11) || !strncmp(line, \"Seccomp:\", 8))\n\
             \x20           fputs(line, stdout);\n\
             \x20   printf(\"open secret: %s\\n\", try_open(\"{}\"));\n\
             \x20   printf(\"open passwd: %s\\n\", try_open(\"/etc/passwd\"));\n\
             \x20   printf(\"setuid 0: %s\\n\", setuid(0) == 0 ? \"ok\" : strerror(errno));\n\
             \x20   for (char **e = environ; *e; e++) printf(\"env %s\\n\", *e);\n\
             \x20   printf(\"PROBE RAN\\n\");\n\
             \x20   return 0;\n\
             }}\n",
            secret.display()
        );
        self.compile("probe", &source, false)
    }
}

impl Drop for Installed {
    fn drop(&mut self) {
        let out = self.boxed(&["setup", "--remove"]);
        if !out.status.success() {
            eprintln!("cleanup: boxed setup --remove failed:\n{}", show(&out));
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}

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

fn as_user(user: &str, program: impl AsRef<OsStr>, args: &[&str], vars: &[(&str, &str)]) -> Output {
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
    output(command.arg(program).args(args))
}

/// Starts the launcher as `user` with a forged protocol: `policy` as the request's head
/// (after its 4-byte length), the response and report pipes read and dropped, a
/// lifeline held open for three seconds, and `image` (any path) as descriptor 7.
fn forge(user: &str, image: &str, policy: &str, vars: &[(&str, &str)]) -> Output {
    let script = r#"
        launcher=$0 image=$1 policy=$2
        hex=$(printf '%08x' "${#policy}")
        length="\x${hex:6:2}\x${hex:4:2}\x${hex:2:2}\x${hex:0:2}"
        "$launcher" 3< <(printf "$length"; printf '%s' "$policy"; sleep 3) \
            4> >(cat >/dev/null) 5< <(sleep 3) 6> >(cat >/dev/null) 7<"$image"
        echo "launcher exit $?"
    "#;
    let mut all = vec![("BOXED_SANDBOX", "launch-2")];
    all.extend_from_slice(vars);
    as_user(user, "bash", &["-c", script, LAUNCHER, image, policy], &all)
}

/// Runs `script` with bash as `user`, its arguments the launcher, `image`, `policy`
/// and `extra`, with the launcher's marker in the environment.
fn launch_script(user: &str, script: &str, image: &Path, policy: &str, extra: &[&str]) -> Output {
    let mut args = vec!["-c", script, LAUNCHER, image.to_str().unwrap(), policy];
    args.extend_from_slice(extra);
    as_user(user, "bash", &args, &[("BOXED_SANDBOX", "launch-2")])
}

fn default_policy() -> String {
    serde_json::to_string(&boxed::Policy::new()).unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// What every probe started through the launcher must report, whatever its real uid:
/// the sandbox identity's gid, no groups, no capability, `no_new_privs`, the filter on,
/// and its owner's secret, `/etc/passwd` and `setuid(0)` refused.
fn assert_probe_confined(lines: &str, out: &Output) {
    assert_eq!(status_field(lines, "Gid"), "65534\t65534\t65534\t65534");
    assert_eq!(status_field(lines, "Groups"), "");
    for set in ["CapInh", "CapPrm", "CapEff", "CapAmb"] {
        assert_eq!(status_field(lines, set), "0000000000000000", "{set}");
    }
    assert_eq!(status_field(lines, "NoNewPrivs"), "1");
    assert_eq!(status_field(lines, "Seccomp"), "2", "{}", show(out));
    assert!(
        lines.contains("open secret: Permission denied"),
        "{}",
        show(out)
    );
    assert!(
        lines.contains("open passwd: Permission denied"),
        "{}",
        show(out)
    );
    assert!(
        lines.contains("setuid 0: Operation not permitted"),
        "{}",
        show(out)
    );
}

fn show(out: &Output) -> String {
    format!(
        "status: {}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        stdout(out),
        stderr(out)
    )
}

/// A secret file of the test user: mode 0600 in its own directory.
fn secret_of(installed: &Installed) -> PathBuf {
    let secret = installed.work().join("secret");
    fs::write(&secret, "launcher-test-secret").unwrap();
    let (uid, gid) = ids(&installed.caller);
    nix::unistd::chown(&secret, Some(uid.into()), Some(gid.into())).unwrap();
    fs::set_permissions(&secret, fs::Permissions::from_mode(0o600)).unwrap();
    secret
}

#[test]
fn the_launcher_is_roots_runnable_by_its_users_alone_and_carries_two_capabilities() {
    let installed = Installed::new("layout");
    let metadata = fs::metadata(LAUNCHER).expect("the launcher is installed");
    assert_eq!(metadata.uid(), 0);
    assert_eq!(metadata.gid(), 0);
    assert_eq!(metadata.mode() & 0o7777, 0o550);
    assert_eq!(
        xattr::get(LAUNCHER, "security.capability").unwrap(),
        Some(CAPABILITY_XATTR.to_vec())
    );
    // It is the boxed command itself, never a user's build.
    assert_eq!(
        fs::read(LAUNCHER).unwrap(),
        fs::read(installed.stage.join("bin/boxed")).unwrap()
    );
    let out = installed.boxed(&["status"]);
    assert!(out.status.success(), "{}", show(&out));
    assert!(
        stdout(&out).contains(&format!("current, for {}", installed.caller)),
        "{}",
        show(&out)
    );
    // boxed doctor reports it too (its exit code is about the kernel's layers).
    let out = installed.boxed(&["doctor"]);
    assert!(
        stdout(&out).contains(&format!("launcher: installed at {LAUNCHER}, current")),
        "{}",
        show(&out)
    );
    // Running setup again changes nothing.
    let before = fs::read(LAUNCHER).unwrap();
    let out = installed.boxed(&["setup", "--user", &installed.caller]);
    assert!(out.status.success(), "{}", show(&out));
    assert_eq!(fs::read(LAUNCHER).unwrap(), before);
    assert!(installed.boxed(&["status"]).status.success());

    // The user it is not for cannot even execute it; the one it is for can.
    let out = as_user(&installed.other, LAUNCHER, &[], &[]);
    assert_eq!(out.status.code(), Some(126), "{}", show(&out));
    assert!(stderr(&out).contains("Permission denied"), "{}", show(&out));
    let out = as_user(&installed.caller, LAUNCHER, &[], &[]);
    assert_eq!(out.status.code(), Some(126), "{}", show(&out));
    assert!(
        stderr(&out).contains("cannot be started directly"),
        "{}",
        show(&out)
    );
}

#[test]
fn a_user_it_does_not_serve_gets_nothing_even_with_the_protocol() {
    let installed = Installed::new("other");
    let secret = secret_of(&installed);
    let probe = installed.probe(&secret);
    let probe = probe.to_str().unwrap();
    let out = forge(&installed.other, probe, &default_policy(), &[]);
    assert!(!stdout(&out).contains("PROBE RAN"), "{}", show(&out));
    assert!(stderr(&out).contains("Permission denied"), "{}", show(&out));
    // Control: the user it serves gets the probe run, as nobody.
    let out = forge(&installed.caller, probe, &default_policy(), &[]);
    assert!(stdout(&out).contains("PROBE RAN"), "{}", show(&out));
    assert_eq!(
        status_field(&stdout(&out), "Uid"),
        "65534\t65534\t65534\t65534"
    );
}

#[test]
fn a_foreign_image_runs_as_nobody_confined_before_its_first_instruction() {
    let installed = Installed::new("foreign");
    let secret = secret_of(&installed);
    let probe = installed.probe(&secret);
    let probe = probe.to_str().unwrap();

    // Control: run directly, the probe is the user, unconfined, and reads both files.
    let direct = as_user(&installed.caller, probe, &[], &[]);
    let lines = stdout(&direct);
    let (uid, _) = ids(&installed.caller);
    assert!(
        status_field(&lines, "Uid").starts_with(&uid.to_string()),
        "{}",
        show(&direct)
    );
    assert!(lines.contains("open secret: ok"), "{}", show(&direct));
    assert!(lines.contains("open passwd: ok"), "{}", show(&direct));
    assert_eq!(status_field(&lines, "Seccomp"), "0");

    // Through the launcher, with a crafted environment that the launcher must not pass on.
    let out = forge(
        &installed.caller,
        probe,
        &default_policy(),
        &[
            ("LD_LIBRARY_PATH", "/nonexistent"),
            ("BOXED_POLICY", "{}"),
            ("ATTACKER", "1"),
        ],
    );
    let lines = stdout(&out);
    assert!(lines.contains("PROBE RAN"), "{}", show(&out));
    assert_eq!(status_field(&lines, "Uid"), "65534\t65534\t65534\t65534");
    assert_probe_confined(&lines, &out);
    let env: Vec<&str> = lines
        .lines()
        .filter_map(|line| line.strip_prefix("env "))
        .collect();
    assert_eq!(env.len(), 3, "{env:?}");
    assert!(env.contains(&format!("PATH={PATH}").as_str()), "{env:?}");
    assert!(env.contains(&"BOXED_SANDBOX=image-2"), "{env:?}");
    assert!(
        env.iter().any(|var| var.starts_with("BOXED_POLICY={\"")),
        "{env:?}"
    );
    assert!(lines.contains("launcher exit 0"), "{}", show(&out));
}

#[test]
fn the_launcher_refuses_descriptors_and_policies_it_does_not_expect() {
    let installed = Installed::new("descriptors");
    let secret = secret_of(&installed);
    let probe = installed.probe(&secret);
    let probe = probe.to_str().unwrap();
    // A directory as the image would widen the launcher's Landlock layer to a tree.
    let out = forge(&installed.caller, "/", &default_policy(), &[]);
    assert!(!stdout(&out).contains("PROBE RAN"), "{}", show(&out));
    assert!(
        stderr(&out).contains("descriptor 7 is not an open regular file"),
        "{}",
        show(&out)
    );
    assert!(stdout(&out).contains("launcher exit 126"), "{}", show(&out));
    // A policy that is not JSON.
    let out = forge(&installed.caller, probe, "not json", &[]);
    assert!(!stdout(&out).contains("PROBE RAN"), "{}", show(&out));
    assert!(stderr(&out).contains("malformed policy"), "{}", show(&out));
    // A policy asking for an identity root did not allow, or for root.
    for user in ["root", &installed.other] {
        let policy = serde_json::to_string(&boxed::Policy::new().user(user)).unwrap();
        let out = forge(&installed.caller, probe, &policy, &[]);
        assert!(
            !stdout(&out).contains("PROBE RAN"),
            "{user}: {}",
            show(&out)
        );
        assert!(
            stderr(&out).contains(&format!("the user `{user}`")),
            "{user}: {}",
            show(&out)
        );
    }
    // Control: the same forged protocol with the probe and the default policy runs it.
    let out = forge(&installed.caller, probe, &default_policy(), &[]);
    assert!(stdout(&out).contains("PROBE RAN"), "{}", show(&out));
}

#[test]
fn ld_preload_never_runs_in_the_launcher() {
    let installed = Installed::new("preload");
    let marker = installed.work().join("preloaded");
    let source = format!(
        "#include <fcntl.h>\n#include <unistd.h>\n\
         unsigned int la_version(unsigned int version) {{ return version; }}\n\
         __attribute__((constructor)) static void boxed_test_preload(void) {{\n\
         \x20   int fd = open(\"{}\", O_WRONLY | O_CREAT | O_TRUNC, 0644);\n\
         \x20   if (fd >= 0) close(fd);\n\
         \x20   write(2, \"PRELOAD RAN\\n\", 12);\n\
         }}\n",
        marker.display()
    );
    let library = installed.compile("preload.so", &source, true);
    let library = library.to_str().unwrap();
    for variable in ["LD_PRELOAD", "LD_AUDIT"] {
        // Control: the library loads into an ordinary program of the same user.
        let out = as_user(&installed.caller, "/bin/true", &[], &[(variable, library)]);
        assert!(
            stderr(&out).contains("PRELOAD RAN"),
            "{variable}\n{}",
            show(&out)
        );
        assert!(marker.exists(), "{variable} control made no marker");
        fs::remove_file(&marker).unwrap();
        for sandbox_marker in [None, Some("launch-2"), Some("image-2"), Some("2")] {
            let mut vars = vec![(variable, library)];
            vars.extend(sandbox_marker.map(|value| ("BOXED_SANDBOX", value)));
            let out = as_user(&installed.caller, LAUNCHER, &[], &vars);
            let context = format!("{variable} {sandbox_marker:?}\n{}", show(&out));
            assert!(!stderr(&out).contains("PRELOAD RAN"), "{context}");
            assert!(!marker.exists(), "{context}");
            assert_eq!(out.status.code(), Some(126), "{context}");
        }
    }
}

#[test]
fn an_image_started_by_hand_refuses_to_serve_unconfined() {
    let installed = Installed::new("image");
    let program = installed.stage.join("bin/boxed-test-caller");
    // Started as the launcher starts images, but by the user itself: it is not the
    // sandbox identity (its groups, no no_new_privs), so it refuses before reading its
    // request, and says why on the response pipe (printed here by `cat`).
    let script = r#"
        "$0" 3< <(sleep 2) 4> >(cat)
        echo "image exit $?"
    "#;
    let out = as_user(
        &installed.caller,
        "bash",
        &["-c", script, program.to_str().unwrap()],
        &[
            ("BOXED_SANDBOX", "image-2"),
            ("BOXED_POLICY", &default_policy()),
        ],
    );
    assert!(!stdout(&out).contains("MAIN RAN"), "{}", show(&out));
    assert!(stdout(&out).contains("image exit 125"), "{}", show(&out));
    assert!(
        stdout(&out).contains("{\"Privileges\":\"2 supplementary groups remain"),
        "{}",
        show(&out)
    );
    // Control: started through the launcher, the same program's sandboxed call runs as
    // nobody.
    let out = as_user(&installed.caller, &program, &["credentials"], &[]);
    assert!(out.status.success(), "{}", show(&out));
    assert_eq!(
        status_field(&stdout(&out), "Uid"),
        "65534\t65534\t65534\t65534",
        "{}",
        show(&out)
    );
}

#[test]
fn the_running_image_is_what_runs_even_once_its_file_is_deleted() {
    let installed = Installed::new("deleted");
    let work = installed.work();
    let program = work.join("caller");
    fs::copy(installed.stage.join("bin/boxed-test-caller"), &program).unwrap();
    let (uid, gid) = ids(&installed.caller);
    nix::unistd::chown(&program, Some(uid.into()), Some(gid.into())).unwrap();
    fs::set_permissions(&program, fs::Permissions::from_mode(0o755)).unwrap();
    // Control: the file is there while it runs normally.
    let out = as_user(&installed.caller, &program, &["credentials"], &[]);
    assert!(out.status.success(), "{}", show(&out));
    assert!(program.exists());
    // It deletes its own file, then calls: the sandbox still runs its image, as nobody.
    let out = as_user(&installed.caller, &program, &["unlink-self"], &[]);
    assert!(out.status.success(), "{}", show(&out));
    assert!(!program.exists(), "the program did not delete itself");
    assert_eq!(
        status_field(&stdout(&out), "Uid"),
        "65534\t65534\t65534\t65534",
        "{}",
        show(&out)
    );
}

#[test]
fn an_image_nobody_may_execute_fails_with_the_fix_in_the_message() {
    let installed = Installed::new("private");
    let work = installed.work();
    let program = work.join("caller");
    fs::copy(installed.stage.join("bin/boxed-test-caller"), &program).unwrap();
    let (uid, gid) = ids(&installed.caller);
    nix::unistd::chown(&program, Some(uid.into()), Some(gid.into())).unwrap();
    fs::set_permissions(&program, fs::Permissions::from_mode(0o700)).unwrap();
    let out = as_user(&installed.caller, &program, &["credentials"], &[]);
    assert!(!out.status.success(), "{}", show(&out));
    assert!(!stdout(&out).contains("Uid:"), "{}", show(&out));
    assert!(stderr(&out).contains("chmod o+x"), "{}", show(&out));
    // Control: the same file with execute permission for others works.
    fs::set_permissions(&program, fs::Permissions::from_mode(0o701)).unwrap();
    let out = as_user(&installed.caller, &program, &["credentials"], &[]);
    assert!(out.status.success(), "{}", show(&out));
    assert_eq!(
        status_field(&stdout(&out), "Uid"),
        "65534\t65534\t65534\t65534",
        "{}",
        show(&out)
    );
}

#[test]
fn a_foreign_image_started_as_a_zygote_is_confined_and_nobody_in_effect() {
    let installed = Installed::new("zygote");
    let secret = secret_of(&installed);
    let probe = installed.probe(&secret);
    let probe = probe.to_str().unwrap();
    let zygote = serde_json::to_string(&boxed::Policy::new().zygote(true)).unwrap();
    let out = forge(
        &installed.caller,
        probe,
        &zygote,
        &[("LD_PRELOAD", "/nonexistent.so")],
    );
    let lines = stdout(&out);
    assert!(lines.contains("PROBE RAN"), "{}", show(&out));
    // A zygote keeps the caller's uid as real uid (so the caller may signal it); the
    // sandbox identity is its effective and saved uid, and it holds nothing.
    let (uid, _) = ids(&installed.caller);
    assert_eq!(
        status_field(&lines, "Uid"),
        format!("{uid}\t65534\t65534\t65534"),
        "{}",
        show(&out)
    );
    assert_probe_confined(&lines, &out);
    assert!(
        lines.contains("env BOXED_SANDBOX=zygote-image-2"),
        "{}",
        show(&out)
    );
    assert!(!lines.contains("LD_PRELOAD"), "{}", show(&out));
}

#[test]
fn a_group_it_names_lets_its_members_in_and_no_one_else() {
    let installed = Installed::new("group");
    // tests/run.sh makes the caller a member of this group, and the other user not.
    let out = installed.boxed(&["setup", "--group", "boxed-test-extra"]);
    assert!(out.status.success(), "{}", show(&out));
    assert!(
        stdout(&out).contains("for group boxed-test-extra"),
        "{}",
        show(&out)
    );
    let program = installed.stage.join("bin/boxed-test-caller");
    let out = as_user(&installed.caller, &program, &["credentials"], &[]);
    assert!(out.status.success(), "{}", show(&out));
    assert_eq!(
        status_field(&stdout(&out), "Uid"),
        "65534\t65534\t65534\t65534",
        "{}",
        show(&out)
    );
    let out = as_user(&installed.other, LAUNCHER, &[], &[]);
    assert!(stderr(&out).contains("Permission denied"), "{}", show(&out));
}

/// What `boxed-test-caller errors` printed for its one-shot and its zygote call.
fn call_results(out: &Output) -> Vec<String> {
    let lines: Vec<String> = stdout(out).lines().map(str::to_string).collect();
    assert_eq!(lines.len(), 2, "{}", show(out));
    assert!(lines[0].starts_with("one-shot: "), "{}", show(out));
    assert!(lines[1].starts_with("zygote: "), "{}", show(out));
    lines
}

#[test]
fn a_caller_no_launcher_serves_is_told_the_setup_command() {
    let installed = Installed::new("advice");
    let program = installed.stage.join("bin/boxed-test-caller");
    let boxed = installed.stage.join("bin/boxed");
    let with_boxed = format!("{}:{PATH}", installed.stage.join("bin").display());
    let path = [("PATH", with_boxed.as_str())];
    // Control: served, both calls work.
    let out = as_user(&installed.caller, &program, &["errors"], &path);
    assert!(out.status.success(), "{}", show(&out));
    assert_eq!(
        call_results(&out),
        ["one-shot: ok", "zygote: ok"],
        "{}",
        show(&out)
    );

    // Installed for another user only: the command keeps that user and adds the caller,
    // with the full path of the boxed command found on PATH.
    let out = installed.boxed(&["setup", "--user", &installed.other]);
    assert!(out.status.success(), "{}", show(&out));
    let out = as_user(&installed.caller, &program, &["errors"], &path);
    assert!(out.status.success(), "{}", show(&out));
    let command = format!(
        "as root: sudo {} setup --user {} --user {}",
        boxed.display(),
        installed.other,
        installed.caller
    );
    for line in call_results(&out) {
        assert!(line.contains(": NoLauncher: "), "{line}");
        assert!(
            line.contains("is installed, but not for this user"),
            "{line}"
        );
        assert!(line.ends_with(&command), "{line}\nexpected: {command}");
    }

    // Not installed at all; without boxed on PATH, the command still says how to name
    // its full path for sudo.
    let out = installed.boxed(&["setup", "--remove"]);
    assert!(out.status.success(), "{}", show(&out));
    let out = as_user(&installed.caller, &program, &["errors"], &path);
    let command = format!(
        "as root: sudo {} setup --user {}",
        boxed.display(),
        installed.caller
    );
    for line in call_results(&out) {
        assert!(line.contains(": NoLauncher: "), "{line}");
        assert!(line.contains(&format!("{LAUNCHER} that starts")), "{line}");
        assert!(line.contains("is not installed"), "{line}");
        assert!(line.ends_with(&command), "{line}\nexpected: {command}");
    }
    let out = as_user(&installed.caller, &program, &["errors"], &[]);
    let command = format!(
        "as root: sudo \"$(command -v boxed)\" setup --user {}",
        installed.caller
    );
    for line in call_results(&out) {
        assert!(line.ends_with(&command), "{line}\nexpected: {command}");
    }
    // Without a launcher, no sandbox was started: no process runs as nobody for it.
    assert!(!stdout(&out).contains("65534"), "{}", show(&out));

    // The command it names, run as root, is the fix.
    let out = installed.boxed(&["setup", "--user", &installed.caller]);
    assert!(out.status.success(), "{}", show(&out));
    let out = as_user(&installed.caller, &program, &["errors"], &path);
    assert_eq!(
        call_results(&out),
        ["one-shot: ok", "zygote: ok"],
        "{}",
        show(&out)
    );
}

/// The program interpreter (`PT_INTERP`) a 64-bit little-endian ELF executable names.
fn interpreter(exe: &Path) -> PathBuf {
    interpreter_of(exe).unwrap_or_else(|| panic!("{} has no program interpreter", exe.display()))
}

/// [`interpreter`], `None` for a static executable, which names none.
fn interpreter_of(exe: &Path) -> Option<PathBuf> {
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
}

/// [`forge`], with the launcher started through `loader` (the dynamic loader run as a
/// program, which maps the launcher itself).
fn forge_through_loader(user: &str, loader: &Path, image: &str) -> Output {
    let script = r#"
        launcher=$0 image=$1 policy=$2 loader=$3
        hex=$(printf '%08x' "${#policy}")
        length="\x${hex:6:2}\x${hex:4:2}\x${hex:2:2}\x${hex:0:2}"
        "$loader" "$launcher" 3< <(printf "$length"; printf '%s' "$policy"; sleep 3) \
            4> >(cat >/dev/null) 5< <(sleep 3) 6> >(cat >/dev/null) 7<"$image"
        echo "launcher exit $?"
    "#;
    let policy = default_policy();
    as_user(
        user,
        "bash",
        &[
            "-c",
            script,
            LAUNCHER,
            image,
            &policy,
            loader.to_str().unwrap(),
        ],
        &[("BOXED_SANDBOX", "launch-2")],
    )
}

#[test]
fn the_launcher_run_through_the_loader_gains_nothing() {
    let installed = Installed::new("loader");
    let secret = secret_of(&installed);
    let probe = installed.probe(&secret);
    let probe = probe.to_str().unwrap();
    // The system's loader, as a dynamically linked program names it (the launcher
    // itself is linked static and names none).
    let loader = interpreter(&installed.stage.join("bin/boxed-test-caller"));
    // Control: started as itself, with a forged protocol, the launcher runs the probe,
    // confined.
    let out = forge(&installed.caller, probe, &default_policy(), &[]);
    assert!(stdout(&out).contains("PROBE RAN"), "{}", show(&out));
    assert_probe_confined(&stdout(&out), &out);

    // The user it serves may read it. A dynamically linked launcher the loader would map
    // itself; the kernel grants file capabilities only to the file it executes, the
    // loader, so the launcher would run as the user with none, and run nothing. The
    // launcher is linked static, and the loader executes a static program instead of
    // mapping it: the kernel executes the launcher itself, exactly as when the user
    // starts it directly, and it serves the user as then, the probe confined as then.
    let out = forge_through_loader(&installed.caller, &loader, probe);
    if interpreter_of(Path::new(LAUNCHER)).is_none() {
        assert!(stdout(&out).contains("PROBE RAN"), "{}", show(&out));
        assert_probe_confined(&stdout(&out), &out);
    } else {
        assert!(!stdout(&out).contains("PROBE RAN"), "{}", show(&out));
        assert!(!stdout(&out).contains("launcher exit 0"), "{}", show(&out));
    }
    let out = as_user(&installed.caller, &loader, &[LAUNCHER, "status"], &[]);
    assert!(
        !stdout(&out).contains("cannot be started directly"),
        "{}",
        show(&out)
    );

    // A user it does not serve cannot even read it.
    let out = forge_through_loader(&installed.other, &loader, probe);
    assert!(!stdout(&out).contains("PROBE RAN"), "{}", show(&out));
    assert!(!stdout(&out).contains("launcher exit 0"), "{}", show(&out));
    assert!(stderr(&out).contains("Permission denied"), "{}", show(&out));
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
fn the_user_it_serves_cannot_rewrite_the_launcher() {
    let installed = Installed::new("rewrite");
    let rewrite = installed.compile("rewrite", REWRITE_C, false);
    let payload = installed.compile("payload", PAYLOAD_C, false);
    let before = fs::read(LAUNCHER).unwrap();

    // Control: on a file the user owns, the rewrite works.
    let mine = installed.work().join("mine");
    fs::copy(&payload, &mine).unwrap();
    let (uid, gid) = ids(&installed.caller);
    nix::unistd::chown(&mine, Some(uid.into()), Some(gid.into())).unwrap();
    let args = [mine.to_str().unwrap(), payload.to_str().unwrap()];
    let out = as_user(&installed.caller, &rewrite, &args, &[]);
    assert!(stdout(&out).contains("REWRITTEN"), "{}", show(&out));

    // The launcher is root's: no chmod, no writable open, so no shared writable mapping
    // that would keep its file capabilities.
    let args = [LAUNCHER, payload.to_str().unwrap()];
    let out = as_user(&installed.caller, &rewrite, &args, &[]);
    assert!(!stdout(&out).contains("REWRITTEN"), "{}", show(&out));
    assert_eq!(out.status.code(), Some(3), "{}", show(&out));
    assert!(
        stderr(&out).contains("Operation not permitted"),
        "{}",
        show(&out)
    );
    assert!(
        fs::read(LAUNCHER).unwrap() == before,
        "the launcher changed"
    );
    assert_eq!(
        xattr::get(LAUNCHER, "security.capability").unwrap(),
        Some(CAPABILITY_XATTR.to_vec())
    );
    let run = as_user(&installed.caller, LAUNCHER, &[], &[]);
    assert!(
        !stdout(&run).contains("ESCALATED TO ROOT"),
        "{}",
        show(&run)
    );
    let out = installed.boxed(&["status"]);
    assert!(out.status.success(), "{}", show(&out));
}

/// Starts the launcher by hand as `user` with `BOXED_SANDBOX=marker`, every protocol
/// descriptor of a forged call (`policy` as the request's head, `image` as descriptor 7)
/// and `policy` in `BOXED_POLICY` too; prints how many bytes came on the response pipe
/// and the launcher's exit code.
fn start_with_marker(user: &str, marker: &str, image: &str, policy: &str) -> Output {
    let script = r#"
        launcher=$0 image=$1 policy=$2
        hex=$(printf '%08x' "${#policy}")
        length="\x${hex:6:2}\x${hex:4:2}\x${hex:2:2}\x${hex:0:2}"
        "$launcher" 3< <(printf "$length"; printf '%s' "$policy"; sleep 2) \
            4> >(wc -c | sed 's/^/response bytes: /') 5< <(sleep 2) \
            6> >(cat >/dev/null) 7<"$image"
        echo "launcher exit $?"
    "#;
    let vars = [("BOXED_SANDBOX", marker), ("BOXED_POLICY", policy)];
    as_user(
        user,
        "bash",
        &["-c", script, LAUNCHER, image, policy],
        &vars,
    )
}

#[test]
fn the_launcher_serves_no_marker_but_its_own() {
    let installed = Installed::new("markers");
    let secret = secret_of(&installed);
    let probe = installed.probe(&secret);
    let probe = probe.to_str().unwrap();
    // Control: with its own marker and this malformed policy, the launcher reaches the
    // policy parser, which says so.
    let out = start_with_marker(&installed.caller, "launch-2", probe, "not json");
    assert!(stderr(&out).contains("malformed policy"), "{}", show(&out));
    // With every other marker, the process that holds the launcher's capabilities
    // drops them and refuses before it reads the policy, in the environment or on
    // descriptor 3, or answers anything.
    for marker in ["image-2", "zygote-image-2", "2", "1", "garbage"] {
        let out = start_with_marker(&installed.caller, marker, probe, "not json");
        let context = format!("marker {marker}\n{}", show(&out));
        assert!(stdout(&out).contains("launcher exit 126"), "{context}");
        assert!(stdout(&out).contains("response bytes: 0"), "{context}");
        assert!(!stdout(&out).contains("PROBE RAN"), "{context}");
        assert!(
            stderr(&out).contains(&format!("BOXED_SANDBOX=\"{marker}\"")),
            "{context}"
        );
        assert!(stderr(&out).contains("it serves nothing"), "{context}");
        assert!(!stderr(&out).contains("malformed"), "{context}");
        assert!(!stderr(&out).contains("protocol"), "{context}");
    }
}

/// A process of the sandbox identity (nobody) that is not the probe: it sleeps, and
/// is killed when the test ends.
struct Neighbour(std::process::Child);

impl Neighbour {
    fn start() -> Neighbour {
        use std::os::unix::process::CommandExt;
        let child = Command::new("sleep")
            .arg("60")
            .uid(65534)
            .gid(65534)
            .stdin(Stdio::null())
            .spawn()
            .expect("starting a process as nobody");
        Neighbour(child)
    }

    fn pid(&self) -> u32 {
        self.0.id()
    }

    /// Its nice value, field 19 of its `/proc/PID/stat`.
    fn nice(&self) -> String {
        let stat = fs::read_to_string(format!("/proc/{}/stat", self.pid())).unwrap();
        let after_name = &stat[stat.rfind(')').unwrap() + 2..];
        after_name.split(' ').nth(16).unwrap().to_string()
    }
}

impl Drop for Neighbour {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_foreign_image_cannot_reach_other_processes_of_the_sandbox_identity() {
    let installed = Installed::new("neighbours");
    let neighbour = Neighbour::start();
    // A C program, not a boxed program: it lowers the core-size limit, the priority and
    // the processors of itself and of the neighbour, and says what each call answered.
    let source = format!(
        "#define _GNU_SOURCE\n#include <errno.h>\n#include <sched.h>\n#include <stdio.h>\n\
         #include <string.h>\n#include <sys/resource.h>\n#include <unistd.h>\n\
         static const char *said(int result) {{ return result == 0 ? \"ok\" : strerror(errno); }}\n\
         static void attempt(const char *who, pid_t pid) {{\n\
         \x20   struct rlimit none = {{ 0, 0 }};\n\
         \x20   printf(\"%s prlimit64: %s\\n\", who, said(prlimit(pid, RLIMIT_CORE, &none, NULL)));\n\
         \x20   printf(\"%s setpriority: %s\\n\", who, said(setpriority(PRIO_PROCESS, pid, 19)));\n\
         \x20   cpu_set_t set; CPU_ZERO(&set); CPU_SET(0, &set);\n\
         \x20   printf(\"%s sched_setaffinity: %s\\n\", who,\n\
         \x20          said(sched_setaffinity(pid, sizeof set, &set)));\n\
         }}\n\
         int main(void) {{\n\
         \x20   attempt(\"self\", getpid());\n\
         \x20   attempt(\"other\", {});\n\
         \x20   printf(\"PROBE RAN\\n\");\n\
         \x20   return 0;\n\
         }}\n",
        neighbour.pid()
    );
    let probe = installed.compile("neighbour-probe", &source, false);
    let calls = ["prlimit64", "setpriority", "sched_setaffinity"];

    // Through the launcher, as a one-shot call's image and as a zygote: on itself every
    // call works, on the neighbour the syscall filter refuses each.
    let zygote = serde_json::to_string(&boxed::Policy::new().zygote(true)).unwrap();
    for policy in [default_policy(), zygote] {
        let out = forge(&installed.caller, probe.to_str().unwrap(), &policy, &[]);
        let lines = stdout(&out);
        assert!(lines.contains("PROBE RAN"), "{policy}: {}", show(&out));
        for call in calls {
            assert!(
                lines.contains(&format!("self {call}: ok\n")),
                "{policy}: {}",
                show(&out)
            );
            assert!(
                lines.contains(&format!("other {call}: Operation not permitted\n")),
                "{policy}: {}",
                show(&out)
            );
        }
        assert_eq!(neighbour.nice(), "0", "{policy}");
    }

    // Control: the same program run as nobody without the launcher reaches the
    // neighbour, so the refusals above are the sandbox's.
    let direct = {
        use std::os::unix::process::CommandExt;
        output(Command::new(&probe).uid(65534).gid(65534).env_clear())
    };
    let lines = stdout(&direct);
    for call in calls {
        assert!(
            lines.contains(&format!("other {call}: ok\n")),
            "{}",
            show(&direct)
        );
    }
    assert_eq!(neighbour.nice(), "19");
}

#[test]
fn a_boxed_image_without_the_launchers_filter_serves_nothing() {
    let installed = Installed::new("no-filter");
    let program = installed.stage.join("bin/boxed-test-caller");
    // Started by root as the sandbox identity would be, with no groups, no capability,
    // no_new_privs, but no syscall filter: it refuses before reading its request, and
    // says why on the response pipe (printed here by `cat`).
    let script = r#"
        setpriv --reuid=65534 --regid=65534 --clear-groups --no-new-privs -- \
            "$0" 3< <(sleep 2) 4> >(cat)
        echo "image exit $?"
    "#;
    let out = output(
        Command::new("bash")
            .env_clear()
            .env("PATH", ROOT_PATH)
            .env("BOXED_SANDBOX", "image-2")
            .env("BOXED_POLICY", default_policy())
            .current_dir("/")
            .args(["-c", script, program.to_str().unwrap()]),
    );
    assert!(!stdout(&out).contains("MAIN RAN"), "{}", show(&out));
    assert!(stdout(&out).contains("image exit 125"), "{}", show(&out));
    assert!(
        stdout(&out).contains("no syscall filter is in place"),
        "{}",
        show(&out)
    );
}

/// Whether process `pid` still runs (and is not a zombie), as root sees it.
fn running(pid: u32) -> bool {
    boxed_tests::proc_stat(pid as i32).is_some_and(|stat| !matches!(stat.state, 'Z' | 'X'))
}

/// A foreign zygote image that stays: it ignores every signal it may, tries to become
/// its caller (its real uid) through and through and exits 4 if it could, takes its
/// effective uid (the sandbox identity) as real and saved uid too, so that its caller
/// may no longer signal it, says its pid on descriptor 1 and closes it, and sleeps until
/// it is killed.
fn stubborn_zygote(installed: &Installed) -> PathBuf {
    let source = "#define _GNU_SOURCE\n#include <signal.h>\n#include <stdio.h>\n#include <unistd.h>\n\
         int main(void) {\n\
         \x20   for (int s = 1; s < 32; s++) signal(s, SIG_IGN);\n\
         \x20   uid_t r = getuid(), e = geteuid();\n\
         \x20   if (r != e && setresuid(r, r, r) == 0) return 4;\n\
         \x20   if (setresuid(e, e, e) != 0) return 3;\n\
         \x20   printf(\"%d\\n\", getpid()); fflush(stdout); close(1); close(2);\n\
         \x20   for (;;) pause();\n\
         }\n";
    installed.compile("stubborn", source, false)
}

/// Starts the launcher as the caller with `image` as a zygote and a lifeline of `hold`
/// seconds; once the image has said its pid, the caller tries to signal the zygote and
/// to kill the launcher (the zygote's supervisor). Returns the image's pid and what the script said:
/// those two outcomes, and whether the launcher was still running 15 s after the
/// lifeline closed.
///
/// With `alarm`, the launcher is started with a one-second `SIGALRM` timer armed (a
/// timer survives `execve`, and its signal needs no permission).
fn zygote_through_the_launcher(
    installed: &Installed,
    image: &Path,
    hold: u32,
    alarm: bool,
) -> (u32, String) {
    let work = installed.work();
    let pid_file = work.join(format!("zygote-pid-{hold}-{alarm}"));
    let _ = fs::remove_file(&pid_file);
    let policy = serde_json::to_string(&boxed::Policy::new().zygote(true)).unwrap();
    let script = r#"
        launcher=$0 image=$1 policy=$2 pid_file=$3 hold=$4 alarm=$5
        hex=$(printf '%08x' "${#policy}")
        length="\x${hex:6:2}\x${hex:4:2}\x${hex:2:2}\x${hex:0:2}"
        perl -e 'alarm 1 if shift; exec @ARGV or die' "$alarm" \
            "$launcher" 1>"$pid_file" 3< <(printf "$length"; printf '%s' "$policy") \
            4> >(exec cat >/dev/null 2>&1) 5< <(exec sleep "$hold" 2>/dev/null) \
            6> >(exec cat >/dev/null 2>&1) 7<"$image" &
        launcher_pid=$!
        # Once the image runs (it says its pid), its supervisor is out of reach.
        for i in $(seq 100); do [ -s "$pid_file" ] && break; sleep 0.1; done
        if kill -0 "$(cat "$pid_file")" 2>/dev/null; then echo "signals the zygote"; else
            echo "cannot signal the zygote"; fi
        if kill -KILL "$launcher_pid" 2>/dev/null; then echo "killed the launcher"; else
            echo "cannot kill the launcher"; fi
        for i in $(seq "$((hold * 10 + 150))"); do
            kill -0 "$launcher_pid" 2>/dev/null || break; sleep 0.1; done
        if kill -0 "$launcher_pid" 2>/dev/null; then echo "launcher still running"; else
            wait "$launcher_pid"; echo "launcher exit $?"; fi
    "#;
    let hold = hold.to_string();
    let extra = [
        pid_file.to_str().unwrap(),
        &hold,
        if alarm { "1" } else { "" },
    ];
    let out = launch_script(&installed.caller, script, image, &policy, &extra);
    let said = fs::read_to_string(&pid_file).unwrap_or_default();
    let pid: u32 = said
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("the image never said its pid ({said:?}): {}", show(&out)));
    (pid, stdout(&out))
}

#[test]
fn a_foreign_zygote_image_ends_with_its_caller() {
    let installed = Installed::new("zygote-ends");
    let stubborn = stubborn_zygote(&installed);
    let end = |pid: u32| {
        let gone = (0..100).any(|_| {
            std::thread::sleep(std::time::Duration::from_millis(100));
            !running(pid)
        });
        if !gone {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid as i32),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        gone
    };

    // The image made itself the sandbox identity through and through, so its caller
    // cannot signal it; nor can the caller kill or stop the launcher above it. When the
    // caller's end of the control socket (here the lifeline pipe) closes, after 3 s, the
    // launcher kills the zygote and exits as it ended.
    let (pid, said) = zygote_through_the_launcher(&installed, &stubborn, 3, false);
    let ended = end(pid);
    assert!(said.contains("cannot signal the zygote"), "{said}");
    assert!(said.contains("cannot kill the launcher"), "{said}");
    assert!(ended, "the zygote outlived its lifeline: {said}");
    assert!(said.contains("launcher exit 137"), "{said}");

    // Nor can a timer the caller armed before it started the launcher: the launcher
    // disarms it, and still ends the zygote when the lifeline closes.
    let (pid, said) = zygote_through_the_launcher(&installed, &stubborn, 3, true);
    let ended = end(pid);
    assert!(ended, "the zygote outlived its lifeline: {said}");
    assert!(said.contains("launcher exit 137"), "{said}");

    // Control: the same image started by the caller directly, outside the launcher,
    // stays once its parent is gone, until it is killed.
    let pid_file = installed.work().join("direct-pid");
    let script = r#""$0" 1>"$1" & sleep 0.5"#;
    let out = as_user(
        &installed.caller,
        "bash",
        &[
            "-c",
            script,
            stubborn.to_str().unwrap(),
            pid_file.to_str().unwrap(),
        ],
        &[],
    );
    let pid: u32 = fs::read_to_string(&pid_file)
        .unwrap_or_default()
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("the direct image said no pid: {}", show(&out)));
    std::thread::sleep(std::time::Duration::from_secs(2));
    let stayed = running(pid);
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGKILL,
    );
    assert!(stayed, "the control image did not stay: {}", show(&out));
}

#[test]
fn a_launcher_started_with_sigchld_ignored_still_waits_for_its_sandbox() {
    let installed = Installed::new("sigchld");
    let probe = installed.compile("exit-7", "int main(void) { return 7; }\n", false);
    // Started with SIGCHLD ignored (inherited across the exec), the kernel would reap
    // the sandbox before the launcher waits for it, and its pid could be reused while
    // the launcher still ends its tree by number; the launcher puts every signal back
    // to its default first, so it reaps the sandbox itself and exits as it did.
    let script = r#"
        launcher=$0 image=$1 policy=$2 ignore=$3
        hex=$(printf '%08x' "${#policy}")
        length="\x${hex:6:2}\x${hex:4:2}\x${hex:2:2}\x${hex:0:2}"
        perl -e '$SIG{CHLD} = "IGNORE" if $ARGV[0]; shift; exec @ARGV or die' "$ignore" \
            "$launcher" 3< <(printf "$length"; printf '%s' "$policy"; sleep 2) \
            4> >(exec cat >/dev/null 2>&1) 5< <(exec sleep 2 2>/dev/null) \
            6> >(exec cat >/dev/null 2>&1) 7<"$image"
        echo "launcher exit $?"
    "#;
    for ignore in ["1", "0"] {
        let out = launch_script(
            &installed.caller,
            script,
            &probe,
            &default_policy(),
            &[ignore],
        );
        assert!(
            stdout(&out).contains("launcher exit 7"),
            "SIGCHLD ignored: {ignore}: {}",
            show(&out)
        );
    }
}
