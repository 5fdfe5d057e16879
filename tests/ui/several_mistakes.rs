use boxed::sandboxed;

// Every mistake is reported in one compile, not one per fix.
#[sandboxed(timeout = 5)]
async fn merge<T: Ord>(left: &mut Vec<T>, (a, b): (T, T)) -> &T {
    left.push(a);
    left.push(b);
    left.iter().max().unwrap()
}

fn main() {}
