//! The privilege drop and its verification.
//!
//! The supervisor (the process the caller started) and the sandbox (its child, which
//! runs the function) end up with different identities:
//!
//! | | supervisor | sandbox |
//! |---|---|---|
//! | groups | none | none |
//! | real, effective, saved gid | nobody's ×3 | nobody's ×3 |
//! | real, effective, saved uid | caller, nobody, caller | nobody ×3 |
//! | capabilities (all sets, ambient) | none | none |
//! | no_new_privs, non-dumpable | yes | yes |
//!
//! The supervisor runs no user code. It keeps the caller's uid as real and saved uid so
//! that the caller may signal it and the sandbox may not, and takes nobody's uid as
//! effective uid so that it may kill the sandbox and everything the sandbox started. The
//! sandbox has no way back to root or to the caller: every id is nobody's and it holds no
//! capability. Every step is checked, and the whole state is verified afterwards; any
//! mismatch stops the child before it reads the request.

use std::fs;

use caps::CapSet;
use nix::sys::prctl;
use nix::sys::resource::{Resource, setrlimit};
use nix::sys::signal::Signal;
use nix::sys::stat::{Mode, umask};
use nix::unistd::{self, Gid, Pid, Uid};

use crate::Policy;
use crate::grants::Grants;

/// The identity the sandbox runs as.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Identity {
    pub uid: Uid,
    pub gid: Gid,
}

type Step<T = ()> = Result<T, String>;

fn step<T, E: std::fmt::Display>(what: &str, result: Result<T, E>) -> Step<T> {
    result.map_err(|error| format!("{what} failed: {error}"))
}

/// The first uid (and gid) of unique sandbox identities: a sandbox with `unique_uid`
/// runs as this plus its supervisor's pid, which no other live process has, so no two
/// live sandboxes share a uid. The range, up to this plus the kernel's largest pid
/// (4194304), is meant to own no file and no process but sandboxes.
pub const UNIQUE_UID_BASE: u32 = 2_000_000_000;

/// Who the sandbox runs as: `nobody`, another user root allowed, or a uid of its own.
/// Decided by the supervisor while it is still privileged, from the policy and from
/// what root recorded: `launcher_grants` for the launcher (from its configuration); a
/// root caller may choose freely, and nothing else may choose.
pub(crate) fn sandbox_identity(
    policy: &Policy,
    caller: Uid,
    launcher_grants: Option<&Grants>,
) -> Step<Identity> {
    let grants = || -> Step<Grants> {
        if let Some(grants) = launcher_grants {
            return Ok(grants.clone());
        }
        if caller.is_root() {
            return Ok(Grants {
                sandbox_users: Vec::new(),
                unique_uids: true,
            });
        }
        // Only root or the launcher can have started a supervisor that may drop.
        Err(
            "nothing grants this supervisor an identity: it was started neither by root \
             nor by the launcher"
                .into(),
        )
    };
    let passwd = || step("reading /etc/passwd", fs::read_to_string("/etc/passwd"));
    choose_identity(
        policy,
        caller,
        unistd::getpid().as_raw() as u32,
        grants,
        |name| user_in_passwd(&passwd()?, name),
    )
}

/// The decision of [`sandbox_identity`], with what it reads handed in: `grants` what
/// root allowed, `lookup` a user's ids, `pid` the supervisor's.
fn choose_identity(
    policy: &Policy,
    caller: Uid,
    pid: u32,
    grants: impl Fn() -> Step<Grants>,
    lookup: impl Fn(&str) -> Step<Identity>,
) -> Step<Identity> {
    let identity = if policy.unique_uid {
        if !grants()?.unique_uids {
            return Err(
                "the policy asks for a unique uid, which root has not allowed; run \
                 `boxed setup` with --unique-uids"
                    .into(),
            );
        }
        let uid = UNIQUE_UID_BASE + pid;
        Identity {
            uid: Uid::from_raw(uid),
            gid: Gid::from_raw(uid),
        }
    } else {
        let name = policy.user.as_deref().unwrap_or("nobody");
        let identity = lookup(name)?;
        if identity.uid.is_root() {
            return Err(format!(
                "the policy asks for the user `{name}`, which is root"
            ));
        }
        if identity.uid == caller {
            return Err(format!(
                "the policy asks for the user `{name}`, which is the caller's own uid"
            ));
        }
        if name != "nobody"
            && !caller.is_root()
            && !grants()?.sandbox_users.iter().any(|u| u == name)
        {
            return Err(format!(
                "the policy asks for the user `{name}`, which root has not allowed; run \
                 `boxed setup` with --sandbox-user {name}"
            ));
        }
        identity
    };
    if identity.uid.is_root() || identity.gid.as_raw() == 0 {
        return Err("the sandbox identity has uid or gid 0".into());
    }
    if identity.uid == caller {
        return Err("the sandbox identity is the caller's own uid".into());
    }
    Ok(identity)
}

/// A user and its primary group, from the text of `/etc/passwd` (read directly,
/// without NSS modules).
fn user_in_passwd(passwd: &str, name: &str) -> Step<Identity> {
    let fields: Vec<&str> = passwd
        .lines()
        .map(|line| line.split(':').collect::<Vec<_>>())
        .find(|fields| fields.first() == Some(&name))
        .ok_or_else(|| format!("/etc/passwd has no user `{name}`"))?;
    let number = |index: usize| -> Step<u32> {
        fields
            .get(index)
            .and_then(|field| field.parse().ok())
            .ok_or_else(|| format!("the `{name}` line of /etc/passwd is malformed"))
    };
    Ok(Identity {
        uid: Uid::from_raw(number(2)?),
        gid: Gid::from_raw(number(3)?),
    })
}

/// Drops the supervisor: groups and gids to nobody's, uids to (caller, nobody, caller),
/// no capability, no_new_privs, not dumpable. Then verifies that state.
pub(crate) fn drop_supervisor(identity: Identity) -> Step {
    single_threaded()?;
    let caller = unistd::getuid();
    if caps::has_cap(None, CapSet::Effective, caps::Capability::CAP_SETPCAP).unwrap_or(false) {
        // Only a root caller gets here with CAP_SETPCAP; empty the bounding set too.
        for capability in caps::all() {
            step(
                "dropping the bounding set",
                caps::drop(None, CapSet::Bounding, capability),
            )?;
        }
    }
    step("setgroups([])", unistd::setgroups(&[]))?;
    step(
        "setresgid(nobody)",
        unistd::setresgid(identity.gid, identity.gid, identity.gid),
    )?;
    step(
        "setresuid(caller, nobody, caller)",
        unistd::setresuid(caller, identity.uid, caller),
    )?;
    clear_capabilities()?;
    common_restrictions()?;

    let uids = step("getresuid", unistd::getresuid())?;
    if (uids.real, uids.effective, uids.saved) != (caller, identity.uid, caller) {
        return Err(format!("supervisor uids are {uids:?} after the drop"));
    }
    verify_groups(identity)?;
    verify_no_capabilities()
}

/// Where a sandbox's processes are told apart from everything else.
#[derive(Clone, Copy)]
pub(crate) enum Grouping {
    /// A session of its own (a sandbox forked by a supervisor).
    NewSession,
    /// A process group of its own, in its zygote's session (which the zygote made for
    /// itself: no controlling terminal): a new session costs the scheduler a new
    /// autogroup, at every call.
    NewGroup,
}

/// Drops the sandbox, a child of the supervisor: every uid to nobody's, then verifies
/// the complete state before anything else runs.
pub(crate) fn drop_sandbox(identity: Identity, caller: Uid) -> Step {
    step(
        "setresuid(nobody)",
        unistd::setresuid(identity.uid, identity.uid, identity.uid),
    )?;
    clear_capabilities()?;
    common_restrictions()?;
    verify_sandbox(identity, caller)
}

/// Right after [`drop_sandbox`]: makes the sandbox die with its supervisor, and puts it
/// in a session or process group of its own. Not part of the drop, so its failures are
/// not privilege failures.
pub(crate) fn tie_to_supervisor(supervisor: Pid, grouping: Grouping) -> Step {
    // Set after the uid change, which resets it; then make sure the supervisor did not
    // die before it was set.
    step("PR_SET_PDEATHSIG", prctl::set_pdeathsig(Signal::SIGKILL))?;
    if unistd::getppid() != supervisor {
        return Err("the supervisor died before the sandbox was ready".into());
    }
    match grouping {
        Grouping::NewSession => step("setsid", unistd::setsid().map(drop))?,
        Grouping::NewGroup => step(
            "setpgid(0, 0)",
            unistd::setpgid(Pid::from_raw(0), Pid::from_raw(0)),
        )?,
    }
    Ok(())
}

/// For the launcher started directly: all the way down to nobody, in one process.
pub(crate) fn drop_completely() -> Step {
    let caller = unistd::getuid();
    let identity = sandbox_identity(&Policy::new(), caller, None)?;
    drop_supervisor(identity)?;
    step(
        "setresuid(nobody)",
        unistd::setresuid(identity.uid, identity.uid, identity.uid),
    )?;
    clear_capabilities()?;
    verify_sandbox(identity, caller)
}

/// Whether this process holds any capability in its permitted or effective set (one
/// read with `capget`). A failed read counts as holding one: the caller then refuses.
pub(crate) fn holds_capabilities() -> bool {
    [CapSet::Permitted, CapSet::Effective]
        .into_iter()
        .any(|set| caps::read(None, set).map_or(true, |held| !held.is_empty()))
}

/// Whether all three uids are root's.
pub(crate) fn is_root() -> bool {
    unistd::getresuid()
        .is_ok_and(|uids| uids.real.is_root() && uids.effective.is_root() && uids.saved.is_root())
}

fn clear_capabilities() -> Step {
    step(
        "clearing ambient capabilities",
        caps::clear(None, CapSet::Ambient),
    )?;
    for (set, what) in [
        (CapSet::Effective, "clearing effective capabilities"),
        (CapSet::Inheritable, "clearing inheritable capabilities"),
        (CapSet::Permitted, "clearing permitted capabilities"),
    ] {
        step(what, caps::clear(None, set))?;
    }
    Ok(())
}

fn common_restrictions() -> Step {
    step("PR_SET_NO_NEW_PRIVS", prctl::set_no_new_privs())?;
    step("PR_SET_DUMPABLE 0", prctl::set_dumpable(false))?;
    step("RLIMIT_CORE 0", setrlimit(Resource::RLIMIT_CORE, 0, 0))?;
    step("chdir /", unistd::chdir("/"))?;
    umask(Mode::from_bits_truncate(0o077));
    Ok(())
}

/// For an image the launcher started: checks that it runs as the launcher leaves it
/// (one identity, not root, in every uid and gid, no groups, no capability,
/// `no_new_privs`), after making itself non-dumpable again (an exec resets that).
pub(crate) fn verify_launched() -> Step {
    step("PR_SET_DUMPABLE 0", prctl::set_dumpable(false))?;
    let uids = step("getresuid", unistd::getresuid())?;
    let gids = step("getresgid", unistd::getresgid())?;
    let identity = Identity {
        uid: uids.real,
        gid: gids.real,
    };
    if identity.uid.is_root() || identity.gid.as_raw() == 0 {
        return Err("the launched image runs as root".into());
    }
    verify_sandbox(identity, identity.uid)
}

/// For an image the launcher executed as a zygote: the supervisor's uids as an exec
/// leaves them (the caller's as real uid, the sandbox identity as effective and saved
/// uid, not root), the identity's gid in all three, no groups, no capability,
/// `no_new_privs`, not dumpable. Returns the sandbox identity.
pub(crate) fn verify_launched_zygote() -> Step<Identity> {
    step("PR_SET_DUMPABLE 0", prctl::set_dumpable(false))?;
    let uids = step("getresuid", unistd::getresuid())?;
    let gids = step("getresgid", unistd::getresgid())?;
    let identity = Identity {
        uid: uids.effective,
        gid: gids.effective,
    };
    if identity.uid.is_root() || identity.gid.as_raw() == 0 || uids.real.is_root() {
        return Err(format!("the zygote's ids are {uids:?} and {gids:?}"));
    }
    if uids.saved != identity.uid || uids.real == identity.uid {
        return Err(format!("the zygote's uids are {uids:?}"));
    }
    verify_groups(identity)?;
    verify_no_capabilities()?;
    if !step("PR_GET_NO_NEW_PRIVS", prctl::get_no_new_privs())? {
        return Err("no_new_privs is not set".into());
    }
    if unistd::setuid(Uid::from_raw(0)).is_ok() {
        return Err("setuid(0) succeeded".into());
    }
    Ok(identity)
}

/// Everything the sandbox must be before it may read the request.
fn verify_sandbox(identity: Identity, caller: Uid) -> Step {
    let uids = step("getresuid", unistd::getresuid())?;
    if [uids.real, uids.effective, uids.saved] != [identity.uid; 3] {
        return Err(format!("sandbox uids are {uids:?} after the drop"));
    }
    verify_groups(identity)?;
    verify_no_capabilities()?;
    if !step("PR_GET_NO_NEW_PRIVS", prctl::get_no_new_privs())? {
        return Err("no_new_privs is not set".into());
    }
    if step("PR_GET_DUMPABLE", prctl::get_dumpable())? {
        return Err("the sandbox is still dumpable".into());
    }
    for target in [Uid::from_raw(0), caller] {
        if target != identity.uid && unistd::setresuid(target, target, target).is_ok() {
            return Err(format!("setresuid({target}) succeeded after the drop"));
        }
    }
    if unistd::setuid(Uid::from_raw(0)).is_ok() {
        return Err("setuid(0) succeeded after the drop".into());
    }
    if unistd::setresgid(Gid::from_raw(0), Gid::from_raw(0), Gid::from_raw(0)).is_ok() {
        return Err("setresgid(0) succeeded after the drop".into());
    }
    Ok(())
}

fn verify_groups(identity: Identity) -> Step {
    let gids = step("getresgid", unistd::getresgid())?;
    if [gids.real, gids.effective, gids.saved] != [identity.gid; 3] {
        return Err(format!("gids are {gids:?} after the drop"));
    }
    // Counted, not listed: listing asks glibc for the system's largest group count,
    // which it reads from /proc.
    match step("getgroups", crate::sys::supplementary_group_count())? {
        0 => Ok(()),
        count => Err(format!(
            "{count} supplementary groups remain after the drop: {:?}",
            unistd::getgroups().unwrap_or_default()
        )),
    }
}

/// The effective, permitted and inheritable sets, one `capget` each. The ambient set is
/// not read (that takes one `prctl` per capability): the kernel keeps it a subset of
/// permitted and inheritable (capabilities(7)), so with both empty it is empty too.
fn verify_no_capabilities() -> Step {
    for (set, what) in [
        (CapSet::Effective, "reading effective capabilities"),
        (CapSet::Permitted, "reading permitted capabilities"),
        (CapSet::Inheritable, "reading inheritable capabilities"),
    ] {
        let held = step(what, caps::read(None, set))?;
        if !held.is_empty() {
            return Err(format!(
                "{set:?} capabilities {held:?} remain after the drop"
            ));
        }
    }
    Ok(())
}

/// A process with several threads cannot change its credentials atomically.
fn single_threaded() -> Step {
    // Field 20 of /proc/self/stat, cheaper for the kernel to produce than status.
    match super::tree::stat_fields("self").and_then(|fields| fields.get(16).copied()) {
        Some(1) => Ok(()),
        Some(count) => Err(format!(
            "{count} threads are running before the privilege drop; expected one"
        )),
        None => Err("/proc/self/stat has no thread count".into()),
    }
}

#[cfg(test)]
mod tests {
    //! The identity a sandbox gets, decided without reading anything of the machine.
    use super::*;

    const PASSWD: &str = "root:x:0:0::/root:/bin/sh\n\
                          nobody:x:65534:65534::/nonexistent:/usr/sbin/nologin\n\
                          ann:x:1000:1000::/home/ann:/bin/sh\n\
                          eve:x:1001:1001::/home/eve:/bin/sh\n\
                          odd:x:zz:1002::/:/bin/sh\n";

    fn choose(policy: &Policy, caller: u32, grants: Grants) -> Step<Identity> {
        choose_identity(
            policy,
            Uid::from_raw(caller),
            77,
            || Ok(grants.clone()),
            |name| user_in_passwd(PASSWD, name),
        )
    }

    fn uid(result: Step<Identity>) -> Result<u32, String> {
        result.map(|identity| identity.uid.as_raw())
    }

    #[test]
    fn the_default_is_nobody_for_any_caller() {
        assert_eq!(
            uid(choose(&Policy::new(), 1000, Grants::default())),
            Ok(65534)
        );
        assert_eq!(uid(choose(&Policy::new(), 0, Grants::default())), Ok(65534));
    }

    #[test]
    fn another_user_only_if_root_allowed_it_and_never_root_or_the_caller() {
        let eve = Policy::new().user("eve");
        let allowed = Grants {
            sandbox_users: vec!["eve".into()],
            unique_uids: false,
        };
        assert_eq!(uid(choose(&eve, 1000, allowed.clone())), Ok(1001));
        let refused = choose(&eve, 1000, Grants::default()).unwrap_err();
        assert!(refused.contains("--sandbox-user eve"), "{refused}");
        // A root caller may choose freely.
        assert_eq!(uid(choose(&eve, 0, Grants::default())), Ok(1001));
        // Never root, never the caller itself, even when "allowed".
        let root = choose(&Policy::new().user("root"), 0, Grants::default()).unwrap_err();
        assert!(root.contains("which is root"), "{root}");
        let own = choose(&eve, 1001, allowed).unwrap_err();
        assert!(own.contains("caller's own uid"), "{own}");
        let missing = choose(&Policy::new().user("zed"), 0, Grants::default()).unwrap_err();
        assert!(missing.contains("no user `zed`"), "{missing}");
        let malformed = choose(&Policy::new().user("odd"), 0, Grants::default()).unwrap_err();
        assert!(malformed.contains("malformed"), "{malformed}");
    }

    #[test]
    fn a_unique_uid_is_the_base_plus_the_supervisors_pid_when_allowed() {
        let unique = Policy::new().unique_uid(true);
        let allowed = Grants {
            sandbox_users: Vec::new(),
            unique_uids: true,
        };
        let identity = choose(&unique, 1000, allowed).unwrap();
        assert_eq!(identity.uid.as_raw(), UNIQUE_UID_BASE + 77);
        assert_eq!(identity.gid.as_raw(), UNIQUE_UID_BASE + 77);
        let refused = choose(&unique, 1000, Grants::default()).unwrap_err();
        assert!(refused.contains("--unique-uids"), "{refused}");
    }
}
