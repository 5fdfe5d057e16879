//! The sandbox's identity: `nobody` by default, another user only if root allowed it for
//! the copy, or a uid of its own per sandbox. `tests/run.sh` installs this binary's copy
//! with `--sandbox-user $BOXED_E2E_OTHER --unique-uids`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use boxed::{ErrorKind, Policy, sandboxed};
use boxed_tests::e2e;

/// The first uid of the unique range, as the README documents it.
const UNIQUE_UID_BASE: u32 = 2_000_000_000;
/// The kernel's largest possible pid.
const PID_MAX: u32 = 4_194_304;

#[sandboxed]
fn ids() -> (u32, u32) {
    (
        nix::unistd::getuid().as_raw(),
        nix::unistd::getgid().as_raw(),
    )
}

/// Writes its uid to `rendezvous/<uid>` (mode 0600 under the sandbox's umask), waits
/// until `expected` sandboxes did, then tries to read every other one's file.
#[sandboxed(unique_uid = true)]
fn meet(rendezvous: PathBuf, expected: usize) -> (u32, Vec<String>) {
    let uid = nix::unistd::getuid().as_raw();
    std::fs::write(rendezvous.join(uid.to_string()), b"secret of one sandbox").unwrap();
    let mut names = Vec::new();
    for _ in 0..500 {
        names = std::fs::read_dir(&rendezvous)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .collect();
        if names.len() >= expected {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let reads = names
        .iter()
        .filter(|name| **name != uid.to_string())
        .map(|name| match std::fs::read(rendezvous.join(name)) {
            Ok(_) => format!("{name}: read"),
            Err(error) => format!("{name}: {:?}", error.kind()),
        })
        .collect();
    (uid, reads)
}

fn rendezvous(work: &Path, name: &str) -> PathBuf {
    let dir = work.join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir(&dir).unwrap();
    // Writable for any uid, so that only the sandboxes' own identities keep them apart.
    std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    dir
}

#[test]
fn sandboxes_running_at_once_get_distinct_uids_and_cannot_read_each_others_files() {
    let env = e2e();
    let dir = rendezvous(&env.work, "unique-uids");
    let policy = Policy::new().unique_uid(true).write(&dir);
    let results: Vec<(u32, Vec<String>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..3)
            .map(|_| scope.spawn(|| policy.run(|| meet(dir.clone(), 3))))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut uids: Vec<u32> = results.iter().map(|(uid, _)| *uid).collect();
    for uid in &uids {
        assert!(
            (UNIQUE_UID_BASE..UNIQUE_UID_BASE + PID_MAX).contains(uid),
            "{uid} is outside the unique range"
        );
    }
    uids.sort();
    uids.dedup();
    assert_eq!(
        uids.len(),
        3,
        "three sandboxes at once shared a uid: {results:?}"
    );
    for (uid, reads) in &results {
        assert_eq!(
            reads.len(),
            2,
            "sandbox {uid} did not see the others: {reads:?}"
        );
        for read in reads {
            assert!(read.ends_with("PermissionDenied"), "sandbox {uid}: {read}");
        }
    }
    // The caller owns the directory, not the files: they were made by other uids.
    for name in std::fs::read_dir(&dir).unwrap() {
        let owner = std::os::unix::fs::MetadataExt::uid(&name.unwrap().metadata().unwrap());
        assert!(owner >= UNIQUE_UID_BASE);
    }
}

#[test]
fn without_unique_uids_sandboxes_share_nobody() {
    e2e();
    assert_eq!(ids(), (65534, 65534));
    let unique = Policy::new().unique_uid(true).run(ids);
    assert!(unique.0 >= UNIQUE_UID_BASE, "{unique:?}");
    assert_eq!(unique.0, unique.1, "the unique gid follows the uid");
}

#[test]
fn a_user_root_allowed_can_be_the_sandbox_identity() {
    e2e();
    let other = std::env::var("BOXED_E2E_OTHER").expect("BOXED_E2E_OTHER: run with tests/run.sh");
    let expected = nix::unistd::User::from_name(&other)
        .unwrap()
        .expect("the other user");
    assert_eq!(
        Policy::new().user(other.as_str()).run(ids),
        (expected.uid.as_raw(), expected.gid.as_raw())
    );
}

#[test]
fn users_root_did_not_allow_are_refused_before_anything_runs() {
    e2e();
    let me = nix::unistd::User::from_uid(nix::unistd::getuid())
        .unwrap()
        .unwrap();
    for (user, says) in [
        ("root", "which is root".to_string()),
        ("daemon", "--sandbox-user daemon".to_string()),
        (me.name.as_str(), "the caller's own uid".to_string()),
    ] {
        let error = Policy::new()
            .user(user)
            .run(|| boxed::try_call(ids))
            .unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Privileges, "{user}: {error}");
        assert!(error.to_string().contains(&says), "{user}: {error}");
    }
}
