//! The Remote-Write schemas of this directory as prost types. A crate of its own, not a module of
//! `promsink`, so the library that ships neither carries them nor builds them: the library's tests
//! and examples take it as a dev-dependency, the test receiver as a dependency.

/// Remote-Write 1.0, generated from `remote.proto`.
pub mod v1 {
    #![allow(missing_docs)]
    include!(concat!(env!("OUT_DIR"), "/prometheus.rs"));
}

/// Remote-Write 2.0, generated from `remote_v2.proto`.
pub mod v2 {
    #![allow(missing_docs)]
    include!(concat!(env!("OUT_DIR"), "/io.prometheus.write.v2.rs"));
}
