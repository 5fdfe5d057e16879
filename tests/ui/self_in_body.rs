// Not refused by the attribute, which cannot see every use of `Self` in a body; rustc
// refuses it, and says what to write instead.
use boxed::sandboxed;

struct Counter;

impl Counter {
    #[sandboxed]
    fn start(at: u32) -> u32 {
        Self::clamp(at)
    }

    fn clamp(at: u32) -> u32 {
        at.min(100)
    }
}

fn main() {}
