//! promsink: the native core of a Prometheus Remote-Write sink for Apache Flink.
//!
//! A pipeline of small stages, each testable without a JVM: [`batch`] reads the JNI batch
//! format, [`validate`] normalises and checks each series, [`encode`] writes the protobuf
//! `WriteRequest`, [`compress`] applies snappy, [`http`] posts it (the endpoint's addresses
//! kept by [`resolve`]), [`classify`] and [`retry`] decide what an answer means, and [`client`]
//! ties them together on a worker thread.
//! [`jni_bridge`] is the thin JNI shell over [`client`].

pub mod batch;
pub mod classify;
pub mod client;
pub mod compress;
pub mod config;
pub mod encode;
pub mod encode_v2;
pub mod error;
pub mod governor;
pub mod hashing;
pub mod http;
pub mod jni_bridge;
pub mod lane;
pub mod memory;
pub mod metrics;
pub mod part;
pub mod request;
pub mod resolve;
pub mod retry;
pub mod router;
pub mod validate;

// Counts the bytes the library holds (`memory.rs`): in the released library too, as the
// measure of the memory bound of docs/design.md and of what a closed client gives back.
#[global_allocator]
static ALLOCATOR: memory::CountingAllocator = memory::CountingAllocator;
