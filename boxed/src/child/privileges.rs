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

/// `nobody` and its primary group, read from `/etc/passwd` without NSS modules.
pub(crate) fn sandbox_identity() -> Step<Identity> {
    let passwd = step("reading /etc/passwd", fs::read_to_string("/etc/passwd"))?;
    let fields: Vec<&str> = passwd
        .lines()
        .find(|line| line.starts_with("nobody:"))
        .ok_or("/etc/passwd has no user `nobody`")?
        .split(':')
        .collect();
    let number = |index: usize| -> Step<u32> {
        fields
            .get(index)
            .and_then(|field| field.parse().ok())
            .ok_or_else(|| "the `nobody` line of /etc/passwd is malformed".to_string())
    };
    let (uid, gid) = (number(2)?, number(3)?);
    if uid == 0 || gid == 0 {
        return Err("`nobody` has uid or gid 0 in /etc/passwd".into());
    }
    Ok(Identity {
        uid: Uid::from_raw(uid),
        gid: Gid::from_raw(gid),
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

/// Drops the sandbox, a child of the supervisor: every uid to nobody's, dies with the
/// supervisor, new session, then verifies the complete state before anything else runs.
pub(crate) fn drop_sandbox(identity: Identity, caller: Uid, supervisor: Pid) -> Step {
    step(
        "setresuid(nobody)",
        unistd::setresuid(identity.uid, identity.uid, identity.uid),
    )?;
    clear_capabilities()?;
    common_restrictions()?;
    // Set after the uid change, which resets it; then make sure the supervisor did not
    // die before it was set.
    step("PR_SET_PDEATHSIG", prctl::set_pdeathsig(Signal::SIGKILL))?;
    if unistd::getppid() != supervisor {
        return Err("the supervisor died before the sandbox was ready".into());
    }
    step("setsid", unistd::setsid())?;
    verify_sandbox(identity, caller)
}

/// For a copy started directly: all the way down to nobody, in one process.
pub(crate) fn drop_completely() -> Step {
    let identity = sandbox_identity()?;
    let caller = unistd::getuid();
    drop_supervisor(identity)?;
    step(
        "setresuid(nobody)",
        unistd::setresuid(identity.uid, identity.uid, identity.uid),
    )?;
    clear_capabilities()?;
    verify_sandbox(identity, caller)
}

fn clear_capabilities() -> Step {
    step(
        "clearing ambient capabilities",
        caps::clear(None, CapSet::Ambient),
    )?;
    for set in [CapSet::Effective, CapSet::Inheritable, CapSet::Permitted] {
        step(
            &format!("clearing {set:?} capabilities"),
            caps::clear(None, set),
        )?;
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
    let groups = step("getgroups", unistd::getgroups())?;
    if !groups.is_empty() {
        return Err(format!(
            "supplementary groups {groups:?} remain after the drop"
        ));
    }
    Ok(())
}

fn verify_no_capabilities() -> Step {
    for set in [
        CapSet::Effective,
        CapSet::Permitted,
        CapSet::Inheritable,
        CapSet::Ambient,
    ] {
        let held = step(
            &format!("reading {set:?} capabilities"),
            caps::read(None, set),
        )?;
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
    let status = step(
        "reading /proc/self/status",
        fs::read_to_string("/proc/self/status"),
    )?;
    let threads = status
        .lines()
        .find_map(|line| line.strip_prefix("Threads:"))
        .map(str::trim);
    match threads {
        Some("1") => Ok(()),
        Some(count) => Err(format!(
            "{count} threads are running before the privilege drop; expected one"
        )),
        None => Err("/proc/self/status has no thread count".into()),
    }
}
