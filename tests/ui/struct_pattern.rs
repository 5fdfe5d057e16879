use boxed::sandboxed;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Point {
    x: i32,
    y: i32,
}

#[sandboxed]
fn norm(Point { x, y }: Point) -> i32 {
    x.abs() + y.abs()
}

fn main() {}
