//! Every Lambda function of the chat backend: one thin handler per route (`http/`, `ws/`), the
//! route table that names them (`routes`), and the Lambda entry point (`lambda`). The same
//! handlers serve AWS and the local gateway.

pub mod http;
pub mod lambda;
pub mod routes;
pub mod stream;
pub mod ws;
