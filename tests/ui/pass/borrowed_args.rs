// Shared references cross as their owned form: `&str` as `String`, `&[T]` as `Vec<T>`,
// `&T` as `T`, `&Path` as `PathBuf`.
use std::path::Path;

use boxed::sandboxed;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Point {
    x: i32,
    y: i32,
}

#[sandboxed]
fn text_len(text: &str) -> usize {
    text.len()
}

#[sandboxed]
fn total(items: &[u64]) -> u64 {
    items.iter().sum()
}

#[sandboxed]
fn norm(point: &Point) -> i32 {
    point.x.abs() + point.y.abs()
}

#[sandboxed]
fn extension(path: &Path) -> Option<String> {
    path.extension().map(|e| e.to_string_lossy().into_owned())
}

#[sandboxed]
fn all_at_once<'a>(text: &'a str, items: &[String], point: &Point, path: &'a Path) -> String {
    format!("{text} {} {} {}", items.len(), point.x, path.display())
}

fn main() {
    let _ = (text_len, total, norm, extension, all_at_once);
}
