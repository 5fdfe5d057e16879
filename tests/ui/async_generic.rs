use boxed::sandboxed;

#[sandboxed]
async fn first<T: serde::Serialize + serde::de::DeserializeOwned>(items: Vec<T>) -> Option<T> {
    items.into_iter().next()
}

fn main() {}
