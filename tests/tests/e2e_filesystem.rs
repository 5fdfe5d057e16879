//! The file system under Landlock, end to end: a sandbox reads no file its policy does
//! not grant, world-readable ones included, lists no directory, writes nowhere but in
//! the trees granted for writing, cannot widen a grant through a symlink, and cannot pass
//! a file to a sandbox without the grant.
//!
//! Every refusal is checked against the same action under a policy that grants it, which
//! succeeds: the sandbox's user (`nobody`) is allowed by the file's permissions, so what
//! refuses is the confinement.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use boxed::{Policy, sandboxed};
use boxed_tests::{e2e, errno_name, open_directory};

/// The uid the sandbox runs as.
const NOBODY: u32 = 65534;

/// What reading `path` gave: its content, or the errno name.
#[sandboxed]
fn read(path: &Path) -> Result<String, String> {
    errno_name(fs::read_to_string(path))
}

/// The same, with `/etc` granted by the attribute.
#[sandboxed(read = ["/etc"])]
fn read_with_etc(path: &Path) -> Result<String, String> {
    errno_name(fs::read_to_string(path))
}

/// The sorted names in `dir`, or the errno name.
#[sandboxed]
fn list(dir: &Path) -> Result<Vec<String>, String> {
    let entries = errno_name(fs::read_dir(dir))?;
    let mut names = entries
        .map(|entry| Ok(entry?.file_name().to_string_lossy().into_owned()))
        .collect::<std::io::Result<Vec<String>>>();
    if let Ok(names) = &mut names {
        names.sort();
    }
    errno_name(names)
}

/// Creates `path`, which must not exist, with `content`.
#[sandboxed]
fn create(path: &Path, content: String) -> Result<(), String> {
    errno_name(
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .and_then(|mut file| file.write_all(content.as_bytes())),
    )
}

/// Creates `path` and removes it again, leaving nothing behind.
#[sandboxed]
fn create_and_remove(path: &Path) -> Result<(), String> {
    errno_name(
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .and_then(|_| fs::remove_file(path)),
    )
}

/// Reads `path`, then removes it.
#[sandboxed]
fn read_and_remove(path: &Path) -> Result<String, String> {
    let content = errno_name(fs::read_to_string(path))?;
    errno_name(fs::remove_file(path))?;
    Ok(content)
}

/// Makes a symlink `link` to `target`, then reads through it.
#[sandboxed]
fn plant_and_follow(link: &Path, target: &Path) -> (Result<(), String>, Result<String, String>) {
    let planted = errno_name(std::os::unix::fs::symlink(target, link));
    (planted, errno_name(fs::read_to_string(link)))
}

/// Makes a hard link `link` to `original`, then reads through it.
#[sandboxed]
fn link_and_read(original: &Path, link: &Path) -> (Result<(), String>, Result<String, String>) {
    let linked = errno_name(fs::hard_link(original, link));
    (linked, errno_name(fs::read_to_string(link)))
}

/// A new directory of the caller, mode 0755, for the files of one test.
fn directory(parent: &Path, name: &str) -> PathBuf {
    let dir = parent.join(name);
    match fs::remove_dir_all(&dir) {
        Ok(()) => {}
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => panic!("removing an old {}: {error}", dir.display()),
    }
    fs::create_dir(&dir).unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

/// A file of the caller that everyone may read (mode 0644); its content.
fn public_file(path: &Path) -> String {
    let content = format!("content of {}\n", path.display());
    fs::write(path, &content).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
    fs::set_permissions(path, fs::Permissions::from_mode(0o644)).unwrap();
    assert_eq!(fs::metadata(path).unwrap().mode() & 0o777, 0o644);
    content
}

/// A path in `/tmp` that does not exist, unique to this process and `name`.
fn tmp_path(name: &str) -> PathBuf {
    let path = PathBuf::from(format!("/tmp/boxed-e2e-{name}-{}", std::process::id()));
    assert!(
        fs::symlink_metadata(&path).is_err(),
        "{} exists already",
        path.display()
    );
    path
}

fn eacces<T>() -> Result<T, String> {
    Err("EACCES".to_string())
}

#[test]
fn world_readable_files_are_unreadable_without_a_grant() {
    let env = e2e();
    let passwd = Path::new("/etc/passwd");
    let content = fs::read_to_string(passwd).expect("the caller reads /etc/passwd");
    assert_ne!(
        fs::metadata(passwd).unwrap().mode() & 0o004,
        0,
        "/etc/passwd must be world-readable for this test to mean anything"
    );
    assert_eq!(read(passwd), eacces());
    assert_eq!(read_with_etc(passwd), Ok(content.clone()));
    // The sandbox may read its own /proc/self, but not reach / through its root link.
    let through_root = Path::new("/proc/self/root/etc/passwd");
    assert_eq!(read(through_root), eacces());
    assert_eq!(read_with_etc(through_root), Ok(content));

    let dir = directory(&env.work, "fs-world");
    let file = dir.join("public");
    let content = public_file(&file);
    assert_eq!(read(&file), eacces());
    // Granting another tree does not grant this one.
    assert_eq!(read_with_etc(&file), eacces());
    assert_eq!(Policy::new().read(&dir).run(|| read(&file)), Ok(content));
}

#[test]
fn nothing_is_writable_without_a_write_grant() {
    let env = e2e();
    // /tmp lets everyone create files, so only the confinement refuses.
    let in_tmp = tmp_path("fs-write");
    assert_eq!(create_and_remove(&in_tmp), eacces());
    assert!(fs::symlink_metadata(&in_tmp).is_err(), "{in_tmp:?} exists");
    assert_eq!(
        Policy::new()
            .write("/tmp")
            .run(|| create_and_remove(&in_tmp)),
        Ok(())
    );
    assert!(fs::symlink_metadata(&in_tmp).is_err(), "{in_tmp:?} is left");

    // A directory of the caller that nobody may write to, by its permissions.
    let dir = open_directory(&env.work, "fs-writable");
    let file = dir.join("created");
    assert_eq!(create(&file, "by default".into()), eacces());
    assert_eq!(
        Policy::new()
            .read(&dir)
            .run(|| create(&file, "with a read grant".into())),
        eacces()
    );
    assert!(fs::symlink_metadata(&file).is_err(), "{file:?} exists");
    assert_eq!(
        Policy::new()
            .write(&dir)
            .run(|| create(&file, "with a write grant".into())),
        Ok(())
    );
    // The sandbox's file: nobody's, private (umask 077), with what it wrote.
    let made = fs::metadata(&file).unwrap();
    assert_eq!((made.uid(), made.mode() & 0o777), (NOBODY, 0o600));
    assert_eq!(
        Policy::new().read(&dir).run(|| read(&file)),
        Ok("with a write grant".to_string())
    );
}

#[test]
fn a_symlink_in_a_granted_directory_does_not_widen_the_grant() {
    let env = e2e();
    let granted = directory(&env.work, "fs-granted");
    let outside = directory(&env.work, "fs-outside");
    let inside_content = public_file(&granted.join("inside"));
    let secret = outside.join("secret");
    let secret_content = public_file(&secret);
    let to_secret = granted.join("to-secret");
    let to_passwd = granted.join("to-passwd");
    let to_outside = granted.join("to-outside");
    std::os::unix::fs::symlink(&secret, &to_secret).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", &to_passwd).unwrap();
    std::os::unix::fs::symlink(&outside, &to_outside).unwrap();
    // The links work for the caller.
    assert_eq!(fs::read_to_string(&to_secret).unwrap(), secret_content);

    let only_granted = Policy::new().read(&granted);
    assert_eq!(
        only_granted.run(|| read(&granted.join("inside"))),
        Ok(inside_content)
    );
    assert_eq!(only_granted.run(|| read(&to_secret)), eacces());
    assert_eq!(only_granted.run(|| read(&to_passwd)), eacces());
    assert_eq!(
        only_granted.run(|| read(&to_outside.join("secret"))),
        eacces()
    );
    assert_eq!(only_granted.run(|| list(&to_outside)), eacces());
    // The same link works once its target is granted too.
    assert_eq!(
        Policy::new()
            .read(&granted)
            .read(&outside)
            .run(|| read(&to_secret)),
        Ok(secret_content.clone())
    );

    // A link the sandbox plants in a tree it may write does not help either.
    let writable = open_directory(&env.work, "fs-plant");
    let planted = writable.join("planted");
    assert_eq!(
        Policy::new()
            .write(&writable)
            .run(|| plant_and_follow(&planted, &secret)),
        (Ok(()), eacces())
    );
    assert_eq!(fs::read_link(&planted).unwrap(), secret);
    let planted_too = writable.join("planted-too");
    assert_eq!(
        Policy::new()
            .write(&writable)
            .read(&outside)
            .run(|| plant_and_follow(&planted_too, &secret)),
        (Ok(()), Ok(secret_content))
    );
}

#[test]
fn a_hard_link_does_not_widen_the_grant() {
    let env = e2e();
    let source = open_directory(&env.work, "fs-link-source");
    let destination = open_directory(&env.work, "fs-link-destination");
    // A file of the sandbox's own user, so that only the confinement stands in the way
    // (the kernel's protected_hardlinks refuses links to other users' files anyway).
    let original = source.join("original");
    assert_eq!(
        Policy::new()
            .write(&source)
            .run(|| create(&original, "linked".into())),
        Ok(())
    );
    let link = destination.join("link");
    assert_eq!(
        Policy::new()
            .write(&destination)
            .run(|| link_and_read(&original, &link)),
        (Err("EXDEV".to_string()), Err("ENOENT".to_string()))
    );
    assert!(fs::symlink_metadata(&link).is_err(), "{link:?} exists");
    assert_eq!(
        Policy::new()
            .write(&destination)
            .write(&source)
            .run(|| link_and_read(&original, &link)),
        (Ok(()), Ok("linked".to_string()))
    );
}

#[test]
fn a_file_left_by_one_sandbox_is_unreadable_to_another() {
    let env = e2e();
    let shared = open_directory(&env.work, "fs-left");
    let elsewhere = open_directory(&env.work, "fs-elsewhere");
    let note = shared.join("note");
    assert_eq!(
        Policy::new()
            .write(&shared)
            .run(|| create(&note, "left by the first sandbox".into())),
        Ok(())
    );
    assert_eq!(fs::metadata(&note).unwrap().uid(), NOBODY);

    assert_eq!(read(&note), eacces());
    assert_eq!(
        Policy::new().write(&elsewhere).run(|| read(&note)),
        eacces()
    );
    // Every sandbox is nobody, so the file's permissions let any of them read it: with
    // the grant, one does.
    assert_eq!(
        Policy::new().read(&shared).run(|| read(&note)),
        Ok("left by the first sandbox".to_string())
    );

    // The same through /tmp, which every sandbox could reach without Landlock.
    let in_tmp = tmp_path("fs-left");
    assert_eq!(
        Policy::new()
            .write("/tmp")
            .run(|| create(&in_tmp, "left in /tmp".into())),
        Ok(())
    );
    let unreadable = read(&in_tmp);
    let read_back = Policy::new().write("/tmp").run(|| read_and_remove(&in_tmp));
    assert_eq!(unreadable, eacces());
    assert_eq!(read_back, Ok("left in /tmp".to_string()));
}

#[test]
fn directories_without_a_grant_cannot_be_listed() {
    let env = e2e();
    let dir = directory(&env.work, "fs-list");
    public_file(&dir.join("a"));
    public_file(&dir.join("b"));
    let mut mine: Vec<String> = fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    mine.sort();
    assert_eq!(mine, ["a", "b"]);

    for path in [Path::new("/"), Path::new("/etc"), &env.work, &dir] {
        assert_eq!(list(path), eacces(), "listing {}", path.display());
    }
    assert_eq!(Policy::new().read(&dir).run(|| list(&dir)), Ok(mine));
    // A grant below a directory does not open the directory itself.
    assert_eq!(Policy::new().read(&dir).run(|| list(&env.work)), eacces());
    assert_eq!(
        Policy::new().read("/etc").run(|| list(Path::new("/"))),
        eacces()
    );
}
