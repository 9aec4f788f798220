//! The integration tests, in one binary (one link, shared helpers in `support`).

mod conformance;
mod support;
mod e2e;
mod harness;
mod management;
mod budget;
