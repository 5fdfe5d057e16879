use boxed::sandboxed;

#[sandboxed]
fn forever() -> ! {
    loop {}
}

fn main() {}
