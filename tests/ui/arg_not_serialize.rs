use boxed::sandboxed;

struct Secret(u32);

#[sandboxed]
fn reveal(secret: Secret) -> u32 {
    secret.0
}

fn main() {}
