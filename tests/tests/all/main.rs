//! The integration tests, in one binary (one link, shared helpers in `support`).

mod conformance;
mod support;
