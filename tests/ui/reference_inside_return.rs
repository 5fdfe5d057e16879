use boxed::sandboxed;

#[sandboxed]
fn greeting(formal: bool) -> Option<&'static str> {
    formal.then_some("Good day")
}

fn main() {}
