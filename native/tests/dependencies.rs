//! The crate's direct `rustls` dependency exists only to recognise certificate errors in the errors
//! `ureq` returns (`http.rs`): it must be the very `rustls` that `ureq` uses, or the type checks
//! there silently never match. Checked from the lock file.

use std::path::Path;

/// The versions of package `name` in the workspace's `Cargo.lock`.
fn locked_versions(lock: &str, name: &str) -> Vec<String> {
    lock.split("[[package]]")
        .filter(|p| p.contains(&format!("\nname = \"{name}\"\n")))
        .filter_map(|p| {
            p.lines()
                .find_map(|l| l.strip_prefix("version = \""))
                .map(|v| v.trim_end_matches('"').to_string())
        })
        .collect()
}

#[test]
fn the_rustls_we_name_is_the_rustls_ureq_uses() {
    let lock_file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.lock");
    let lock = std::fs::read_to_string(&lock_file).expect("Cargo.lock");
    let versions = locked_versions(&lock, "rustls");
    assert_eq!(
        versions.len(),
        1,
        "one rustls in the build, found {versions:?}"
    );
    let ureq = lock
        .split("[[package]]")
        .find(|p| p.contains("\nname = \"ureq\"\n"))
        .expect("ureq in Cargo.lock");
    assert!(
        ureq.contains("\n \"rustls\",\n") || ureq.contains(&format!("\"rustls {}\"", versions[0])),
        "ureq depends on that rustls: {ureq}"
    );
    let ours = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"))
        .expect("Cargo.toml");
    let wanted = ours
        .lines()
        .find_map(|l| l.strip_prefix("rustls = { version = \""))
        .and_then(|l| l.split('"').next())
        .expect("a direct rustls dependency");
    assert!(
        versions[0].starts_with(wanted),
        "Cargo.toml asks for rustls {wanted}, the build has {}",
        versions[0]
    );
}
