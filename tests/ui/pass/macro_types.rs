// Types passed through a `macro_rules!` `$t:ty` arrive wrapped in an invisible group:
// `&str` is still a borrowed argument.
use boxed::sandboxed;

macro_rules! sandboxed_len {
    ($name:ident, $arg:ty) => {
        #[sandboxed]
        fn $name(value: $arg) -> usize {
            value.len()
        }
    };
}

sandboxed_len!(text_len, &str);
sandboxed_len!(slice_len, &[u8]);
sandboxed_len!(vec_len, Vec<String>);

fn main() {
    let _ = (text_len, slice_len, vec_len);
}
