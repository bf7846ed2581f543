//! Generates the gRPC services and event messages from `proto/` with a vendored `protoc`,
//! so no system protobuf compiler is needed.
use std::{env, path::PathBuf};

const PROTOS: &[&str] = &[
    "yeyak/events/v1/envelope.proto",
    "yeyak/admin/v1/admin.proto",
    "yeyak/access/v1/access.proto",
    "yeyak/catalog/events/v1/events.proto",
    "yeyak/catalog/v1/catalog.proto",
    "yeyak/reservations/events/v1/events.proto",
    "yeyak/reservations/v1/reservations.proto",
    "yeyak/notifications/events/v1/events.proto",
    "yeyak/notifications/v1/notifications.proto",
    "yeyak/settlement/events/v1/events.proto",
    "yeyak/settlement/v1/settlement.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protoc = protoc_bin_vendored::protoc_bin_path()?;
    // SAFETY: build scripts are single-threaded; prost-build reads PROTOC from the environment.
    unsafe { env::set_var("PROTOC", protoc) };
    let root = PathBuf::from(env::var("CARGO_MANIFEST_DIR")?).join("../../proto");
    let out = PathBuf::from(env::var("OUT_DIR")?);
    let files: Vec<PathBuf> = PROTOS.iter().map(|p| root.join(p)).collect();
    // Type names let the event log record each payload's fully qualified message name.
    let mut config = tonic_prost_build::Config::new();
    config.enable_type_names();
    tonic_prost_build::configure()
        .file_descriptor_set_path(out.join("yeyak_descriptor.bin"))
        .compile_with_config(
            config,
            &files,
            &[root.clone(), protoc_bin_vendored::include_path()?],
        )?;
    println!("cargo:rerun-if-changed={}", root.display());
    Ok(())
}
