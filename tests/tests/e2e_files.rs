//! The caller's files, end to end: the child reaches them only as any other user would.
//! It cannot read what only the caller, the caller's primary group or one of the
//! caller's supplementary groups may read, and it cannot create, write, rename, chmod or
//! delete anything in a directory of the caller. Every refusal is checked against the
//! same action by the caller, which succeeds.
//!
//! The sandbox's default policy lets it open none of these files (Landlock), which would
//! refuse every attempt here before the file's owner and mode are even looked at. So each
//! test grants, through `boxed::Policy`, read or write access to exactly the tree it
//! uses, and checks in the same sandbox a control that the grant lets through: what then
//! refuses the attack is the uid layer (the sandbox is `nobody`, in no group of the
//! caller's), not Landlock.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use boxed::{Policy, sandboxed};
use boxed_tests::{e2e, errno_name};
use nix::unistd::{Gid, Group, chown, getgid, getgroups, getuid};

/// The supplementary group `tests/run.sh` gives the caller.
const EXTRA_GROUP: &str = "boxed-test-extra";

/// What reading each file gave: its content, or the errno name.
#[sandboxed]
fn read_each(paths: &[PathBuf]) -> Vec<Result<String, String>> {
    paths
        .iter()
        .map(|path| errno_name(fs::read_to_string(path)))
        .collect()
}

/// Tries to create a new file at `path`.
#[sandboxed]
fn create_new(path: &Path) -> Result<(), String> {
    errno_name(
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .map(drop),
    )
}

/// Every way of changing `victim` or its directory `dir`, and what each gave; then the
/// controls: the same kinds of change to `open_file` and in `open_dir`, which the caller
/// made world-writable in the same granted tree.
#[sandboxed]
fn tamper(
    dir: &Path,
    victim: &Path,
    open_file: &Path,
    open_dir: &Path,
) -> Vec<(String, Result<String, String>)> {
    let done = |result: std::io::Result<()>| errno_name(result).map(|()| String::new());
    let open = |options: &mut OpenOptions| done(options.open(victim).map(drop));
    let open_control = |options: &mut OpenOptions| done(options.open(open_file).map(drop));
    vec![
        // The control: the file itself is within reach.
        ("read".into(), errno_name(fs::read_to_string(victim))),
        (
            "open for writing".into(),
            open(OpenOptions::new().write(true)),
        ),
        (
            "open for appending".into(),
            open(OpenOptions::new().append(true)),
        ),
        (
            "open truncating".into(),
            open(OpenOptions::new().write(true).truncate(true)),
        ),
        (
            "rename".into(),
            done(fs::rename(victim, dir.join("renamed-by-sandbox"))),
        ),
        (
            "chmod".into(),
            done(fs::set_permissions(
                victim,
                fs::Permissions::from_mode(0o666),
            )),
        ),
        ("delete".into(), done(fs::remove_file(victim))),
        (
            "create beside".into(),
            done(fs::write(dir.join("created-by-sandbox"), "x")),
        ),
        // The controls: the policy lets the sandbox write wherever the modes allow it.
        (
            "control: open a world-writable file for writing".into(),
            open_control(OpenOptions::new().write(true)),
        ),
        (
            "control: open it truncating".into(),
            open_control(OpenOptions::new().write(true).truncate(true)),
        ),
        (
            "control: create in a world-writable directory".into(),
            done(fs::write(open_dir.join("created"), "x")),
        ),
        (
            "control: rename in it".into(),
            done(fs::rename(
                open_dir.join("created"),
                open_dir.join("renamed"),
            )),
        ),
        (
            "control: delete in it".into(),
            done(fs::remove_file(open_dir.join("renamed"))),
        ),
    ]
}

/// A file the caller writes, with exactly `mode` and group `group`.
fn fixture(path: &Path, mode: u32, group: Gid) -> String {
    let content = format!("content of {}\n", path.display());
    match fs::remove_file(path) {
        Ok(()) => {}
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => panic!("removing an old {}: {error}", path.display()),
    }
    fs::write(path, &content).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
    chown(path, None, Some(group)).unwrap_or_else(|e| panic!("chgrp {}: {e}", path.display()));
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
    let made = fs::metadata(path).unwrap();
    assert_eq!(made.mode() & 0o7777, mode, "{}", path.display());
    assert_eq!(made.gid(), group.as_raw(), "{}", path.display());
    assert_eq!(made.uid(), getuid().as_raw(), "{}", path.display());
    content
}

/// A directory of the caller, mode 0755, for the files of one test.
fn directory(parent: &Path, name: &str) -> PathBuf {
    let dir = parent.join(name);
    fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

/// The caller's supplementary group, which it must really hold for the test to mean
/// anything.
fn extra_group() -> Gid {
    let group = Group::from_name(EXTRA_GROUP)
        .expect("reading the group database")
        .unwrap_or_else(|| panic!("group {EXTRA_GROUP} does not exist; tests/run.sh creates it"));
    let held = getgroups().expect("getgroups");
    assert!(
        held.contains(&group.gid),
        "the caller must hold the supplementary group {EXTRA_GROUP} ({}); it holds {held:?}. \
         tests/run.sh adds it",
        group.gid
    );
    assert_ne!(
        group.gid,
        getgid(),
        "{EXTRA_GROUP} must be a supplementary group, not the caller's primary group"
    );
    group.gid
}

#[test]
fn files_of_the_caller_and_its_groups_are_unreadable() {
    let env = e2e();
    let dir = directory(&env.work, "files-read");
    let extra = extra_group();
    let cases = [
        ("owner-only", 0o600, getgid(), Err("EACCES".to_string())),
        ("primary-group", 0o640, getgid(), Err("EACCES".to_string())),
        (
            "supplementary-group",
            0o640,
            extra,
            Err("EACCES".to_string()),
        ),
        ("everyone", 0o644, getgid(), Ok(())),
    ];
    let mut paths = Vec::new();
    let mut contents = Vec::new();
    for (name, mode, group, _) in &cases {
        let path = dir.join(name);
        contents.push(fixture(&path, *mode, *group));
        paths.push(path);
    }
    // The caller reads every one of them.
    for (path, content) in paths.iter().zip(&contents) {
        assert_eq!(
            &fs::read_to_string(path).unwrap(),
            content,
            "{}",
            path.display()
        );
    }

    // Landlock lets the sandbox read the whole directory, so what refuses the first three
    // is the uid layer; the last one, which every user may read, is the control that the
    // grant lets reads through.
    let read = Policy::new().read(&dir).run(|| read_each(&paths));
    assert_eq!(read.len(), cases.len());
    for (((name, _, _, expected), content), outcome) in cases.iter().zip(&contents).zip(read) {
        let expected = expected.clone().map(|()| content.clone());
        assert_eq!(outcome, expected, "reading {name} from inside");
    }
}

#[test]
fn nothing_can_be_created_in_the_callers_home() {
    e2e();
    let home = PathBuf::from(std::env::var_os("HOME").expect("HOME is set by tests/run.sh"));
    let meta = fs::metadata(&home).unwrap_or_else(|e| panic!("{}: {e}", home.display()));
    assert_eq!(
        meta.uid(),
        getuid().as_raw(),
        "HOME must belong to the caller"
    );
    assert_eq!(meta.mode() & 0o002, 0, "HOME must not be world-writable");
    let path = home.join(format!(".boxed-e2e-files-{}", std::process::id()));
    let _ = fs::remove_file(&path);
    // The control: a directory of the caller in HOME that every user may write.
    let open_dir = home.join(format!(".boxed-e2e-files-open-{}", std::process::id()));
    let _ = fs::remove_dir_all(&open_dir);
    fs::create_dir(&open_dir).unwrap_or_else(|e| panic!("{}: {e}", open_dir.display()));
    fs::set_permissions(&open_dir, fs::Permissions::from_mode(0o777)).unwrap();
    let control = open_dir.join("created-by-sandbox");

    // Landlock lets the sandbox create files anywhere in HOME (the control shows it), so
    // what refuses the creation in HOME itself is the uid layer.
    let (refused, allowed) = Policy::new()
        .write(&home)
        .run(|| (create_new(&path), create_new(&control)));
    fs::remove_dir_all(&open_dir).unwrap();
    assert_eq!(
        allowed,
        Ok(()),
        "the control: creating {}",
        control.display()
    );
    assert_eq!(refused, Err("EACCES".to_string()));
    assert!(
        fs::symlink_metadata(&path).is_err(),
        "{} exists after the refused creation",
        path.display()
    );
    // The caller can.
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .unwrap()
        .write_all(b"mine")
        .unwrap();
    fs::remove_file(&path).unwrap();
}

#[test]
fn a_file_in_the_callers_directory_cannot_be_changed() {
    let env = e2e();
    let dir = &env.work;
    let meta = fs::metadata(dir).unwrap();
    assert_eq!(
        meta.uid(),
        getuid().as_raw(),
        "BOXED_E2E_WORK must be the caller's"
    );
    assert_eq!(
        meta.mode() & 0o777,
        0o755,
        "BOXED_E2E_WORK must be mode 0755"
    );
    let victim = dir.join("files-victim");
    let content = fixture(&victim, 0o644, getgid());
    // The controls, in the same directory: a file and a directory every user may write.
    let open_file = dir.join("files-open-file");
    fixture(&open_file, 0o666, getgid());
    let open_dir = dir.join("files-open-dir");
    let _ = fs::remove_dir_all(&open_dir);
    fs::create_dir(&open_dir).unwrap_or_else(|e| panic!("{}: {e}", open_dir.display()));
    fs::set_permissions(&open_dir, fs::Permissions::from_mode(0o777)).unwrap();

    // Landlock lets the sandbox read and write the whole directory (the controls show
    // it), so what refuses each change to the victim is the uid layer.
    let outcomes = Policy::new()
        .write(dir)
        .run(|| tamper(dir, &victim, &open_file, &open_dir));
    fs::remove_file(&open_file).unwrap();
    fs::remove_dir_all(&open_dir).unwrap();
    let expected: Vec<(String, Result<String, String>)> = [
        ("read", Ok(content.as_str())),
        ("open for writing", Err("EACCES")),
        ("open for appending", Err("EACCES")),
        ("open truncating", Err("EACCES")),
        ("rename", Err("EACCES")),
        ("chmod", Err("EPERM")),
        ("delete", Err("EACCES")),
        ("create beside", Err("EACCES")),
        ("control: open a world-writable file for writing", Ok("")),
        ("control: open it truncating", Ok("")),
        ("control: create in a world-writable directory", Ok("")),
        ("control: rename in it", Ok("")),
        ("control: delete in it", Ok("")),
    ]
    .into_iter()
    .map(|(what, outcome)| {
        (
            what.to_string(),
            outcome.map(str::to_string).map_err(str::to_string),
        )
    })
    .collect();
    assert_eq!(outcomes, expected);

    // Nothing changed.
    assert_eq!(fs::read_to_string(&victim).unwrap(), content);
    assert_eq!(fs::metadata(&victim).unwrap().mode() & 0o7777, 0o644);
    for name in ["renamed-by-sandbox", "created-by-sandbox"] {
        assert!(
            fs::symlink_metadata(dir.join(name)).is_err(),
            "{name} exists"
        );
    }

    // The caller can do each of them.
    OpenOptions::new()
        .append(true)
        .open(&victim)
        .unwrap()
        .write_all(b"more\n")
        .unwrap();
    fs::set_permissions(&victim, fs::Permissions::from_mode(0o600)).unwrap();
    let renamed = dir.join("files-victim-renamed");
    fs::rename(&victim, &renamed).unwrap();
    fs::remove_file(&renamed).unwrap();
}
