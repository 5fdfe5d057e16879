use boxed::sandboxed;

struct Counter {
    count: u32,
}

impl Counter {
    #[sandboxed]
    fn get(&self) -> u32 {
        self.count
    }
}

fn main() {}
