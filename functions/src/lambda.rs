//! The Lambda entry point shared by every function: each binary of `lambda/` (one per
//! `routes::Bundle`) calls `run`.

use std::sync::Arc;

use aws_lambda_events::apigw::{ApiGatewayCustomAuthorizerRequestTypeRequest, ApiGatewayWebsocketProxyRequest};
use chat::{App, Config};
use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};
use lambda_runtime::{service_fn, Error, LambdaEvent};

use crate::routes::{routes, Function, Handler, Route};

/// Builds the clients once (cold start), reads the signing keys and warms the store connection,
/// then serves the routes of the function named by `_HANDLER`. Refuses a function whose
/// dependencies this binary does not link (its declaration names another bundle).
pub async fn run() -> Result<(), Error> {
    lambda_http::tracing::init_default_subscriber();
    let name = std::env::var("_HANDLER").map_err(|_| "_HANDLER is not set")?;
    let function = Function::from_name(&name).ok_or_else(|| format!("no function named {name}"))?;
    let decl = function.decl().ok_or_else(|| format!("{name} is not declared"))?;
    let bundle = decl.bundle();
    if !bundle.linked() {
        return Err(format!("{name} is served by {}, which links what this binary does not", bundle.binary()).into());
    }
    // Shared, not copied, by every invocation.
    let mine: Arc<[Route]> = routes().into_iter().filter(|r| r.function == function).collect();
    let first = *mine.first().ok_or_else(|| format!("{name} has no route"))?;
    let mut config = Config::from_env()?;
    if !decl.uses_tokens() {
        // Neither signs nor verifies: no key read, none held (its role may not read the secret).
        (config.jwt_secret_arn, config.jwt_secret) = (None, Vec::new());
    }
    let app = Arc::new(App::build(config).await?);
    if decl.verifies_passwords {
        // Off the init path: the first `/next` need not wait for a hash only an unknown user's
        // login uses; such a login arriving first waits for it (a `OnceLock`).
        drop(tokio::task::spawn_blocking(chat::auth::prepare_login));
    }
    let metric_name = function.name();
    match first.handler {
        Handler::Http(_) | Handler::HttpDefault(_) => {
            lambda_http::run(service_fn(move |req: Request| {
                let (app, mine) = (app.clone(), mine.clone());
                async move {
                    let invocation = Invocation::of_http(&req);
                    let (res, metrics) = chat::metrics::scope(metric_name, async {
                        app.tokens.refresh_if_stale().await;
                        serve_http(app, &mine, req).await
                    })
                    .await;
                    invocation.emit(&metrics);
                    Ok::<_, Error>(res)
                }
            }))
            .await
        }
        Handler::Ws(handler) => {
            lambda_runtime::run(service_fn(move |ev: LambdaEvent<ApiGatewayWebsocketProxyRequest>| {
                let app = app.clone();
                async move {
                    let invocation = Invocation::of(&ev.context, ev.payload.request_context.route_key.clone());
                    let (res, metrics) =
                        chat::metrics::scope(metric_name, crate::ws::respond(app, handler, ev.payload)).await;
                    invocation.emit(&metrics);
                    Ok::<_, Error>(res)
                }
            }))
            .await
        }
        Handler::Stream => {
            lambda_runtime::run(service_fn(move |ev: LambdaEvent<crate::stream::StreamEvent>| {
                let app = app.clone();
                async move {
                    let invocation = Invocation::of(&ev.context, Some(crate::routes::STREAM_KEY.into()));
                    let (res, metrics) =
                        chat::metrics::scope(metric_name, crate::stream::serve(&app, ev.payload)).await;
                    invocation.emit(&metrics);
                    // Unexpected failures fail the whole batch: the event source mapping retries it.
                    res.map_err(|e| Error::from(e.to_string()))
                }
            }))
            .await
        }
        Handler::Authorizer => {
            lambda_runtime::run(service_fn(move |ev: LambdaEvent<ApiGatewayCustomAuthorizerRequestTypeRequest>| {
                let app = app.clone();
                // A refused token answers 401 at the handshake (API Gateway's "Unauthorized");
                // any other failure (the store down) must not look like a bad token, or clients
                // would drop valid credentials: API Gateway answers it with 500.
                async move {
                    let invocation = Invocation::of(&ev.context, Some("$authorizer".into()));
                    let (res, metrics) = chat::metrics::scope(metric_name, async {
                        app.tokens.refresh_if_stale().await;
                        crate::ws::authorize(&app, &ev.payload).await
                    })
                    .await;
                    invocation.emit(&metrics);
                    res.map_err(|e| match e {
                        chat::AppError::Unauthorized(_) => Error::from("Unauthorized"),
                        other => Error::from(other.to_string()),
                    })
                }
            }))
            .await
        }
    }
}

/// What an invocation's metrics line says besides the metrics: its route, request id and
/// X-Ray trace id (the runtime's log lines carry the last two in their `span`).
struct Invocation {
    route: Option<String>,
    request_id: String,
    trace_id: Option<String>,
}

impl Invocation {
    fn of(ctx: &lambda_runtime::Context, route: Option<String>) -> Self {
        Self { route, request_id: ctx.request_id.clone(), trace_id: ctx.xray_trace_id.clone() }
    }

    fn of_http(req: &Request) -> Self {
        let route = match req.request_context_ref() {
            Some(RequestContext::ApiGatewayV2(ctx)) => ctx.route_key.clone(),
            _ => None,
        };
        match req.lambda_context_ref() {
            Some(ctx) => Self::of(ctx, route),
            None => Self { route, request_id: String::new(), trace_id: None },
        }
    }

    /// One Embedded Metric Format line on stdout: CloudWatch Logs turns it into the metrics.
    fn emit(&self, metrics: &chat::metrics::Snapshot) {
        let line = metrics.emf(
            chat::metrics::namespace(),
            chat::clock::now_ms(),
            self.route.as_deref(),
            Some(self.request_id.as_str()).filter(|id| !id.is_empty()),
            self.trace_id.as_deref(),
        );
        println!("{line}");
    }
}

/// An HTTP function may serve several route keys (aliases): pick by the event's `routeKey`.
pub async fn serve_http(app: Arc<App>, routes: &[Route], req: Request) -> lambda_http::Response<lambda_http::Body> {
    let key = match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.route_key.clone(),
        _ => None,
    };
    let route = routes.iter().find(|r| Some(r.key) == key.as_deref()).or(routes.first());
    match route.map(|r| r.handler) {
        Some(Handler::Http(h) | Handler::HttpDefault(h)) => crate::http::respond(app, h, req).await,
        _ => crate::http::error_response(&chat::AppError::not_found("route")),
    }
}
