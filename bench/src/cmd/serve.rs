//! `perf serve`: the local gateway library, exactly as `infra/local-gateway`'s binary starts it
//! (same environment variables), on a tokio runtime whose blocking pool is capped at
//! `PERF_MAX_BLOCKING_THREADS` (tokio's default: 512). The embedded store runs every redb call
//! through `spawn_blocking`; under load the default pool grows to hundreds of threads. This
//! measures what a cap changes, without touching the gateway's code.

use std::net::{Ipv4Addr, SocketAddr};

use crate::Args;

pub fn run(_args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    let cap: usize = std::env::var("PERF_MAX_BLOCKING_THREADS").ok().and_then(|v| v.parse().ok()).unwrap_or(512);
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().max_blocking_threads(cap).build()?;
    rt.block_on(async {
        let port: u16 = std::env::var("PORT").ok().and_then(|p| p.parse().ok()).unwrap_or(4000);
        let config = local_gateway::local_config()?;
        let limits = local_gateway::Limits::from_env()?;
        let running = local_gateway::start(config, None, SocketAddr::from((Ipv4Addr::LOCALHOST, port)), limits).await?;
        running.task.await?;
        Ok(())
    })
}
