//! Compiles the vendored ZITADEL protobuf definitions (`proto/`) into one encoded
//! `FileDescriptorSet` in `OUT_DIR`, which `zitadel::proto` embeds; protox parses them, so no
//! `protoc` is needed.

use std::path::PathBuf;

/// The files whose services the ZITADEL facade serves (their imports come along).
const FILES: [&str; 4] = [
    "zitadel/management.proto",
    "zitadel/admin.proto",
    "zitadel/settings/v2/settings_service.proto",
    "zitadel/settings/v2beta/settings_service.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    let mut compiler = protox::Compiler::new(["proto"])?;
    compiler.include_imports(true).include_source_info(false);
    compiler.open_files(FILES)?;
    let out = PathBuf::from(std::env::var("OUT_DIR")?).join("zitadel_descriptors.bin");
    std::fs::write(out, compiler.encode_file_descriptor_set())?;
    Ok(())
}
