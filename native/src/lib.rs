//! promsink: the native core of a Prometheus Remote-Write sink for Apache Flink.
//!
//! A pipeline of small stages, each testable without a JVM: [`batch`] reads the JNI batch
//! format, [`validate`] normalises and checks each series, [`encode`] writes the protobuf
//! `WriteRequest`, [`compress`] applies snappy, [`http`] posts it, [`classify`] and [`retry`]
//! decide what an answer means, and [`client`] ties them together on a worker thread.
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
pub mod retry;
pub mod router;
pub mod validate;

#[global_allocator]
static ALLOCATOR: memory::CountingAllocator = memory::CountingAllocator;

/// Types generated from `proto/remote.proto`, used by tests to check the direct encoder.
pub mod wire {
    #![allow(missing_docs)]
    include!(concat!(env!("OUT_DIR"), "/prometheus.rs"));
}

/// Types generated from `proto/remote_v2.proto`, used by tests to check the 2.0 encoder.
pub mod wire_v2 {
    #![allow(missing_docs)]
    include!(concat!(env!("OUT_DIR"), "/io.prometheus.write.v2.rs"));
}
