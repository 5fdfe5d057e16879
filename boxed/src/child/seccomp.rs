//! The syscall filter, installed last: one classic-BPF program generated from
//! [`syscall_table`], which lists every syscall number with what the sandbox may do
//! with it and why.
//!
//! The program:
//! 1. answers `ENOSYS` for any other architecture or ABI (x32) and for every syscall
//!    numbered above [`LAST_REVIEWED`], as a kernel without them would;
//! 2. answers each reviewed number as the table says, for this policy: allowed, allowed
//!    with argument rules (the pid of `prlimit64` and the `sched_*` calls, the flags of
//!    `clone`, the request of `ioctl`, ...), `EPERM`, or `ENOSYS`.
//!
//! Step 2 is a binary search on the syscall number over runs of numbers with the same
//! answer (see [`laid_out`]); only `JGT` on the number and returns decide a number whose
//! answer does not depend on its arguments, so the kernel finds, when it installs the
//! program, every number it may always allow, and lets those through without running it.
//!
//! A zygote splits the program in two: it installs on itself every rule but those on the
//! calls it, or its spares before they are confined, need ([`zygote_program`]), and each
//! call's process, which inherits that filter, adds the rest ([`spare_program`]), with
//! its own pid in the pid rules. Together they decide every call as the whole program
//! does; a unit test runs both for every syscall number to check it.
//!
//! Why not seccompiler (or libseccomp): seccompiler compiled the first version of these
//! rules to 451 instructions (it tests one flag or value per rule and compares full
//! 64-bit words), and the kernel took about 260 µs to install that, the largest single
//! cost of a sandboxed call. Laid out directly, as a search tree over runs of numbers,
//! with one `JSET` for all namespace flags and the checks of one syscall in one place,
//! the whole table installs in a few tens of microseconds. The layout is simple enough
//! to review, and the unit tests below run the program through a small interpreter for
//! every number and rule.

#[cfg(not(target_arch = "x86_64"))]
compile_error!(
    "boxed's syscall table is reviewed for x86_64 only: a sandbox on another \
     architecture would run without a reviewed filter"
);

use super::syscall_table::{self, Class, Group, LAST_REVIEWED, Rule};
use crate::Policy;

const AUDIT_ARCH: u32 = 0xc000_003e; // AUDIT_ARCH_X86_64

/// Syscalls of the x32 ABI carry this bit (the unit tests check they are `ENOSYS`).
#[cfg(test)]
const X32_BIT: u32 = 0x4000_0000;

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
/// and high 32 bits of argument `i` (little-endian). The kernel reads only the low half
/// of an `int` argument (a pid, a flag word, an `ioctl` request).
const NR: u32 = 0;
const ARCH: u32 = 4;
const fn arg(i: u32) -> u32 {
    16 + 8 * i
}
const fn arg_high(i: u32) -> u32 {
    20 + 8 * i
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

#[derive(Debug, Clone, Copy, PartialEq)]
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

/// What the filter answers for one syscall number, under one policy.
#[derive(Debug, Clone, PartialEq)]
enum Decision {
    Allow,
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
    laid_out(&decisions(policy, own_pid))
}

/// What a zygote installs on itself, once, before it forks its spares: every rule but
/// those on the calls in [`ZYGOTE_NEEDS`], which it allows (`clone` without namespaces).
/// Its spares inherit it, so the kernel compiles the bulk of the filter once per zygote
/// instead of once per call.
pub(crate) fn zygote_program(policy: &Policy) -> Vec<libc::sock_filter> {
    let mut decisions = decisions(policy, 0);
    for &nr in ZYGOTE_NEEDS {
        decisions[nr as usize] = Decision::Allow;
    }
    // Its own forks never make namespaces either.
    decisions[libc::SYS_clone as usize] = Decision::Checks {
        argument: 0,
        checks: vec![jset(NAMESPACE_FLAGS, To::Deny, To::Allow)],
    };
    laid_out(&decisions)
}

/// What a spare adds on top of [`zygote_program`]: the rules on the calls in
/// [`ZYGOTE_NEEDS`], with its own pid, and nothing else. The kernel runs both filters on
/// every syscall and takes the stricter answer, so the two together decide every call
/// exactly as [`program`] alone does (a unit test checks this for every syscall number).
pub(crate) fn spare_program(policy: &Policy, own_pid: i32) -> Vec<libc::sock_filter> {
    let whole = decisions(policy, own_pid);
    let mut decisions = vec![Decision::Allow; whole.len()];
    for &nr in ZYGOTE_NEEDS {
        decisions[nr as usize] = whole[nr as usize].clone();
    }
    laid_out(&decisions)
}

/// The calls a zygote makes itself (forking spares, opening their pidfds, killing the
/// calls it ends) or that its spares make while they drop their privileges and confine
/// themselves (`setresuid`, `capset`, `setpgid`, `prctl`, `prlimit64`, Landlock, the
/// checks that `setresuid(0)` and `setuid(0)` fail), which the sandbox's rules refuse or
/// restrict; and every call whose rule names the sandbox's own pid, which differs from
/// spare to spare.
const ZYGOTE_NEEDS: &[i64] = &[
    libc::SYS_clone,
    libc::SYS_fork,
    libc::SYS_vfork,
    libc::SYS_pidfd_open,
    libc::SYS_kill,
    libc::SYS_tgkill,
    libc::SYS_rt_sigqueueinfo,
    libc::SYS_rt_tgsigqueueinfo,
    libc::SYS_setsid,
    libc::SYS_setpgid,
    libc::SYS_prctl,
    libc::SYS_setuid,
    libc::SYS_setresuid,
    libc::SYS_setresgid,
    libc::SYS_capset,
    libc::SYS_landlock_create_ruleset,
    libc::SYS_landlock_add_rule,
    libc::SYS_landlock_restrict_self,
    libc::SYS_prlimit64,
    libc::SYS_getpriority,
    libc::SYS_setpriority,
    libc::SYS_sched_setaffinity,
    libc::SYS_sched_getaffinity,
    libc::SYS_getpgid,
    libc::SYS_getsid,
];

/// Whether `policy` opens `group`.
fn opens(policy: &Policy, group: Group) -> bool {
    match group {
        Group::Processes => policy.max_processes > 1,
        Group::Network => policy.network,
        Group::Writes => !policy.write.is_empty(),
        Group::NoZygote => !policy.zygote,
    }
}

/// The decision for every number from 0 to [`LAST_REVIEWED`], for `policy`.
fn decisions(policy: &Policy, own_pid: i32) -> Vec<Decision> {
    (0..=LAST_REVIEWED)
        .map(|nr| match syscall_table::class_of(nr) {
            Class::Allow => Decision::Allow,
            Class::Deny => Decision::Deny,
            Class::NoSys => Decision::NoSys,
            Class::When(group) if opens(policy, group) => Decision::Allow,
            Class::When(_) => Decision::Deny,
            Class::Rule(rule) => checks(rule, policy, own_pid),
        })
        .collect()
}

/// The checks of one argument rule.
fn checks(rule: Rule, policy: &Policy, own_pid: i32) -> Decision {
    let one_process = policy.max_processes <= 1;
    let own = own_pid as u32;
    let (argument, checks) = match rule {
        // Never with a namespace flag; with one process allowed, only threads.
        Rule::Clone if one_process => (
            0,
            vec![
                jset(NAMESPACE_FLAGS, To::Deny, To::Next),
                jset(libc::CLONE_THREAD as u32, To::Allow, To::Deny),
            ],
        ),
        Rule::Clone => (0, vec![jset(NAMESPACE_FLAGS, To::Deny, To::Allow)]),
        // Faking terminal input, and the console's own ioctl.
        Rule::Ioctl => (
            1,
            vec![
                jeq(libc::TIOCSTI as u32, To::Deny, To::Next),
                jeq(libc::TIOCLINUX as u32, To::Deny, To::Allow),
            ],
        ),
        // Becoming dumpable again, and rewriting its own memory map's bookkeeping.
        Rule::Prctl => (
            0,
            vec![
                jeq(libc::PR_SET_DUMPABLE as u32, To::Deny, To::Next),
                jeq(libc::PR_SET_MM as u32, To::Deny, To::Allow),
            ],
        ),
        Rule::Socket if !policy.network => return Decision::Deny,
        // TCP and UDP over IPv4 and IPv6 only: domain, type (its low 4 bits; the rest
        // are flags) and protocol must all be among those.
        Rule::Socket => (
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
        ),
        // Unix stream and seqpacket pairs only: each end is connected to the other for
        // good, so it can reach nothing else. A datagram end takes an address with every
        // `sendto`, and would deliver to any named unix socket the sandbox may write to
        // (`/dev/log`, a caller's socket), which neither Landlock nor this filter sees.
        Rule::Socketpair => (
            0,
            vec![
                jeq(libc::AF_UNIX as u32, To::Next, To::Deny),
                Check::Load(arg(1)),
                Check::And(0xf),
                jeq(libc::SOCK_STREAM as u32, To::Allow, To::Next),
                jeq(libc::SOCK_SEQPACKET as u32, To::Allow, To::Deny),
            ],
        ),
        // Never to every process; with one process allowed, only to itself: 0 (its
        // group, which is its own), its pid, or its group by number.
        Rule::Kill if one_process => (
            0,
            vec![
                jeq(0, To::Allow, To::Next),
                jeq(own, To::Allow, To::Next),
                jeq(own.wrapping_neg(), To::Allow, To::Deny),
            ],
        ),
        Rule::Kill => (0, vec![jeq(u32::MAX, To::Deny, To::Allow)]),
        Rule::SignalSelf if one_process => (0, vec![jeq(own, To::Allow, To::Deny)]),
        Rule::SignalSelf => return Decision::Allow,
        // As Chromium's RestrictPrlimit64 and RestrictSchedTarget: 0 or its own pid.
        // Its children (when processes are open) inherit the rule with this pid.
        Rule::OwnPid => (
            0,
            vec![jeq(0, To::Allow, To::Next), jeq(own, To::Allow, To::Deny)],
        ),
        // As Chromium's RestrictGetSetpriority: PRIO_PROCESS of 0 or its own pid, never
        // a process group or a user.
        Rule::OwnPriority => (
            0,
            vec![
                jeq(libc::PRIO_PROCESS, To::Next, To::Deny),
                Check::Load(arg(1)),
                jeq(0, To::Allow, To::Next),
                jeq(own, To::Allow, To::Deny),
            ],
        ),
        Rule::TimesOfDescriptor if policy.write.is_empty() => return Decision::Deny,
        // The path is a pointer: null (both halves) is `futimens` on the descriptor.
        Rule::TimesOfDescriptor => (
            1,
            vec![
                jeq(0, To::Next, To::Deny),
                Check::Load(arg_high(1)),
                jeq(0, To::Allow, To::Deny),
            ],
        ),
    };
    Decision::Checks { argument, checks }
}

/// The program for `decisions` (one per number from 0): the architecture and ABI checks,
/// then a binary search over the runs of numbers that share one simple answer.
///
/// The kernel runs the whole program once per syscall number when it installs it (to
/// find the numbers it may always allow without running it), so a linear list of N
/// comparisons costs about 2 µs per comparison to install; a search tree costs a few
/// steps per number.
fn laid_out(decisions: &[Decision]) -> Vec<libc::sock_filter> {
    let mut runs: Vec<(u32, &Decision)> = Vec::new();
    for (nr, decision) in decisions.iter().enumerate() {
        let nr = u32::try_from(nr).expect("a syscall number");
        match runs.last_mut() {
            // A decision's code does not depend on the number: equal neighbours, also
            // with the same argument checks, are one run.
            Some((last, previous)) if previous == &decision => *last = nr,
            _ => runs.push((nr, decision)),
        }
    }
    let mut program = vec![
        filter(LD_W_ABS, 0, 0, ARCH),
        filter(JEQ_K, 1, 0, AUDIT_ARCH),
        filter(RET_K, 0, 0, ENOSYS),
        filter(LD_W_ABS, 0, 0, NR),
        // Also every x32 number: they carry X32_BIT, far above the last reviewed.
        filter(JGT_K, 0, 1, LAST_REVIEWED),
        filter(RET_K, 0, 0, ENOSYS),
    ];
    program.extend(tree(&runs));
    program
}

/// How many runs a leaf of the search tree scans one after the other.
const LEAF: usize = 12;

/// A binary search over `runs`: each is the last number of a run and the run's answer,
/// in order, together covering every number the search can reach. A leaf tests each run
/// but its last with one `JGT` whose false branch goes to the run's answer; the answers
/// follow, each written once per leaf (runs with the same answer share it).
fn tree(runs: &[(u32, &Decision)]) -> Vec<libc::sock_filter> {
    if runs.len() <= LEAF {
        return leaf(runs);
    }
    let middle = runs.len() / 2;
    let (left, right) = (tree(&runs[..middle]), tree(&runs[middle..]));
    let above = runs[middle - 1].0;
    // Above the left half's largest number: jump over the left half, in one
    // instruction if the jump is short.
    let mut out = match u8::try_from(left.len()) {
        Ok(over) => vec![filter(JGT_K, over, 0, above)],
        Err(_) => vec![
            filter(JGT_K, 0, 1, above),
            filter(
                JA,
                0,
                0,
                u32::try_from(left.len()).expect("a small program"),
            ),
        ],
    };
    out.extend(left);
    out.extend(right);
    out
}

fn leaf(runs: &[(u32, &Decision)]) -> Vec<libc::sock_filter> {
    // The answers, each once: where each run's answer starts among them.
    let mut answers: Vec<Vec<libc::sock_filter>> = Vec::new();
    let mut shared: Vec<&Decision> = Vec::new();
    let mut target = Vec::with_capacity(runs.len());
    for (_, decision) in runs {
        let index = match shared.iter().position(|known| known == decision) {
            Some(index) => index,
            None => {
                shared.push(decision);
                answers.push(answer(decision));
                answers.len() - 1
            }
        };
        target.push(index);
    }
    let tests = runs.len(); // JGTs for all runs but the last, then one JA.
    let starts: Vec<usize> = answers
        .iter()
        .scan(tests, |at, body| {
            let start = *at;
            *at += body.len();
            Some(start)
        })
        .collect();
    let mut out = Vec::new();
    for (i, ((last, _), &index)) in runs.iter().zip(&target).enumerate() {
        let to = starts[index] - i - 1;
        if i + 1 < runs.len() {
            out.push(filter(JGT_K, 0, short(to), *last));
        } else {
            out.push(filter(JA, 0, 0, u32::try_from(to).expect("a short jump")));
        }
    }
    out.extend(answers.into_iter().flatten());
    out
}

/// The instructions that answer for one run, with their own returns, so that every jump
/// stays short.
fn answer(decision: &Decision) -> Vec<libc::sock_filter> {
    match decision {
        Decision::Allow => vec![filter(RET_K, 0, 0, RET_ALLOW)],
        Decision::Deny => vec![filter(RET_K, 0, 0, EPERM)],
        Decision::NoSys => vec![filter(RET_K, 0, 0, ENOSYS)],
        Decision::Checks { argument, checks } => {
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

    /// What the table says a call with all-zero arguments gets under `policy`, for the
    /// numbers whose class decides it without looking at the rule's arguments.
    fn by_class(policy: &Policy, nr: u32) -> Option<u32> {
        Some(match syscall_table::class_of(nr) {
            Class::Allow => RET_ALLOW,
            Class::Deny => EPERM,
            Class::NoSys => ENOSYS,
            Class::When(group) if opens(policy, group) => RET_ALLOW,
            Class::When(_) => EPERM,
            Class::Rule(_) => return None,
        })
    }

    #[test]
    fn every_number_is_answered_as_its_table_row_says() {
        let policies = [
            Policy::new(),
            Policy::new().zygote(true),
            Policy::new().network(true).max_processes(4).write("/tmp"),
        ];
        for policy in &policies {
            for nr in 0..=LAST_REVIEWED {
                if let Some(expected) = by_class(policy, nr) {
                    let args = [u64::MAX, 1, 2, 3, 4, 5];
                    for args in [[0; 6], args] {
                        assert_eq!(
                            decide(policy, i64::from(nr), args),
                            expected,
                            "syscall {nr}, {policy:?}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn ordinary_calls_are_allowed_and_escapes_refused() {
        let policy = Policy::new();
        for nr in [
            libc::SYS_read,
            libc::SYS_write,
            libc::SYS_openat,
            libc::SYS_getpid,
            libc::SYS_mmap,
            libc::SYS_futex,
            libc::SYS_getrandom,
            libc::SYS_statx,
            libc::SYS_exit_group,
        ] {
            assert_eq!(decide(&policy, nr, [0; 6]), RET_ALLOW, "syscall {nr}");
        }
        for nr in [
            libc::SYS_ptrace,
            libc::SYS_mount,
            libc::SYS_unshare,
            libc::SYS_bpf,
            libc::SYS_io_uring_setup,
            libc::SYS_keyctl,
            libc::SYS_setresuid,
            libc::SYS_memfd_create,
        ] {
            assert_eq!(decide(&policy, nr, [0; 6]), EPERM, "syscall {nr}");
        }
    }

    #[test]
    fn system_v_ipc_is_refused_under_every_policy() {
        let open = Policy::new()
            .network(true)
            .max_processes(8)
            .write("/tmp")
            .zygote(true);
        for policy in [Policy::new(), open] {
            for nr in [
                libc::SYS_shmget,
                libc::SYS_shmat,
                libc::SYS_shmctl,
                libc::SYS_shmdt,
                libc::SYS_msgget,
                libc::SYS_msgsnd,
                libc::SYS_msgrcv,
                libc::SYS_msgctl,
                libc::SYS_semget,
                libc::SYS_semop,
                libc::SYS_semtimedop,
                libc::SYS_semctl,
                libc::SYS_mq_open,
                libc::SYS_mq_unlink,
            ] {
                assert_eq!(decide(&policy, nr, [0; 6]), EPERM, "syscall {nr}");
            }
        }
    }

    #[test]
    fn calls_on_other_processes_are_allowed_only_on_the_sandbox_itself() {
        for policy in [Policy::new(), Policy::new().max_processes(8)] {
            for nr in [
                libc::SYS_prlimit64,
                libc::SYS_sched_setaffinity,
                libc::SYS_sched_getaffinity,
                libc::SYS_getpgid,
                libc::SYS_getsid,
            ] {
                for pid in [0, PID] {
                    let args = args(pid as u64, 0, 0);
                    assert_eq!(decide(&policy, nr, args), RET_ALLOW, "{nr} on {pid}");
                }
                for pid in [1, PID + 1, -1] {
                    let args = args(pid as u32 as u64, 0, 0);
                    assert_eq!(decide(&policy, nr, args), EPERM, "{nr} on {pid}");
                }
            }
            for nr in [libc::SYS_getpriority, libc::SYS_setpriority] {
                let (process, group, user) = (
                    libc::PRIO_PROCESS as u64,
                    libc::PRIO_PGRP as u64,
                    libc::PRIO_USER as u64,
                );
                for allowed in [args(process, 0, 5), args(process, PID as u64, 5)] {
                    assert_eq!(decide(&policy, nr, allowed), RET_ALLOW, "{allowed:?}");
                }
                for refused in [
                    args(process, PID as u64 + 1, 5),
                    args(group, 0, 5),
                    args(user, 0, 5),
                    args(user, 65534, 5),
                ] {
                    assert_eq!(decide(&policy, nr, refused), EPERM, "{refused:?}");
                }
            }
            for nr in [
                libc::SYS_sched_setscheduler,
                libc::SYS_sched_setparam,
                libc::SYS_sched_setattr,
                libc::SYS_ioprio_set,
                libc::SYS_ioprio_get,
                libc::SYS_migrate_pages,
                libc::SYS_move_pages,
                libc::SYS_get_robust_list,
            ] {
                assert_eq!(decide(&policy, nr, [0; 6]), EPERM, "syscall {nr}");
            }
        }
    }

    #[test]
    fn metadata_changes_by_path_are_refused_and_by_descriptor_need_a_write_grant() {
        let none = Policy::new();
        let writes = Policy::new().write("/tmp");
        for policy in [&none, &writes] {
            for nr in [
                libc::SYS_chmod,
                libc::SYS_fchmodat,
                libc::SYS_fchmodat2,
                libc::SYS_chown,
                libc::SYS_lchown,
                libc::SYS_fchownat,
                libc::SYS_utime,
                libc::SYS_utimes,
                libc::SYS_futimesat,
                libc::SYS_setxattr,
                libc::SYS_lsetxattr,
                libc::SYS_removexattr,
                libc::SYS_lremovexattr,
                libc::SYS_inotify_init,
                libc::SYS_inotify_init1,
                libc::SYS_inotify_add_watch,
                libc::SYS_fanotify_init,
                libc::SYS_fanotify_mark,
            ] {
                assert_eq!(decide(policy, nr, [0; 6]), EPERM, "syscall {nr}");
            }
            // utimensat with a path (any non-null pointer, also above 4 GiB).
            for path in [0x1000, 1 << 32] {
                let args = args(libc::AT_FDCWD as u64, path, 0);
                assert_eq!(decide(policy, libc::SYS_utimensat, args), EPERM);
            }
        }
        for nr in [
            libc::SYS_fchmod,
            libc::SYS_fchown,
            libc::SYS_fsetxattr,
            libc::SYS_fremovexattr,
            libc::SYS_utimensat,
        ] {
            assert_eq!(decide(&none, nr, args(3, 0, 0)), EPERM, "syscall {nr}");
            assert_eq!(
                decide(&writes, nr, args(3, 0, 0)),
                RET_ALLOW,
                "syscall {nr}"
            );
        }
    }

    #[test]
    fn without_the_network_nothing_is_bound_listened_on_or_connected() {
        let closed = Policy::new();
        let open = Policy::new().network(true);
        for nr in [
            libc::SYS_bind,
            libc::SYS_listen,
            libc::SYS_connect,
            libc::SYS_accept,
            libc::SYS_accept4,
        ] {
            assert_eq!(decide(&closed, nr, [0; 6]), EPERM, "syscall {nr}");
            assert_eq!(decide(&open, nr, [0; 6]), RET_ALLOW, "syscall {nr}");
        }
    }

    /// How many numbers reach the kernel with all-zero arguments: what the sweep test
    /// (`tests/tests/e2e_sweep.rs`) measures from inside a sandbox.
    fn reached_with_zero_arguments(policy: &Policy) -> usize {
        let program = program(policy, PID);
        (0..=i64::from(LAST_REVIEWED))
            .filter(|&nr| run(&program, AUDIT_ARCH, nr, [0; 6]) == RET_ALLOW)
            .count()
    }

    #[test]
    fn at_most_150_numbers_reach_the_kernel_under_the_default_policy() {
        let reached = reached_with_zero_arguments(&Policy::new());
        assert!(reached <= 150, "{reached} numbers");
        let zygote = reached_with_zero_arguments(&Policy::new().zygote(true));
        assert!(zygote < reached, "{zygote} through a zygote");
    }

    /// The sizes the README reports: `cargo test -p boxed --lib filter_sizes -- --nocapture`.
    #[test]
    fn filter_sizes() {
        for (what, policy) in [
            ("default", Policy::new()),
            ("zygote", Policy::new().zygote(true)),
            (
                "network, processes, writes",
                Policy::new().network(true).max_processes(4).write("/tmp"),
            ),
        ] {
            let (whole, zygote, spare) = (
                program(&policy, PID).len(),
                zygote_program(&policy).len(),
                spare_program(&policy, PID).len(),
            );
            println!(
                "{what}: whole {whole} instructions ({} bytes), zygote {zygote}, spare {spare}; \
                 {} numbers reach the kernel with zero arguments",
                whole * size_of::<libc::sock_filter>(),
                reached_with_zero_arguments(&policy),
            );
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
        let unix_pair = |kind: i32| args(libc::AF_UNIX as u64, kind as u64, 0);
        for policy in [&closed, &open] {
            for kind in [
                libc::SOCK_STREAM | libc::SOCK_CLOEXEC,
                libc::SOCK_SEQPACKET | libc::SOCK_NONBLOCK,
            ] {
                let decision = decide(policy, libc::SYS_socketpair, unix_pair(kind));
                assert_eq!(decision, RET_ALLOW, "{kind:#x}");
            }
            for kind in [
                libc::SOCK_DGRAM,
                libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
                libc::SOCK_RAW,
            ] {
                let decision = decide(policy, libc::SYS_socketpair, unix_pair(kind));
                assert_eq!(decision, EPERM, "{kind:#x}");
            }
        }
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
            assert!(length < 450, "{length} instructions");
        }
    }

    /// What installing the default program costs, printed, never asserted (speed is
    /// the benchmark's): `cargo test -p boxed --lib install_cost -- --ignored --nocapture`.
    /// Each install happens on a fresh thread, which the filter then confines alone.
    #[test]
    #[ignore = "prints a measurement"]
    fn install_cost() {
        let zygote = Policy::new().zygote(true);
        let pid = std::process::id() as i32;
        for (what, program) in [
            ("default, whole", program(&Policy::new(), pid)),
            ("zygote's", zygote_program(&zygote)),
            ("spare's", spare_program(&zygote, pid)),
        ] {
            let mut times: Vec<std::time::Duration> = (0..201)
                .map(|_| {
                    let program = program.clone();
                    std::thread::spawn(move || {
                        nix::sys::prctl::set_no_new_privs().expect("no_new_privs");
                        let start = std::time::Instant::now();
                        install(&program).expect("installing");
                        start.elapsed()
                    })
                    .join()
                    .expect("the installing thread")
                })
                .collect();
            times.sort();
            println!(
                "{what}: {} instructions, install p50 {:?}, p90 {:?}",
                program.len(),
                times[100],
                times[180],
            );
        }
    }
}
