//! The setcap'd copies: where they live, how `boxed install` makes them, how
//! `boxed status` and every sandboxed call check that they are current.
//!
//! # Layout
//!
//! The copy of executable `EXE` for the user with uid `UID` is
//! `/var/lib/boxed/UID/NAME-KEY`, where `NAME` is the file name of `EXE` and `KEY` a hash
//! of its canonical path, with a manifest `NAME-KEY.manifest` beside it.
//!
//! - `/var/lib/boxed` and `/var/lib/boxed/UID` are owned by root, mode 0755.
//! - The copy is owned by root, mode 0550, with an access control list that lets exactly
//!   one user read and execute it (`user:USER:r-x`, no group, no others), and carries the
//!   file capabilities `cap_setuid,cap_setgid+ep`. No other user can execute it, and the
//!   user can neither change it (not its owner, no write permission: no `chmod`, no
//!   writable mapping), nor move it (the directory is root's), nor keep a hard link to it
//!   (the kernel's protected hard links need write access to a file one does not own).
//! - The manifest (root, 0644) records the source's path and fingerprint: device, inode,
//!   size, modification and change times. A build of `EXE` that differs in any of them
//!   makes the copy stale: it is never run, and the error names the command to refresh it.
//!
//! When the caller runs as root no copy is used: the child is the running executable
//! itself, started again, and it drops its privileges directly.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use nix::unistd::{Uid, User};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Repr};

/// Where every copy lives.
pub const COPIES_DIR: &str = "/var/lib/boxed";

/// The extended attribute that holds file capabilities.
pub(crate) const CAPABILITY_XATTR: &str = "security.capability";

/// The extended attribute that holds a file's access control list.
pub(crate) const ACL_XATTR: &str = "system.posix_acl_access";

/// The mode of a copy: `r-x` for root, the ACL mask `r-x` as group bits, nothing else.
const COPY_MODE: u32 = 0o550;

/// The ACL of a copy for user `uid`, in the kernel's `posix_acl_xattr` form: version 2,
/// then entries (tag, permissions, id) sorted by tag: the owner `r-x`, the one user
/// `r-x`, the owning group nothing, the mask `r-x`, others nothing.
fn copy_acl(uid: u32) -> Vec<u8> {
    access_acl(&[uid], &[])
}

/// An access control list, in the kernel's `posix_acl_xattr` form, that lets root and
/// exactly `users` and `groups` read and execute a file, and nobody else: version 2,
/// then entries (tag, permissions, id) sorted by tag and id, the owning group and
/// others with nothing, the mask `r-x`.
pub(crate) fn access_acl(users: &[u32], groups: &[u32]) -> Vec<u8> {
    const UNDEFINED: u32 = u32::MAX;
    let sorted = |ids: &[u32]| {
        let mut ids = ids.to_vec();
        ids.sort_unstable();
        ids.dedup();
        ids
    };
    let mut entries: Vec<(u16, u16, u32)> = vec![(0x01, 5, UNDEFINED)]; // ACL_USER_OBJ: r-x
    entries.extend(sorted(users).into_iter().map(|uid| (0x02, 5, uid))); // ACL_USER
    entries.push((0x04, 0, UNDEFINED)); // ACL_GROUP_OBJ: ---
    entries.extend(sorted(groups).into_iter().map(|gid| (0x08, 5, gid))); // ACL_GROUP
    entries.push((0x10, 5, UNDEFINED)); // ACL_MASK: r-x
    entries.push((0x20, 0, UNDEFINED)); // ACL_OTHER: ---
    let mut acl = 2u32.to_le_bytes().to_vec();
    for (tag, permissions, id) in entries {
        acl.extend_from_slice(&tag.to_le_bytes());
        acl.extend_from_slice(&permissions.to_le_bytes());
        acl.extend_from_slice(&id.to_le_bytes());
    }
    acl
}

/// `cap_setuid,cap_setgid+ep` as a revision-2 `vfs_cap_data`: the magic with the
/// effective flag, then permitted and inheritable for capabilities 0-31 and 32-63.
pub(crate) const CAPABILITY_VALUE: [u8; 20] = {
    const MAGIC: u32 = 0x0200_0000 | 0x1;
    const PERMITTED: u32 = (1 << 6) | (1 << 7); // CAP_SETGID, CAP_SETUID
    let mut value = [0u8; 20];
    let magic = MAGIC.to_le_bytes();
    let permitted = PERMITTED.to_le_bytes();
    let mut i = 0;
    while i < 4 {
        value[i] = magic[i];
        value[4 + i] = permitted[i];
        i += 1;
    }
    value
};

/// What identifies one build of an executable on disk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprint {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl Fingerprint {
    fn of(metadata: &fs::Metadata) -> Self {
        Fingerprint {
            dev: metadata.dev(),
            ino: metadata.ino(),
            size: metadata.size(),
            mtime: (metadata.mtime(), metadata.mtime_nsec()),
            ctime: (metadata.ctime(), metadata.ctime_nsec()),
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Manifest {
    source: PathBuf,
    fingerprint: Fingerprint,
    #[serde(flatten)]
    grants: Grants,
}

/// What root allowed, at install time, for the sandboxes started through one copy,
/// beyond running as `nobody`. The copy's supervisor reads it from the root-owned
/// manifest before it uses a policy's `user` or `unique_uid`; a caller's policy alone
/// can never pick the identity a privileged process switches to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grants {
    /// Users, besides `nobody`, that a policy's `user` may name (`--sandbox-user`).
    #[serde(default)]
    pub sandbox_users: Vec<String>,
    /// Whether a policy may ask for a unique uid per sandbox (`--unique-uids`).
    #[serde(default)]
    pub unique_uids: bool,
}

/// What the manifest beside the copy `copy` grants, if root owns it and no one else can
/// change it.
pub(crate) fn grants_of_copy(copy: &Path) -> io::Result<Grants> {
    let path = PathBuf::from(format!("{}.manifest", copy.display()));
    let file = File::open(&path)?;
    let metadata = file.metadata()?;
    if metadata.uid() != 0 || metadata.mode() & 0o022 != 0 || !metadata.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!("{} is not a manifest written by root", path.display()),
        ));
    }
    let manifest: Manifest = serde_json::from_reader(io::BufReader::new(file))
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    Ok(manifest.grants)
}

/// The state of a copy, as `boxed status` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// No copy is installed for this executable and user.
    Missing,
    /// A copy exists but was made from another build.
    Stale,
    /// The copy exists but is not owned and protected as `boxed install` leaves it.
    Damaged(String),
    /// The copy is present, current and carries its capabilities.
    Current,
}

/// A copy's location, for an executable and the user who will run it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Copy {
    /// The executable the copy is made from, canonical.
    pub source: PathBuf,
    /// The user the copy is for.
    pub uid: u32,
    /// The setcap'd copy.
    pub path: PathBuf,
    /// Its manifest.
    pub manifest: PathBuf,
}

impl Copy {
    /// Where the copy of `source` (already canonical) for user `uid` lives.
    pub fn locate(source: &Path, uid: u32) -> Copy {
        let name = source
            .file_name()
            .map_or_else(|| "exe".into(), |name| name.to_string_lossy().into_owned());
        let key = fnv1a64(source.as_os_str().as_encoded_bytes());
        let dir = Path::new(COPIES_DIR).join(uid.to_string());
        let file = format!("{name}-{key:016x}");
        Copy {
            source: source.to_path_buf(),
            uid,
            path: dir.join(&file),
            manifest: dir.join(format!("{file}.manifest")),
        }
    }

    fn recorded_fingerprint(&self) -> io::Result<Option<Fingerprint>> {
        match fs::read(&self.manifest) {
            Ok(bytes) => Ok(serde_json::from_slice::<Manifest>(&bytes)
                .ok()
                .map(|manifest| manifest.fingerprint)),
            Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Whether the copy is present, current and intact, for a source whose fingerprint
    /// is `current`.
    fn status_against(&self, current: &Fingerprint) -> io::Result<Status> {
        let Some(recorded) = self.recorded_fingerprint()? else {
            return Ok(Status::Missing);
        };
        let metadata = match fs::symlink_metadata(&self.path) {
            Ok(metadata) => metadata,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(Status::Missing),
            Err(error) => return Err(error),
        };
        if &recorded != current {
            return Ok(Status::Stale);
        }
        Ok(match self.damage(&metadata)? {
            Some(damage) => Status::Damaged(damage),
            None => Status::Current,
        })
    }

    fn damage(&self, metadata: &fs::Metadata) -> io::Result<Option<String>> {
        if !metadata.file_type().is_file() {
            return Ok(Some("the copy is not a regular file".into()));
        }
        if metadata.uid() != 0 || metadata.mode() & 0o7777 != COPY_MODE {
            return Ok(Some(format!(
                "the copy has owner {} and mode {:o}, expected root and {COPY_MODE:o}",
                metadata.uid(),
                metadata.mode() & 0o7777,
            )));
        }
        if xattr::get(&self.path, ACL_XATTR)? != Some(copy_acl(self.uid)) {
            return Ok(Some(
                "the copy's access control list is not the one install sets".into(),
            ));
        }
        match xattr::get(&self.path, CAPABILITY_XATTR)? {
            Some(value) if value == CAPABILITY_VALUE => Ok(None),
            Some(_) => Ok(Some("the copy carries other file capabilities".into())),
            None => Ok(Some("the copy has lost its file capabilities".into())),
        }
    }

    /// The command that (re)creates this copy, as the error messages print it.
    pub fn install_command(&self) -> String {
        let owner = fs::metadata(&self.source).map(|m| m.uid()).ok();
        let user = if owner == Some(self.uid) {
            String::new()
        } else {
            let name = User::from_uid(Uid::from_raw(self.uid))
                .ok()
                .flatten()
                .map_or_else(|| self.uid.to_string(), |user| user.name);
            format!(" --user {name}")
        };
        format!("sudo boxed install{user} {}", self.source.display())
    }
}

/// The running executable: its canonical path and fingerprint, read once per process.
///
/// `/proc/self/exe` names the file this process was started from even if it has since
/// been replaced, so a rebuild while the program runs makes its copy stale for it, as it
/// should: the copy would run the new code.
fn running_executable() -> io::Result<&'static (PathBuf, Fingerprint)> {
    static RUNNING: OnceLock<(PathBuf, Fingerprint)> = OnceLock::new();
    if let Some(running) = RUNNING.get() {
        return Ok(running);
    }
    let mut path = fs::read_link("/proc/self/exe")?;
    let fingerprint = Fingerprint::of(&fs::metadata("/proc/self/exe")?);
    // The kernel marks a file that was replaced or removed since; the copy is then made
    // from another build (or from nothing) and is stale for this process.
    if let Some(original) = path.to_str().and_then(|p| p.strip_suffix(" (deleted)")) {
        path = PathBuf::from(original);
    }
    Ok(RUNNING.get_or_init(|| (path, fingerprint)))
}

/// Whether the file this process was started from has been replaced or removed since.
fn running_replaced() -> bool {
    static REPLACED: OnceLock<bool> = OnceLock::new();
    *REPLACED.get_or_init(|| {
        fs::read_link("/proc/self/exe")
            .is_ok_and(|path| path.to_string_lossy().ends_with(" (deleted)"))
    })
}

/// The program a sandboxed call of `function` starts: the running executable itself when
/// the caller is root, otherwise its current setcap'd copy.
pub(crate) fn child_program(function: &str) -> Result<PathBuf, Error> {
    if nix::unistd::geteuid().is_root() {
        return Ok(PathBuf::from("/proc/self/exe"));
    }
    let io_error = |source| Error::io(function, source);
    let (exe, fingerprint) = running_executable().map_err(io_error)?;
    let copy = Copy::locate(exe, nix::unistd::getuid().as_raw());
    match copy.status_against(fingerprint).map_err(io_error)? {
        Status::Current => Ok(copy.path),
        Status::Missing => Err(Repr::CopyMissing {
            function: function.to_string(),
            exe: exe.clone(),
            command: copy.install_command(),
        }
        .into()),
        Status::Stale => Err(Repr::CopyStale {
            function: function.to_string(),
            exe: exe.clone(),
            copy: copy.path.clone(),
            why: if running_replaced() {
                "was made from another build than this process, whose file has since been \
                 replaced (restart the program after refreshing the copy):"
                    .into()
            } else {
                "was made from another build of".into()
            },
            command: copy.install_command(),
        }
        .into()),
        Status::Damaged(damage) => Err(Repr::CopyStale {
            function: function.to_string(),
            exe: exe.clone(),
            copy: copy.path.clone(),
            why: format!("is damaged ({damage}) and is not a trustworthy copy of"),
            command: copy.install_command(),
        }
        .into()),
    }
}

/// Resolves `--user` (a name or a numeric uid), or the owner of `exe` when absent.
pub fn resolve_user(user: Option<&str>, exe: &Path) -> Result<u32, Error> {
    match user {
        None => fs::metadata(exe)
            .map(|metadata| metadata.uid())
            .map_err(|e| Error::setup(format!("cannot read {}", exe.display()), Some(e))),
        Some(name) => {
            if let Ok(uid) = name.parse::<u32>() {
                return Ok(uid);
            }
            match User::from_name(name) {
                Ok(Some(user)) => Ok(user.uid.as_raw()),
                _ => Err(Error::setup(format!("no user named `{name}`"), None)),
            }
        }
    }
}

/// Creates (or refreshes) the setcap'd copy of `exe` for user `uid`. Must run as root.
pub fn install(exe: &Path, uid: u32, grants: &Grants) -> Result<Copy, Error> {
    if !nix::unistd::geteuid().is_root() {
        return Err(Error::setup(
            format!(
                "installing a copy sets file capabilities and needs root: sudo boxed install {}",
                exe.display()
            ),
            None,
        ));
    }
    if uid == 0 {
        return Err(Error::setup(
            "root needs no copy: a caller running as root starts the executable itself",
            None,
        ));
    }
    // Everything that can be refused is refused before anything is written.
    for user in &grants.sandbox_users {
        match User::from_name(user) {
            Ok(Some(found)) if found.uid.as_raw() != 0 && found.uid.as_raw() != uid => {}
            _ => {
                return Err(Error::setup(
                    format!(
                        "--sandbox-user {user}: no such user, or it is root or the user the \
                         copy is for"
                    ),
                    None,
                ));
            }
        }
    }
    let source = fs::canonicalize(exe)
        .map_err(|e| Error::setup(format!("cannot find {}", exe.display()), Some(e)))?;
    let before = source_fingerprint(&source)?;
    let copy = Copy::locate(&source, uid);
    let dir = copy.path.parent().expect("copies live in a directory");
    root_directory(Path::new(COPIES_DIR))?;
    root_directory(dir)?;

    let fail = |what: &str, error: io::Error| {
        Error::setup(format!("{what} {}", copy.path.display()), Some(error))
    };
    let temporary = dir.join(format!(".installing-{}", std::process::id()));
    let _ = fs::remove_file(&temporary);
    let write = || -> io::Result<()> {
        let mut output = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o000)
            .open(&temporary)?;
        io::copy(&mut File::open(&source)?, &mut output)?;
        output.sync_all()?;
        // Owner and mode first: a change of owner removes file capabilities.
        std::os::unix::fs::fchown(&output, Some(0), Some(0))?;
        output.set_permissions(fs::Permissions::from_mode(COPY_MODE))?;
        xattr::set(&temporary, ACL_XATTR, &copy_acl(uid)).map_err(|error| {
            io::Error::new(
                error.kind(),
                format!(
                    "setting its access control list failed ({error}); {COPIES_DIR} must be \
                     on a file system with POSIX ACLs"
                ),
            )
        })?;
        xattr::set(&temporary, CAPABILITY_XATTR, &CAPABILITY_VALUE)?;
        Ok(())
    };
    if let Err(error) = write() {
        let _ = fs::remove_file(&temporary);
        return Err(fail("cannot write", error));
    }
    if source_fingerprint(&source)? != before {
        let _ = fs::remove_file(&temporary);
        return Err(Error::setup(
            format!(
                "{} changed while it was copied; run install again",
                source.display()
            ),
            None,
        ));
    }
    fs::rename(&temporary, &copy.path).map_err(|e| fail("cannot move into place", e))?;
    let manifest = Manifest {
        source: source.clone(),
        fingerprint: before,
        grants: grants.clone(),
    };
    if let Err(error) = write_root_file(
        &copy.manifest,
        &serde_json::to_vec_pretty(&manifest).expect("a manifest always encodes"),
    ) {
        // A copy without its manifest is never used; do not leave it capable either.
        let _ = fs::remove_file(&copy.path);
        return Err(fail("cannot write the manifest of", error));
    }
    Ok(copy)
}

/// Removes the copy of `exe` for user `uid`, if there is one. Must run as root.
pub fn uninstall(exe: &Path, uid: u32) -> Result<Copy, Error> {
    if !nix::unistd::geteuid().is_root() {
        return Err(Error::setup(
            format!(
                "removing a copy needs root: sudo boxed uninstall {}",
                exe.display()
            ),
            None,
        ));
    }
    let source = fs::canonicalize(exe)
        .map_err(|e| Error::setup(format!("cannot find {}", exe.display()), Some(e)))?;
    let copy = Copy::locate(&source, uid);
    for path in [&copy.path, &copy.manifest] {
        match fs::remove_file(path) {
            Ok(()) => {}
            Err(error) if error.kind() == io::ErrorKind::NotFound => {}
            Err(error) => {
                return Err(Error::setup(
                    format!("cannot remove {}", path.display()),
                    Some(error),
                ));
            }
        }
    }
    Ok(copy)
}

/// The state of the copy of `exe` for user `uid`.
pub fn status(exe: &Path, uid: u32) -> Result<(Copy, Status), Error> {
    let source = fs::canonicalize(exe)
        .map_err(|e| Error::setup(format!("cannot find {}", exe.display()), Some(e)))?;
    let fingerprint = source_fingerprint(&source)?;
    let copy = Copy::locate(&source, uid);
    let status = copy
        .status_against(&fingerprint)
        .map_err(|e| Error::setup(format!("cannot read {}", copy.path.display()), Some(e)))?;
    Ok((copy, status))
}

fn source_fingerprint(source: &Path) -> Result<Fingerprint, Error> {
    let metadata = fs::metadata(source)
        .map_err(|e| Error::setup(format!("cannot read {}", source.display()), Some(e)))?;
    if !metadata.is_file() {
        return Err(Error::setup(
            format!("{} is not a regular file", source.display()),
            None,
        ));
    }
    Ok(Fingerprint::of(&metadata))
}

/// Makes `dir` exist as root's, mode 0755, refusing one that someone else could change.
pub(crate) fn root_directory(dir: &Path) -> Result<(), Error> {
    let fail = |e| Error::setup(format!("cannot create {}", dir.display()), Some(e));
    match DirBuilder::new().mode(0o755).create(dir) {
        Ok(()) => {}
        Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {}
        Err(error) => return Err(fail(error)),
    }
    let metadata = fs::symlink_metadata(dir).map_err(fail)?;
    if !metadata.is_dir() || metadata.uid() != 0 || metadata.mode() & 0o022 != 0 {
        return Err(Error::setup(
            format!(
                "{} must be a directory owned by root and writable by no one else; \
                 remove it and run install again",
                dir.display()
            ),
            None,
        ));
    }
    Ok(())
}

pub(crate) fn write_root_file(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let temporary = path.with_extension(format!("tmp-{}", std::process::id()));
    let result = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o644)
            .open(&temporary)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&temporary, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temporary);
    }
    result
}

/// FNV-1a, 64 bits: a short key for a path. Collisions only cost a "stale" refusal.
pub(crate) fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capability_value_is_setuid_setgid_effective() {
        assert_eq!(
            CAPABILITY_VALUE,
            [
                1, 0, 0, 2, 0xc0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
            ]
        );
    }

    #[test]
    fn acl_gives_exactly_one_user_read_and_execute() {
        let acl = copy_acl(1234);
        assert_eq!(acl.len(), 4 + 5 * 8);
        assert_eq!(&acl[..4], &[2, 0, 0, 0]);
        // The named-user entry: ACL_USER, r-x, uid 1234.
        assert_eq!(&acl[12..20], &[0x02, 0, 5, 0, 0xd2, 0x04, 0, 0]);
        // Others: nothing.
        assert_eq!(&acl[36..40], &[0x20, 0, 0, 0]);
    }

    #[test]
    fn copies_are_keyed_by_user_and_path() {
        let a = Copy::locate(Path::new("/srv/app/target/release/app"), 1000);
        let b = Copy::locate(Path::new("/srv/app/target/debug/app"), 1000);
        let c = Copy::locate(Path::new("/srv/app/target/release/app"), 1001);
        assert!(a.path.starts_with("/var/lib/boxed/1000/"));
        assert!(
            a.path
                .file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("app-")
        );
        assert_ne!(a.path, b.path);
        assert_ne!(a.path, c.path);
        assert_eq!(
            a.manifest,
            a.path.with_file_name(format!(
                "{}.manifest",
                a.path.file_name().unwrap().to_str().unwrap()
            ))
        );
    }
}
