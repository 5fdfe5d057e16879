//! How the launcher's files are protected: the access control list that names who may
//! run it, its file capabilities, and root-owned directories and files written whole.

use std::fs::{self, DirBuilder, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::Path;

use crate::error::Error;

/// The extended attribute that holds file capabilities.
pub(crate) const CAPABILITY_XATTR: &str = "security.capability";

/// The extended attribute that holds a file's access control list.
pub(crate) const ACL_XATTR: &str = "system.posix_acl_access";

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
                 remove it and run `boxed setup` again",
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

/// FNV-1a, 64 bits: the launcher's digest, which `boxed status` compares to tell an
/// installed launcher from another build; not a defence against a forger (only root
/// can write the launcher).
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
        let acl = access_acl(&[1234], &[]);
        assert_eq!(acl.len(), 4 + 5 * 8);
        assert_eq!(&acl[..4], &[2, 0, 0, 0]);
        // The named-user entry: ACL_USER, r-x, uid 1234.
        assert_eq!(&acl[12..20], &[0x02, 0, 5, 0, 0xd2, 0x04, 0, 0]);
        // Others: nothing.
        assert_eq!(&acl[36..40], &[0x20, 0, 0, 0]);
    }
}
