//! `cargo run -p local-gateway`: the whole backend on one port, no AWS account needed.

use std::net::{Ipv4Addr, SocketAddr};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();
    let port = std::env::var("PORT").ok().map(|p| p.parse()).transpose()?.unwrap_or(4000);
    let config = local_gateway::local_config()?;
    let store = format!("{:?}", config.store);
    let limits = local_gateway::Limits::from_env()?;
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let running = local_gateway::start(config, None, addr, limits).await?;
    let addr = running.addr;
    tracing::info!(%store, "local gateway listening: HTTP http://{addr}/api, WebSocket ws://{addr}/ws, @connections http://{addr}/@connections");
    tokio::select! {
        _ = running.task => {}
        _ = tokio::signal::ctrl_c() => tracing::info!("shutting down"),
    }
    Ok(())
}
