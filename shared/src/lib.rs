//! The shared crate behind every chat Lambda function: models, auth, storage, real-time push
//! and the domain services. Functions stay thin: parse the event, call a service, shape the reply.

pub mod app;
pub mod attachments;
pub mod auth;
pub mod clock;
pub mod config;
pub mod error;
pub mod events;
pub mod iam;
pub mod ids;
pub mod login_guard;
pub mod mentions;
pub mod metrics;
pub mod models;
pub mod phone_push;
pub mod push;
pub mod reactions;
pub mod repo;
pub mod secrets;
pub mod service;
pub mod store;
pub mod text;
pub mod tls;
pub mod uploads;
pub mod wordfilter;

pub use app::App;
pub use config::Config;
pub use error::AppError;
