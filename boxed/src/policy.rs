//! What a sandbox may do: the policy, written in `#[sandboxed(...)]` or built at a call
//! site with [`Policy`], sent to the child with each request and enforced there.

use std::cell::RefCell;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The default of [`Policy::max_response`]: 1 GiB.
pub const DEFAULT_MAX_RESPONSE: u64 = 1 << 30;

/// How strictly a confinement layer that the kernel may lack is required.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Enforcement {
    /// The call fails with [`ErrorKind::Unsupported`](crate::ErrorKind::Unsupported) if the
    /// kernel cannot enforce the layer completely. The default.
    #[default]
    Require,
    /// The layer is enforced as far as the kernel can; what it cannot is left out.
    /// `boxed doctor` tells what this kernel enforces.
    BestEffort,
}

/// The confinement of one sandboxed call.
///
/// The defaults are the secure ones (see the README's policy table): no network, no
/// file system access, the syscall filter, no core dumps, at most 64 open files and no
/// child process; no memory, CPU-time or wall-clock limit.
///
/// The resource limits (`cpu_time`, `memory`, `max_open_files`, `max_file_size`,
/// `max_processes` above 1) are ceilings: the sandbox gets the lower of the policy's
/// value and the hard limit the calling process already has, since an unprivileged
/// process can lower a hard limit but never raise it. A caller started with a hard
/// `RLIMIT_NOFILE` of 24 gets sandboxes with 24, not an error.
///
/// `#[sandboxed(...)]` sets a function's policy at compile time. A call site can run any
/// sandboxed function under another policy, which replaces the attribute's entirely:
///
/// ```
/// use std::time::Duration;
///
/// #[boxed::sandboxed(timeout = "1s")]
/// fn render(doc: String) -> Vec<u8> {
///     doc.into_bytes()
/// }
///
/// let policy = boxed::Policy::new()
///     .timeout(Duration::from_secs(10))
///     .memory(512 << 20)
///     .read("/usr/share");
/// let bytes = policy.run(|| render("large document".into()));
/// // The fallible form works inside it too.
/// let result = policy.run(|| boxed::try_call(|| render("x".into())));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    pub(crate) timeout: Option<Duration>,
    pub(crate) cpu_time: Option<Duration>,
    pub(crate) memory: Option<u64>,
    pub(crate) max_open_files: u64,
    pub(crate) max_file_size: Option<u64>,
    pub(crate) max_response: u64,
    pub(crate) max_processes: u64,
    pub(crate) network: bool,
    pub(crate) read: Vec<PathBuf>,
    pub(crate) write: Vec<PathBuf>,
    pub(crate) landlock: Enforcement,
    pub(crate) user: Option<String>,
    pub(crate) unique_uid: bool,
    pub(crate) zygote: bool,
}

impl Default for Policy {
    fn default() -> Self {
        Policy::new()
    }
}

impl Policy {
    /// The default policy.
    pub const fn new() -> Self {
        Policy {
            timeout: None,
            cpu_time: None,
            memory: None,
            max_open_files: 64,
            max_file_size: None,
            max_response: DEFAULT_MAX_RESPONSE,
            max_processes: 1,
            network: false,
            read: Vec::new(),
            write: Vec::new(),
            landlock: Enforcement::Require,
            user: None,
            unique_uid: false,
            zygote: false,
        }
    }

    /// Wall-clock limit: at expiry the sandbox and everything it started are killed and
    /// the call fails with [`ErrorKind::Timeout`](crate::ErrorKind::Timeout).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// CPU-time limit (`RLIMIT_CPU`, whole seconds, rounded up); exceeding it fails the
    /// call with [`ErrorKind::CpuLimit`](crate::ErrorKind::CpuLimit).
    pub fn cpu_time(mut self, cpu_time: Duration) -> Self {
        self.cpu_time = Some(cpu_time);
        self
    }

    /// Address-space limit in bytes (`RLIMIT_AS`); an allocation beyond it fails the call
    /// with [`ErrorKind::MemoryLimit`](crate::ErrorKind::MemoryLimit).
    pub fn memory(mut self, bytes: u64) -> Self {
        self.memory = Some(bytes);
        self
    }

    /// Highest number of open descriptors (`RLIMIT_NOFILE`); default 64, or the caller's
    /// own hard limit if that is lower.
    pub fn max_open_files(mut self, count: u64) -> Self {
        self.max_open_files = count;
        self
    }

    /// Largest file the sandbox may write (`RLIMIT_FSIZE`); writing beyond it fails the
    /// call with [`ErrorKind::FileSizeLimit`](crate::ErrorKind::FileSizeLimit).
    pub fn max_file_size(mut self, bytes: u64) -> Self {
        self.max_file_size = Some(bytes);
        self
    }

    /// The largest response the caller reads, in bytes: the result's JSON, or the
    /// failure, as it crosses the response pipe; default 1 GiB
    /// ([`DEFAULT_MAX_RESPONSE`]). The caller never allocates more than this for one
    /// answer. A sandbox that announces more is ended and the call fails with
    /// [`ErrorKind::ResponseLimit`](crate::ErrorKind::ResponseLimit). Enforced by the
    /// caller, so it is the same through a zygote.
    ///
    /// ```
    /// #[boxed::sandboxed(max_response = "4KiB")]
    /// fn summary(text: String) -> String {
    ///     text.chars().take(100).collect()
    /// }
    ///
    /// let policy = boxed::Policy::new().max_response(64 << 10);
    /// let short = policy.run(|| boxed::try_call(|| summary("a long text".into())));
    /// ```
    pub fn max_response(mut self, bytes: u64) -> Self {
        self.max_response = bytes;
        self
    }

    /// How many processes the sandbox may consist of, itself included; default 1 (no
    /// child process may be started, enforced by the syscall filter). Above 1 it is
    /// `RLIMIT_NPROC`, which the kernel counts per user, over every process and thread
    /// of the sandbox identity: exact with [`unique_uid`](Policy::unique_uid), shared
    /// with every process of a shared identity such as `nobody` otherwise. With 1 and a
    /// unique uid, threads are bounded at 512 the same way; with a shared identity they
    /// are not bounded (a bound would depend on the other processes of that user).
    pub fn max_processes(mut self, count: u64) -> Self {
        self.max_processes = count;
        self
    }

    /// Whether the sandbox may open TCP and UDP sockets over IPv4 and IPv6; default
    /// `false`. Every other socket (raw, packet, ICMP, MPTCP, SCTP, netlink, vsock, unix
    /// domain) stays closed either way; `socketpair` of unix stream and seqpacket sockets
    /// is always allowed (datagram pairs never: their ends could send to named sockets).
    pub fn network(mut self, allowed: bool) -> Self {
        self.network = allowed;
        self
    }

    /// Grants reading (and executing) the tree at `path`, which must be absolute and
    /// exist: otherwise every call under this policy fails with
    /// [`ErrorKind::Confinement`](crate::ErrorKind::Confinement), before anything runs.
    pub fn read(mut self, path: impl Into<PathBuf>) -> Self {
        self.read.push(path.into());
        self
    }

    /// Grants reading, writing (creating, removing, renaming) and executing in the tree
    /// at `path`, which must be absolute and exist, as for [`read`](Policy::read).
    pub fn write(mut self, path: impl Into<PathBuf>) -> Self {
        self.write.push(path.into());
        self
    }

    /// Whether the file system confinement (Landlock) must be complete; default
    /// [`Enforcement::Require`].
    pub fn landlock(mut self, enforcement: Enforcement) -> Self {
        self.landlock = enforcement;
        self
    }

    /// The user the sandbox runs as, instead of `nobody`. A caller that is not root may
    /// only name a user that root allowed at setup (`boxed setup --sandbox-user`).
    pub fn user(mut self, name: impl Into<String>) -> Self {
        self.user = Some(name.into());
        self
    }

    /// Runs the sandbox under a uid (and gid) of its own, which no other live sandbox
    /// has, from a range that owns nothing (see the README). Use it when sandboxes run
    /// at the same time and must not share a uid: then `max_processes` counts exactly
    /// this sandbox's processes, and files one sandbox creates (mode 0600 under the
    /// sandbox's umask) are unreadable by another even in a directory both may write.
    /// A caller that is not root needs root's permission (`boxed setup --unique-uids`).
    pub fn unique_uid(mut self, unique: bool) -> Self {
        self.unique_uid = unique;
        self
    }

    /// Runs calls through a zygote: a small helper started once (per policy) through
    /// the launcher, already dropped to the sandbox identity, that forks one fresh,
    /// confined child per call and keeps the next one forked and waiting. Every call
    /// still runs in a brand-new process; only the start-up cost goes. The helper ends
    /// with the program, and one that dies is started again on the next call.
    ///
    /// Calls through one zygote share its identity (with `unique_uid`, a uid unique to
    /// the zygote, not to each call), and the sandbox may not leave its process group
    /// (`setsid` and `setpgid` are refused), so that the zygote can end everything a
    /// call started without touching the other calls.
    pub fn zygote(mut self, zygote: bool) -> Self {
        self.zygote = zygote;
        self
    }

    /// The policy without what may differ from one call to the next through the same
    /// zygote, so that calls whose policies differ only in that share one.
    pub(crate) fn zygote_key(&self) -> Policy {
        Policy {
            timeout: None,
            max_response: DEFAULT_MAX_RESPONSE,
            ..self.clone()
        }
    }

    /// Calls `f`; every sandboxed call made in it on this thread runs under this policy
    /// instead of its attribute's.
    pub fn run<R>(&self, f: impl FnOnce() -> R) -> R {
        struct Restore(Option<Policy>);
        impl Drop for Restore {
            fn drop(&mut self) {
                OVERRIDE.with(|slot| *slot.borrow_mut() = self.0.take());
            }
        }
        let previous = OVERRIDE.with(|slot| slot.borrow_mut().replace(self.clone()));
        let _restore = Restore(previous);
        f()
    }
}

thread_local! {
    static OVERRIDE: RefCell<Option<Policy>> = const { RefCell::new(None) };
}

/// The policy a call runs under: the innermost [`Policy::run`], else the attribute's.
pub(crate) fn effective(attribute: impl FnOnce() -> Policy) -> Policy {
    OVERRIDE
        .with(|slot| slot.borrow().clone())
        .unwrap_or_else(attribute)
}

#[cfg(test)]
mod tests {
    //! The policy as it crosses to the launcher and its image (JSON in the environment),
    //! and which policy a call runs under.
    use super::*;

    #[test]
    fn durations_and_sizes_cross_as_json_to_the_nanosecond_and_the_byte() {
        let policy = Policy::new()
            .timeout(Duration::new(2, 250_000_001))
            .cpu_time(Duration::from_nanos(u64::MAX))
            .memory(u64::MAX)
            .max_file_size(1)
            .max_response(256 << 20)
            .max_open_files(3)
            .max_processes(4)
            .network(true)
            .read("/usr/share")
            .write("/tmp/out")
            .landlock(Enforcement::BestEffort)
            .user("someone")
            .unique_uid(true)
            .zygote(true);
        let json = serde_json::to_string(&policy).unwrap();
        let back: Policy = serde_json::from_str(&json).unwrap();
        assert_eq!(back, policy);
        assert_eq!(back.timeout, Some(Duration::new(2, 250_000_001)));
        assert_eq!(back.memory, Some(u64::MAX));
        // The default crosses as the default.
        let default: Policy =
            serde_json::from_str(&serde_json::to_string(&Policy::new()).unwrap()).unwrap();
        assert_eq!(default, Policy::new());
    }

    #[test]
    fn a_policy_that_does_not_parse_is_refused_not_defaulted() {
        let mut json: serde_json::Value = serde_json::to_value(Policy::new()).unwrap();
        json["memory"] = serde_json::json!("lots");
        assert!(serde_json::from_value::<Policy>(json).is_err());
        let mut json: serde_json::Value = serde_json::to_value(Policy::new()).unwrap();
        json.as_object_mut().unwrap().remove("network");
        assert!(serde_json::from_value::<Policy>(json).is_err());
    }

    #[test]
    fn run_overrides_the_attributes_policy_and_restores_it_even_on_a_panic() {
        let attribute = || Policy::new().timeout(Duration::from_secs(9));
        let outer = Policy::new().memory(1 << 30);
        let inner = Policy::new().max_processes(2);
        assert_eq!(effective(attribute), attribute());
        outer.run(|| {
            assert_eq!(effective(attribute), outer);
            inner.run(|| assert_eq!(effective(attribute), inner));
            assert_eq!(effective(attribute), outer);
            let unwound = std::panic::catch_unwind(|| inner.run(|| panic!("inside")));
            assert!(unwound.is_err());
            assert_eq!(effective(attribute), outer);
        });
        assert_eq!(effective(attribute), attribute());
    }
}
