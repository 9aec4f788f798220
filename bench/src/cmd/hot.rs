//! `perf hot`: one hot conversation. S concurrent senders (tasks, round-robin over the
//! conversation's members) each send M messages in a closed loop through the send service
//! (`chat::service::messages::send`, pushes discarded), on the embedded store or on DynamoDB
//! (`--dynamodb <endpoint>`, a fresh table). Counts accepted and refused sends and accepted
//! sends per second, then reads the conversation back: messages stored, `seq`s stored twice
//! (duplicates), `seq`s reserved and never used (holes), and whether the summary's last message
//! is the newest stored.
//!
//! `perf hot --senders 10,100,500 --messages 3 --members 10 [--dynamodb http://127.0.0.1:8000]`

use std::sync::Arc;
use std::time::Instant;

use chat::ids::{ConversationId, GroupId};
use chat::models::ConversationKind;
use chat::push::NoPush;
use chat::repo::conversations::Conversation;
use chat::service::messages::{send, Outgoing, Target};
use chat::service::Actor;
use chat::store::{DynamoTable, EmbeddedTable, Table};
use chat::{App, Config};
use serde_json::json;

use crate::Args;

type Error = Box<dyn std::error::Error>;

pub fn run(args: &Args) -> Result<(), Error> {
    let senders = args.list("senders", &[10, 100, 500]);
    let messages: usize = args.num("messages", 3);
    let members: usize = args.num("members", 10);
    let dynamodb = args.get("dynamodb").map(str::to_owned);
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(async {
        let store = if dynamodb.is_some() { "DynamoDB (local server)" } else { "embedded (in memory)" };
        println!("\n### One hot conversation: {store}, {members} members, {messages} sends per sender, closed loop\n");
        println!("| concurrent senders | sends | accepted | refused (409) | other errors | timed out, sent again | accepted sends/s | wall s | stored | duplicates | `seq` holes | last message = newest |");
        println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
        let mut out = Vec::new();
        for &s in &senders {
            let table: Arc<dyn Table> = match &dynamodb {
                Some(endpoint) => {
                    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
                        .region(aws_config::Region::new("us-east-1"))
                        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                            "test", "test", None, None, "perf",
                        ))
                        .load()
                        .await;
                    let name = format!("hot-{}", ulid::Ulid::generate()).to_lowercase();
                    let t = DynamoTable::new(DynamoTable::client_from_config(&sdk, Some(endpoint)), &name);
                    t.create_table_if_missing().await?;
                    Arc::new(t)
                }
                None => Arc::new(EmbeddedTable::in_memory()?),
            };
            let app = Arc::new(App::with_parts(Config::for_tests(), table, Arc::new(NoPush)));
            let mut users = Vec::new();
            for i in 0..members {
                users.push(chat_bench::seed_user(app.table(), &format!("m{i}")).await);
            }
            let now = chat::clock::iso(chat::clock::now_ms());
            let conv = Conversation {
                id: ConversationId::group(&GroupId::generate()),
                kind: ConversationKind::Group,
                name: Some("hot".into()),
                owner_id: Some(users[0].id.clone()),
                member_set: users.iter().map(|u| u.id.clone()).collect(),
                admin_set: vec![],
                created_at: now.clone(),
                version: 0,
                ban_set: vec![],
                policy: Default::default(),
            };
            chat::repo::groups::create(app.table(), &conv, &now).await?;
            let started = Instant::now();
            let tasks = (0..s).map(|i| {
                let app = app.clone();
                let user = users[i % members].clone();
                let conv = conv.id.clone();
                tokio::spawn(async move {
                    let actor = Actor { user_id: user.id.clone(), username: user.username.clone(), role: user.role };
                    let (mut ok, mut refused, mut other, mut retried) = (0usize, 0usize, 0usize, 0usize);
                    for k in 0..messages {
                        // As a client does: a send that timed out is sent again with its
                        // `clientMessageId` (the local server times out under this load).
                        let mut attempts = 0;
                        loop {
                            let (text, client) = (format!("s{i} m{k}"), Some(format!("s{i}-m{k}")));
                            let out = Outgoing::parse(Target::Conversation(conv.clone()), &text, client)?;
                            match send(&app, &actor, async { Ok(()) }, out, None).await {
                                Ok(_) => ok += 1,
                                Err(chat::error::AppError::Conflict(_)) => refused += 1,
                                Err(chat::error::AppError::Unavailable(_)) if attempts < 5 => {
                                    attempts += 1;
                                    retried += 1;
                                    continue;
                                }
                                Err(e) => {
                                    eprintln!("send failed: {e}");
                                    other += 1
                                }
                            }
                            break;
                        }
                    }
                    Ok::<_, chat::error::AppError>((ok, refused, other, retried))
                })
            });
            let results = futures::future::join_all(tasks).await;
            let wall = started.elapsed().as_secs_f64();
            let (mut ok, mut refused, mut other, mut retried) = (0, 0, 0, 0);
            for r in results {
                let (a, b, c, d) = r??;
                ok += a;
                refused += b;
                other += c;
                retried += d;
            }
            // The conversation afterwards: every message, in pages of 100 (newest first).
            let mut seqs = Vec::new();
            let mut before = None;
            loop {
                let (page, next) =
                    chat::repo::messages::page(app.table(), &conv.id, before.as_ref(), None, 100).await?;
                seqs.extend(page.iter().map(|m| m.seq));
                match next.and_then(|n| chat::ids::MessageId::parse(&n)) {
                    Some(n) => before = Some(n),
                    None => break,
                }
            }
            seqs.sort_unstable();
            let stored = seqs.len();
            let mut distinct = seqs.clone();
            distinct.dedup();
            let duplicates = stored - distinct.len();
            let loaded = chat::repo::conversations::load(app.table(), &conv.id).await?.ok_or("no conversation")?;
            // Holes: reservations never used (a reservation applied twice when its answer was
            // lost and the SDK sent it again while other sends reserved).
            let holes = loaded.summary.seq as usize - distinct.len();
            let newest = seqs.last().copied().unwrap_or(0);
            let last_ok = loaded.summary.last_seq == newest
                && loaded.summary.last_message.as_ref().is_some_and(|m| m.seq == newest);
            println!(
                "| {s} | {} | {ok} | {refused} | {other} | {retried} | {:.0} | {wall:.2} | {stored} | {duplicates} | {holes} | {} |",
                s * messages,
                ok as f64 / wall,
                if last_ok { "yes" } else { "**no**" }
            );
            out.push(json!({ "senders": s, "sends": s * messages, "accepted": ok, "refused": refused, "errors": other, "sent_again": retried,
                             "accepted_per_s": ok as f64 / wall, "wall_s": wall, "stored": stored, "duplicates": duplicates,
                             "holes": holes, "last_ok": last_ok }));
        }
        crate::write_json(args, &json!({ "store": store, "members": members, "messages": messages, "runs": out }));
        Ok(())
    })
}
