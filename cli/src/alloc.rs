//! The global allocator. Jobs allocate many small vectors (people lists,
//! staged records); mimalloc halves the time glibc's malloc spends on them
//! (measured in BENCHMARKS.md).

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
