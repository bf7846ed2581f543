//! End-to-end tests: the whole system, driven only through its public gRPC APIs.
mod access;
mod booking_flow;
mod catalog;
mod distributed;
mod notifications;
mod reflection;
mod reservations;
mod support;
