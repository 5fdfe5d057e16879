// Zygote mode in the attribute: alone, and as a boolean with other options.
use boxed::sandboxed;

#[sandboxed(zygote)]
fn through_a_zygote(a: u64, b: u64) -> u64 {
    a + b
}

#[sandboxed(zygote = false, timeout = "1s")]
fn without_one(text: &str) -> usize {
    text.len()
}

fn main() {
    let _ = (through_a_zygote, without_one);
}
