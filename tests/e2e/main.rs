//! End-to-end tests: the whole system, driven only through its public gRPC APIs.
mod access;
mod admin;
mod booking_flow;
mod catalog;
mod distributed;
mod health;
mod metrics;
mod notifications;
mod readme_flow;
mod reflection;
mod reservations;
mod support;
