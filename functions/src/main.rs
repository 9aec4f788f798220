//! The `bootstrap` of every function: `_HANDLER` (the template's `Handler`) picks the route.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    functions::lambda::run().await
}
