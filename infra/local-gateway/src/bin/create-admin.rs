//! The documented bootstrap of the first admin, for any store the configuration names:
//!
//! ```text
//! CHAT_STORE=dynamodb TABLE_NAME=<the stack's table> \
//! CHAT_ADMIN_USERNAME=root CHAT_ADMIN_PASSWORD='…' cargo run -p local-gateway --bin create-admin
//! ```
//!
//! It uses the standard AWS configuration (profile, region, credentials). An existing user of
//! that name is left as it is. No endpoint can create an admin.

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    tracing_subscriber::fmt().with_env_filter("info").init();
    let config = local_gateway::local_config()?;
    let username = std::env::var("CHAT_ADMIN_USERNAME").map_err(|_| "CHAT_ADMIN_USERNAME is required")?;
    let password = std::env::var("CHAT_ADMIN_PASSWORD").map_err(|_| "CHAT_ADMIN_PASSWORD is required")?;
    let app = chat::App::build(config).await?;
    let created = chat::service::users::ensure_admin(
        &app,
        chat::models::Username::parse(&username)?,
        chat::models::Password::parse(&password)?,
    )
    .await?;
    println!(
        "{}",
        if created {
            format!("admin {username} created")
        } else {
            format!("user {username} already exists; left unchanged")
        }
    );
    Ok(())
}
