//! Every x86_64 syscall number up to [`LAST_REVIEWED`], once, with what the sandbox's
//! filter answers for it and why. [`seccomp`](super::seccomp) generates the filter from
//! this table; a number the table does not list is refused (a unit test checks that it
//! lists every one).
//!
//! How to read a row: `Allow` reaches the kernel with any arguments; `Rule` reaches it
//! only with the arguments the rule admits, `EPERM` otherwise; `When` reaches it only
//! when the policy opens that group, `EPERM` otherwise; `Deny` is `EPERM` always;
//! `NoSys` is `ENOSYS`, as on a kernel without the call. Path-based calls that Landlock
//! governs (opening, creating, removing, renaming, linking, executing, truncating) are
//! allowed: Landlock answers them inside the grants and refuses them outside. Calls
//! that act on a path Landlock does not govern (metadata changes, watches) are refused.
//! A descriptor-based call acts only on a descriptor Landlock already let the sandbox
//! open, or on one of its own pipes and sockets.

/// The highest syscall number reviewed (`mseal`); every higher number is `ENOSYS`.
pub(crate) const LAST_REVIEWED: u32 = 462;

/// What the filter does with one syscall number.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Class {
    /// Reaches the kernel whatever its arguments.
    Allow,
    /// Reaches the kernel when the policy opens the group; `EPERM` otherwise.
    When(Group),
    /// Reaches the kernel when its arguments pass the rule; `EPERM` otherwise.
    Rule(Rule),
    /// `EPERM`, whatever its arguments.
    Deny,
    /// `ENOSYS`, as a kernel without the call would answer.
    NoSys,
}

/// What a policy opens.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Group {
    /// `max_processes` above 1: new processes.
    Processes,
    /// `network = true`: making, binding, connecting and accepting sockets.
    Network,
    /// A `write` grant: metadata calls on descriptors the sandbox opened.
    Writes,
    /// Not a zygote call: leaving the process group or session (a zygote tells its
    /// calls apart by process group).
    NoZygote,
}

/// An argument rule: the call reaches the kernel only with these arguments.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Rule {
    /// `clone`: never with a namespace flag; a thread only, unless processes are open.
    Clone,
    /// `ioctl`: never `TIOCSTI` or `TIOCLINUX` (on the low 32 bits of the request).
    Ioctl,
    /// `prctl`: never `PR_SET_MM`, and `PR_SET_DUMPABLE` only to 0 (not dumpable).
    Prctl,
    /// `socket`: with the network open, TCP and UDP over IPv4 and IPv6 only.
    Socket,
    /// `socketpair`: `AF_UNIX` stream and seqpacket pairs only (a datagram end could
    /// `sendto` any named unix socket).
    Socketpair,
    /// `kill`: never to -1; with one process, only to 0, itself or its group.
    Kill,
    /// `tgkill`, `rt_sigqueueinfo`, `rt_tgsigqueueinfo`: with one process, only to itself.
    SignalSelf,
    /// The pid in the first argument is 0 or the sandbox's own.
    OwnPid,
    /// `getpriority`/`setpriority`: `PRIO_PROCESS` of 0 or the sandbox's own pid.
    OwnPriority,
    /// `utimensat`: only with a null path (`futimens`, a descriptor's times), and only
    /// with a write grant.
    TimesOfDescriptor,
}

use Class::{Allow, Deny, NoSys, Rule as R, When};
use Group::{Network, NoZygote, Processes, Writes};
use Rule::*;

/// One row: the number, the name, the class, the reason.
pub(crate) type Row = (u32, &'static str, Class, &'static str);

/// The table, by number. Numbers 337 to 423 were never assigned on x86_64 (the common
/// table of every architecture starts at 424): [`class_of`] answers `ENOSYS` for them.
#[rustfmt::skip]
pub(crate) const TABLE: &[Row] = &[
    (libc::SYS_read as u32, "read", Allow, "I/O on its own descriptors"),
    (libc::SYS_write as u32, "write", Allow, "I/O on its own descriptors"),
    (libc::SYS_open as u32, "open", NoSys, "glibc and std open through openat; arm64 kernels have only openat"),
    (libc::SYS_close as u32, "close", Allow, "closes its own descriptors"),
    (libc::SYS_stat as u32, "stat", NoSys, "glibc (2.33 on) and std use the *at or 64 forms; arm64 kernels have only those"),
    (libc::SYS_fstat as u32, "fstat", Allow, "metadata reads: Landlock cannot govern them (see the security model)"),
    (libc::SYS_lstat as u32, "lstat", NoSys, "glibc (2.33 on) and std use the *at or 64 forms; arm64 kernels have only those"),
    (libc::SYS_poll as u32, "poll", Allow, "waits on its own descriptors"),
    (libc::SYS_lseek as u32, "lseek", Allow, "I/O on its own descriptors"),
    (libc::SYS_mmap as u32, "mmap", Allow, "its own memory"),
    (libc::SYS_mprotect as u32, "mprotect", Allow, "its own memory"),
    (libc::SYS_munmap as u32, "munmap", Allow, "its own memory"),
    (libc::SYS_brk as u32, "brk", Allow, "its own memory"),
    (libc::SYS_rt_sigaction as u32, "rt_sigaction", Allow, "its own signal handling"),
    (libc::SYS_rt_sigprocmask as u32, "rt_sigprocmask", Allow, "its own signal handling"),
    (libc::SYS_rt_sigreturn as u32, "rt_sigreturn", Allow, "its own signal handling"),
    (libc::SYS_ioctl as u32, "ioctl", R(Ioctl), "device control of its descriptors; never faking terminal input"),
    (libc::SYS_pread64 as u32, "pread64", Allow, "I/O on its own descriptors"),
    (libc::SYS_pwrite64 as u32, "pwrite64", Allow, "I/O on its own descriptors"),
    (libc::SYS_readv as u32, "readv", Allow, "I/O on its own descriptors"),
    (libc::SYS_writev as u32, "writev", Allow, "I/O on its own descriptors"),
    (libc::SYS_access as u32, "access", Allow, "permission checks; Landlock answers the opens that follow"),
    (libc::SYS_pipe as u32, "pipe", Allow, "pipes of its own"),
    (libc::SYS_select as u32, "select", Allow, "waits on its own descriptors"),
    (libc::SYS_sched_yield as u32, "sched_yield", Allow, "scheduling of itself"),
    (libc::SYS_mremap as u32, "mremap", Allow, "its own memory"),
    (libc::SYS_msync as u32, "msync", Allow, "its own memory"),
    (libc::SYS_mincore as u32, "mincore", Deny, "page-cache state of files: a side channel"),
    (libc::SYS_madvise as u32, "madvise", Allow, "its own memory"),
    (libc::SYS_shmget as u32, "shmget", Deny, "System V IPC objects outlive the sandbox and are shared by every process of the identity"),
    (libc::SYS_shmat as u32, "shmat", Deny, "System V IPC objects outlive the sandbox and are shared by every process of the identity"),
    (libc::SYS_shmctl as u32, "shmctl", Deny, "System V IPC objects outlive the sandbox and are shared by every process of the identity"),
    (libc::SYS_dup as u32, "dup", Allow, "its own descriptors"),
    (libc::SYS_dup2 as u32, "dup2", Allow, "its own descriptors"),
    (libc::SYS_pause as u32, "pause", Allow, "its own signal handling"),
    (libc::SYS_nanosleep as u32, "nanosleep", Allow, "time and sleeping"),
    (libc::SYS_getitimer as u32, "getitimer", Allow, "its own timers"),
    (libc::SYS_alarm as u32, "alarm", Allow, "its own timers"),
    (libc::SYS_setitimer as u32, "setitimer", Allow, "its own timers"),
    (libc::SYS_getpid as u32, "getpid", Allow, "its own ids"),
    (libc::SYS_sendfile as u32, "sendfile", Allow, "copies between descriptors it holds (std::fs::copy, std::io::copy)"),
    (libc::SYS_socket as u32, "socket", R(Socket), "no sockets without the network; TCP and UDP with it"),
    (libc::SYS_connect as u32, "connect", When(Network), "naming and connecting sockets: only with the network (an abstract name could be squatted)"),
    (libc::SYS_accept as u32, "accept", When(Network), "naming and connecting sockets: only with the network (an abstract name could be squatted)"),
    (libc::SYS_sendto as u32, "sendto", Allow, "I/O on sockets it holds"),
    (libc::SYS_recvfrom as u32, "recvfrom", Allow, "I/O on sockets it holds"),
    (libc::SYS_sendmsg as u32, "sendmsg", Allow, "I/O on sockets it holds"),
    (libc::SYS_recvmsg as u32, "recvmsg", Allow, "I/O on sockets it holds"),
    (libc::SYS_shutdown as u32, "shutdown", Allow, "I/O on sockets it holds"),
    (libc::SYS_bind as u32, "bind", When(Network), "naming and connecting sockets: only with the network (an abstract name could be squatted)"),
    (libc::SYS_listen as u32, "listen", When(Network), "naming and connecting sockets: only with the network (an abstract name could be squatted)"),
    (libc::SYS_getsockname as u32, "getsockname", Allow, "I/O on sockets it holds"),
    (libc::SYS_getpeername as u32, "getpeername", Allow, "I/O on sockets it holds"),
    (libc::SYS_socketpair as u32, "socketpair", R(Socketpair), "connected unix pairs of its own"),
    (libc::SYS_setsockopt as u32, "setsockopt", Allow, "I/O on sockets it holds"),
    (libc::SYS_getsockopt as u32, "getsockopt", Allow, "I/O on sockets it holds"),
    (libc::SYS_clone as u32, "clone", R(Clone), "threads; processes only when the policy allows them; never namespaces"),
    (libc::SYS_fork as u32, "fork", When(Processes), "new processes, when max_processes allows them"),
    (libc::SYS_vfork as u32, "vfork", When(Processes), "new processes, when max_processes allows them"),
    (libc::SYS_execve as u32, "execve", Allow, "runs a program: Landlock decides (execute right)"),
    (libc::SYS_exit as u32, "exit", Allow, "ends itself"),
    (libc::SYS_wait4 as u32, "wait4", Allow, "waits for its own children"),
    (libc::SYS_kill as u32, "kill", R(Kill), "never to every process; with one process only to itself"),
    (libc::SYS_uname as u32, "uname", Allow, "system information glibc and std ask for"),
    (libc::SYS_semget as u32, "semget", Deny, "System V IPC objects outlive the sandbox and are shared by every process of the identity"),
    (libc::SYS_semop as u32, "semop", Deny, "System V IPC objects outlive the sandbox and are shared by every process of the identity"),
    (libc::SYS_semctl as u32, "semctl", Deny, "System V IPC objects outlive the sandbox and are shared by every process of the identity"),
    (libc::SYS_shmdt as u32, "shmdt", Deny, "System V IPC objects outlive the sandbox and are shared by every process of the identity"),
    (libc::SYS_msgget as u32, "msgget", Deny, "System V IPC objects outlive the sandbox and are shared by every process of the identity"),
    (libc::SYS_msgsnd as u32, "msgsnd", Deny, "System V IPC objects outlive the sandbox and are shared by every process of the identity"),
    (libc::SYS_msgrcv as u32, "msgrcv", Deny, "System V IPC objects outlive the sandbox and are shared by every process of the identity"),
    (libc::SYS_msgctl as u32, "msgctl", Deny, "System V IPC objects outlive the sandbox and are shared by every process of the identity"),
    (libc::SYS_fcntl as u32, "fcntl", Allow, "its own descriptors (F_SETLK locks a file it opened)"),
    (libc::SYS_flock as u32, "flock", Allow, "advisory lock on a file it opened"),
    (libc::SYS_fsync as u32, "fsync", Allow, "flushes one of its own files"),
    (libc::SYS_fdatasync as u32, "fdatasync", Allow, "flushes one of its own files"),
    (libc::SYS_truncate as u32, "truncate", Allow, "Landlock decides (truncate right)"),
    (libc::SYS_ftruncate as u32, "ftruncate", Allow, "changes a file through a descriptor opened for writing"),
    (libc::SYS_getdents as u32, "getdents", NoSys, "glibc (2.33 on) and std use the *at or 64 forms; arm64 kernels have only those"),
    (libc::SYS_getcwd as u32, "getcwd", Allow, "its own working directory"),
    (libc::SYS_chdir as u32, "chdir", Allow, "its own working directory"),
    (libc::SYS_fchdir as u32, "fchdir", Allow, "its own working directory"),
    (libc::SYS_rename as u32, "rename", Allow, "changes the tree: Landlock decides"),
    (libc::SYS_mkdir as u32, "mkdir", Allow, "changes the tree: Landlock decides"),
    (libc::SYS_rmdir as u32, "rmdir", Allow, "changes the tree: Landlock decides"),
    (libc::SYS_creat as u32, "creat", Allow, "opens a file: Landlock decides"),
    (libc::SYS_link as u32, "link", Allow, "changes the tree: Landlock decides"),
    (libc::SYS_unlink as u32, "unlink", Allow, "changes the tree: Landlock decides"),
    (libc::SYS_symlink as u32, "symlink", Allow, "changes the tree: Landlock decides"),
    (libc::SYS_readlink as u32, "readlink", Allow, "reads a link; Landlock judges the file reached, not the link"),
    (libc::SYS_chmod as u32, "chmod", Deny, "changes metadata by path, which Landlock does not govern: refused everywhere"),
    (libc::SYS_fchmod as u32, "fchmod", When(Writes), "changes metadata of a file it opened (std::fs::copy sets the mode of its copy)"),
    (libc::SYS_chown as u32, "chown", Deny, "changes metadata by path, which Landlock does not govern: refused everywhere"),
    (libc::SYS_fchown as u32, "fchown", When(Writes), "changes metadata of a file it opened (std::fs::copy sets the mode of its copy)"),
    (libc::SYS_lchown as u32, "lchown", Deny, "changes metadata by path, which Landlock does not govern: refused everywhere"),
    (libc::SYS_umask as u32, "umask", Allow, "its own file-creation mask"),
    (libc::SYS_gettimeofday as u32, "gettimeofday", Allow, "time and sleeping"),
    (libc::SYS_getrlimit as u32, "getrlimit", Allow, "its own resource limits; raising them fails in the kernel"),
    (libc::SYS_getrusage as u32, "getrusage", Allow, "its own CPU time"),
    (libc::SYS_sysinfo as u32, "sysinfo", Allow, "system information glibc and std ask for"),
    (libc::SYS_times as u32, "times", Allow, "its own CPU time"),
    (libc::SYS_ptrace as u32, "ptrace", Deny, "reaches into other processes"),
    (libc::SYS_getuid as u32, "getuid", Allow, "its own credentials"),
    (libc::SYS_syslog as u32, "syslog", Deny, "administration of the machine"),
    (libc::SYS_getgid as u32, "getgid", Allow, "its own credentials"),
    (libc::SYS_setuid as u32, "setuid", Deny, "credentials are final after the drop"),
    (libc::SYS_setgid as u32, "setgid", Deny, "credentials are final after the drop"),
    (libc::SYS_geteuid as u32, "geteuid", Allow, "its own credentials"),
    (libc::SYS_getegid as u32, "getegid", Allow, "its own credentials"),
    (libc::SYS_setpgid as u32, "setpgid", When(NoZygote), "its own session or group; a zygote tells its calls apart by group"),
    (libc::SYS_getppid as u32, "getppid", Allow, "its own ids"),
    (libc::SYS_getpgrp as u32, "getpgrp", Allow, "its own ids"),
    (libc::SYS_setsid as u32, "setsid", When(NoZygote), "its own session or group; a zygote tells its calls apart by group"),
    (libc::SYS_setreuid as u32, "setreuid", Deny, "credentials are final after the drop"),
    (libc::SYS_setregid as u32, "setregid", Deny, "credentials are final after the drop"),
    (libc::SYS_getgroups as u32, "getgroups", Allow, "its own credentials"),
    (libc::SYS_setgroups as u32, "setgroups", Deny, "credentials are final after the drop"),
    (libc::SYS_setresuid as u32, "setresuid", Deny, "credentials are final after the drop"),
    (libc::SYS_getresuid as u32, "getresuid", Allow, "its own credentials"),
    (libc::SYS_setresgid as u32, "setresgid", Deny, "credentials are final after the drop"),
    (libc::SYS_getresgid as u32, "getresgid", Allow, "its own credentials"),
    (libc::SYS_getpgid as u32, "getpgid", R(OwnPid), "another process's group or session: only its own"),
    (libc::SYS_setfsuid as u32, "setfsuid", Deny, "credentials are final after the drop"),
    (libc::SYS_setfsgid as u32, "setfsgid", Deny, "credentials are final after the drop"),
    (libc::SYS_getsid as u32, "getsid", R(OwnPid), "another process's group or session: only its own"),
    (libc::SYS_capget as u32, "capget", Allow, "reads capability sets (all empty in a sandbox)"),
    (libc::SYS_capset as u32, "capset", Deny, "credentials are final after the drop"),
    (libc::SYS_rt_sigpending as u32, "rt_sigpending", Allow, "its own signal handling"),
    (libc::SYS_rt_sigtimedwait as u32, "rt_sigtimedwait", Allow, "its own signal handling"),
    (libc::SYS_rt_sigqueueinfo as u32, "rt_sigqueueinfo", R(SignalSelf), "with one process only to itself (abort, raise)"),
    (libc::SYS_rt_sigsuspend as u32, "rt_sigsuspend", Allow, "its own signal handling"),
    (libc::SYS_sigaltstack as u32, "sigaltstack", Allow, "its own signal handling"),
    (libc::SYS_utime as u32, "utime", Deny, "changes metadata by path, which Landlock does not govern: refused everywhere"),
    (libc::SYS_mknod as u32, "mknod", NoSys, "glibc (2.33 on) and std use the *at or 64 forms; arm64 kernels have only those"),
    (libc::SYS_uselib as u32, "uselib", Deny, "obsolete loader call"),
    (libc::SYS_personality as u32, "personality", Deny, "changes the execution domain"),
    (libc::SYS_ustat as u32, "ustat", Deny, "obsolete queries about file systems"),
    (libc::SYS_statfs as u32, "statfs", Deny, "not needed: reports on file systems, also outside the grants"),
    (libc::SYS_fstatfs as u32, "fstatfs", Deny, "not needed: reports on file systems, also outside the grants"),
    (libc::SYS_sysfs as u32, "sysfs", Deny, "obsolete queries about file systems"),
    (libc::SYS_getpriority as u32, "getpriority", R(OwnPriority), "nice value: only of its own process"),
    (libc::SYS_setpriority as u32, "setpriority", R(OwnPriority), "nice value: only of its own process"),
    (libc::SYS_sched_setparam as u32, "sched_setparam", Deny, "not needed by std or glibc: scheduling policies, also of other processes"),
    (libc::SYS_sched_getparam as u32, "sched_getparam", Deny, "not needed by std or glibc: scheduling policies, also of other processes"),
    (libc::SYS_sched_setscheduler as u32, "sched_setscheduler", Deny, "not needed by std or glibc: scheduling policies, also of other processes"),
    (libc::SYS_sched_getscheduler as u32, "sched_getscheduler", Deny, "not needed by std or glibc: scheduling policies, also of other processes"),
    (libc::SYS_sched_get_priority_max as u32, "sched_get_priority_max", Deny, "not needed by std or glibc: scheduling policies, also of other processes"),
    (libc::SYS_sched_get_priority_min as u32, "sched_get_priority_min", Deny, "not needed by std or glibc: scheduling policies, also of other processes"),
    (libc::SYS_sched_rr_get_interval as u32, "sched_rr_get_interval", Deny, "not needed by std or glibc: scheduling policies, also of other processes"),
    (libc::SYS_mlock as u32, "mlock", Deny, "not needed: pinning memory takes it from the machine"),
    (libc::SYS_munlock as u32, "munlock", Deny, "not needed: pinning memory takes it from the machine"),
    (libc::SYS_mlockall as u32, "mlockall", Deny, "not needed: pinning memory takes it from the machine"),
    (libc::SYS_munlockall as u32, "munlockall", Deny, "not needed: pinning memory takes it from the machine"),
    (libc::SYS_vhangup as u32, "vhangup", Deny, "administration of the machine"),
    (libc::SYS_modify_ldt as u32, "modify_ldt", Deny, "I/O ports and segment tables"),
    (libc::SYS_pivot_root as u32, "pivot_root", Deny, "mounts and the root directory"),
    (libc::SYS__sysctl as u32, "_sysctl", Deny, "obsolete"),
    (libc::SYS_prctl as u32, "prctl", R(Prctl), "process attributes of itself; never dumpable again, never PR_SET_MM, never another parent-death signal"),
    (libc::SYS_arch_prctl as u32, "arch_prctl", Allow, "its own thread registers (glibc start-up of a program it runs)"),
    (libc::SYS_adjtimex as u32, "adjtimex", Deny, "changes the clock of the machine"),
    (libc::SYS_setrlimit as u32, "setrlimit", Allow, "its own resource limits; raising them fails in the kernel"),
    (libc::SYS_chroot as u32, "chroot", Deny, "mounts and the root directory"),
    (libc::SYS_sync as u32, "sync", Deny, "flushing whole file systems slows the machine; fsync stays"),
    (libc::SYS_acct as u32, "acct", Deny, "administration of the machine"),
    (libc::SYS_settimeofday as u32, "settimeofday", Deny, "changes the clock of the machine"),
    (libc::SYS_mount as u32, "mount", Deny, "mounts and the root directory"),
    (libc::SYS_umount2 as u32, "umount2", Deny, "mounts and the root directory"),
    (libc::SYS_swapon as u32, "swapon", Deny, "administration of the machine"),
    (libc::SYS_swapoff as u32, "swapoff", Deny, "administration of the machine"),
    (libc::SYS_reboot as u32, "reboot", Deny, "administration of the machine"),
    (libc::SYS_sethostname as u32, "sethostname", Deny, "administration of the machine"),
    (libc::SYS_setdomainname as u32, "setdomainname", Deny, "administration of the machine"),
    (libc::SYS_iopl as u32, "iopl", Deny, "I/O ports and segment tables"),
    (libc::SYS_ioperm as u32, "ioperm", Deny, "I/O ports and segment tables"),
    (174, "create_module", NoSys, "never implemented on x86_64, or removed"),
    (libc::SYS_init_module as u32, "init_module", Deny, "loads kernels and modules"),
    (libc::SYS_delete_module as u32, "delete_module", Deny, "loads kernels and modules"),
    (177, "get_kernel_syms", NoSys, "never implemented on x86_64, or removed"),
    (178, "query_module", NoSys, "never implemented on x86_64, or removed"),
    (libc::SYS_quotactl as u32, "quotactl", Deny, "administration of the machine"),
    (libc::SYS_nfsservctl as u32, "nfsservctl", NoSys, "never implemented on x86_64, or removed"),
    (libc::SYS_getpmsg as u32, "getpmsg", NoSys, "never implemented on x86_64, or removed"),
    (libc::SYS_putpmsg as u32, "putpmsg", NoSys, "never implemented on x86_64, or removed"),
    (libc::SYS_afs_syscall as u32, "afs_syscall", NoSys, "never implemented on x86_64, or removed"),
    (libc::SYS_tuxcall as u32, "tuxcall", NoSys, "never implemented on x86_64, or removed"),
    (libc::SYS_security as u32, "security", NoSys, "never implemented on x86_64, or removed"),
    (libc::SYS_gettid as u32, "gettid", Allow, "its own ids"),
    (libc::SYS_readahead as u32, "readahead", Deny, "not needed: page-cache advice"),
    (libc::SYS_setxattr as u32, "setxattr", Deny, "changes extended attributes by path, which Landlock does not govern"),
    (libc::SYS_lsetxattr as u32, "lsetxattr", Deny, "changes extended attributes by path, which Landlock does not govern"),
    (libc::SYS_fsetxattr as u32, "fsetxattr", When(Writes), "changes extended attributes of a file it opened"),
    (libc::SYS_getxattr as u32, "getxattr", Deny, "not needed: extended attributes reveal more than stat"),
    (libc::SYS_lgetxattr as u32, "lgetxattr", Deny, "not needed: extended attributes reveal more than stat"),
    (libc::SYS_fgetxattr as u32, "fgetxattr", Deny, "not needed: extended attributes reveal more than stat"),
    (libc::SYS_listxattr as u32, "listxattr", Deny, "not needed: extended attributes reveal more than stat"),
    (libc::SYS_llistxattr as u32, "llistxattr", Deny, "not needed: extended attributes reveal more than stat"),
    (libc::SYS_flistxattr as u32, "flistxattr", Deny, "not needed: extended attributes reveal more than stat"),
    (libc::SYS_removexattr as u32, "removexattr", Deny, "changes extended attributes by path, which Landlock does not govern"),
    (libc::SYS_lremovexattr as u32, "lremovexattr", Deny, "changes extended attributes by path, which Landlock does not govern"),
    (libc::SYS_fremovexattr as u32, "fremovexattr", When(Writes), "changes extended attributes of a file it opened"),
    (libc::SYS_tkill as u32, "tkill", Deny, "obsolete; tgkill names the process"),
    (libc::SYS_time as u32, "time", Allow, "time and sleeping"),
    (libc::SYS_futex as u32, "futex", Allow, "locks and thread joins"),
    (libc::SYS_sched_setaffinity as u32, "sched_setaffinity", R(OwnPid), "CPUs of a process: only its own (available_parallelism asks for them)"),
    (libc::SYS_sched_getaffinity as u32, "sched_getaffinity", R(OwnPid), "CPUs of a process: only its own (available_parallelism asks for them)"),
    (libc::SYS_set_thread_area as u32, "set_thread_area", NoSys, "never implemented on x86_64, or removed"),
    (libc::SYS_io_setup as u32, "io_setup", Deny, "not needed: kernel AIO, a large attack surface"),
    (libc::SYS_io_destroy as u32, "io_destroy", Deny, "not needed: kernel AIO, a large attack surface"),
    (libc::SYS_io_getevents as u32, "io_getevents", Deny, "not needed: kernel AIO, a large attack surface"),
    (libc::SYS_io_submit as u32, "io_submit", Deny, "not needed: kernel AIO, a large attack surface"),
    (libc::SYS_io_cancel as u32, "io_cancel", Deny, "not needed: kernel AIO, a large attack surface"),
    (libc::SYS_get_thread_area as u32, "get_thread_area", NoSys, "never implemented on x86_64, or removed"),
    (libc::SYS_lookup_dcookie as u32, "lookup_dcookie", Deny, "profiling of the machine"),
    (libc::SYS_epoll_create as u32, "epoll_create", Allow, "waits on its own descriptors"),
    (libc::SYS_epoll_ctl_old as u32, "epoll_ctl_old", NoSys, "never implemented on x86_64"),
    (libc::SYS_epoll_wait_old as u32, "epoll_wait_old", NoSys, "never implemented on x86_64"),
    (libc::SYS_remap_file_pages as u32, "remap_file_pages", Deny, "deprecated"),
    (libc::SYS_getdents64 as u32, "getdents64", Allow, "lists a directory it opened"),
    (libc::SYS_set_tid_address as u32, "set_tid_address", Allow, "thread bookkeeping of glibc"),
    (libc::SYS_restart_syscall as u32, "restart_syscall", Allow, "the kernel's restart of an interrupted call"),
    (libc::SYS_semtimedop as u32, "semtimedop", Deny, "System V IPC objects outlive the sandbox and are shared by every process of the identity"),
    (libc::SYS_fadvise64 as u32, "fadvise64", Deny, "not needed: page-cache advice"),
    (libc::SYS_timer_create as u32, "timer_create", Deny, "not needed: POSIX timers; timerfd, itimers and sleeping are allowed"),
    (libc::SYS_timer_settime as u32, "timer_settime", Deny, "not needed: POSIX timers; timerfd, itimers and sleeping are allowed"),
    (libc::SYS_timer_gettime as u32, "timer_gettime", Deny, "not needed: POSIX timers; timerfd, itimers and sleeping are allowed"),
    (libc::SYS_timer_getoverrun as u32, "timer_getoverrun", Deny, "not needed: POSIX timers; timerfd, itimers and sleeping are allowed"),
    (libc::SYS_timer_delete as u32, "timer_delete", Deny, "not needed: POSIX timers; timerfd, itimers and sleeping are allowed"),
    (libc::SYS_clock_settime as u32, "clock_settime", Deny, "changes the clock of the machine"),
    (libc::SYS_clock_gettime as u32, "clock_gettime", Allow, "time and sleeping"),
    (libc::SYS_clock_getres as u32, "clock_getres", Allow, "time and sleeping"),
    (libc::SYS_clock_nanosleep as u32, "clock_nanosleep", Allow, "time and sleeping"),
    (libc::SYS_exit_group as u32, "exit_group", Allow, "ends itself"),
    (libc::SYS_epoll_wait as u32, "epoll_wait", Allow, "waits on its own descriptors"),
    (libc::SYS_epoll_ctl as u32, "epoll_ctl", Allow, "waits on its own descriptors"),
    (libc::SYS_tgkill as u32, "tgkill", R(SignalSelf), "with one process only to itself (abort, raise)"),
    (libc::SYS_utimes as u32, "utimes", Deny, "changes metadata by path, which Landlock does not govern: refused everywhere"),
    (libc::SYS_vserver as u32, "vserver", NoSys, "never implemented on x86_64, or removed"),
    (libc::SYS_mbind as u32, "mbind", Deny, "not needed: NUMA placement"),
    (libc::SYS_set_mempolicy as u32, "set_mempolicy", Deny, "not needed: NUMA placement"),
    (libc::SYS_get_mempolicy as u32, "get_mempolicy", Deny, "not needed: NUMA placement"),
    (libc::SYS_mq_open as u32, "mq_open", Deny, "POSIX message queues are shared by every process of the identity"),
    (libc::SYS_mq_unlink as u32, "mq_unlink", Deny, "POSIX message queues are shared by every process of the identity"),
    (libc::SYS_mq_timedsend as u32, "mq_timedsend", Deny, "POSIX message queues are shared by every process of the identity"),
    (libc::SYS_mq_timedreceive as u32, "mq_timedreceive", Deny, "POSIX message queues are shared by every process of the identity"),
    (libc::SYS_mq_notify as u32, "mq_notify", Deny, "POSIX message queues are shared by every process of the identity"),
    (libc::SYS_mq_getsetattr as u32, "mq_getsetattr", Deny, "POSIX message queues are shared by every process of the identity"),
    (libc::SYS_kexec_load as u32, "kexec_load", Deny, "loads kernels and modules"),
    (libc::SYS_waitid as u32, "waitid", Allow, "waits for its own children"),
    (libc::SYS_add_key as u32, "add_key", Deny, "the kernel keyring, shared by the identity"),
    (libc::SYS_request_key as u32, "request_key", Deny, "the kernel keyring, shared by the identity"),
    (libc::SYS_keyctl as u32, "keyctl", Deny, "the kernel keyring, shared by the identity"),
    (libc::SYS_ioprio_set as u32, "ioprio_set", Deny, "not needed: I/O priorities, also of other processes and users"),
    (libc::SYS_ioprio_get as u32, "ioprio_get", Deny, "not needed: I/O priorities, also of other processes and users"),
    (libc::SYS_inotify_init as u32, "inotify_init", Deny, "watches paths Landlock does not govern (names and opens in other trees)"),
    (libc::SYS_inotify_add_watch as u32, "inotify_add_watch", Deny, "watches paths Landlock does not govern (names and opens in other trees)"),
    (libc::SYS_inotify_rm_watch as u32, "inotify_rm_watch", Deny, "watches paths Landlock does not govern (names and opens in other trees)"),
    (libc::SYS_migrate_pages as u32, "migrate_pages", Deny, "not needed: NUMA page moves, also of other processes"),
    (libc::SYS_openat as u32, "openat", Allow, "opens a file: Landlock decides"),
    (libc::SYS_mkdirat as u32, "mkdirat", Allow, "changes the tree: Landlock decides"),
    (libc::SYS_mknodat as u32, "mknodat", Allow, "changes the tree: Landlock decides"),
    (libc::SYS_fchownat as u32, "fchownat", Deny, "changes metadata by path, which Landlock does not govern: refused everywhere"),
    (libc::SYS_futimesat as u32, "futimesat", Deny, "changes metadata by path, which Landlock does not govern: refused everywhere"),
    (libc::SYS_newfstatat as u32, "newfstatat", Allow, "metadata reads: Landlock cannot govern them (see the security model)"),
    (libc::SYS_unlinkat as u32, "unlinkat", Allow, "changes the tree: Landlock decides"),
    (libc::SYS_renameat as u32, "renameat", Allow, "changes the tree: Landlock decides"),
    (libc::SYS_linkat as u32, "linkat", Allow, "changes the tree: Landlock decides"),
    (libc::SYS_symlinkat as u32, "symlinkat", Allow, "changes the tree: Landlock decides"),
    (libc::SYS_readlinkat as u32, "readlinkat", Allow, "reads a link; Landlock judges the file reached, not the link"),
    (libc::SYS_fchmodat as u32, "fchmodat", Deny, "changes metadata by path, which Landlock does not govern: refused everywhere"),
    (libc::SYS_faccessat as u32, "faccessat", Allow, "permission checks; Landlock answers the opens that follow"),
    (libc::SYS_pselect6 as u32, "pselect6", Allow, "waits on its own descriptors"),
    (libc::SYS_ppoll as u32, "ppoll", Allow, "waits on its own descriptors"),
    (libc::SYS_unshare as u32, "unshare", Deny, "namespaces"),
    (libc::SYS_set_robust_list as u32, "set_robust_list", Allow, "thread bookkeeping of glibc"),
    (libc::SYS_get_robust_list as u32, "get_robust_list", Deny, "not needed: reads the robust futex list of a process (debuggers)"),
    (libc::SYS_splice as u32, "splice", Allow, "copies between descriptors it holds (std::fs::copy, std::io::copy)"),
    (libc::SYS_tee as u32, "tee", Deny, "not needed: splice is allowed"),
    (libc::SYS_sync_file_range as u32, "sync_file_range", Deny, "flushing whole file systems slows the machine; fsync stays"),
    (libc::SYS_vmsplice as u32, "vmsplice", Deny, "not needed: splice is allowed"),
    (libc::SYS_move_pages as u32, "move_pages", Deny, "not needed: NUMA page moves, also of other processes"),
    (libc::SYS_utimensat as u32, "utimensat", R(TimesOfDescriptor), "by path Landlock does not govern it: only futimens, with a write grant"),
    (libc::SYS_epoll_pwait as u32, "epoll_pwait", Allow, "waits on its own descriptors"),
    (libc::SYS_signalfd as u32, "signalfd", NoSys, "glibc uses signalfd4 and eventfd2; arm64 kernels have only those"),
    (libc::SYS_timerfd_create as u32, "timerfd_create", Allow, "its own timer descriptors"),
    (libc::SYS_eventfd as u32, "eventfd", NoSys, "glibc uses signalfd4 and eventfd2; arm64 kernels have only those"),
    (libc::SYS_fallocate as u32, "fallocate", Allow, "changes a file through a descriptor opened for writing"),
    (libc::SYS_timerfd_settime as u32, "timerfd_settime", Allow, "its own timer descriptors"),
    (libc::SYS_timerfd_gettime as u32, "timerfd_gettime", Allow, "its own timer descriptors"),
    (libc::SYS_accept4 as u32, "accept4", When(Network), "naming and connecting sockets: only with the network (an abstract name could be squatted)"),
    (libc::SYS_signalfd4 as u32, "signalfd4", Allow, "descriptors of its own for signals and events"),
    (libc::SYS_eventfd2 as u32, "eventfd2", Allow, "descriptors of its own for signals and events"),
    (libc::SYS_epoll_create1 as u32, "epoll_create1", Allow, "waits on its own descriptors"),
    (libc::SYS_dup3 as u32, "dup3", Allow, "its own descriptors"),
    (libc::SYS_pipe2 as u32, "pipe2", Allow, "pipes of its own"),
    (libc::SYS_inotify_init1 as u32, "inotify_init1", Deny, "watches paths Landlock does not govern (names and opens in other trees)"),
    (libc::SYS_preadv as u32, "preadv", Allow, "I/O on its own descriptors"),
    (libc::SYS_pwritev as u32, "pwritev", Allow, "I/O on its own descriptors"),
    (libc::SYS_rt_tgsigqueueinfo as u32, "rt_tgsigqueueinfo", R(SignalSelf), "with one process only to itself (abort, raise)"),
    (libc::SYS_perf_event_open as u32, "perf_event_open", Deny, "large attack surfaces (eBPF, performance counters, userfaultfd)"),
    (libc::SYS_recvmmsg as u32, "recvmmsg", When(Network), "batched datagram I/O, for network sockets"),
    (libc::SYS_fanotify_init as u32, "fanotify_init", Deny, "watches paths Landlock does not govern (names and opens in other trees)"),
    (libc::SYS_fanotify_mark as u32, "fanotify_mark", Deny, "watches paths Landlock does not govern (names and opens in other trees)"),
    (libc::SYS_prlimit64 as u32, "prlimit64", R(OwnPid), "resource limits: only its own (getrlimit and setrlimit go through it)"),
    (libc::SYS_name_to_handle_at as u32, "name_to_handle_at", Deny, "file handles bypass path checks"),
    (libc::SYS_open_by_handle_at as u32, "open_by_handle_at", Deny, "file handles bypass path checks"),
    (libc::SYS_clock_adjtime as u32, "clock_adjtime", Deny, "changes the clock of the machine"),
    (libc::SYS_syncfs as u32, "syncfs", Deny, "flushing whole file systems slows the machine; fsync stays"),
    (libc::SYS_sendmmsg as u32, "sendmmsg", When(Network), "batched datagram I/O, for network sockets"),
    (libc::SYS_setns as u32, "setns", Deny, "namespaces"),
    (libc::SYS_getcpu as u32, "getcpu", Allow, "scheduling of itself"),
    (libc::SYS_process_vm_readv as u32, "process_vm_readv", Deny, "reaches into other processes"),
    (libc::SYS_process_vm_writev as u32, "process_vm_writev", Deny, "reaches into other processes"),
    (libc::SYS_kcmp as u32, "kcmp", Deny, "reaches into other processes"),
    (libc::SYS_finit_module as u32, "finit_module", Deny, "loads kernels and modules"),
    (libc::SYS_sched_setattr as u32, "sched_setattr", Deny, "not needed by std or glibc: scheduling policies, also of other processes"),
    (libc::SYS_sched_getattr as u32, "sched_getattr", Deny, "not needed by std or glibc: scheduling policies, also of other processes"),
    (libc::SYS_renameat2 as u32, "renameat2", Allow, "changes the tree: Landlock decides"),
    (libc::SYS_seccomp as u32, "seccomp", Deny, "not needed; PR_SET_SECCOMP can still add a filter"),
    (libc::SYS_getrandom as u32, "getrandom", Allow, "randomness (HashMap keys)"),
    (libc::SYS_memfd_create as u32, "memfd_create", Deny, "memory files escape the RLIMIT_AS memory limit"),
    (libc::SYS_kexec_file_load as u32, "kexec_file_load", Deny, "loads kernels and modules"),
    (libc::SYS_bpf as u32, "bpf", Deny, "large attack surfaces (eBPF, performance counters, userfaultfd)"),
    (libc::SYS_execveat as u32, "execveat", Deny, "not needed: execve is allowed"),
    (libc::SYS_userfaultfd as u32, "userfaultfd", Deny, "large attack surfaces (eBPF, performance counters, userfaultfd)"),
    (libc::SYS_membarrier as u32, "membarrier", Deny, "not needed: its global command stalls every processor"),
    (libc::SYS_mlock2 as u32, "mlock2", Deny, "not needed: pinning memory takes it from the machine"),
    (libc::SYS_copy_file_range as u32, "copy_file_range", Allow, "copies between descriptors it holds (std::fs::copy, std::io::copy)"),
    (libc::SYS_preadv2 as u32, "preadv2", Deny, "not needed: preadv and pwritev are allowed"),
    (libc::SYS_pwritev2 as u32, "pwritev2", Deny, "not needed: preadv and pwritev are allowed"),
    (libc::SYS_pkey_mprotect as u32, "pkey_mprotect", Deny, "not needed: memory protection keys"),
    (libc::SYS_pkey_alloc as u32, "pkey_alloc", Deny, "not needed: memory protection keys"),
    (libc::SYS_pkey_free as u32, "pkey_free", Deny, "not needed: memory protection keys"),
    (libc::SYS_statx as u32, "statx", Allow, "metadata reads: Landlock cannot govern them (see the security model)"),
    (333, "io_pgetevents", Deny, "not needed: kernel AIO, a large attack surface"),
    (libc::SYS_rseq as u32, "rseq", Allow, "thread bookkeeping of glibc"),
    (335, "uretprobe", NoSys, "called only by the kernel's uprobe trampolines; anywhere else the kernel kills the caller"),
    (336, "uprobe", NoSys, "called only by the kernel's uprobe trampolines; anywhere else the kernel kills the caller"),
    (libc::SYS_pidfd_send_signal as u32, "pidfd_send_signal", Deny, "pidfds reach other processes"),
    (libc::SYS_io_uring_setup as u32, "io_uring_setup", Deny, "io_uring runs calls this filter never sees"),
    (libc::SYS_io_uring_enter as u32, "io_uring_enter", Deny, "io_uring runs calls this filter never sees"),
    (libc::SYS_io_uring_register as u32, "io_uring_register", Deny, "io_uring runs calls this filter never sees"),
    (libc::SYS_open_tree as u32, "open_tree", Deny, "mounts and the root directory"),
    (libc::SYS_move_mount as u32, "move_mount", Deny, "mounts and the root directory"),
    (libc::SYS_fsopen as u32, "fsopen", Deny, "mounts and the root directory"),
    (libc::SYS_fsconfig as u32, "fsconfig", Deny, "mounts and the root directory"),
    (libc::SYS_fsmount as u32, "fsmount", Deny, "mounts and the root directory"),
    (libc::SYS_fspick as u32, "fspick", Deny, "mounts and the root directory"),
    (libc::SYS_pidfd_open as u32, "pidfd_open", Deny, "pidfds reach other processes"),
    (libc::SYS_clone3 as u32, "clone3", NoSys, "its flags are in memory a filter cannot read: libc falls back to clone"),
    (libc::SYS_close_range as u32, "close_range", Allow, "closes its own descriptors"),
    (libc::SYS_openat2 as u32, "openat2", Deny, "not needed: openat is allowed"),
    (libc::SYS_pidfd_getfd as u32, "pidfd_getfd", Deny, "pidfds reach other processes"),
    (libc::SYS_faccessat2 as u32, "faccessat2", Allow, "permission checks; Landlock answers the opens that follow"),
    (libc::SYS_process_madvise as u32, "process_madvise", Deny, "acts on another process through a pidfd"),
    (libc::SYS_epoll_pwait2 as u32, "epoll_pwait2", Deny, "not needed: epoll_wait and epoll_pwait are allowed"),
    (libc::SYS_mount_setattr as u32, "mount_setattr", Deny, "mounts and the root directory"),
    (libc::SYS_quotactl_fd as u32, "quotactl_fd", Deny, "administration of the machine"),
    (libc::SYS_landlock_create_ruleset as u32, "landlock_create_ruleset", Deny, "not needed: the sandbox is confined already"),
    (libc::SYS_landlock_add_rule as u32, "landlock_add_rule", Deny, "not needed: the sandbox is confined already"),
    (libc::SYS_landlock_restrict_self as u32, "landlock_restrict_self", Deny, "not needed: the sandbox is confined already"),
    (libc::SYS_memfd_secret as u32, "memfd_secret", Deny, "memory files escape the RLIMIT_AS memory limit"),
    (libc::SYS_process_mrelease as u32, "process_mrelease", Deny, "acts on another process through a pidfd"),
    (libc::SYS_futex_waitv as u32, "futex_waitv", Deny, "not needed: futex2; futex is allowed"),
    (libc::SYS_set_mempolicy_home_node as u32, "set_mempolicy_home_node", Deny, "not needed: NUMA placement"),
    (451, "cachestat", Deny, "page-cache state of files: a side channel"),
    (libc::SYS_fchmodat2 as u32, "fchmodat2", Deny, "changes metadata by path, which Landlock does not govern: refused everywhere"),
    (453, "map_shadow_stack", Allow, "shadow stacks of its own threads (glibc with CET)"),
    (454, "futex_wake", Deny, "not needed: futex2; futex is allowed"),
    (455, "futex_wait", Deny, "not needed: futex2; futex is allowed"),
    (456, "futex_requeue", Deny, "not needed: futex2; futex is allowed"),
    (457, "statmount", Deny, "the mounts of the machine"),
    (458, "listmount", Deny, "the mounts of the machine"),
    (459, "lsm_get_self_attr", Deny, "not needed: security module attributes"),
    (460, "lsm_set_self_attr", Deny, "not needed: security module attributes"),
    (461, "lsm_list_modules", Deny, "not needed: security module attributes"),
    (libc::SYS_mseal as u32, "mseal", Allow, "seals its own memory (newer glibc)"),
];

/// The never-assigned numbers between the x86_64-only table and the common one.
const UNASSIGNED: std::ops::RangeInclusive<u32> = 337..=423;

/// What the filter does with syscall `nr` (at most [`LAST_REVIEWED`]).
pub(crate) fn class_of(nr: u32) -> Class {
    if UNASSIGNED.contains(&nr) {
        return NoSys;
    }
    TABLE
        .iter()
        .find(|(number, ..)| *number == nr)
        .map_or(Deny, |(_, _, class, _)| *class)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_number_is_listed_once_in_order() {
        let listed: Vec<u32> = TABLE.iter().map(|(nr, ..)| *nr).collect();
        let expected: Vec<u32> = (0..=LAST_REVIEWED)
            .filter(|nr| !UNASSIGNED.contains(nr))
            .collect();
        assert_eq!(listed, expected);
        for (nr, name, _, why) in TABLE {
            assert!(!name.is_empty() && !why.is_empty(), "syscall {nr}");
        }
    }

    #[test]
    fn the_numbers_without_a_libc_constant_are_the_kernels() {
        // libc 0.2 names these by number only; they are the kernel's x86_64 table.
        let by_name = |wanted: &str| {
            TABLE
                .iter()
                .find(|(_, name, ..)| *name == wanted)
                .map(|row| row.0)
        };
        for (name, nr) in [
            ("create_module", 174),
            ("get_kernel_syms", 177),
            ("query_module", 178),
            ("io_pgetevents", 333),
            ("cachestat", 451),
            ("map_shadow_stack", 453),
            ("futex_wake", 454),
            ("futex_wait", 455),
            ("futex_requeue", 456),
            ("statmount", 457),
            ("listmount", 458),
            ("lsm_get_self_attr", 459),
            ("lsm_set_self_attr", 460),
            ("lsm_list_modules", 461),
        ] {
            assert_eq!(by_name(name), Some(nr), "{name}");
        }
    }
}
