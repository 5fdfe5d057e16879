//! What this kernel can enforce, for `boxed doctor` and for programs that want to know
//! before they choose `landlock = "best_effort"`.

use std::fmt;

use crate::sys;

/// The confinement features of the running kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelSupport {
    /// The Landlock ABI version, or `None` when Landlock is missing or disabled.
    pub landlock_abi: Option<u32>,
    /// Whether seccomp filters with errno answers can be installed.
    pub seccomp_filters: bool,
    /// Whether the kernel has pidfds (5.3 and later); without them the supervisor
    /// cannot watch the caller's lifeline and the sandbox's exit at the same time.
    pub pidfds: bool,
}

/// Reads the kernel's confinement features; changes nothing.
pub fn kernel_support() -> KernelSupport {
    let actions =
        std::fs::read_to_string("/proc/sys/kernel/seccomp/actions_avail").unwrap_or_default();
    KernelSupport {
        landlock_abi: sys::landlock_abi(),
        seccomp_filters: actions.split_whitespace().any(|action| action == "errno"),
        pidfds: sys::pidfd_open(nix::unistd::getpid()).is_ok(),
    }
}

impl KernelSupport {
    /// Whether every layer of the default policy is enforced here, so that a policy with
    /// `landlock = "require"` (the default) can run.
    pub fn complete(&self) -> bool {
        self.landlock_abi.is_some_and(|abi| abi >= 6) && self.seccomp_filters && self.pidfds
    }
}

impl fmt::Display for KernelSupport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let abi = self.landlock_abi.unwrap_or(0);
        let landlock = self
            .landlock_abi
            .map_or_else(|| "NOT available".to_string(), |abi| format!("ABI {abi}"));
        let lines = [
            ("Landlock", landlock),
            ("file-system rules (read, write)", state(abi >= 1)),
            ("TCP bind and connect rules", state(abi >= 4)),
            ("abstract unix socket scoping", state(abi >= 6)),
            ("signal scoping between sandboxes", state(abi >= 6)),
            (
                "seccomp filter (syscalls, sockets)",
                state(self.seccomp_filters),
            ),
            ("pidfds (deadline, lifeline)", state(self.pidfds)),
        ];
        for (what, state) in lines {
            writeln!(f, "{what:<36} {state}")?;
        }
        if self.complete() {
            write!(f, "every layer of the default policy is enforced")
        } else {
            write!(
                f,
                "policies with landlock = \"require\" (the default) fail here if Landlock \
                 lacks a feature; with \"best_effort\" they run without the Landlock \
                 layers marked NOT available; without seccomp filters no sandbox runs; \
                 without pidfds the supervisor checks the sandbox every few milliseconds"
            )
        }
    }
}

fn state(enforced: bool) -> String {
    if enforced {
        "enforced"
    } else {
        "NOT available"
    }
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn complete_needs_landlock_6_seccomp_and_pidfds() {
        let full = KernelSupport {
            landlock_abi: Some(6),
            seccomp_filters: true,
            pidfds: true,
        };
        assert!(full.complete());
        for lacking in [
            KernelSupport {
                landlock_abi: Some(5),
                ..full.clone()
            },
            KernelSupport {
                landlock_abi: None,
                ..full.clone()
            },
            KernelSupport {
                seccomp_filters: false,
                ..full.clone()
            },
            KernelSupport {
                pidfds: false,
                ..full.clone()
            },
        ] {
            assert!(!lacking.complete(), "{lacking:?}");
            assert!(lacking.to_string().contains("NOT available"), "{lacking}");
        }
    }
}
