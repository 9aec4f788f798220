//! Attachments over HTTP, on both stores: the embedded store with the gateway's own object store
//! (`/@objects`), DynamoDB with the real S3 client against the DynamoDB server's S3
//! (`moto_server`, which checks neither signatures nor lengths: those refusals are tested on the
//! gateway's store only). Upload → attach → live event → download → delete, and the refusals.

use std::io::Cursor;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::harness::{both_stores, Gateway, Store, User};

both_stores!(
    an_image_and_a_pdf_are_uploaded_sent_seen_live_downloaded_by_members_only_and_deleted_with_their_message,
    a_send_refuses_uploads_that_are_missing_foreign_or_already_attached_and_attaches_nothing,
    an_upload_request_refuses_bad_names_types_sizes_and_strangers,
    an_avatar_upload_becomes_the_profile_picture_everyone_can_fetch_and_replacing_it_deletes_the_old_one,
    a_websocket_send_attaches_files_like_the_http_forms,
    deleting_a_conversation_deletes_its_messages_files,
);

fn raw() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("a client")
}

fn png(width: u32, height: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(width, height, |x, y| image::Rgb([(x % 256) as u8, (y % 256) as u8, 90]));
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).expect("encodes");
    out.into_inner()
}

const PDF: &[u8] = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n";

async fn conversation(gw: &Gateway, a: &User, b: &User) -> String {
    let (status, started) =
        gw.post("/api/conversations/start", &a.token, json!({ "participants": [a.id, b.id] })).await;
    assert!(status.is_success(), "{started}");
    started["data"]["id"].as_str().expect("an id").to_owned()
}

/// Asks for an upload; the answer's `data`.
async fn ask(gw: &Gateway, who: &User, conv: &str, name: &str, content_type: &str, size: usize) -> (StatusCode, Value) {
    let body = json!({ "fileName": name, "contentType": content_type, "size": size, "purpose": "attachment", "conversationId": conv });
    gw.post("/api/uploads", &who.token, body).await
}

/// Makes the presigned request with its headers, `bytes` as the body; the store's status.
async fn put(ticket: &Value, bytes: Vec<u8>, header_override: Option<(&str, &str)>) -> StatusCode {
    let upload = &ticket["upload"];
    assert_eq!(upload["method"], "PUT");
    let mut req = raw().put(upload["url"].as_str().expect("a URL"));
    for (k, v) in upload["headers"].as_object().expect("headers") {
        // reqwest sets the length from the body.
        if k.eq_ignore_ascii_case("content-length") {
            continue;
        }
        let v = match header_override {
            Some((name, value)) if name.eq_ignore_ascii_case(k) => value,
            _ => v.as_str().expect("a header value"),
        };
        req = req.header(k.as_str(), v);
    }
    req.body(bytes).send().await.expect("the store answers").status()
}

/// Uploads `bytes` as a new attachment of `conv`; its id.
async fn upload(gw: &Gateway, who: &User, conv: &str, name: &str, content_type: &str, bytes: Vec<u8>) -> String {
    let (status, ticket) = ask(gw, who, conv, name, content_type, bytes.len()).await;
    assert_eq!(status, StatusCode::CREATED, "{ticket}");
    assert_eq!(put(&ticket["data"], bytes, None).await, StatusCode::OK);
    ticket["data"]["uploadId"].as_str().expect("an id").to_owned()
}

async fn send(gw: &Gateway, from: &User, conv: &str, text: &str, attachments: &[&str]) -> (StatusCode, Value) {
    gw.post("/api/messages", &from.token, json!({ "receiverId": conv, "content": text, "attachments": attachments }))
        .await
}

/// `GET /api/attachments/{id}` without following the redirect: the status and `Location`.
async fn locate(gw: &Gateway, who: &User, id: &str, thumbnail: bool) -> (StatusCode, Option<String>) {
    let query = if thumbnail { "?thumbnail=true" } else { "" };
    let res = raw()
        .get(format!("{}/api/attachments/{id}{query}", gw.http))
        .bearer_auth(&who.token)
        .send()
        .await
        .expect("the gateway answers");
    let location = res.headers().get("location").and_then(|v| v.to_str().ok()).map(str::to_owned);
    (res.status(), location)
}

async fn fetch(url: &str) -> (StatusCode, Vec<u8>) {
    let res = raw().get(url).send().await.expect("the store answers");
    (res.status(), res.bytes().await.expect("a body").to_vec())
}

async fn an_image_and_a_pdf_are_uploaded_sent_seen_live_downloaded_by_members_only_and_deleted_with_their_message(
    store: Store,
) {
    let gw = Gateway::start(store).await;
    let (alice, bob, eve) = (gw.user("alice").await, gw.user("bob").await, gw.user("eve").await);
    let conv = conversation(&gw, &alice, &bob).await;
    let image = png(640, 480);
    let photo = upload(&gw, &alice, &conv, "beach.png", "image/png", image.clone()).await;
    let doc = upload(&gw, &alice, &conv, "minutes.pdf", "application/pdf", PDF.to_vec()).await;
    let mut bob_ws = gw.connect(&bob).await;

    let (status, sent) = send(&gw, &alice, &conv, "the photo and the minutes", &[&photo, &doc]).await;
    assert_eq!(status, StatusCode::CREATED, "{sent}");
    let files = sent["data"]["attachments"].as_array().expect("attachments").clone();
    assert_eq!(files.len(), 2);
    assert_eq!(
        (files[0]["id"].as_str(), files[0]["fileName"].as_str(), files[0]["contentType"].as_str()),
        (Some(photo.as_str()), Some("beach.png"), Some("image/png"))
    );
    assert_eq!(files[0]["size"], image.len());
    assert_eq!(files[0]["thumbnail"], true);
    assert_eq!(
        (files[1]["fileName"].as_str(), files[1]["size"].as_u64()),
        (Some("minutes.pdf"), Some(PDF.len() as u64))
    );

    // Bob sees it live, with its files, and in the history.
    let live = bob_ws.event("chatMessage").await;
    assert_eq!(live["message"]["attachments"], Value::Array(files.clone()), "{live}");
    let (_, history) = gw.get(format!("/api/messages/{conv}"), &bob.token).await;
    assert_eq!(history["data"][0]["attachments"], Value::Array(files.clone()));

    // Bob downloads both (and the photo's preview); Eve gets the 404 of a missing attachment.
    let (status, url) = locate(&gw, &bob, &photo, false).await;
    assert_eq!(status, StatusCode::FOUND);
    assert_eq!(fetch(&url.expect("a Location")).await, (StatusCode::OK, image.clone()));
    let (status, url) = locate(&gw, &bob, &doc, false).await;
    assert_eq!(status, StatusCode::FOUND);
    assert_eq!(fetch(&url.expect("a Location")).await, (StatusCode::OK, PDF.to_vec()));
    if store == Store::Memory {
        // The preview function runs on the gateway's uploads (on AWS, on the bucket's notification).
        let (status, url) = locate(&gw, &bob, &photo, true).await;
        assert_eq!(status, StatusCode::FOUND);
        let (status, jpeg) = fetch(&url.expect("a Location")).await;
        assert_eq!(status, StatusCode::OK);
        let preview = image::load_from_memory_with_format(&jpeg, image::ImageFormat::Jpeg).expect("a JPEG");
        assert_eq!((preview.width(), preview.height()), (320, 240));
    }
    let missing = "upl_01HZZZZZZZZZZZZZZZZZZZZZZZ";
    assert_eq!(locate(&gw, &eve, &photo, false).await, locate(&gw, &eve, missing, false).await);
    assert_eq!(locate(&gw, &eve, &doc, false).await.0, StatusCode::NOT_FOUND);

    // Deleting the message deletes its files: the URL Bob got earlier finds nothing.
    let (_, url) = locate(&gw, &bob, &doc, false).await;
    let (status, deleted) =
        gw.delete(format!("/api/messages/{}", sent["data"]["id"].as_str().unwrap()), &alice.token).await;
    assert_eq!(status, StatusCode::OK, "{deleted}");
    assert_eq!(fetch(&url.expect("a Location")).await.0, StatusCode::NOT_FOUND);
    assert_eq!(locate(&gw, &bob, &photo, false).await.0, StatusCode::NOT_FOUND);
    let (_, history) = gw.get(format!("/api/messages/{conv}"), &bob.token).await;
    assert!(history["data"][0]["attachments"].is_null(), "a tombstone keeps no files: {history}");
}

async fn a_send_refuses_uploads_that_are_missing_foreign_or_already_attached_and_attaches_nothing(store: Store) {
    let gw = Gateway::start(store).await;
    let (alice, bob, carol) = (gw.user("alice").await, gw.user("bob").await, gw.user("carol").await);
    let conv = conversation(&gw, &alice, &bob).await;
    let other = conversation(&gw, &alice, &carol).await;
    let mine = upload(&gw, &alice, &conv, "a.txt", "text/plain", b"hello".to_vec()).await;
    let bobs = upload(&gw, &bob, &conv, "b.txt", "text/plain", b"bob's".to_vec()).await;
    let elsewhere = upload(&gw, &alice, &other, "c.txt", "text/plain", b"other".to_vec()).await;
    let (status, ticket) = ask(&gw, &alice, &conv, "never.txt", "text/plain", 5).await;
    assert_eq!(status, StatusCode::CREATED);
    let never_uploaded = ticket["data"]["uploadId"].as_str().unwrap().to_owned();

    for (ids, expected) in [
        (vec![bobs.as_str()], StatusCode::NOT_FOUND),
        (vec![mine.as_str(), elsewhere.as_str()], StatusCode::NOT_FOUND),
        // The upload's state, not the request, is wrong: 409.
        (vec![mine.as_str(), never_uploaded.as_str()], StatusCode::CONFLICT),
        (vec![mine.as_str(), mine.as_str()], StatusCode::BAD_REQUEST),
        (vec!["not-an-upload"], StatusCode::BAD_REQUEST),
    ] {
        let (status, refused) = send(&gw, &alice, &conv, "files", &ids).await;
        assert_eq!(status, expected, "{ids:?}: {refused}");
        assert_eq!(refused["success"], false);
    }
    let eleven: Vec<&str> = std::iter::repeat_n(mine.as_str(), 11).collect();
    assert_eq!(send(&gw, &alice, &conv, "files", &eleven).await.0, StatusCode::BAD_REQUEST);
    // Nothing was sent nor attached: the upload still goes with a message, once.
    let (_, history) = gw.get(format!("/api/messages/{conv}"), &alice.token).await;
    assert_eq!(history["data"].as_array().map(Vec::len), Some(0));
    // Two sends naming it at once: the send transaction claims it, so exactly one wins.
    let ids = [mine.as_str()];
    let (first, second) =
        tokio::join!(send(&gw, &alice, &conv, "now", &ids), send(&gw, &alice, &conv, "at once", &ids));
    let mut statuses = [first.0, second.0];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::CREATED, StatusCode::CONFLICT], "{} {}", first.1, second.1);
    let (status, again) = send(&gw, &alice, &conv, "again", &[&mine]).await;
    assert_eq!(status, StatusCode::CONFLICT, "{again}");
    let (_, history) = gw.get(format!("/api/messages/{conv}"), &alice.token).await;
    assert_eq!(history["data"].as_array().map(Vec::len), Some(1), "one message carries it");
}

async fn an_upload_request_refuses_bad_names_types_sizes_and_strangers(store: Store) {
    let gw = Gateway::start(store).await;
    let (alice, bob, eve) = (gw.user("alice").await, gw.user("bob").await, gw.user("eve").await);
    let conv = conversation(&gw, &alice, &bob).await;
    for (name, content_type, size) in [
        ("../etc/passwd", "text/plain", 10),
        ("a\\b.txt", "text/plain", 10),
        ("bell\u{7}.txt", "text/plain", 10),
        ("page.html", "text/html", 10),
        ("huge.mp4", "video/mp4", 25 * 1024 * 1024 + 1),
        ("empty.txt", "text/plain", 0),
    ] {
        let (status, refused) = ask(&gw, &alice, &conv, name, content_type, size).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{name}: {refused}");
    }
    let (status, _) = ask(&gw, &eve, &conv, "spy.txt", "text/plain", 10).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "a stranger cannot upload to the conversation");
    let (status, _) = gw
        .call(Method::POST, "/api/uploads", None, Some(json!({ "fileName": "a.txt", "contentType": "text/plain", "size": 1, "purpose": "attachment", "conversationId": conv })))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

/// The gateway's object store enforces what S3 enforces on a presigned upload: the signature
/// (a tampered URL or other headers), the expiry, the signed length and type. Nothing is
/// stored by a refused request, so the send that names it is refused too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_local_object_store_refuses_tampered_expired_oversized_and_mistyped_uploads() {
    let gw = Gateway::start(Store::Memory).await;
    let (alice, bob) = (gw.user("alice").await, gw.user("bob").await);
    let conv = conversation(&gw, &alice, &bob).await;
    let (_, ticket) = ask(&gw, &alice, &conv, "notes.txt", "text/plain", 5).await;
    let ticket = ticket["data"].clone();

    assert_eq!(
        put(&ticket, b"longer than five".to_vec(), None).await,
        StatusCode::FORBIDDEN,
        "another length is another signature"
    );
    assert_eq!(put(&ticket, b"12345".to_vec(), Some(("content-type", "image/png"))).await, StatusCode::FORBIDDEN);
    let mut tampered = ticket.clone();
    let url = ticket["upload"]["url"].as_str().unwrap().replace("X-Chat-Expires=", "X-Chat-Expires=9");
    tampered["upload"]["url"] = url.into();
    assert_eq!(put(&tampered, b"12345".to_vec(), None).await, StatusCode::FORBIDDEN);
    let (status, refused) = send(&gw, &alice, &conv, "notes", &[ticket["uploadId"].as_str().unwrap()]).await;
    assert_eq!(status, StatusCode::CONFLICT, "nothing was stored: {refused}");

    // A body cut short of its signed length.
    let raw_url = ticket["upload"]["url"].as_str().unwrap();
    let res = raw()
        .put(raw_url)
        .header("content-type", "text/plain")
        .header("x-amz-tagging", "pending=true")
        .header("content-length", "5")
        .body(b"12345".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK, "the exact request works");

    // An expired URL: signed with an expiry already past.
    let objects = gw.running.gateway.objects.clone().expect("the gateway's store");
    let expired = chat::attachments::Attachments::download_url(
        &*objects,
        "uploads/upl_01HZZZZZZZZZZZZZZZZZZZZZZZ",
        std::time::Duration::ZERO,
    )
    .await
    .unwrap();
    assert_eq!(fetch(&expired).await.0, StatusCode::FORBIDDEN);
}

/// An upload never attached is gone after its pending time (24 h; none here): the record and
/// the object alike, so a send can no longer name it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_never_attached_disappears_after_its_pending_time() {
    let mut config = crate::harness::config(Store::Memory);
    config.uploads.pending_secs = 0;
    let gw = Gateway::spawn(config, None).await;
    let (alice, bob) = (gw.user("alice").await, gw.user("bob").await);
    let conv = conversation(&gw, &alice, &bob).await;
    let id = upload(&gw, &alice, &conv, "late.txt", "text/plain", b"late".to_vec()).await;
    let objects = gw.running.gateway.objects.clone().expect("the gateway's store");
    assert!(objects.get(&format!("uploads/{id}")).is_none(), "the lifecycle rule removed it");
    let (status, refused) = send(&gw, &alice, &conv, "too late", &[&id]).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{refused}");
}

async fn a_websocket_send_attaches_files_like_the_http_forms(store: Store) {
    let gw = Gateway::start(store).await;
    let (alice, bob) = (gw.user("alice").await, gw.user("bob").await);
    let conv = conversation(&gw, &alice, &bob).await;
    let file = upload(&gw, &alice, &conv, "notes.txt", "text/plain", b"notes".to_vec()).await;
    let (mut alice_ws, mut bob_ws) = (gw.connect(&alice).await, gw.connect(&bob).await);
    let frame = json!({ "action": "sendMessage", "conversationId": conv, "text": "notes", "attachments": [file] });
    alice_ws.send(frame.clone()).await;
    let ack = alice_ws.event("messageReceived").await;
    assert_eq!(ack["message"]["attachments"][0]["id"], file.as_str(), "{ack}");
    assert_eq!(bob_ws.event("chatMessage").await["message"]["attachments"][0]["fileName"], "notes.txt");
    // The same upload again: refused, as over HTTP.
    alice_ws
        .send(json!({ "action": "sendMessage", "conversationId": conv, "text": "again", "attachments": [file] }))
        .await;
    let error = alice_ws.event("error").await;
    assert_eq!(error["code"], "CONFLICT", "{error}");
}

async fn deleting_a_conversation_deletes_its_messages_files(store: Store) {
    let gw = Gateway::start(store).await;
    let (alice, bob, admin) = (gw.user("alice").await, gw.user("bob").await, gw.admin("root").await);
    let conv = conversation(&gw, &alice, &bob).await;
    let file = upload(&gw, &alice, &conv, "plan.pdf", "application/pdf", PDF.to_vec()).await;
    assert_eq!(send(&gw, &alice, &conv, "the plan", &[&file]).await.0, StatusCode::CREATED);
    let (_, url) = locate(&gw, &bob, &file, false).await;
    let (status, deleted) = gw.delete(format!("/api/conversations/{conv}"), &admin.token).await;
    assert_eq!(status, StatusCode::OK, "{deleted}");
    assert_eq!(fetch(&url.expect("a Location")).await.0, StatusCode::NOT_FOUND);
    assert_eq!(locate(&gw, &admin, &file, false).await.0, StatusCode::NOT_FOUND);
}

/// Uploads an avatar; its id.
async fn avatar(gw: &Gateway, who: &User, bytes: Vec<u8>) -> String {
    let body = json!({ "fileName": "me.png", "contentType": "image/png", "size": bytes.len(), "purpose": "avatar" });
    let (status, ticket) = gw.post("/api/uploads", &who.token, body).await;
    assert_eq!(status, StatusCode::CREATED, "{ticket}");
    assert_eq!(put(&ticket["data"], bytes, None).await, StatusCode::OK);
    ticket["data"]["uploadId"].as_str().expect("an id").to_owned()
}

async fn an_avatar_upload_becomes_the_profile_picture_everyone_can_fetch_and_replacing_it_deletes_the_old_one(
    store: Store,
) {
    let gw = Gateway::start(store).await;
    let (alice, bob) = (gw.user("alice").await, gw.user("bob").await);
    let first_image = png(64, 64);
    let first = avatar(&gw, &alice, first_image.clone()).await;
    let bobs = avatar(&gw, &bob, png(8, 8)).await;

    let (status, _) = gw.put("/api/users/me/avatar", &alice.token, json!({ "uploadId": bobs })).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "another user's upload");
    let (status, set) = gw.put("/api/users/me/avatar", &alice.token, json!({ "uploadId": first })).await;
    assert_eq!(status, StatusCode::OK, "{set}");
    let picture = format!("/api/attachments/{first}");
    assert_eq!(set["data"]["profilePicture"], picture.as_str());
    let (status, _) = gw.put("/api/users/me/avatar", &alice.token, json!({ "uploadId": first })).await;
    assert_eq!(status, StatusCode::CONFLICT, "an upload is used once");

    // Bob sees the picture on alice's profile and fetches it.
    let (_, profile) = gw.get(format!("/api/users/{}", alice.id), &bob.token).await;
    assert_eq!(profile["data"]["profilePicture"], picture.as_str());
    let (status, url) = locate(&gw, &bob, &first, false).await;
    assert_eq!(status, StatusCode::FOUND);
    assert_eq!(fetch(&url.expect("a Location")).await, (StatusCode::OK, first_image));

    // A new avatar replaces it; the old one's file is gone.
    let (_, old_url) = locate(&gw, &bob, &first, false).await;
    let second = avatar(&gw, &alice, png(16, 16)).await;
    let (status, _) = gw.put("/api/users/me/avatar", &alice.token, json!({ "uploadId": second })).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(fetch(&old_url.expect("a Location")).await.0, StatusCode::NOT_FOUND);
    assert_eq!(locate(&gw, &bob, &first, false).await.0, StatusCode::NOT_FOUND);

    // An avatar is an image.
    let pdf = json!({ "fileName": "me.pdf", "contentType": "application/pdf", "size": 10, "purpose": "avatar" });
    assert_eq!(gw.post("/api/uploads", &alice.token, pdf).await.0, StatusCode::BAD_REQUEST);
}

/// The preview function's binary links no chat crate (its zip stays small): its record key,
/// object keys and tag are its own constants, and must stay those of `chat`.
#[test]
fn the_preview_function_names_records_objects_and_the_pending_tag_as_the_backend_does() {
    let id = chat::ids::UploadId::generate();
    let key = chat::uploads::object_key(&id);
    assert_eq!(thumbnail::upload_of(&key), Some(id.as_str()));
    assert_eq!(thumbnail::thumbnail_key(id.as_str()), chat::uploads::thumbnail_key(&id));
    let record = chat::repo::keys::upload(&id);
    assert_eq!(thumbnail::record_key(id.as_str()), (record.pk, record.sk));
    assert_eq!(thumbnail::PENDING_TAG, chat::attachments::PENDING_TAG);
    assert_eq!(thumbnail::upload_of("uploads/../x"), None);
}
