//! The `bootstrap` of every bundle (`functions::routes::Bundle`): each package of this folder
//! builds this file with its own features; `_HANDLER` (the template's `Handler`) picks the
//! function, and a function of another bundle is refused at start.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    functions::lambda::run().await
}
