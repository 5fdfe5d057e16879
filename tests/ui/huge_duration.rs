use boxed::sandboxed;

#[sandboxed(timeout = "10000000000h")]
fn forever() {}

fn main() {
    let _ = forever;
}
