// An `async fn` is sandboxed as it is: its call is a future that is `Send` and borrows
// nothing (the arguments are encoded when the function is called), so it can be
// spawned on any executor. Borrowed arguments, `Result` with `From<boxed::Error>`,
// other results, `()` and an `.await` in the body all work.
use boxed::sandboxed;

#[derive(Debug, serde::Serialize, serde::Deserialize)]
enum ParseError {
    Syntax,
    Sandbox(boxed::Error),
}

impl From<boxed::Error> for ParseError {
    fn from(error: boxed::Error) -> Self {
        ParseError::Sandbox(error)
    }
}

async fn helper(n: u64) -> u64 {
    n * 2
}

#[sandboxed]
async fn double(n: u64) -> u64 {
    helper(n).await
}

#[sandboxed(zygote)]
async fn parse(text: &str, bytes: &[u8]) -> Result<u64, ParseError> {
    let _ = bytes;
    text.parse().map_err(|_| ParseError::Syntax)
}

#[sandboxed]
pub async fn nothing() {}

fn spawnable<F: std::future::Future + Send + 'static>(_: F) {}

fn main() {
    let text = String::from("12");
    // The future borrows neither `text` nor the bytes.
    let future = parse(&text, &[1, 2, 3]);
    drop(text);
    spawnable(future);
    spawnable(double(2));
    spawnable(nothing());
}
