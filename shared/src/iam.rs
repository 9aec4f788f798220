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
}

/// Where an action applies, which decides its statement in the template.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Resource {
    Table,
    Indexes,
    /// `execute-api:ManageConnections` on `…/{stage}/{method}/@connections/*`.
    Connections(&'static str),
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
        }
    }

    pub const fn resource(self) -> Resource {
        match self {
            Action::QueryIndex => Resource::Indexes,
            Action::PostToConnection => Resource::Connections("POST"),
            Action::GetConnection => Resource::Connections("GET"),
            Action::DeleteConnection => Resource::Connections("DELETE"),
            _ => Resource::Table,
        }
    }
}
