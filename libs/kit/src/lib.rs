//! The service kit: what every yeyak service wires with one call each.
//!
//! - [`command`]: the command runner every command and consumer goes through, and the
//!   [`command::Aggregate`] shape of a domain decision (with given/when/then tests);
//! - [`clock`]: the injected business clock (system, controlled in tests, offset for development);
//! - [`access`]: the operator check every service runs, and the directory that learns operators;
//! - [`config`]: configuration from the environment (clap, `YEYAK_*`);
//! - [`telemetry`]: JSON logs, and OTLP traces when `OTEL_EXPORTER_OTLP_ENDPOINT` is set;
//! - [`metrics`]: Prometheus text on a port of its own, and every RPC measured;
//! - [`auth`]: bearer JWT authentication and per-RPC role policies, enforced before a handler runs;
//! - [`server`]: gRPC serving with health, reflection, tracing and graceful shutdown;
//! - [`status`]: gRPC statuses with a machine-readable reason;
//! - [`events`]: protobuf event payloads to and from the log;
//! - [`kst`]: business time in Korean Standard Time.
//!
//! Invariant: no service domain types here; this crate knows roles, operators and envelopes, not
//! reservations.

pub mod access;
pub mod admin;
pub mod auth;
pub mod business_days;
pub mod clock;
pub mod command;
pub mod config;
pub mod events;
pub mod fold_cache;
pub mod kst;
pub mod metrics;
pub mod server;
pub mod status;
pub mod telemetry;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod wake;

pub use prost;
pub use tokio_util::sync::CancellationToken;
