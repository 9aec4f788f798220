//! One source of truth for routes: `template.yaml` (what AWS deploys) against
//! `functions::routes::routes()` (what the Lambda entry point and the local gateway serve).
//!
//! Fails when a route key or a function exists on one side and not on the other, when a route is
//! wired to another function than the table says, or when a function is not built and named the
//! way the single `bootstrap` binary expects (`Handler` = the function's name, read back from
//! `_HANDLER` at cold start).
//!
//! The template keeps CloudFormation's short tags (`!Ref`, `!Sub`, `!GetAtt`): it is what SAM
//! users read and write. A plain YAML parser rejects unknown tags, so this reads it with
//! `serde_yaml_ng`, which keeps them as tagged values; the helpers below understand both the
//! short and the long (`Ref:`, `Fn::Sub:`) forms.

use std::collections::{BTreeMap, BTreeSet};

use functions::routes::{routes, Handler, Route, AUTHORIZER};
use serde_yaml_ng::Value;

fn template() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml");
    let text = std::fs::read_to_string(path).expect("template.yaml at the repository root");
    serde_yaml_ng::from_str(&text).expect("template.yaml is valid YAML")
}

fn get<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    v.as_mapping()?.get(key)
}

fn string(v: Option<&Value>) -> Option<&str> {
    v?.as_str()
}

/// The argument of an intrinsic function, short (`!Ref X`) or long (`{Ref: X}`) form.
fn intrinsic<'a>(v: &'a Value, short: &str, long: &str) -> Option<&'a Value> {
    match v {
        Value::Tagged(t) if t.tag == short => Some(&t.value),
        Value::Mapping(m) if m.len() == 1 => m.get(long),
        _ => None,
    }
}

/// `!Ref X` → `X`.
fn ref_of(v: &Value) -> Option<&str> {
    intrinsic(v, "Ref", "Ref")?.as_str()
}

/// The template string of `!Sub "…"` (or of the first element of `!Sub ["…", {…}]`).
fn sub_of(v: &Value) -> Option<&str> {
    let arg = intrinsic(v, "Sub", "Fn::Sub")?;
    arg.as_str().or_else(|| arg.as_sequence()?.first()?.as_str())
}

/// The `${Name}` / `${Name.Attr}` references of a `!Sub` string (pseudo-parameters left out).
fn sub_refs(s: &str) -> Vec<&str> {
    s.split("${")
        .skip(1)
        .filter_map(|rest| rest.split_once('}').map(|(name, _)| name))
        .filter(|name| !name.starts_with("AWS::") && !name.starts_with('!'))
        .collect()
}

struct Template {
    resources: BTreeMap<String, Value>,
    globals: Value,
}

impl Template {
    fn load() -> Self {
        let t = template();
        let resources = get(&t, "Resources")
            .and_then(Value::as_mapping)
            .expect("Resources")
            .iter()
            .map(|(k, v)| (k.as_str().expect("logical ids are strings").to_owned(), v.clone()))
            .collect();
        let globals = get(&t, "Globals").and_then(|g| get(g, "Function")).cloned().unwrap_or(Value::Null);
        Self { resources, globals }
    }

    fn of_type<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = (&'a str, &'a Value)> + 'a {
        self.resources.iter().filter(move |(_, r)| string(get(r, "Type")) == Some(kind)).map(|(id, r)| (id.as_str(), r))
    }

    fn resource(&self, id: &str) -> Option<&Value> {
        self.resources.get(id)
    }

    /// A function property, or the Globals' one.
    fn function_property<'a>(&'a self, function: &'a Value, name: &str) -> Option<&'a Value> {
        get(function, "Properties").and_then(|p| get(p, name)).or_else(|| get(&self.globals, name))
    }

    /// Lambda functions by `Handler` → logical id. Panics on a duplicate handler.
    fn functions(&self) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        for (id, f) in self.of_type("AWS::Serverless::Function") {
            let handler = string(get(get(f, "Properties").unwrap(), "Handler"))
                .unwrap_or_else(|| panic!("{id} has no Handler"))
                .to_owned();
            if let Some(other) = out.insert(handler.clone(), id.to_owned()) {
                panic!("{other} and {id} both have Handler {handler}");
            }
        }
        out
    }

    /// The function (`Handler`) whose ARN a `!Sub` Lambda integration URI names.
    fn function_of_uri(&self, uri: &Value, by_id: &BTreeMap<String, String>) -> Option<String> {
        sub_refs(sub_of(uri)?).into_iter().find_map(|r| r.strip_suffix(".Arn").and_then(|id| by_id.get(id)).cloned())
    }
}

fn is_http(r: &Route) -> bool {
    matches!(r.handler, Handler::Http(_))
}

/// What the table says each route key is served by, split by API.
struct Expected {
    http: BTreeMap<String, String>,
    ws: BTreeMap<String, String>,
    authorizer: String,
    functions: BTreeSet<String>,
}

fn expected() -> Expected {
    let mut e =
        Expected { http: BTreeMap::new(), ws: BTreeMap::new(), authorizer: String::new(), functions: BTreeSet::new() };
    for r in routes() {
        e.functions.insert(r.function.to_owned());
        let previous = match r.handler {
            Handler::Http(_) => e.http.insert(r.key.to_owned(), r.function.to_owned()),
            Handler::Ws(_) => e.ws.insert(r.key.to_owned(), r.function.to_owned()),
            Handler::Authorizer => {
                e.authorizer = r.function.to_owned();
                None
            }
        };
        assert!(previous.is_none(), "route key {} appears twice in routes.rs", r.key);
    }
    assert_eq!(e.authorizer, AUTHORIZER);
    e
}

/// Differences between two route maps, as readable lines.
fn diff(what: &str, want: &BTreeMap<String, String>, have: &BTreeMap<String, String>) -> Vec<String> {
    let mut out = Vec::new();
    for (key, f) in want {
        match have.get(key) {
            None => out.push(format!("{what} route `{key}` (function {f}) is in routes.rs but not in template.yaml")),
            Some(g) if g != f => {
                out.push(format!("{what} route `{key}` is served by {f} in routes.rs but by {g} in template.yaml"))
            }
            Some(_) => {}
        }
    }
    for (key, g) in have {
        if !want.contains_key(key) {
            out.push(format!("{what} route `{key}` (function {g}) is in template.yaml but not in routes.rs"));
        }
    }
    out
}

#[test]
fn every_function_of_the_route_table_is_a_lambda_function_of_the_template_and_back() {
    let (t, e) = (Template::load(), expected());
    let have: BTreeSet<String> = t.functions().into_keys().collect();
    let missing: Vec<_> = e.functions.difference(&have).collect();
    let extra: Vec<_> = have.difference(&e.functions).collect();
    assert!(missing.is_empty(), "functions of routes.rs without an AWS::Serverless::Function (Handler): {missing:?}");
    assert!(
        extra.is_empty(),
        "functions of template.yaml that routes.rs does not know (their _HANDLER would fail): {extra:?}"
    );
}

#[test]
fn every_http_route_is_an_http_api_event_of_the_function_serving_it_and_back() {
    let (t, e) = (Template::load(), expected());
    let apis: BTreeSet<&str> = t.of_type("AWS::Serverless::HttpApi").map(|(id, _)| id).collect();
    let mut have = BTreeMap::new();
    let mut problems = Vec::new();
    for (id, f) in t.of_type("AWS::Serverless::Function") {
        let props = get(f, "Properties").unwrap();
        let handler = string(get(props, "Handler")).unwrap_or_default();
        let Some(events) = get(props, "Events").and_then(Value::as_mapping) else { continue };
        for (name, event) in events {
            let name = name.as_str().unwrap_or_default();
            if string(get(event, "Type")) != Some("HttpApi") {
                problems.push(format!("{id}.{name} is not an HttpApi event"));
                continue;
            }
            let p = get(event, "Properties").expect("HttpApi event properties");
            let (method, path) = (string(get(p, "Method")).unwrap_or("?"), string(get(p, "Path")).unwrap_or("?"));
            match get(p, "ApiId").and_then(ref_of) {
                Some(api) if apis.contains(api) => {}
                other => problems.push(format!("{id}.{name} is not on the HTTP API (ApiId {other:?})")),
            }
            let key = format!("{method} {path}");
            if let Some(previous) = have.insert(key.clone(), handler.to_owned()) {
                problems.push(format!("`{key}` is an event of both {previous} and {handler}"));
            }
        }
    }
    problems.extend(diff("HTTP", &e.http, &have));
    assert!(problems.is_empty(), "HTTP routes and template.yaml disagree:\n{}", problems.join("\n"));
}

#[test]
fn every_websocket_route_is_a_route_integration_and_permission_of_the_function_serving_it_and_back() {
    let (t, e) = (Template::load(), expected());
    let by_id: BTreeMap<String, String> = t.functions().into_iter().map(|(h, id)| (id, h)).collect();
    let ws_apis: BTreeSet<&str> = t
        .of_type("AWS::ApiGatewayV2::Api")
        .filter(|(_, a)| string(get(get(a, "Properties").unwrap(), "ProtocolType")) == Some("WEBSOCKET"))
        .map(|(id, _)| id)
        .collect();
    assert_eq!(ws_apis.len(), 1, "one WebSocket API");
    let api = *ws_apis.iter().next().unwrap();
    let api_props = get(t.resource(api).unwrap(), "Properties").unwrap();
    assert_eq!(string(get(api_props, "RouteSelectionExpression")), Some("$request.body.action"));

    let mut have = BTreeMap::new();
    let mut problems = Vec::new();
    for (id, route) in t.of_type("AWS::ApiGatewayV2::Route") {
        let p = get(route, "Properties").unwrap();
        let key = string(get(p, "RouteKey")).unwrap_or_default().to_owned();
        if get(p, "ApiId").and_then(ref_of) != Some(api) {
            problems.push(format!("route {id} is not on the WebSocket API"));
        }
        let integration = get(p, "Target")
            .and_then(sub_of)
            .and_then(|s| s.strip_prefix("integrations/${"))
            .and_then(|s| s.strip_suffix('}'));
        let Some(integration) = integration else {
            problems.push(format!("route {id} has no `!Sub integrations/${{…}}` target"));
            continue;
        };
        let ip = t.resource(integration).and_then(|i| get(i, "Properties"));
        let function = ip.and_then(|ip| get(ip, "IntegrationUri")).and_then(|u| t.function_of_uri(u, &by_id));
        let Some(function) = function else {
            problems.push(format!("route {id}: integration {integration} invokes no function of the template"));
            continue;
        };
        if ip.and_then(|ip| string(get(ip, "IntegrationType"))) != Some("AWS_PROXY") {
            problems.push(format!("integration {integration} is not AWS_PROXY"));
        }
        have.insert(key, function);
    }
    problems.extend(diff("WebSocket", &e.ws, &have));

    // API Gateway may invoke each function for exactly its route keys.
    let mut permitted = BTreeSet::new();
    for (_, perm) in t.of_type("AWS::Lambda::Permission") {
        let p = get(perm, "Properties").unwrap();
        let function = get(p, "FunctionName").and_then(ref_of).and_then(|id| by_id.get(id));
        let source = get(p, "SourceArn").and_then(sub_of).unwrap_or_default();
        if let (Some(function), Some((_, key))) = (function, source.rsplit_once("/*/")) {
            permitted.insert((key.to_owned(), function.clone()));
        }
    }
    for (key, function) in &e.ws {
        if !permitted.contains(&(key.clone(), function.clone())) {
            problems.push(format!("no AWS::Lambda::Permission lets API Gateway invoke {function} for `{key}`"));
        }
    }
    assert!(problems.is_empty(), "WebSocket routes and template.yaml disagree:\n{}", problems.join("\n"));
}

#[test]
fn connect_is_guarded_by_the_request_authorizer_function() {
    let (t, e) = (Template::load(), expected());
    let by_id: BTreeMap<String, String> = t.functions().into_iter().map(|(h, id)| (id, h)).collect();
    let (_, connect) = t
        .of_type("AWS::ApiGatewayV2::Route")
        .find(|(_, r)| string(get(get(r, "Properties").unwrap(), "RouteKey")) == Some("$connect"))
        .expect("a $connect route");
    let p = get(connect, "Properties").unwrap();
    assert_eq!(string(get(p, "AuthorizationType")), Some("CUSTOM"));
    let authorizer_id = get(p, "AuthorizerId").and_then(ref_of).expect("$connect AuthorizerId: !Ref …");
    let authorizer = get(t.resource(authorizer_id).expect("the authorizer resource"), "Properties").unwrap();
    assert_eq!(string(get(authorizer, "AuthorizerType")), Some("REQUEST"));
    let function = get(authorizer, "AuthorizerUri").and_then(|u| t.function_of_uri(u, &by_id));
    assert_eq!(function.as_deref(), Some(e.authorizer.as_str()), "the authorizer invokes {}", e.authorizer);
    // The token may come from a query parameter, a header or a cookie: an identity source would
    // make API Gateway refuse connections that lack that one source before asking the function.
    assert!(get(authorizer, "IdentitySource").is_none(), "no IdentitySource on the $connect authorizer");
    let invokable = t.of_type("AWS::Lambda::Permission").any(|(_, perm)| {
        let p = get(perm, "Properties").unwrap();
        let function = get(p, "FunctionName").and_then(ref_of).and_then(|id| by_id.get(id));
        let source = get(p, "SourceArn").and_then(sub_of).unwrap_or_default();
        function == Some(&e.authorizer) && source.ends_with(&format!("/authorizers/${{{authorizer_id}}}"))
    });
    assert!(invokable, "a permission lets API Gateway invoke the authorizer");
}

/// FNV-1a, 64 bits: a stable digest (std's hasher is not stable across releases).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3))
}

/// The WebSocket deployment's logical id: a digest of every non-HTTP route (`key=function`), so
/// that a route added or retargeted renames the resource and CloudFormation deploys the stage again.
fn expected_deployment_id() -> String {
    let mut lines: Vec<String> =
        routes().iter().filter(|r| !is_http(r)).map(|r| format!("{}={}\n", r.key, r.function)).collect();
    lines.sort();
    format!("WsDeployment{}", &format!("{:016X}", fnv1a(lines.concat().as_bytes()))[..8])
}

#[test]
fn the_websocket_stage_is_deployed_after_every_route_and_redeployed_when_routes_change() {
    let t = Template::load();
    let deployments: Vec<(&str, &Value)> = t.of_type("AWS::ApiGatewayV2::Deployment").collect();
    assert_eq!(deployments.len(), 1, "one WebSocket deployment");
    let (id, deployment) = deployments[0];
    let want = expected_deployment_id();
    assert_eq!(id, want, "the WebSocket routes changed: rename {id} to {want} (and the stage's DeploymentId)");
    let depends: BTreeSet<&str> = get(deployment, "DependsOn")
        .and_then(Value::as_sequence)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let routes: BTreeSet<&str> = t.of_type("AWS::ApiGatewayV2::Route").map(|(id, _)| id).collect();
    let missing: Vec<_> = routes.difference(&depends).collect();
    assert!(missing.is_empty(), "{id} must DependsOn every route; missing {missing:?}");
    let stage = t.of_type("AWS::ApiGatewayV2::Stage").map(|(_, s)| s).next().expect("a WebSocket stage");
    let stage = get(stage, "Properties").unwrap();
    assert_eq!(get(stage, "DeploymentId").and_then(ref_of), Some(id));
    let settings = get(stage, "DefaultRouteSettings").expect("stage throttling");
    assert!(get(settings, "ThrottlingRateLimit").is_some() && get(settings, "ThrottlingBurstLimit").is_some());
}

#[test]
fn every_function_is_the_bootstrap_binary_on_provided_al2023_arm64_with_its_own_log_group_and_policy() {
    let t = Template::load();
    let mut problems = Vec::new();
    for (id, f) in t.of_type("AWS::Serverless::Function") {
        let meta = get(f, "Metadata");
        if string(meta.and_then(|m| get(m, "BuildMethod"))) != Some("rust-cargolambda") {
            problems.push(format!("{id}: Metadata.BuildMethod is not rust-cargolambda"));
        }
        let binary = meta.and_then(|m| get(m, "BuildProperties")).and_then(|b| get(b, "Binary"));
        if string(binary) != Some("bootstrap") {
            problems.push(format!("{id}: BuildProperties.Binary is not bootstrap"));
        }
        if string(t.function_property(f, "Runtime")) != Some("provided.al2023") {
            problems.push(format!("{id}: Runtime is not provided.al2023"));
        }
        let arch: Vec<_> =
            t.function_property(f, "Architectures").and_then(Value::as_sequence).into_iter().flatten().collect();
        if arch.len() != 1 || arch[0].as_str() != Some("arm64") {
            problems.push(format!("{id}: Architectures is not [arm64]"));
        }
        // The workspace root: SAM runs `cargo lambda build --bin bootstrap` there, and every
        // function sharing CodeUri and Metadata makes one build for all of them.
        if string(t.function_property(f, "CodeUri")) != Some(".") {
            problems.push(format!("{id}: CodeUri is not the workspace root `.`"));
        }
        let props = get(f, "Properties").unwrap();
        let log_group = get(props, "LoggingConfig").and_then(|l| get(l, "LogGroup")).and_then(ref_of);
        match log_group.and_then(|g| t.resource(g)) {
            Some(g) if string(get(g, "Type")) == Some("AWS::Logs::LogGroup") => {
                if get(get(g, "Properties").unwrap(), "RetentionInDays").is_none() {
                    problems.push(format!("{id}: its log group has no RetentionInDays"));
                }
            }
            _ => problems.push(format!("{id}: LoggingConfig.LogGroup is not a log group of the template")),
        }
        // Least privilege: explicit statements only, no SAM policy templates (DynamoDBCrudPolicy …).
        match get(props, "Policies").and_then(Value::as_sequence) {
            Some(policies) if policies.iter().all(|p| get(p, "Statement").is_some()) => {}
            _ => problems.push(format!("{id}: Policies must be explicit Statement lists")),
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_template_helpers_read_short_and_long_intrinsics() {
    let short: Value = serde_yaml_ng::from_str("!Sub arn:${AWS::Partition}:x:${Fn.Arn}/y").unwrap();
    let long: Value = serde_yaml_ng::from_str("{Fn::Sub: 'a/${B}'}").unwrap();
    assert_eq!(sub_refs(sub_of(&short).unwrap()), vec!["Fn.Arn"]);
    assert_eq!(sub_refs(sub_of(&long).unwrap()), vec!["B"]);
    let r: Value = serde_yaml_ng::from_str("!Ref X").unwrap();
    let l: Value = serde_yaml_ng::from_str("{Ref: X}").unwrap();
    assert_eq!((ref_of(&r), ref_of(&l)), (Some("X"), Some("X")));
    assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
}
