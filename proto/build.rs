//! Generates prost types from `remote.proto` (Remote-Write 1.0) and `remote_v2.proto` (2.0), the
//! single source of the wire schemas. The library encodes directly (`native/src/encode.rs`,
//! `encode_v2.rs`); the generated types let tests prove that the direct encoders write exactly
//! what the schemas say, and let the test receiver decode what it is sent.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files = ["remote.proto", "remote_v2.proto"];
    for file in files {
        println!("cargo:rerun-if-changed={file}");
    }
    let descriptors = protox::compile(files, ["."])?;
    prost_build::Config::new().compile_fds(descriptors)?;
    Ok(())
}
