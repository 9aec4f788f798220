//! The local gateway's `@connections` API, driven by the real `aws-sdk-apigatewaymanagement` client.

use std::time::Duration;

use aws_sdk_apigatewaymanagement::primitives::Blob;
use aws_sdk_apigatewaymanagement::Client;
use serde_json::json;

use crate::harness::{Gateway, Store};

async fn client(gw: &Gateway, stage: Option<&str>) -> Client {
    let endpoint = match stage {
        Some(stage) => format!("{}/{stage}", gw.http),
        None => gw.http.clone(),
    };
    let sdk = crate::support::local_sdk_config(&endpoint).await;
    Client::new(&sdk)
}

/// The connection id the gateway gave `user`'s only socket.
async fn only_connection(gw: &Gateway, user: &crate::harness::User) -> String {
    let id = chat::ids::UserId::parse(&user.id).unwrap();
    let presence = chat::repo::connections::presence(gw.app().table(), &id).await.unwrap();
    assert_eq!(presence.conn_set.len(), 1);
    presence.conn_set[0].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sdk_posts_to_describes_and_deletes_a_live_connection() {
    let gw = Gateway::start(Store::Memory).await;
    let alice = gw.user("alice").await;
    let mut ws = gw.connect(&alice).await;
    let conn = only_connection(&gw, &alice).await;

    for stage in [None, Some("production")] {
        let sdk = client(&gw, stage).await;
        // Any bytes pass; a documented event, so that the suites' contract check holds.
        let via = stage.unwrap_or("no stage");
        let frame = json!({ "event": "pong", "data": { "time": via } });
        sdk.post_to_connection()
            .connection_id(&conn)
            .data(Blob::new(frame.to_string()))
            .send()
            .await
            .expect("post succeeds");
        assert_eq!(ws.event("pong").await["time"], json!(via));
    }

    // GetConnection: AWS's shape, ISO-8601 timestamps the SDK parses.
    let sdk = client(&gw, None).await;
    let info = sdk.get_connection().connection_id(&conn).send().await.expect("get succeeds");
    let connected = info.connected_at().expect("connectedAt").secs();
    assert!((chat::clock::now_secs() - connected).abs() < 60, "connectedAt is now-ish: {connected}");
    assert!(info.last_active_at().is_some());
    assert_eq!(info.identity().and_then(|i| i.source_ip()), Some("127.0.0.1"));

    sdk.delete_connection().connection_id(&conn).send().await.expect("delete succeeds");
    assert!(ws.closed(Duration::from_secs(5)).await, "the socket is closed");
    // $disconnect ran: the connection is gone from the store too.
    gw.wait_connections(&alice, 0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_connection_answers_410_gone_to_the_sdk() {
    let gw = Gateway::start(Store::Memory).await;
    let sdk = client(&gw, None).await;
    let err =
        sdk.post_to_connection().connection_id("NoSuchConnection=").data(Blob::new("x")).send().await.unwrap_err();
    assert!(err.as_service_error().is_some_and(|e| e.is_gone_exception()), "{err:?}");
    let err = sdk.get_connection().connection_id("NoSuchConnection=").send().await.unwrap_err();
    assert!(err.as_service_error().is_some_and(|e| e.is_gone_exception()), "{err:?}");
    // And the push client of the functions reports it as Gone (which removes the connection).
    let push = chat::push::ApiGatewayPush::new(&crate::support::local_sdk_config(&gw.http).await, &gw.http);
    use chat::push::Push;
    assert!(matches!(push.post("NoSuchConnection=", b"x".to_vec()).await, Err(chat::push::PushError::Gone)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_above_128_kb_is_refused_with_payload_too_large_as_on_aws() {
    let gw = Gateway::start(Store::Memory).await;
    let alice = gw.user("alice").await;
    let mut ws = gw.connect(&alice).await;
    let conn = only_connection(&gw, &alice).await;
    let sdk = client(&gw, None).await;
    let err = sdk
        .post_to_connection()
        .connection_id(&conn)
        .data(Blob::new(vec![b'x'; 128 * 1024 + 1]))
        .send()
        .await
        .expect_err("a post above 128 KB is refused");
    assert!(
        matches!(err.as_service_error(), Some(aws_sdk_apigatewaymanagement::operation::post_to_connection::PostToConnectionError::PayloadTooLargeException(_))),
        "{err:?}"
    );
    // Nothing was delivered, and the connection is fine.
    sdk.post_to_connection()
        .connection_id(&conn)
        .data(Blob::new(r#"{"event":"pong","data":{"time":"after the refusal"}}"#))
        .send()
        .await
        .expect("post");
    let (event, data) = ws.next_event(Duration::from_secs(5)).await.expect("an event");
    assert_eq!((event.as_str(), &data["time"]), ("pong", &json!("after the refusal")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unsigned_or_wrongly_signed_call_is_refused_with_403_and_touches_nothing() {
    let gw = Gateway::start(Store::Memory).await;
    let alice = gw.user("alice").await;
    let mut ws = gw.connect(&alice).await;
    let conn = only_connection(&gw, &alice).await;
    let mut url = reqwest::Url::parse(&gw.http).expect("the gateway's URL");
    url.path_segments_mut().expect("a base URL").extend(["@connections", conn.as_str()]);
    let plain = reqwest::Client::new();
    for req in [
        plain.post(url.clone()).body(r#"{"event":"pong","data":{"time":"forged"}}"#),
        plain.delete(url.clone()),
        plain.get(url.clone()),
    ] {
        let res = req.send().await.expect("answers");
        assert_eq!(res.status(), 403);
        assert_eq!(res.headers()["x-amzn-errortype"], "MissingAuthenticationTokenException");
    }
    // Signed, but with credentials the gateway does not hold.
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_apigatewaymanagement::config::Credentials::new(
            "intruder", "guess", None, None, "x",
        ))
        .endpoint_url(&gw.http)
        .load()
        .await;
    let intruder = Client::new(&sdk);
    let err = intruder.delete_connection().connection_id(&conn).send().await.expect_err("refused");
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(403), "{err:?}");
    // The socket is untouched, and the right credentials still work.
    assert!(ws.try_event("pong", Duration::from_millis(300)).await.is_none(), "nothing forged arrived");
    let signed = client(&gw, None).await;
    signed
        .post_to_connection()
        .connection_id(&conn)
        .data(Blob::new(r#"{"event":"pong","data":{"time":"signed"}}"#))
        .send()
        .await
        .expect("post");
    let signed = ws.try_event("pong", Duration::from_secs(5)).await.expect("the signed post arrives");
    assert_eq!(signed["time"], "signed");
}
