//! The AWS actions a function may be granted: its declaration lists them, `template.yaml`'s IAM
//! statements are generated from them, and the request-counting store (`store::Counted`)
//! records which of them each call needs, so a test can hold the code to its declaration.

/// One IAM action on one resource kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Action {
    GetItem,
    BatchGetItem,
    /// `Query` on the base table.
    Query,
    /// `Query` on a global secondary index (its own resource ARN, `table/index/*`).
    QueryIndex,
    PutItem,
    UpdateItem,
    DeleteItem,
    /// A `ConditionCheck` inside `TransactWriteItems`.
    ConditionCheckItem,
    /// `POST @connections/{id}`: push to a socket.
    PostToConnection,
    /// `GET @connections/{id}`: a socket's details.
    GetConnection,
    /// `DELETE @connections/{id}`: close a socket.
    DeleteConnection,
    /// `secretsmanager:GetSecretValue` on the JWT signing secret, that one ARN: the keys read at
    /// cold start and refreshed (`crate::secrets`). Not declared by hand: every function that
    /// signs or verifies tokens gets it (`Decl::grants`).
    GetJwtSecret,
    /// `s3:PutObject` on the attachments bucket's objects (presigned uploads).
    PutObject,
    /// `s3:GetObject` on them (presigned downloads, `HeadObject`).
    GetObject,
    /// `s3:DeleteObject` on them.
    DeleteObject,
    /// `s3:PutObjectTagging`: a presigned upload carries the pending tag (`attachments::PENDING_TAG`).
    PutObjectTagging,
    /// `s3:DeleteObjectTagging`: an attached upload loses it (the lifecycle then keeps it).
    DeleteObjectTagging,
    /// `sns:CreatePlatformEndpoint` under the phone push platform applications.
    CreatePlatformEndpoint,
    /// `sns:Publish` to a device endpoint.
    Publish,
    /// `sns:DeleteEndpoint`.
    DeleteEndpoint,
}

/// Where an action applies, which decides its statement in the template.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Resource {
    Table,
    Indexes,
    /// `execute-api:ManageConnections` on `…/{stage}/{method}/@connections/*`.
    Connections(&'static str),
    /// The JWT signing secret (one ARN).
    JwtSecret,
    /// The attachments bucket's objects (S3).
    Attachments,
    /// The phone push platform applications and their endpoints (SNS).
    PhonePush,
}

impl Action {
    /// The IAM action name (`dynamodb:GetItem`, `execute-api:ManageConnections`).
    pub const fn iam_name(self) -> &'static str {
        match self {
            Action::GetItem => "dynamodb:GetItem",
            Action::BatchGetItem => "dynamodb:BatchGetItem",
            Action::Query | Action::QueryIndex => "dynamodb:Query",
            Action::PutItem => "dynamodb:PutItem",
            Action::UpdateItem => "dynamodb:UpdateItem",
            Action::DeleteItem => "dynamodb:DeleteItem",
            Action::ConditionCheckItem => "dynamodb:ConditionCheckItem",
            Action::PostToConnection | Action::GetConnection | Action::DeleteConnection => {
                "execute-api:ManageConnections"
            }
            Action::GetJwtSecret => "secretsmanager:GetSecretValue",
            Action::PutObject => "s3:PutObject",
            Action::GetObject => "s3:GetObject",
            Action::DeleteObject => "s3:DeleteObject",
            Action::PutObjectTagging => "s3:PutObjectTagging",
            Action::DeleteObjectTagging => "s3:DeleteObjectTagging",
            Action::CreatePlatformEndpoint => "sns:CreatePlatformEndpoint",
            Action::Publish => "sns:Publish",
            Action::DeleteEndpoint => "sns:DeleteEndpoint",
        }
    }

    pub const fn resource(self) -> Resource {
        match self {
            Action::QueryIndex => Resource::Indexes,
            Action::PostToConnection => Resource::Connections("POST"),
            Action::GetConnection => Resource::Connections("GET"),
            Action::DeleteConnection => Resource::Connections("DELETE"),
            Action::GetJwtSecret => Resource::JwtSecret,
            Action::PutObject
            | Action::GetObject
            | Action::DeleteObject
            | Action::PutObjectTagging
            | Action::DeleteObjectTagging => Resource::Attachments,
            Action::CreatePlatformEndpoint | Action::Publish | Action::DeleteEndpoint => Resource::PhonePush,
            _ => Resource::Table,
        }
    }
}

/// What the function being served may call: the local gateway and the test stores enforce the
/// declaration the template's IAM policy is generated from, so a missing permission fails
/// locally as it would on AWS (AccessDenied, then a 500) instead of only after a deploy.
#[derive(Debug, Clone, Copy)]
pub struct Grant {
    pub function: &'static str,
    pub actions: &'static [Action],
    /// Its binary links argon2 (`functions::routes::Bundle::Password`): elsewhere a hash fails
    /// locally as it would in its Lambda binary, built without argon2.
    pub passwords: bool,
}

tokio::task_local! {
    static GRANTED: Grant;
}

/// Runs `f` (one invocation of one function) under its grant.
pub async fn with_grant<F: std::future::Future>(grant: Grant, f: F) -> F::Output {
    GRANTED.scope(grant, f).await
}

/// The first of `needed` that the current invocation's grant lacks, with its function. Outside
/// an invocation (start-up, tests calling services directly) everything is allowed.
pub fn denied(needed: &[Action]) -> Option<(&'static str, Action)> {
    GRANTED.try_with(|g| needed.iter().find(|a| !g.actions.contains(a)).map(|a| (g.function, *a))).ok().flatten()
}

/// The function being served, when its binary is built without argon2 (`Grant::passwords`).
pub fn passwords_denied() -> Option<&'static str> {
    GRANTED.try_with(|g| (!g.passwords).then_some(g.function)).ok().flatten()
}

/// The actions a `Query` needs.
pub fn query_action(index: crate::store::Index) -> Action {
    match index {
        crate::store::Index::Table => Action::Query,
        crate::store::Index::Gsi1 => Action::QueryIndex,
    }
}

/// The actions a `TransactWriteItems` needs: those of its parts.
pub fn transact_actions(ops: &[crate::store::WriteOp]) -> Vec<Action> {
    use crate::store::WriteOp;
    ops.iter()
        .map(|op| match op {
            WriteOp::Put { .. } => Action::PutItem,
            WriteOp::Update { .. } => Action::UpdateItem,
            WriteOp::Delete { .. } => Action::DeleteItem,
            WriteOp::Check { .. } => Action::ConditionCheckItem,
        })
        .collect()
}
