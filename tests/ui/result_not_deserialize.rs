use boxed::sandboxed;

struct Answer(u32);

#[sandboxed]
fn answer() -> Answer {
    Answer(42)
}

fn main() {}
