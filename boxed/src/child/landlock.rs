//! File-system confinement and scoping with Landlock.
//!
//! By default the sandbox may read nothing but a few entries of its own `/proc/self`
//! (see [`PROC_SELF_FILES`] and [`PROC_SELF_LISTS`]) and `/dev/null`, `/dev/zero`,
//! `/dev/urandom`, and write nothing but `/dev/null`; the policy's `read` and `write`
//! trees are added to that. Without network access, TCP bind and connect
//! are handled (and so denied) too. The sandbox is scoped: it cannot connect to an
//! abstract unix socket created outside it, nor signal a process outside it (another
//! sandbox included).
//!
//! With [`Enforcement::Require`], a kernel that cannot enforce all of this (Landlock
//! missing, or older than ABI 6) makes the call fail with
//! [`Failure::Unsupported`]; with [`Enforcement::BestEffort`] it enforces what it can.

use landlock::{
    ABI, Access, AccessFs, AccessNet, CompatLevel, Compatible, PathBeneath, PathFd, Ruleset,
    RulesetAttr, RulesetCreatedAttr, RulesetStatus, Scope,
};

use crate::policy::{Enforcement, Policy};
use crate::wire::{Failure, Step};

/// The ABI whose features the sandbox uses: file system, TCP and scoping rules.
const TARGET: ABI = ABI::V6;

/// What the runtime itself grants: read-only, then read-write.
const BASE_READ: &[&str] = &["/dev/zero", "/dev/urandom"];
const BASE_WRITE: &[&str] = &["/dev/null"];

/// The files of its own `/proc/self` the sandbox may read: its own state, limits and
/// memory use. Neither the runtime nor the standard library needs more once the
/// sandbox is confined (`available_parallelism` reads `cgroup` and `mountinfo`, and
/// without them counts the CPUs it may run on; `current_exe` reads the `exe` link,
/// which Landlock does not judge; the stack guard's and a backtrace's reads of `maps`
/// happen in `main`'s start-up, which a sandbox never runs, or with `RUST_BACKTRACE`,
/// which its environment lacks). Everything else of `/proc/self` (`net`, `mountinfo`,
/// `mounts`, `cgroup`, `maps`, `environ`, `root`, the files of `task/*`, ...) is refused.
pub(crate) const PROC_SELF_FILES: &[&str] = &["stat", "statm", "status", "limits", "oom_score_adj"];

/// The directories of its own `/proc/self` it may list, and nothing more: its
/// descriptors and its threads. Listing needs no right to read the files inside.
pub(crate) const PROC_SELF_LISTS: &[&str] = &["fd", "task"];

/// What the launcher's layer adds for the loader to start the image: read and execute
/// the system libraries (the loader itself included) and read its cache. The image's
/// own layer, the policy's alone, takes them away again before the request is read.
const LOADER_TREES: &[&str] = &["/usr/lib", "/usr/lib64", "/lib", "/lib64", "/lib32"];
const LOADER_FILES: &[&str] = &["/etc/ld.so.cache"];

/// The sandbox's layer: the policy's grants and the runtime's own.
pub(crate) fn apply(policy: &Policy) -> Result<(), Failure> {
    restrict(policy, None)
}

/// The launcher's layer, before it starts `image` (a regular file): the policy's grants,
/// the runtime's, execute and read of `image` alone, and what the loader needs. Layers
/// only narrow: the image then adds [`apply`]'s, and what both allow is what it may do.
///
/// For a zygote (`zygote`), the layer also lets it read `/proc`: its spares are other
/// processes, whose own `/proc/self` files no rule made in the zygote can name, and each
/// spare's own layer narrows that to its `/proc/self` files before its call.
pub(crate) fn apply_for_launch(
    policy: &Policy,
    image: &std::fs::File,
    zygote: bool,
) -> Result<(), Failure> {
    restrict(policy, Some((image, zygote)))
}

fn restrict(policy: &Policy, image: Option<(&std::fs::File, bool)>) -> Result<(), Failure> {
    let confinement = |what: &str, error: landlock::RulesetError| {
        Failure::startup(Step::Landlock, format!("{what} failed: {error}"))
    };
    let level = match policy.landlock {
        Enforcement::Require => CompatLevel::HardRequirement,
        Enforcement::BestEffort => CompatLevel::BestEffort,
    };
    let unsupported = |error: landlock::RulesetError| {
        if policy.landlock == Enforcement::Require {
            Failure::Unsupported(format!(
                "this kernel cannot enforce the file-system and scoping rules (Landlock ABI 6): \
                 {error}; choose `landlock = \"best_effort\"` to run without what it lacks"
            ))
        } else {
            Failure::startup(Step::Landlock, error.to_string())
        }
    };
    let mut ruleset = Ruleset::default()
        .set_compatibility(level)
        .handle_access(AccessFs::from_all(TARGET))
        .map_err(unsupported)?
        .scope(Scope::AbstractUnixSocket | Scope::Signal)
        .map_err(unsupported)?;
    if !policy.network {
        ruleset = ruleset
            .handle_access(AccessNet::BindTcp | AccessNet::ConnectTcp)
            .map_err(unsupported)?;
    }
    let mut created = ruleset.create().map_err(unsupported)?;
    let read = AccessFs::from_read(TARGET);
    let write = AccessFs::from_all(TARGET);
    if let Some((image, _)) = image {
        let execute = AccessFs::Execute | AccessFs::ReadFile;
        created = created
            .add_rule(PathBeneath::new(image, execute))
            .map_err(|e| confinement("granting the image", e))?;
    }
    let loader: &[&str] = if image.is_some() { LOADER_TREES } else { &[] };
    let loader_files: &[&str] = if image.is_some() { LOADER_FILES } else { &[] };
    let proc_all: &[&str] = if matches!(image, Some((_, true))) {
        &["/proc"]
    } else {
        &[]
    };
    // Each opened through /proc/self, so the rule is on this process's own entry (a
    // zygote's spare makes its rules itself, after its fork).
    let proc_self = |name: &str| std::path::PathBuf::from("/proc/self").join(name);
    let grants = BASE_READ
        .iter()
        .map(|path| (std::path::PathBuf::from(path), read, true))
        .chain(loader.iter().map(|path| (path.into(), read, true)))
        .chain(loader_files.iter().map(|path| (path.into(), read, true)))
        .chain(
            proc_all
                .iter()
                .map(|path| (path.into(), AccessFs::ReadFile | AccessFs::ReadDir, true)),
        )
        .chain(
            PROC_SELF_FILES
                .iter()
                .map(|name| (proc_self(name), AccessFs::ReadFile.into(), true)),
        )
        .chain(
            PROC_SELF_LISTS
                .iter()
                .map(|name| (proc_self(name), AccessFs::ReadDir.into(), true)),
        )
        .chain(BASE_WRITE.iter().map(|path| (path.into(), write, true)))
        .chain(policy.read.iter().map(|path| (path.clone(), read, false)))
        .chain(policy.write.iter().map(|path| (path.clone(), write, false)));
    for (path, access, optional) in grants {
        if !path.is_absolute() {
            return Err(Failure::startup(
                Step::Landlock,
                format!(
                    "the policy grants {}, which is not an absolute path",
                    path.display()
                ),
            ));
        }
        let fd = match PathFd::new(&path) {
            Ok(fd) => fd,
            Err(_) if optional => continue,
            Err(error) => {
                return Err(Failure::startup(
                    Step::Landlock,
                    format!(
                        "the policy grants {}, which cannot be opened: {error}",
                        path.display()
                    ),
                ));
            }
        };
        // A file takes only the rights that apply to files. Asked of the descriptor just
        // opened, not the path again: one path walk per rule, not two (a spare makes
        // these rules before every call).
        let is_dir = nix::sys::stat::fstat(std::os::fd::AsFd::as_fd(&fd)).map(|stat| {
            use nix::sys::stat::SFlag;
            SFlag::from_bits_truncate(stat.st_mode) & SFlag::S_IFMT == SFlag::S_IFDIR
        });
        let access = match is_dir {
            Ok(false) => access & AccessFs::from_file(TARGET),
            _ => access,
        };
        created = created
            .add_rule(PathBeneath::new(fd, access))
            .map_err(|e| confinement(&format!("granting {}", path.display()), e))?;
    }
    let status = created
        .restrict_self()
        .map_err(|e| confinement("restrict_self", e))?;
    match (policy.landlock, status.ruleset) {
        (Enforcement::Require, RulesetStatus::FullyEnforced) | (Enforcement::BestEffort, _) => {
            Ok(())
        }
        (Enforcement::Require, other) => Err(Failure::Unsupported(format!(
            "Landlock is {other:?} on this kernel; choose `landlock = \"best_effort\"` to \
             run without it"
        ))),
    }
}
