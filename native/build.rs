//! Generates prost types from `proto/remote.proto` (Remote-Write 1.0) and `proto/remote_v2.proto`
//! (2.0), the single source of the wire schemas. The library encodes directly (`encode.rs`,
//! `encode_v2.rs`); the generated types let tests prove that the direct encoders write exactly
//! what the schemas say.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto_dir = "../proto";
    let files = ["remote.proto", "remote_v2.proto"];
    for file in files {
        println!("cargo:rerun-if-changed={proto_dir}/{file}");
    }
    let descriptors = protox::compile(files, [proto_dir])?;
    prost_build::Config::new().compile_fds(descriptors)?;
    Ok(())
}
