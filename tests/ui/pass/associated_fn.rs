// An associated function without `self` can be sandboxed.
use boxed::sandboxed;

pub struct Counter;

impl Counter {
    #[sandboxed]
    pub fn add(a: u32, b: u32) -> u32 {
        a + b
    }
}

fn main() {
    let _ = Counter::add;
}
