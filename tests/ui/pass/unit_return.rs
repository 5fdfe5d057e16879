use boxed::sandboxed;

#[sandboxed]
fn nothing() {}

#[sandboxed]
fn log(line: String) -> () {
    eprintln!("{line}");
}

fn main() {
    let _ = (nothing, log);
}
