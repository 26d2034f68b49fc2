// A Rust plugin that asks for more memory than its limit in one
// allocation: the allocator's memory.grow fails far below the limit, Rust
// prints "memory allocation of N bytes failed" and aborts with a trap.
fn main() {
    let v = vec![1u8; 64 << 20];
    println!("{}", v[v.len() / 2]);
}
