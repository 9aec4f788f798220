//! The integration tests, in one binary (one link, shared helpers in `support`).

mod budget;
mod conformance;
mod e2e;
mod harness;
mod management;
mod support;
mod seed_surface;
