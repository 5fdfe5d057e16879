//! What a caller that the launcher does not serve is told: why no sandbox can start, and
//! the one `boxed setup` command, as root, that fixes it.
//!
//! Only read on that failure, never on a call that starts.

use std::path::{Path, PathBuf};

use nix::unistd::{Gid, Group, Uid, User};

use super::install::{CONFIG, Config, LAUNCHER, trusted_config};

/// Why the launcher does not serve the calling user, and the command that makes it.
pub(crate) struct Advice {
    /// The calling user's name (or uid).
    pub user: String,
    /// What is wrong, as a clause: "is not installed", "serves other users only", ...
    pub why: String,
    /// The whole `sudo /path/to/boxed setup ...` command line.
    pub command: String,
}

/// The advice for the calling process's real user.
pub(crate) fn for_caller() -> Advice {
    let uid = nix::unistd::getuid();
    let user = user_name(uid.as_raw());
    let boxed = boxed_command().map_or_else(
        || "\"$(command -v boxed)\"".to_string(),
        |path| path.display().to_string(),
    );
    let (why, config) = match trusted_config() {
        Ok(config) => (
            "is installed, but not for this user".to_string(),
            Some(config),
        ),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound && !exists(LAUNCHER) => {
            ("is not installed".to_string(), None)
        }
        Err(error) => (
            format!("cannot be trusted or read ({CONFIG}: {error})"),
            None,
        ),
    };
    Advice {
        command: setup_command(&boxed, &user, config.as_ref()),
        user,
        why,
    }
}

fn exists(path: &str) -> bool {
    Path::new(path).symlink_metadata().is_ok()
}

/// `sudo BOXED setup --user USER`, keeping the users, groups and grants an installed
/// launcher already has (a setup replaces the list).
fn setup_command(boxed: &str, user: &str, config: Option<&Config>) -> String {
    let mut command = format!("sudo {boxed} setup");
    if let Some(config) = config {
        for uid in &config.users {
            command += &format!(" --user {}", user_name(*uid));
        }
        for gid in &config.groups {
            let name = Group::from_gid(Gid::from_raw(*gid))
                .ok()
                .flatten()
                .map_or_else(|| gid.to_string(), |group| group.name);
            command += &format!(" --group {name}");
        }
        for name in &config.grants.sandbox_users {
            command += &format!(" --sandbox-user {name}");
        }
        if config.grants.unique_uids {
            command += " --unique-uids";
        }
    }
    command + &format!(" --user {user}")
}

fn user_name(uid: u32) -> String {
    User::from_uid(Uid::from_raw(uid))
        .ok()
        .flatten()
        .map_or_else(|| uid.to_string(), |user| user.name)
}

/// The full path of the `boxed` command on `PATH`, if there is one: `sudo` looks
/// commands up in its own `secure_path`, which rarely holds `~/.cargo/bin`.
fn boxed_command() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .filter(|dir| dir.is_absolute())
        .map(|dir| dir.join("boxed"))
        .find(|candidate| {
            nix::unistd::access(candidate, nix::unistd::AccessFlags::X_OK).is_ok()
                && candidate.is_file()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_adds_the_caller_to_what_is_installed() {
        assert_eq!(
            setup_command("/usr/bin/boxed", "ann", None),
            "sudo /usr/bin/boxed setup --user ann"
        );
        let config = Config {
            users: vec![4_000_000_001],
            groups: vec![4_000_000_002],
            grants: crate::grants::Grants {
                sandbox_users: vec!["eve".into()],
                unique_uids: true,
            },
            version: "0".into(),
            digest: "0".into(),
        };
        assert_eq!(
            setup_command("/usr/bin/boxed", "ann", Some(&config)),
            "sudo /usr/bin/boxed setup --user 4000000001 --group 4000000002 \
             --sandbox-user eve --unique-uids --user ann"
        );
    }
}
