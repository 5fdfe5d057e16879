//! Common work inside a sandbox, end to end, under the allowlist filter: threads,
//! `std::fs` within a write grant, `std::time`, hashing, `serde_json`, a regex, float
//! formatting, allocating and freeing a lot, `available_parallelism` and `std::env`,
//! one-shot and through a zygote. Each result is compared with the same work done by the
//! caller, unconfined.

use std::collections::HashMap;
use std::fs;
use std::path::Path;

use boxed::{Policy, sandboxed};
use boxed_tests::{e2e, open_directory};
use serde::{Deserialize, Serialize};
use sha2::Digest;

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Work {
    /// Sums computed by four threads, joined.
    threads: Vec<u64>,
    /// What was written, listed, read back, renamed, copied and removed in the grant.
    files: Result<Vec<String>, String>,
    /// Whether the clocks move forward and a short sleep lasts.
    time: bool,
    /// SHA-256 of a fixed text, and whether a `HashMap` (random keys) works.
    sha256: String,
    hash_map: usize,
    /// A value through `serde_json` and back.
    json: String,
    /// The matches of a regex.
    regex: Vec<String>,
    /// Floats formatted.
    floats: String,
    /// The sum of a 128 MiB allocation, written and freed, repeated.
    allocation: u64,
    /// `available_parallelism` is at least one.
    parallelism: bool,
    /// `std::env::vars`, `current_dir`, `temp_dir`.
    env: (Vec<(String, String)>, String, String),
}

fn work(dir: &Path) -> Work {
    let threads = (0..4u64)
        .map(|i| std::thread::spawn(move || (i * 1000..(i + 1) * 1000).sum::<u64>()))
        .collect::<Vec<_>>()
        .into_iter()
        .map(|handle| handle.join().expect("a thread"))
        .collect();
    let files = (|| -> std::io::Result<Vec<String>> {
        let sub = dir.join("sub");
        fs::create_dir_all(&sub)?;
        fs::write(sub.join("a"), "alpha")?;
        fs::rename(sub.join("a"), sub.join("b"))?;
        fs::copy(sub.join("b"), sub.join("c"))?;
        let mut names: Vec<String> = fs::read_dir(&sub)?
            .map(|entry| entry.map(|e| e.file_name().to_string_lossy().into_owned()))
            .collect::<Result<_, _>>()?;
        names.sort();
        names.push(fs::read_to_string(sub.join("c"))?);
        names.push(fs::metadata(sub.join("c"))?.len().to_string());
        fs::remove_dir_all(&sub)?;
        Ok(names)
    })()
    .map_err(|e| e.to_string());
    let start = std::time::Instant::now();
    let wall = std::time::SystemTime::now();
    std::thread::sleep(std::time::Duration::from_millis(5));
    let time = start.elapsed() >= std::time::Duration::from_millis(5)
        && wall.elapsed().is_ok()
        && wall.duration_since(std::time::UNIX_EPOCH).is_ok();
    let sha256: String = sha2::Sha256::digest(b"boxed")
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let hash_map: HashMap<String, usize> = (0..1000).map(|i| (i.to_string(), i)).collect();
    let json = serde_json::to_string(
        &serde_json::from_str::<serde_json::Value>(r#"{"a":[1,2.5,"x",null]}"#).expect("json"),
    )
    .expect("json");
    let regex = regex::Regex::new(r"[a-z]+(\d+)").expect("a regex");
    let regex = regex
        .captures_iter("ab12 cd345 ef")
        .map(|c| c[1].to_string())
        .collect();
    let floats = format!(
        "{} {:.3} {:e} {}",
        0.1 + 0.2,
        std::f64::consts::PI,
        6.02e23,
        f32::MAX
    );
    let allocation = (0..3)
        .map(|round| {
            let mut block = vec![0u8; 128 << 20];
            for (i, byte) in block.iter_mut().enumerate().step_by(4096) {
                *byte = (i >> 12) as u8 ^ round;
            }
            block
                .iter()
                .step_by(4096)
                .map(|&b| u64::from(b))
                .sum::<u64>()
        })
        .sum();
    let parallelism = std::thread::available_parallelism().is_ok_and(|n| n.get() >= 1);
    let env = (
        std::env::vars().collect(),
        std::env::current_dir()
            .map(|d| d.display().to_string())
            .unwrap_or_else(|e| e.to_string()),
        std::env::temp_dir().display().to_string(),
    );
    Work {
        threads,
        files,
        time,
        sha256,
        hash_map: hash_map.len(),
        json,
        regex,
        floats,
        allocation,
        parallelism,
        env,
    }
}

#[sandboxed]
fn work_in_sandbox(dir: &Path) -> Work {
    work(dir)
}

#[sandboxed(zygote)]
fn work_in_zygote(dir: &Path) -> Work {
    work(dir)
}

#[test]
fn common_work_runs_under_the_filter_one_shot_and_through_a_zygote() {
    let env = e2e();
    let dir = open_directory(&env.work, "common-work");
    let outside = work(&dir);
    for (how, inside) in [
        (
            "one-shot",
            Policy::new().write(&dir).run(|| work_in_sandbox(&dir)),
        ),
        (
            "zygote",
            Policy::new()
                .write(&dir)
                .zygote(true)
                .run(|| work_in_zygote(&dir)),
        ),
    ] {
        assert_eq!(
            inside.files,
            Ok(vec!["b".into(), "c".into(), "alpha".into(), "5".into()]),
            "{how}"
        );
        assert_eq!(
            inside.env.0,
            vec![(
                "PATH".to_string(),
                "/usr/local/bin:/usr/bin:/bin".to_string()
            )],
            "{how}"
        );
        assert_eq!(inside.env.1, "/", "{how}");
        // Everything else as in the caller.
        let comparable = |w: &Work| {
            (
                w.threads.clone(),
                w.time,
                w.sha256.clone(),
                w.hash_map,
                w.json.clone(),
                w.regex.clone(),
                w.floats.clone(),
                w.allocation,
                w.parallelism,
                w.env.2.clone(),
            )
        };
        assert_eq!(comparable(&inside), comparable(&outside), "{how}");
        assert!(inside.time && inside.parallelism, "{how}: {inside:?}");
    }
    fs::remove_dir_all(&dir).expect("removing the directory");
}
