//! Where the launcher lives, and how `boxed setup` installs it, `boxed setup --remove`
//! removes it and `boxed status` checks it.
//!
//! # Layout
//!
//! - [`LAUNCHER_DIR`] is root's, mode 0755.
//! - [`LAUNCHER`] is a copy of the `boxed` command that ran `boxed setup`: boxed's own
//!   code, never a user's. Owned by root, mode 0550, with an access control list that
//!   lets exactly the users and groups named at setup read and execute it, and the file
//!   capabilities `cap_setuid,cap_setgid+ep`.
//! - [`CONFIG`] (root, 0644) records who may run it, what its sandboxes may be besides
//!   `nobody` (`--sandbox-user`, `--unique-uids`), and a digest of the launcher, so that
//!   `boxed status` can say whether the installed launcher is intact and is the build of
//!   the `boxed` command asking.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use nix::unistd::{Group, User};
use serde::{Deserialize, Serialize};

use super::protection;
use crate::error::Error;
use crate::grants::Grants;

/// The directory that holds the launcher and its configuration.
pub const LAUNCHER_DIR: &str = "/usr/local/lib/boxed";
/// The launcher.
pub const LAUNCHER: &str = "/usr/local/lib/boxed/launcher";
/// What root decided at setup: who may run the launcher, and what their sandboxes may be.
pub const CONFIG: &str = "/usr/local/lib/boxed/launcher.json";

/// The mode of the launcher: `r-x` for root, the ACL mask `r-x` as group bits.
const LAUNCHER_MODE: u32 = 0o550;

/// What `boxed setup` recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Config {
    /// Users (uids) who may run the launcher.
    pub users: Vec<u32>,
    /// Groups (gids) whose members may run it.
    pub groups: Vec<u32>,
    /// What sandboxes started through it may be besides `nobody`.
    #[serde(flatten)]
    pub grants: Grants,
    /// The version of boxed that installed it.
    pub version: String,
    /// A digest of the launcher's bytes (FNV-1a, 64 bits, hexadecimal).
    pub digest: String,
}

impl Config {
    /// Whether a process with real uid `uid`, real gid `gid` and supplementary `groups`
    /// is one the launcher serves.
    pub fn allows(&self, uid: u32, gid: u32, groups: &[u32]) -> bool {
        uid != 0
            && (self.users.contains(&uid)
                || self.groups.contains(&gid)
                || groups.iter().any(|group| self.groups.contains(group)))
    }
}

/// The state of the launcher, as `boxed status` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// `boxed setup` has not been run (or was undone).
    Missing,
    /// Installed and intact, but made from another build of `boxed` than the one asking.
    Stale(Config),
    /// Present, but not owned and protected as `boxed setup` leaves it.
    Damaged(String),
    /// Installed, intact, and the build of the `boxed` command asking.
    Current(Config),
}

/// Whether the calling (unprivileged) user may run the launcher: one `access(2)`, so a
/// call costs no more than a look-up of the path.
pub(crate) fn usable() -> bool {
    nix::unistd::access(LAUNCHER, nix::unistd::AccessFlags::X_OK).is_ok()
}

/// The configuration, if root owns it and no one else can change it.
pub(crate) fn trusted_config() -> io::Result<Config> {
    let file = File::open(CONFIG)?;
    let metadata = file.metadata()?;
    if metadata.uid() != 0 || metadata.mode() & 0o022 != 0 || !metadata.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!("{CONFIG} is not a file written by root"),
        ));
    }
    serde_json::from_reader(io::BufReader::new(file))
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

fn digest_of(path: &Path) -> io::Result<String> {
    let mut bytes = Vec::new();
    File::open(path)?.read_to_end(&mut bytes)?;
    Ok(format!("{:016x}", protection::fnv1a64(&bytes)))
}

fn resolve_users(names: &[String]) -> Result<Vec<u32>, Error> {
    names
        .iter()
        .map(|name| {
            let uid = match name.parse::<u32>() {
                Ok(uid) => Some(uid),
                Err(_) => User::from_name(name).ok().flatten().map(|u| u.uid.as_raw()),
            };
            match uid {
                Some(0) => Err(Error::setup(
                    format!("--user {name} is root, which needs no launcher"),
                    None,
                )),
                Some(uid) => Ok(uid),
                None => Err(Error::setup(format!("no user named `{name}`"), None)),
            }
        })
        .collect()
}

fn resolve_groups(names: &[String]) -> Result<Vec<u32>, Error> {
    names
        .iter()
        .map(|name| {
            let gid = match name.parse::<u32>() {
                Ok(gid) => Some(gid),
                Err(_) => Group::from_name(name)
                    .ok()
                    .flatten()
                    .map(|g| g.gid.as_raw()),
            };
            match gid {
                Some(0) => Err(Error::setup(
                    format!("--group {name} is root's group; name its users instead"),
                    None,
                )),
                Some(gid) => Ok(gid),
                None => Err(Error::setup(format!("no group named `{name}`"), None)),
            }
        })
        .collect()
}

fn need_root(what: &str) -> Result<(), Error> {
    if nix::unistd::geteuid().is_root() {
        return Ok(());
    }
    Err(Error::setup(
        format!("{what} needs root: sudo \"$(command -v boxed)\" setup ..."),
        None,
    ))
}

/// Installs the launcher (or replaces it): a copy of the running `boxed` command, for
/// `users` and `groups` (names or numbers), whose sandboxes may also be `grants`. Must
/// run as root. Running it again with the same arguments leaves the same state.
pub fn setup(users: &[String], groups: &[String], grants: &Grants) -> Result<Config, Error> {
    need_root("installing the launcher")?;
    if users.is_empty() && groups.is_empty() {
        return Err(Error::setup(
            "name the users (--user USER) or groups (--group GROUP) who may run sandboxes",
            None,
        ));
    }
    let mut uids = resolve_users(users)?;
    let mut gids = resolve_groups(groups)?;
    uids.sort_unstable();
    uids.dedup();
    gids.sort_unstable();
    gids.dedup();
    for user in &grants.sandbox_users {
        match User::from_name(user) {
            Ok(Some(found)) if found.uid.as_raw() != 0 && !uids.contains(&found.uid.as_raw()) => {}
            _ => {
                return Err(Error::setup(
                    format!(
                        "--sandbox-user {user}: no such user, or it is root or one of the \
                         users the launcher serves"
                    ),
                    None,
                ));
            }
        }
    }
    let source = Path::new("/proc/self/exe");
    protection::root_directory(Path::new(LAUNCHER_DIR))?;
    let launcher = Path::new(LAUNCHER);
    let fail =
        |what: &str, error: io::Error| Error::setup(format!("{what} {LAUNCHER}"), Some(error));
    let temporary = Path::new(LAUNCHER_DIR).join(format!(".installing-{}", std::process::id()));
    let _ = fs::remove_file(&temporary);
    let write = || -> io::Result<String> {
        let mut output = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o000)
            .open(&temporary)?;
        io::copy(&mut File::open(source)?, &mut output)?;
        output.sync_all()?;
        // Owner and mode first: a change of owner removes file capabilities.
        std::os::unix::fs::fchown(&output, Some(0), Some(0))?;
        output.set_permissions(fs::Permissions::from_mode(LAUNCHER_MODE))?;
        xattr::set(
            &temporary,
            protection::ACL_XATTR,
            &protection::access_acl(&uids, &gids),
        )
        .map_err(|error| {
            io::Error::new(
                error.kind(),
                format!(
                    "setting its access control list failed ({error}); {LAUNCHER_DIR} \
                         must be on a file system with POSIX ACLs"
                ),
            )
        })?;
        xattr::set(
            &temporary,
            protection::CAPABILITY_XATTR,
            &protection::CAPABILITY_VALUE,
        )?;
        digest_of(&temporary)
    };
    let digest = match write() {
        Ok(digest) => digest,
        Err(error) => {
            let _ = fs::remove_file(&temporary);
            return Err(fail("cannot write", error));
        }
    };
    let config = Config {
        users: uids,
        groups: gids,
        grants: grants.clone(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        digest,
    };
    // The configuration first: a launcher without one serves nobody.
    protection::write_root_file(
        Path::new(CONFIG),
        &serde_json::to_vec_pretty(&config).expect("a configuration always encodes"),
    )
    .map_err(|e| Error::setup(format!("cannot write {CONFIG}"), Some(e)))?;
    if let Err(error) = fs::rename(&temporary, launcher) {
        let _ = fs::remove_file(&temporary);
        return Err(fail("cannot move into place", error));
    }
    Ok(config)
}

/// Removes the launcher and its configuration; `false` if there was none. Must run as
/// root.
pub fn remove() -> Result<bool, Error> {
    need_root("removing the launcher")?;
    let mut removed = false;
    // The launcher first: without it nothing runs, whatever the configuration says.
    for path in [LAUNCHER, CONFIG] {
        match fs::remove_file(path) {
            Ok(()) => removed = true,
            Err(error) if error.kind() == io::ErrorKind::NotFound => {}
            Err(error) => {
                return Err(Error::setup(format!("cannot remove {path}"), Some(error)));
            }
        }
    }
    Ok(removed)
}

/// Whether the launcher is installed, intact, and the build of the running `boxed`.
pub fn status() -> Result<Status, Error> {
    fn read_error(path: &'static str) -> impl Fn(io::Error) -> Error {
        move |e| Error::setup(format!("cannot read {path}"), Some(e))
    }
    let metadata = match fs::symlink_metadata(LAUNCHER) {
        Ok(metadata) => metadata,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(Status::Missing),
        Err(error) => return Err(read_error(LAUNCHER)(error)),
    };
    let config = match trusted_config() {
        Ok(config) => config,
        Err(error) if error.kind() == io::ErrorKind::NotFound => {
            return Ok(Status::Damaged(format!("{CONFIG} is missing")));
        }
        Err(error) => return Ok(Status::Damaged(error.to_string())),
    };
    if !metadata.file_type().is_file()
        || metadata.uid() != 0
        || metadata.mode() & 0o7777 != LAUNCHER_MODE
    {
        return Ok(Status::Damaged(format!(
            "the launcher has owner {} and mode {:o}, expected root and {LAUNCHER_MODE:o}",
            metadata.uid(),
            metadata.mode() & 0o7777
        )));
    }
    let launcher = Path::new(LAUNCHER);
    if xattr::get(launcher, protection::ACL_XATTR).map_err(read_error(LAUNCHER))?
        != Some(protection::access_acl(&config.users, &config.groups))
    {
        return Ok(Status::Damaged(
            "the launcher's access control list is not the one setup sets".into(),
        ));
    }
    if xattr::get(launcher, protection::CAPABILITY_XATTR).map_err(read_error(LAUNCHER))?
        != Some(protection::CAPABILITY_VALUE.to_vec())
    {
        return Ok(Status::Damaged(
            "the launcher does not carry exactly cap_setuid,cap_setgid+ep".into(),
        ));
    }
    // Only root and the users it serves may read it; anyone else learns it is there.
    let installed = match digest_of(launcher) {
        Ok(digest) => digest,
        Err(error) if error.kind() == io::ErrorKind::PermissionDenied => config.digest.clone(),
        Err(error) => return Err(read_error(LAUNCHER)(error)),
    };
    if installed != config.digest {
        return Ok(Status::Damaged(
            "the launcher is not the file setup installed".into(),
        ));
    }
    let running = digest_of(Path::new("/proc/self/exe")).map_err(read_error("/proc/self/exe"))?;
    Ok(if running == config.digest {
        Status::Current(config)
    } else {
        Status::Stale(config)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(users: &[u32], groups: &[u32]) -> Config {
        Config {
            users: users.to_vec(),
            groups: groups.to_vec(),
            grants: Grants::default(),
            version: "0".into(),
            digest: "0".into(),
        }
    }

    #[test]
    fn the_launcher_serves_its_users_and_the_members_of_its_groups_only() {
        let config = config(&[1000], &[2000]);
        assert!(config.allows(1000, 1000, &[]));
        assert!(config.allows(1001, 2000, &[]));
        assert!(config.allows(1001, 1001, &[3000, 2000]));
        assert!(!config.allows(1001, 1001, &[3000]));
        // Root is never served: a root caller needs no launcher.
        assert!(!config.allows(0, 2000, &[2000]));
    }

    #[test]
    fn its_access_list_names_each_user_and_group_once_in_order() {
        let acl = protection::access_acl(&[1002, 1001, 1002], &[3000]);
        // Version, owner, two users, owning group, one group, mask, others.
        assert_eq!(acl.len(), 4 + 7 * 8);
        let entry = |i: usize| &acl[4 + 8 * i..4 + 8 * (i + 1)];
        assert_eq!(entry(1), [0x02, 0, 5, 0, 0xe9, 0x03, 0, 0]); // user 1001 r-x
        assert_eq!(entry(2), [0x02, 0, 5, 0, 0xea, 0x03, 0, 0]); // user 1002 r-x
        assert_eq!(entry(4), [0x08, 0, 5, 0, 0xb8, 0x0b, 0, 0]); // group 3000 r-x
        assert_eq!(entry(6), [0x20, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]); // others ---
    }
}
