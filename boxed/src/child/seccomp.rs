//! The syscall filter, installed last: one classic-BPF program, laid out here.
//!
//! The program:
//! 1. answers `ENOSYS` for any other architecture or ABI (x32), for `clone3` (its flags
//!    are in memory a filter cannot read; libc falls back to `clone`) and for every
//!    syscall numbered above the last one reviewed here, as a kernel without them would;
//! 2. answers `EPERM` for the calls in [`ALWAYS_DENIED`], whatever their arguments;
//! 3. looks at the arguments of `clone`, `ioctl`, `prctl`, `socket`, `socketpair`, `kill`
//!    and the other signal calls, and answers `EPERM` for the dangerous ones;
//! 4. allows everything else.
//!
//! Steps 2 and 3 are a binary search on the syscall number (see [`program`]).
//!
//! A zygote splits the program in two: it installs on itself every rule but those on the
//! calls it needs ([`zygote_program`]), and each call's process, which inherits that
//! filter, adds the rest ([`spare_program`]). Together they decide every call as the
//! whole program does; a unit test runs both for every syscall number to check it.
//!
//! Why not seccompiler (or libseccomp): seccompiler compiled these rules to 451
//! instructions (it tests one flag or value per rule and compares full 64-bit words), and
//! the kernel took about 260 µs to install that, the largest single cost of a sandboxed
//! call. Laid out directly, as a search tree, with one `JSET` for all namespace flags and
//! the checks of one syscall in one place, the same rules install in a few tens of
//! microseconds. The layout is simple enough to review, and the unit tests
//! below run the program through a small interpreter for every rule.

use crate::Policy;

#[cfg(target_arch = "x86_64")]
const AUDIT_ARCH: u32 = 0xc000_003e; // AUDIT_ARCH_X86_64
#[cfg(target_arch = "aarch64")]
const AUDIT_ARCH: u32 = 0xc000_00b7; // AUDIT_ARCH_AARCH64

/// Syscalls of the x32 ABI carry this bit.
const X32_BIT: u32 = 0x4000_0000;

/// The highest syscall number reviewed for this filter (`mseal`, the same number on
/// every architecture that uses the common table from 424 on).
const LAST_REVIEWED: u32 = 462;

const RET_ALLOW: u32 = 0x7fff_0000;
const RET_ERRNO: u32 = 0x0005_0000;
const EPERM: u32 = RET_ERRNO | libc::EPERM as u32;
const ENOSYS: u32 = RET_ERRNO | libc::ENOSYS as u32;

// Classic BPF opcodes.
const LD_W_ABS: u16 = 0x20; // BPF_LD | BPF_W | BPF_ABS
const AND_K: u16 = 0x54; // BPF_ALU | BPF_AND | BPF_K
const JEQ_K: u16 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
const JGT_K: u16 = 0x25; // BPF_JMP | BPF_JGT | BPF_K
const JSET_K: u16 = 0x45; // BPF_JMP | BPF_JSET | BPF_K
const JA: u16 = 0x05; // BPF_JMP | BPF_JA
const RET_K: u16 = 0x06; // BPF_RET | BPF_K

/// Offsets in `struct seccomp_data`: the syscall number, the architecture, and the low
/// 32 bits of argument `i` (little-endian), which is what the kernel reads for an `int`
/// argument and for an `ioctl` request.
const NR: u32 = 0;
const ARCH: u32 = 4;
const fn arg(i: u32) -> u32 {
    16 + 8 * i
}

/// Where a conditional jump goes, within one syscall's checks.
#[derive(Debug, Clone, Copy, PartialEq)]
enum To {
    /// The next instruction.
    Next,
    /// `n` instructions further.
    Skip(u8),
    Allow,
    Deny,
}

#[derive(Debug, Clone, Copy)]
enum Check {
    Load(u32),
    And(u32),
    Jump(u16, u32, To, To),
}

fn jeq(value: u32, yes: To, no: To) -> Check {
    Check::Jump(JEQ_K, value, yes, no)
}
fn jset(bits: u32, yes: To, no: To) -> Check {
    Check::Jump(JSET_K, bits, yes, no)
}

/// What the filter answers for one syscall number.
enum Rule {
    Deny,
    NoSys,
    /// Load argument `argument`, then run `checks`, each ending in a decision.
    Checks {
        argument: u32,
        checks: Vec<Check>,
    },
}

/// The filter for `policy`, in a sandbox whose pid is `own_pid`: every rule.
pub(crate) fn program(policy: &Policy, own_pid: i32) -> Vec<libc::sock_filter> {
    laid_out(rules(policy, own_pid))
}

/// What a zygote installs on itself, once, before it forks its spares: every rule but
/// those on the calls in [`ZYGOTE_NEEDS`], which it allows (`clone` without namespaces). Its spares inherit it, so the
/// kernel compiles the bulk of the filter once per zygote instead of once per call.
pub(crate) fn zygote_program(policy: &Policy) -> Vec<libc::sock_filter> {
    let mut rules: Vec<(u32, Rule)> = rules(policy, 0)
        .into_iter()
        .filter(|(nr, _)| !zygote_needs(*nr))
        .collect();
    // Its own forks never make namespaces either.
    rules.push((
        libc::SYS_clone as u32,
        Rule::Checks {
            argument: 0,
            checks: vec![jset(NAMESPACE_FLAGS, To::Deny, To::Allow)],
        },
    ));
    rules.sort_by_key(|(nr, _)| *nr);
    laid_out(rules)
}

/// What a spare adds on top of [`zygote_program`]: the rules on the calls in
/// [`ZYGOTE_NEEDS`], and nothing else. The kernel runs both filters on every syscall and
/// takes the stricter answer, so the two together decide every call exactly as
/// [`program`] alone does (a unit test checks this for every syscall number).
pub(crate) fn spare_program(policy: &Policy, own_pid: i32) -> Vec<libc::sock_filter> {
    laid_out(
        rules(policy, own_pid)
            .into_iter()
            .filter(|(nr, _)| zygote_needs(*nr))
            .collect(),
    )
}

/// The calls a zygote makes itself (forking spares, opening their pidfds, killing the
/// calls it ends) or that its spares make while they drop their privileges (`setsid`,
/// `prctl(PR_SET_DUMPABLE)`), which the sandbox's rules refuse or restrict.
const ZYGOTE_NEEDS: &[i64] = &[
    libc::SYS_clone,
    #[cfg(target_arch = "x86_64")]
    libc::SYS_fork,
    #[cfg(target_arch = "x86_64")]
    libc::SYS_vfork,
    libc::SYS_pidfd_open,
    libc::SYS_kill,
    libc::SYS_tgkill,
    libc::SYS_rt_sigqueueinfo,
    libc::SYS_rt_tgsigqueueinfo,
    libc::SYS_setsid,
    libc::SYS_setpgid,
    libc::SYS_prctl,
];

fn zygote_needs(nr: u32) -> bool {
    ZYGOTE_NEEDS.iter().any(|&needed| needed as u32 == nr)
}

/// The rules for `policy`, sorted by syscall number.
///
/// The rules are laid out as a binary search on the syscall number. The kernel runs the
/// whole program once per syscall number when it installs it (to find the calls it can
/// always allow without running it), so a linear list of N comparisons costs about
/// 2 µs per comparison to install; a search tree costs a few steps per number.
fn rules(policy: &Policy, own_pid: i32) -> Vec<(u32, Rule)> {
    let mut rules: Vec<(u32, Rule)> = ALWAYS_DENIED
        .iter()
        .map(|&nr| (nr as u32, Rule::Deny))
        .collect();
    rules.push((libc::SYS_clone3 as u32, Rule::NoSys));
    let one_process = policy.max_processes <= 1;
    if !policy.network {
        rules.push((libc::SYS_socket as u32, Rule::Deny));
    }
    if policy.zygote {
        // Calls through a zygote are told apart by process group: no leaving it.
        rules.push((libc::SYS_setsid as u32, Rule::Deny));
        rules.push((libc::SYS_setpgid as u32, Rule::Deny));
    }
    #[cfg(target_arch = "x86_64")]
    if one_process {
        rules.push((libc::SYS_fork as u32, Rule::Deny));
        rules.push((libc::SYS_vfork as u32, Rule::Deny));
    }
    let mut checks = |nr: i64, argument: u32, checks: Vec<Check>| {
        rules.push((nr as u32, Rule::Checks { argument, checks }));
    };
    let own = own_pid as u32;
    // clone: never with a namespace flag; with one process allowed, only threads.
    let clone = if one_process {
        vec![
            jset(NAMESPACE_FLAGS, To::Deny, To::Next),
            jset(libc::CLONE_THREAD as u32, To::Allow, To::Deny),
        ]
    } else {
        vec![jset(NAMESPACE_FLAGS, To::Deny, To::Allow)]
    };
    checks(libc::SYS_clone, 0, clone);
    // Faking terminal input, and the console's own ioctl.
    checks(
        libc::SYS_ioctl,
        1,
        vec![
            jeq(libc::TIOCSTI as u32, To::Deny, To::Next),
            jeq(libc::TIOCLINUX as u32, To::Deny, To::Allow),
        ],
    );
    // Becoming dumpable again, and rewriting its own memory map's bookkeeping.
    checks(
        libc::SYS_prctl,
        0,
        vec![
            jeq(libc::PR_SET_DUMPABLE as u32, To::Deny, To::Next),
            jeq(libc::PR_SET_MM as u32, To::Deny, To::Allow),
        ],
    );
    if policy.network {
        // TCP and UDP over IPv4 and IPv6 only: domain, type (its low 4 bits; the rest
        // are flags) and protocol must all be among those.
        checks(
            libc::SYS_socket,
            0,
            vec![
                jeq(libc::AF_INET as u32, To::Skip(1), To::Next),
                jeq(libc::AF_INET6 as u32, To::Next, To::Deny),
                Check::Load(arg(1)),
                Check::And(0xf),
                jeq(libc::SOCK_STREAM as u32, To::Skip(1), To::Next),
                jeq(libc::SOCK_DGRAM as u32, To::Next, To::Deny),
                Check::Load(arg(2)),
                jeq(0, To::Allow, To::Next),
                jeq(libc::IPPROTO_TCP as u32, To::Allow, To::Next),
                jeq(libc::IPPROTO_UDP as u32, To::Allow, To::Deny),
            ],
        );
    }
    checks(
        libc::SYS_socketpair,
        0,
        vec![jeq(libc::AF_UNIX as u32, To::Allow, To::Deny)],
    );
    // Signals: never to every process; with one process allowed, only to itself.
    let kill = if one_process {
        vec![
            jeq(0, To::Allow, To::Next),
            jeq(own, To::Allow, To::Next),
            jeq(own.wrapping_neg(), To::Allow, To::Deny),
        ]
    } else {
        vec![jeq(u32::MAX, To::Deny, To::Allow)]
    };
    checks(libc::SYS_kill, 0, kill);
    if one_process {
        for nr in [
            libc::SYS_tgkill,
            libc::SYS_rt_sigqueueinfo,
            libc::SYS_rt_tgsigqueueinfo,
        ] {
            checks(nr, 0, vec![jeq(own, To::Allow, To::Deny)]);
        }
    }
    rules.sort_by_key(|(nr, _)| *nr);
    rules
}

/// The program for `rules`: the architecture and ABI checks, then the search tree.
fn laid_out(rules: Vec<(u32, Rule)>) -> Vec<libc::sock_filter> {
    let mut program = vec![
        filter(LD_W_ABS, 0, 0, ARCH),
        filter(JEQ_K, 1, 0, AUDIT_ARCH),
        filter(RET_K, 0, 0, ENOSYS),
        filter(LD_W_ABS, 0, 0, NR),
        filter(JSET_K, 0, 1, X32_BIT),
        filter(RET_K, 0, 0, ENOSYS),
        filter(JGT_K, 0, 1, LAST_REVIEWED),
        filter(RET_K, 0, 0, ENOSYS),
    ];
    program.extend(tree(&rules));
    program
}

/// A binary search over `rules` (sorted by number); a number without a rule is allowed.
fn tree(rules: &[(u32, Rule)]) -> Vec<libc::sock_filter> {
    if rules.len() <= 3 {
        let mut out = Vec::new();
        for (nr, rule) in rules {
            let body = answer(rule);
            out.push(filter(JEQ_K, 0, short(body.len()), *nr));
            out.extend(body);
        }
        out.push(filter(RET_K, 0, 0, RET_ALLOW));
        return out;
    }
    let middle = rules.len() / 2;
    let (left, right) = (tree(&rules[..middle]), tree(&rules[middle..]));
    // Above the left half's largest number: jump over the left half.
    let mut out = vec![
        filter(JGT_K, 0, 1, rules[middle - 1].0),
        filter(
            JA,
            0,
            0,
            u32::try_from(left.len()).expect("a small program"),
        ),
    ];
    out.extend(left);
    out.extend(right);
    out
}

/// The instructions that answer for one syscall number, with their own returns, so that
/// every jump stays short.
fn answer(rule: &Rule) -> Vec<libc::sock_filter> {
    match rule {
        Rule::Deny => vec![filter(RET_K, 0, 0, EPERM)],
        Rule::NoSys => vec![filter(RET_K, 0, 0, ENOSYS)],
        Rule::Checks { argument, checks } => {
            // Layout: load, the checks, then `ret ALLOW` and `ret EPERM`.
            let (allow, deny) = (1 + checks.len(), 2 + checks.len());
            let mut out = vec![filter(LD_W_ABS, 0, 0, arg(*argument))];
            for (i, check) in checks.iter().enumerate() {
                let at = 1 + i;
                let offset = |to: To| {
                    short(match to {
                        To::Next => 0,
                        To::Skip(n) => usize::from(n),
                        To::Allow => allow - at - 1,
                        To::Deny => deny - at - 1,
                    })
                };
                out.push(match *check {
                    Check::Load(offset) => filter(LD_W_ABS, 0, 0, offset),
                    Check::And(mask) => filter(AND_K, 0, 0, mask),
                    Check::Jump(code, k, yes, no) => filter(code, offset(yes), offset(no), k),
                });
            }
            out.push(filter(RET_K, 0, 0, RET_ALLOW));
            out.push(filter(RET_K, 0, 0, EPERM));
            out
        }
    }
}

fn short(offset: usize) -> u8 {
    u8::try_from(offset).expect("a conditional jump of at most 255 instructions")
}

fn filter(code: u16, jt: u8, jf: u8, k: u32) -> libc::sock_filter {
    libc::sock_filter { code, jt, jf, k }
}

/// Installs `program` (on top of any filter already installed) and checks that the
/// kernel now filters this thread.
pub(crate) fn install(program: &[libc::sock_filter]) -> Result<(), String> {
    crate::sys::install_seccomp_filter(program)
        .map_err(|e| format!("installing the syscall filter failed: {e}"))?;
    match crate::sys::seccomp_mode() {
        2 => Ok(()),
        mode => Err(format!(
            "the syscall filter is not active after installing it (mode {mode})"
        )),
    }
}

/// `CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID |
/// CLONE_NEWNET | CLONE_NEWCGROUP | CLONE_NEWTIME`.
const NAMESPACE_FLAGS: u32 = (libc::CLONE_NEWNS
    | libc::CLONE_NEWUTS
    | libc::CLONE_NEWIPC
    | libc::CLONE_NEWUSER
    | libc::CLONE_NEWPID
    | libc::CLONE_NEWNET
    | libc::CLONE_NEWCGROUP) as u32
    | 0x80;

/// Refused whatever the arguments: debugging other processes, mounting and changing
/// root, namespaces, the kernel keyring, eBPF, performance counters, userfaultfd,
/// io_uring (it bypasses this filter), loading kernels and modules, personality
/// changes, pidfds, and administration of the machine.
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

    const PID: i32 = 4242;

    /// Runs the program on one syscall, as the kernel would.
    fn run(program: &[libc::sock_filter], arch: u32, nr: i64, args: [u64; 6]) -> u32 {
        let mut data = [0u8; 64];
        data[0..4].copy_from_slice(&(nr as u32).to_le_bytes());
        data[4..8].copy_from_slice(&arch.to_le_bytes());
        for (i, value) in args.iter().enumerate() {
            data[16 + 8 * i..24 + 8 * i].copy_from_slice(&value.to_le_bytes());
        }
        let (mut pc, mut acc) = (0usize, 0u32);
        loop {
            let insn = program[pc];
            pc += 1;
            match insn.code {
                LD_W_ABS => {
                    let at = insn.k as usize;
                    acc = u32::from_le_bytes(data[at..at + 4].try_into().unwrap());
                }
                AND_K => acc &= insn.k,
                RET_K => return insn.k,
                JA => pc += insn.k as usize,
                code => {
                    let taken = match code {
                        JEQ_K => acc == insn.k,
                        JGT_K => acc > insn.k,
                        JSET_K => acc & insn.k != 0,
                        other => panic!("unexpected opcode {other:#x}"),
                    };
                    pc += usize::from(if taken { insn.jt } else { insn.jf });
                }
            }
        }
    }

    fn decide(policy: &Policy, nr: i64, args: [u64; 6]) -> u32 {
        run(&program(policy, PID), AUDIT_ARCH, nr, args)
    }

    fn args(first: u64, second: u64, third: u64) -> [u64; 6] {
        [first, second, third, 0, 0, 0]
    }

    #[test]
    fn every_denied_syscall_is_eperm_and_ordinary_ones_are_allowed() {
        let policy = Policy::new();
        for &nr in ALWAYS_DENIED {
            assert_eq!(decide(&policy, nr, [0; 6]), EPERM, "syscall {nr}");
        }
        for nr in [
            libc::SYS_read,
            libc::SYS_write,
            libc::SYS_getpid,
            libc::SYS_mmap,
            libc::SYS_futex,
            libc::SYS_exit_group,
        ] {
            assert_eq!(decide(&policy, nr, [0; 6]), RET_ALLOW, "syscall {nr}");
        }
    }

    #[test]
    fn unknown_syscalls_other_abis_and_clone3_are_enosys() {
        let policy = Policy::new();
        for nr in [463, 1000, libc::SYS_clone3] {
            assert_eq!(decide(&policy, nr, [0; 6]), ENOSYS, "syscall {nr}");
        }
        let x32_getpid = i64::from(X32_BIT) | libc::SYS_getpid;
        assert_eq!(decide(&policy, x32_getpid, [0; 6]), ENOSYS);
        let program = program(&policy, PID);
        assert_eq!(run(&program, 0x4000_0003, libc::SYS_getpid, [0; 6]), ENOSYS);
    }

    #[test]
    fn clone_never_makes_namespaces_and_makes_processes_only_when_allowed() {
        let one = Policy::new();
        let many = Policy::new().max_processes(8);
        let thread = (libc::CLONE_VM | libc::CLONE_THREAD | libc::CLONE_SIGHAND) as u64;
        let process = libc::SIGCHLD as u64;
        for policy in [&one, &many] {
            assert_eq!(
                decide(policy, libc::SYS_clone, args(thread, 0, 0)),
                RET_ALLOW
            );
            for flag in [
                libc::CLONE_NEWUSER,
                libc::CLONE_NEWNET,
                libc::CLONE_NEWNS,
                0x80,
            ] {
                let flags = process | flag as u64;
                assert_eq!(decide(policy, libc::SYS_clone, args(flags, 0, 0)), EPERM);
            }
        }
        assert_eq!(decide(&one, libc::SYS_clone, args(process, 0, 0)), EPERM);
        assert_eq!(
            decide(&many, libc::SYS_clone, args(process, 0, 0)),
            RET_ALLOW
        );
        assert_eq!(decide(&one, libc::SYS_fork, [0; 6]), EPERM);
        assert_eq!(decide(&many, libc::SYS_fork, [0; 6]), RET_ALLOW);
    }

    #[test]
    fn terminal_injection_is_refused_on_the_low_32_bits() {
        let policy = Policy::new();
        let tiocsti = libc::TIOCSTI;
        for request in [tiocsti, tiocsti | 1 << 32, libc::TIOCLINUX] {
            assert_eq!(decide(&policy, libc::SYS_ioctl, args(0, request, 0)), EPERM);
        }
        let fionread = libc::FIONREAD;
        assert_eq!(
            decide(&policy, libc::SYS_ioctl, args(0, fionread, 0)),
            RET_ALLOW
        );
    }

    #[test]
    fn sockets_are_closed_without_network_and_tcp_udp_only_with_it() {
        let closed = Policy::new();
        let open = Policy::new().network(true);
        let (inet, inet6) = (libc::AF_INET as u64, libc::AF_INET6 as u64);
        let (stream, dgram) = (libc::SOCK_STREAM as u64, libc::SOCK_DGRAM as u64);
        let cloexec = libc::SOCK_CLOEXEC as u64;
        let tcp = libc::IPPROTO_TCP as u64;
        let allowed = [
            args(inet, stream, 0),
            args(inet6, stream | cloexec, tcp),
            args(inet, dgram, libc::IPPROTO_UDP as u64),
        ];
        for socket in allowed {
            assert_eq!(
                decide(&closed, libc::SYS_socket, socket),
                EPERM,
                "{socket:?}"
            );
            assert_eq!(
                decide(&open, libc::SYS_socket, socket),
                RET_ALLOW,
                "{socket:?}"
            );
        }
        let refused = [
            args(libc::AF_UNIX as u64, stream, 0),
            args(libc::AF_NETLINK as u64, dgram, 0),
            args(libc::AF_PACKET as u64, libc::SOCK_RAW as u64, 0),
            args(libc::AF_VSOCK as u64, stream, 0),
            args(inet, libc::SOCK_RAW as u64, 1),
            args(inet, dgram, libc::IPPROTO_ICMP as u64),
            args(inet, stream, 262), // MPTCP
            args(inet, libc::SOCK_SEQPACKET as u64, 0),
        ];
        for socket in refused {
            assert_eq!(decide(&open, libc::SYS_socket, socket), EPERM, "{socket:?}");
        }
        let pair = |domain: i32| args(domain as u64, stream, 0);
        assert_eq!(
            decide(&closed, libc::SYS_socketpair, pair(libc::AF_UNIX)),
            RET_ALLOW
        );
        assert_eq!(
            decide(&open, libc::SYS_socketpair, pair(libc::AF_INET)),
            EPERM
        );
    }

    #[test]
    fn signals_go_only_to_the_sandbox_itself_and_never_to_everyone() {
        let one = Policy::new();
        let many = Policy::new().max_processes(8);
        let pid = |pid: i32| args(pid as u32 as u64, libc::SIGKILL as u64, 0);
        for target in [0, PID, -PID] {
            assert_eq!(
                decide(&one, libc::SYS_kill, pid(target)),
                RET_ALLOW,
                "{target}"
            );
        }
        for target in [1, 4243, -1] {
            assert_eq!(decide(&one, libc::SYS_kill, pid(target)), EPERM, "{target}");
        }
        assert_eq!(decide(&many, libc::SYS_kill, pid(-1)), EPERM);
        assert_eq!(decide(&many, libc::SYS_kill, pid(4243)), RET_ALLOW);
        assert_eq!(decide(&one, libc::SYS_tgkill, pid(PID)), RET_ALLOW);
        assert_eq!(decide(&one, libc::SYS_tgkill, pid(4243)), EPERM);
    }

    #[test]
    fn prctl_cannot_make_the_sandbox_dumpable_again() {
        let policy = Policy::new();
        let option = |o: i32| args(o as u64, 1, 0);
        assert_eq!(
            decide(&policy, libc::SYS_prctl, option(libc::PR_SET_DUMPABLE)),
            EPERM
        );
        assert_eq!(
            decide(&policy, libc::SYS_prctl, option(libc::PR_SET_MM)),
            EPERM
        );
        assert_eq!(
            decide(&policy, libc::SYS_prctl, option(libc::PR_SET_NAME)),
            RET_ALLOW
        );
    }

    /// What the kernel answers with `first` installed and `second` on top: the stricter
    /// action (a lower action value); between two of the same action, the newer filter's.
    fn stacked(second: u32, first: u32) -> u32 {
        let action = |ret: u32| (ret & 0xffff_0000) as i32;
        let mut answer = RET_ALLOW;
        for ret in [second, first] {
            if action(ret) < action(answer) {
                answer = ret;
            }
        }
        answer
    }

    #[test]
    fn zygote_and_spare_filters_together_decide_exactly_as_the_whole_one() {
        let policies = [
            Policy::new().zygote(true),
            Policy::new().zygote(true).network(true).max_processes(4),
            Policy::new(),
        ];
        // Every number up to past the last reviewed, each with arguments that hit every
        // check: namespace and thread flags, the sandbox's pid and others, -1, terminal
        // ioctls, dumpable prctls, socket domains and types.
        let mut argument_sets = vec![[0; 6]];
        for first in [
            libc::CLONE_THREAD as u64 | libc::CLONE_VM as u64,
            libc::CLONE_NEWUSER as u64,
            libc::SIGCHLD as u64,
            PID as u64,
            (-PID) as u64,
            4243,
            u64::MAX,
            libc::PR_SET_DUMPABLE as u64,
            libc::PR_SET_MM as u64,
            libc::PR_SET_NAME as u64,
            libc::AF_INET as u64,
            libc::AF_UNIX as u64,
        ] {
            for second in [0, libc::TIOCSTI, libc::SOCK_STREAM as u64, 1] {
                argument_sets.push(args(first, second, 0));
            }
        }
        for policy in &policies {
            let (whole, zygote, spare) = (
                program(policy, PID),
                zygote_program(policy),
                spare_program(policy, PID),
            );
            for arch in [AUDIT_ARCH, 0x4000_0003] {
                for nr in (0..=i64::from(LAST_REVIEWED) + 3).chain([
                    i64::from(X32_BIT) | libc::SYS_read,
                    i64::from(X32_BIT) | libc::SYS_kill,
                ]) {
                    for args in argument_sets.iter().copied() {
                        assert_eq!(
                            stacked(run(&spare, arch, nr, args), run(&zygote, arch, nr, args)),
                            run(&whole, arch, nr, args),
                            "syscall {nr}, arch {arch:#x}, arguments {args:?}, {policy:?}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn a_zygote_may_fork_and_signal_its_calls_but_not_make_namespaces() {
        let zygote = zygote_program(&Policy::new().zygote(true));
        let decide = |nr: i64, args: [u64; 6]| run(&zygote, AUDIT_ARCH, nr, args);
        assert_eq!(
            decide(libc::SYS_clone, args(libc::SIGCHLD as u64, 0, 0)),
            RET_ALLOW
        );
        assert_eq!(decide(libc::SYS_kill, args(4243, 9, 0)), RET_ALLOW);
        assert_eq!(decide(libc::SYS_pidfd_open, args(4243, 0, 0)), RET_ALLOW);
        assert_eq!(
            decide(libc::SYS_clone, args(libc::CLONE_NEWUSER as u64, 0, 0)),
            EPERM
        );
        assert_eq!(decide(libc::SYS_ptrace, [0; 6]), EPERM);
        assert_eq!(decide(libc::SYS_unshare, [0; 6]), EPERM);
        assert_eq!(
            decide(libc::SYS_socket, args(libc::AF_INET as u64, 1, 0)),
            EPERM
        );
        // The spare's own part is a small program.
        let policy = Policy::new().zygote(true);
        let (spare, whole) = (spare_program(&policy, PID), program(&policy, PID));
        assert!(
            spare.len() * 2 < whole.len(),
            "{} instructions of {}",
            spare.len(),
            whole.len()
        );
    }

    #[test]
    fn the_program_is_small() {
        for policy in [Policy::new(), Policy::new().network(true).max_processes(4)] {
            let length = program(&policy, PID).len();
            assert!(length < 300, "{length} instructions");
        }
    }
}
