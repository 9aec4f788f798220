//! The integration tests, in one binary (one link, shared helpers in `support`).

mod access;
mod attachments;
mod attacks;
mod budget;
mod conformance;
mod e2e;
mod edits;
mod faults;
mod harness;
mod limits;
mod management;
mod mentions;
mod metrics;
mod openapi;
mod pins;
mod probe;
mod races;
mod reactions;
mod readme;
mod receipts;
mod secrets;
mod seed_surface;
mod seeds;
mod sessions;
mod support;
mod ws_fuzz;
