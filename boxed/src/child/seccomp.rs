//! The syscall filter, installed last.
//!
//! Two stacked filters. The kernel runs both and takes the more restrictive answer, and
//! for two errno answers the one of the filter installed last:
//!
//! 1. a range filter, written as raw BPF: any other architecture or ABI (x32), `clone3`
//!    (whose flags are in memory a filter cannot read; libc falls back to `clone`) and
//!    every syscall numbered above the last one reviewed here fail with `ENOSYS`, as on
//!    a kernel that does not have them;
//! 2. a deny list, built with seccompiler: the calls in [`denied`] fail with `EPERM`,
//!    some of them only for the arguments that make them dangerous.
//!
//! seccompiler rather than libseccomp: it is pure Rust (no C library to install, build
//! or keep in step), it is what Firecracker's jailer uses, and it compiles rules with
//! argument conditions, including 32-bit comparisons, to plain BPF that is applied with
//! one call. The range filter is hand-written because seccompiler's rules match
//! syscall numbers one by one and cannot say "every number above N".

use std::collections::BTreeMap;

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen as Len, SeccompCmpOp as Op, SeccompCondition,
    SeccompFilter, SeccompRule, sock_filter,
};

use crate::Policy;

#[cfg(target_arch = "x86_64")]
mod arch {
    pub const AUDIT_ARCH: u32 = 0xc000_003e; // AUDIT_ARCH_X86_64
    pub const TARGET: seccompiler::TargetArch = seccompiler::TargetArch::x86_64;
    /// Syscalls of the x32 ABI carry this bit.
    pub const X32_BIT: u32 = 0x4000_0000;
}

#[cfg(target_arch = "aarch64")]
mod arch {
    pub const AUDIT_ARCH: u32 = 0xc000_00b7; // AUDIT_ARCH_AARCH64
    pub const TARGET: seccompiler::TargetArch = seccompiler::TargetArch::aarch64;
    pub const X32_BIT: u32 = 0x4000_0000;
}

/// The highest syscall number reviewed for this filter (`mseal`, the same number on
/// every architecture that uses the common table from 424 on).
const LAST_REVIEWED: u32 = 462;

const SECCOMP_RET_ALLOW: u32 = 0x7fff_0000;
const SECCOMP_RET_ERRNO: u32 = 0x0005_0000;

pub(crate) fn apply(policy: &Policy, own_pid: i32) -> Result<(), String> {
    let range = range_filter();
    seccompiler::apply_filter(&range)
        .map_err(|e| format!("installing the range filter failed: {e}"))?;
    let deny: BpfProgram = deny_filter(policy, own_pid)?
        .try_into()
        .map_err(|e| format!("compiling the deny filter failed: {e}"))?;
    seccompiler::apply_filter(&deny)
        .map_err(|e| format!("installing the deny filter failed: {e}"))?;
    match crate::sys::seccomp_mode() {
        2 => Ok(()),
        mode => Err(format!(
            "the syscall filter is not active after installing it (mode {mode})"
        )),
    }
}

fn range_filter() -> BpfProgram {
    const LD_W_ABS: u16 = 0x20; // BPF_LD | BPF_W | BPF_ABS
    const JEQ_K: u16 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
    const JGT_K: u16 = 0x25; // BPF_JMP | BPF_JGT | BPF_K
    const JSET_K: u16 = 0x45; // BPF_JMP | BPF_JSET | BPF_K
    const RET_K: u16 = 0x06; // BPF_RET | BPF_K
    let op = |code, jt, jf, k| sock_filter { code, jt, jf, k };
    let enosys = SECCOMP_RET_ERRNO | libc::ENOSYS as u32;
    vec![
        op(LD_W_ABS, 0, 0, 4),                    // arch
        op(JEQ_K, 1, 0, arch::AUDIT_ARCH),        // our architecture?
        op(RET_K, 0, 0, enosys),                  // no: nothing runs
        op(LD_W_ABS, 0, 0, 0),                    // syscall number
        op(JSET_K, 3, 0, arch::X32_BIT),          // x32 ABI: ENOSYS
        op(JEQ_K, 2, 0, libc::SYS_clone3 as u32), // clone3: ENOSYS
        op(JGT_K, 1, 0, LAST_REVIEWED),           // unknown: ENOSYS
        op(RET_K, 0, 0, SECCOMP_RET_ALLOW),
        op(RET_K, 0, 0, enosys),
    ]
}

fn cond(arg: u8, len: Len, op: Op, value: u64) -> SeccompCondition {
    SeccompCondition::new(arg, len, op, value).expect("a valid condition")
}

fn rule(conditions: Vec<SeccompCondition>) -> SeccompRule {
    SeccompRule::new(conditions).expect("a non-empty rule")
}

/// Every syscall the sandbox is refused with `EPERM`: an empty rule list refuses the call
/// whatever its arguments, otherwise any matching rule refuses it.
fn denied(policy: &Policy, own_pid: i32) -> BTreeMap<i64, Vec<SeccompRule>> {
    let mut deny: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    for nr in ALWAYS_DENIED {
        deny.insert(*nr, Vec::new());
    }
    // New namespaces through clone; with one process allowed, any new process.
    let mut clone_rules: Vec<SeccompRule> = NAMESPACE_FLAGS
        .iter()
        .map(|&flag| rule(vec![cond(0, Len::Qword, Op::MaskedEq(flag), flag)]))
        .collect();
    if policy.max_processes <= 1 {
        let thread = libc::CLONE_THREAD as u64;
        clone_rules.push(rule(vec![cond(0, Len::Qword, Op::MaskedEq(thread), 0)]));
        #[cfg(target_arch = "x86_64")]
        {
            deny.insert(libc::SYS_fork, Vec::new());
            deny.insert(libc::SYS_vfork, Vec::new());
        }
    }
    deny.insert(libc::SYS_clone, clone_rules);
    // Faking terminal input, and the console's own ioctl; compared on the low 32 bits,
    // as the kernel reads the request.
    deny.insert(
        libc::SYS_ioctl,
        vec![
            rule(vec![cond(1, Len::Dword, Op::Eq, libc::TIOCSTI)]),
            rule(vec![cond(1, Len::Dword, Op::Eq, libc::TIOCLINUX)]),
        ],
    );
    // Becoming dumpable again would open the sandbox's memory to others.
    deny.insert(
        libc::SYS_prctl,
        vec![
            rule(vec![cond(
                0,
                Len::Dword,
                Op::Eq,
                libc::PR_SET_DUMPABLE as u64,
            )]),
            rule(vec![cond(0, Len::Dword, Op::Eq, libc::PR_SET_MM as u64)]),
        ],
    );
    // Sockets: none without network; with it, TCP and UDP over IPv4 and IPv6 only: the
    // domain, the type (low 4 bits; the rest are flags) and the protocol must all be
    // among those, so raw, packet, ICMP, MPTCP, SCTP, UDP-Lite and the rest stay closed.
    let socket_rules = if policy.network {
        let mut rules = vec![
            rule(vec![
                cond(0, Len::Dword, Op::Ne, libc::AF_INET as u64),
                cond(0, Len::Dword, Op::Ne, libc::AF_INET6 as u64),
            ]),
            rule(vec![
                cond(2, Len::Dword, Op::Ne, 0),
                cond(2, Len::Dword, Op::Ne, libc::IPPROTO_TCP as u64),
                cond(2, Len::Dword, Op::Ne, libc::IPPROTO_UDP as u64),
            ]),
        ];
        let stream = libc::SOCK_STREAM as u64;
        let datagram = libc::SOCK_DGRAM as u64;
        rules.extend(
            (0..16u64)
                .filter(|&kind| kind != stream && kind != datagram)
                .map(|kind| rule(vec![cond(1, Len::Dword, Op::MaskedEq(0xf), kind)])),
        );
        rules
    } else {
        Vec::new()
    };
    deny.insert(libc::SYS_socket, socket_rules);
    deny.insert(
        libc::SYS_socketpair,
        vec![rule(vec![cond(
            0,
            Len::Dword,
            Op::Ne,
            libc::AF_UNIX as u64,
        )])],
    );
    // Signals: never to every process; with no child process possible, only to itself.
    let everyone = u64::from(u32::MAX); // -1 as a 32-bit pid
    let own = own_pid as u32 as u64;
    let own_group = (-own_pid) as u32 as u64;
    let kill_rules = if policy.max_processes <= 1 {
        vec![rule(vec![
            cond(0, Len::Dword, Op::Ne, 0),
            cond(0, Len::Dword, Op::Ne, own),
            cond(0, Len::Dword, Op::Ne, own_group),
        ])]
    } else {
        vec![rule(vec![cond(0, Len::Dword, Op::Eq, everyone)])]
    };
    deny.insert(libc::SYS_kill, kill_rules);
    if policy.max_processes <= 1 {
        for nr in [
            libc::SYS_tgkill,
            libc::SYS_rt_sigqueueinfo,
            libc::SYS_rt_tgsigqueueinfo,
        ] {
            deny.insert(nr, vec![rule(vec![cond(0, Len::Dword, Op::Ne, own)])]);
        }
    }
    deny
}

fn deny_filter(policy: &Policy, own_pid: i32) -> Result<SeccompFilter, String> {
    SeccompFilter::new(
        denied(policy, own_pid),
        SeccompAction::Allow,
        SeccompAction::Errno(libc::EPERM as u32),
        arch::TARGET,
    )
    .map_err(|e| format!("building the deny filter failed: {e}"))
}

const NAMESPACE_FLAGS: &[u64] = &[
    libc::CLONE_NEWNS as u64,
    libc::CLONE_NEWUTS as u64,
    libc::CLONE_NEWIPC as u64,
    libc::CLONE_NEWUSER as u64,
    libc::CLONE_NEWPID as u64,
    libc::CLONE_NEWNET as u64,
    libc::CLONE_NEWCGROUP as u64,
    0x80, // CLONE_NEWTIME
];

/// Refused whatever the arguments: debugging other processes, mounting and changing
/// root, namespaces, the kernel keyring, eBPF, performance counters, userfaultfd,
/// io_uring (it bypasses this filter), loading kernels and modules, personality
/// changes, pidfds of other processes, and administration of the machine.
const ALWAYS_DENIED: &[i64] = &[
    libc::SYS_ptrace,
    libc::SYS_process_vm_readv,
    libc::SYS_process_vm_writev,
    libc::SYS_process_madvise,
    libc::SYS_kcmp,
    libc::SYS_pidfd_open,
    libc::SYS_pidfd_getfd,
    libc::SYS_pidfd_send_signal,
    libc::SYS_tkill,
    libc::SYS_mount,
    libc::SYS_umount2,
    libc::SYS_pivot_root,
    libc::SYS_chroot,
    libc::SYS_open_tree,
    libc::SYS_move_mount,
    libc::SYS_fsopen,
    libc::SYS_fsconfig,
    libc::SYS_fsmount,
    libc::SYS_fspick,
    libc::SYS_mount_setattr,
    libc::SYS_unshare,
    libc::SYS_setns,
    libc::SYS_keyctl,
    libc::SYS_add_key,
    libc::SYS_request_key,
    libc::SYS_bpf,
    libc::SYS_perf_event_open,
    libc::SYS_userfaultfd,
    libc::SYS_io_uring_setup,
    libc::SYS_io_uring_enter,
    libc::SYS_io_uring_register,
    libc::SYS_kexec_load,
    libc::SYS_kexec_file_load,
    libc::SYS_init_module,
    libc::SYS_finit_module,
    libc::SYS_delete_module,
    libc::SYS_personality,
    libc::SYS_acct,
    libc::SYS_swapon,
    libc::SYS_swapoff,
    libc::SYS_reboot,
    libc::SYS_syslog,
    libc::SYS_quotactl,
    libc::SYS_name_to_handle_at,
    libc::SYS_open_by_handle_at,
    libc::SYS_settimeofday,
    libc::SYS_clock_settime,
    libc::SYS_clock_adjtime,
    libc::SYS_adjtimex,
    libc::SYS_vhangup,
    libc::SYS_sethostname,
    libc::SYS_setdomainname,
    libc::SYS_fanotify_init,
    #[cfg(target_arch = "x86_64")]
    libc::SYS_iopl,
    #[cfg(target_arch = "x86_64")]
    libc::SYS_ioperm,
    #[cfg(target_arch = "x86_64")]
    libc::SYS_modify_ldt,
    #[cfg(target_arch = "x86_64")]
    libc::SYS_uselib,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_deny_filter_compiles_for_every_policy_shape() {
        for policy in [
            Policy::new(),
            Policy::new().network(true),
            Policy::new().max_processes(8),
        ] {
            let program: BpfProgram = deny_filter(&policy, 1234).unwrap().try_into().unwrap();
            assert!(!program.is_empty());
        }
    }

    #[test]
    fn the_range_filter_ends_in_allow_and_enosys() {
        let program = range_filter();
        assert_eq!(program[program.len() - 2].k, SECCOMP_RET_ALLOW);
        assert_eq!(
            program[program.len() - 1].k,
            SECCOMP_RET_ERRNO | libc::ENOSYS as u32
        );
    }
}
