//! Generates prost types from `proto/remote.proto`, the single source of the wire schema.
//! The library encodes directly (see `encode.rs`); the generated types let tests prove that the
//! direct encoder writes exactly what the schema says.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto_dir = "../proto";
    println!("cargo:rerun-if-changed={proto_dir}/remote.proto");
    let descriptors = protox::compile(["remote.proto"], [proto_dir])?;
    prost_build::Config::new().compile_fds(descriptors)?;
    Ok(())
}
