//! System V IPC and POSIX message queues, end to end. Their objects outlive the process
//! that made them and are shared by every process of one identity: every sandbox of
//! every program. The syscall filter refuses every System V call and every `mq_*` call
//! with `EPERM`, also when the caller made a segment that anyone may attach; the
//! caller, unconfined, uses the same segment and makes a queue of its own.

use boxed::sandboxed;
use boxed_tests::{Outcome, e2e, outcome, syscall6};
use libc::c_long;

/// Every System V and POSIX queue call, with arguments that would work if the filter
/// let them through: `segment` is a 0666 segment of the caller's.
fn attempts(segment: i32) -> Vec<(String, Outcome)> {
    let private = libc::IPC_PRIVATE as c_long;
    let create = c_long::from(libc::IPC_CREAT | 0o600);
    let segment = c_long::from(segment);
    // The kernel takes the name without the leading slash libc adds.
    let name = c"boxed-e2e-queue";
    let name = name.as_ptr() as c_long;
    let mut buffer = [0u8; 64];
    let buffer = &raw mut buffer as c_long;
    let calls: [(&str, c_long, [c_long; 6]); 14] = [
        (
            "shmat(the caller's segment)",
            libc::SYS_shmat,
            [segment, 0, c_long::from(libc::SHM_RDONLY), 0, 0, 0],
        ),
        (
            "shmctl(the caller's segment, IPC_STAT)",
            libc::SYS_shmctl,
            [segment, c_long::from(libc::IPC_STAT), buffer, 0, 0, 0],
        ),
        (
            "shmget(IPC_PRIVATE, 4096)",
            libc::SYS_shmget,
            [private, 4096, create, 0, 0, 0],
        ),
        ("shmdt(null)", libc::SYS_shmdt, [0; 6]),
        (
            "msgget(IPC_PRIVATE)",
            libc::SYS_msgget,
            [private, create, 0, 0, 0, 0],
        ),
        (
            "msgsnd(0, nothing, IPC_NOWAIT)",
            libc::SYS_msgsnd,
            [0, buffer, 0, c_long::from(libc::IPC_NOWAIT), 0, 0],
        ),
        (
            "msgrcv(0, IPC_NOWAIT)",
            libc::SYS_msgrcv,
            [0, buffer, 8, 0, c_long::from(libc::IPC_NOWAIT), 0],
        ),
        (
            "msgctl(0, IPC_STAT)",
            libc::SYS_msgctl,
            [0, c_long::from(libc::IPC_STAT), buffer, 0, 0, 0],
        ),
        (
            "semget(IPC_PRIVATE, 1)",
            libc::SYS_semget,
            [private, 1, create, 0, 0, 0],
        ),
        (
            "semop(0, nothing)",
            libc::SYS_semop,
            [0, buffer, 0, 0, 0, 0],
        ),
        (
            "semtimedop(0, nothing)",
            libc::SYS_semtimedop,
            [0, buffer, 0, 0, 0, 0],
        ),
        (
            "semctl(0, 0, IPC_STAT)",
            libc::SYS_semctl,
            [0, 0, c_long::from(libc::IPC_STAT), buffer, 0, 0],
        ),
        (
            "mq_open(O_CREAT)",
            libc::SYS_mq_open,
            [
                name,
                c_long::from(libc::O_CREAT | libc::O_RDWR),
                0o600,
                0,
                0,
                0,
            ],
        ),
        // After the open: the caller removes the queue it made.
        ("mq_unlink", libc::SYS_mq_unlink, [name, 0, 0, 0, 0, 0]),
    ];
    calls
        .into_iter()
        .map(|(what, nr, args)| {
            // SAFETY: the pointers among the arguments point to `buffer` (64 bytes, more
            // than the calls write) or to a nul-terminated name.
            (what.to_string(), outcome(unsafe { syscall6(nr, args) }))
        })
        .collect()
}

#[sandboxed]
fn attempts_in_sandbox(segment: i32) -> Vec<(String, Outcome)> {
    attempts(segment)
}

#[sandboxed(zygote)]
fn attempts_in_zygote(segment: i32) -> Vec<(String, Outcome)> {
    attempts(segment)
}

/// A 0666 segment of the caller's, removed when dropped.
struct Segment(i32);

impl Segment {
    fn new() -> Segment {
        // SAFETY: shmget takes integers.
        let id = unsafe { libc::shmget(libc::IPC_PRIVATE, 4096, libc::IPC_CREAT | 0o666) };
        assert!(id >= 0, "shmget: {}", std::io::Error::last_os_error());
        Segment(id)
    }
}

impl Drop for Segment {
    fn drop(&mut self) {
        // SAFETY: IPC_RMID of our own segment reads no memory.
        unsafe { libc::shmctl(self.0, libc::IPC_RMID, std::ptr::null_mut()) };
    }
}

#[test]
fn system_v_ipc_and_posix_queues_are_refused_one_shot_and_through_a_zygote() {
    e2e();
    let segment = Segment::new();
    for (how, outcomes) in [
        ("one-shot", attempts_in_sandbox(segment.0)),
        ("zygote", attempts_in_zygote(segment.0)),
    ] {
        assert_eq!(outcomes.len(), 14, "{how}");
        for (name, outcome) in outcomes {
            assert_eq!(outcome, Err("EPERM".to_string()), "{how}: {name}");
        }
    }
}

/// The control: the caller attaches the same segment, and makes and removes a queue.
#[test]
fn outside_the_sandbox_the_same_calls_work() {
    e2e();
    let segment = Segment::new();
    let outcomes = attempts(segment.0);
    for (name, outcome) in &outcomes {
        let works = name.starts_with("shmat")
            || name.starts_with("shmctl")
            || name.starts_with("mq_open")
            || name.starts_with("mq_unlink");
        if works {
            assert!(outcome.is_ok(), "the caller's {name}: {outcome:?}");
        }
    }
    // What the caller made is removed again: the new segment, queue and set.
    for (name, outcome) in outcomes {
        let Ok(id) = outcome else { continue };
        // SAFETY: IPC_RMID of an object the caller just made reads no memory.
        unsafe {
            match name.split('(').next() {
                Some("shmget") => libc::shmctl(id as i32, libc::IPC_RMID, std::ptr::null_mut()),
                Some("msgget") => libc::msgctl(id as i32, libc::IPC_RMID, std::ptr::null_mut()),
                Some("semget") => libc::semctl(id as i32, 0, libc::IPC_RMID),
                Some("mq_open") => libc::close(id as i32),
                _ => 0,
            };
        }
    }
}
