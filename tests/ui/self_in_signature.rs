use boxed::sandboxed;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Counter(u32);

impl Counter {
    #[sandboxed]
    fn start(at: u32) -> Self {
        Counter(at)
    }
}

fn main() {}
