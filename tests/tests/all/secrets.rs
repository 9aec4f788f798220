//! The JWT signing keys from Secrets Manager, as on Lambda, with the real SDK against the local
//! server (moto, started by `scripts/test.sh`): a rotation without downtime — `AWSCURRENT`
//! signs, `AWSPREVIOUS` still verifies for its grace period, an instance that has not read the
//! new key yet reads it when a token signed with it arrives — and a key that is neither is
//! refused.

use chat::auth::Tokens;
use chat::clock::iso;
use chat::models::{Role, User};
use chat::secrets::SecretsManagerKeys;
use chat::Config;

use crate::support::{dynamodb_endpoint, local_sdk_config, unique_name};

const KEY_1: &str = "first-signing-key-0123456789abcdef-0123456789";
const KEY_2: &str = "second-signing-key-0123456789abcdef-012345678";
const KEY_3: &str = "a-key-that-was-never-the-secret-0123456789abc";

async fn client() -> aws_sdk_secretsmanager::Client {
    aws_sdk_secretsmanager::Client::new(&local_sdk_config(&dynamodb_endpoint()).await)
}

fn user() -> User {
    User::new("alice", String::new(), Role::User, &iso(0))
}

/// Tokens with one fixed key, as `JWT_SECRET` gives them.
fn static_tokens(key: &str) -> Tokens {
    Tokens::new(&Config { jwt_secret: key.as_bytes().to_vec(), ..Config::for_tests() })
}

async fn from_secret(client: &aws_sdk_secretsmanager::Client, arn: &str) -> Tokens {
    let source = SecretsManagerKeys::with_client(client.clone(), arn);
    Tokens::from_secrets_manager(&Config::for_tests(), source).await.expect("the keys are read")
}

#[tokio::test]
async fn a_rotated_secret_signs_with_the_new_key_and_still_accepts_the_old_one_but_no_other() {
    let sm = client().await;
    let created = sm.create_secret().name(unique_name("jwt")).secret_string(KEY_1).send().await.expect("secret");
    let (arn, v1) = (created.arn().expect("arn").to_owned(), created.version_id().expect("version").to_owned());

    // Cold start: AWSCURRENT signs; nothing else is accepted before a rotation.
    let instance = from_secret(&sm, &arn).await;
    assert_eq!(instance.signing_version().as_deref(), Some(v1.as_str()));
    let (old_token, _) = instance.issue(&user()).expect("token");
    assert!(static_tokens(KEY_1).verify(&old_token).is_ok(), "signed with AWSCURRENT");
    assert!(instance.verify(&old_token).is_ok());
    let (foreign, _) = static_tokens(KEY_3).issue(&user()).expect("token");
    assert!(instance.verify_fresh(&foreign).await.is_err(), "a key that is not the secret's");

    // Rotation: a new value becomes AWSCURRENT, the old one AWSPREVIOUS.
    let v2 = sm.put_secret_value().secret_id(&arn).secret_string(KEY_2).send().await.expect("rotation");
    let v2 = v2.version_id().expect("version").to_owned();
    assert_ne!(v1, v2);

    // An instance started after the rotation signs with the new key and accepts both.
    let fresh = from_secret(&sm, &arn).await;
    assert_eq!(fresh.signing_version().as_deref(), Some(v2.as_str()));
    let (new_token, _) = fresh.issue(&user()).expect("token");
    assert!(static_tokens(KEY_2).verify(&new_token).is_ok(), "new tokens use the new key");
    assert!(static_tokens(KEY_1).verify(&new_token).is_err());
    assert!(fresh.verify(&old_token).is_ok(), "a token of the previous key lives out its lifetime");
    assert!(fresh.verify_fresh(&foreign).await.is_err(), "neither key: refused");

    // The instance started before the rotation has not read the new key yet; a token signed
    // with it makes it read the keys again (at most once a second), then it is accepted, and
    // from then on this instance signs with the new key too.
    assert!(instance.verify(&new_token).is_err(), "not read yet");
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert!(instance.verify_fresh(&new_token).await.is_ok(), "read on the unknown signature");
    assert_eq!(instance.signing_version().as_deref(), Some(v2.as_str()));
    assert!(instance.verify(&old_token).is_ok(), "the previous key still verifies");
    assert!(instance.verify_fresh(&foreign).await.is_err(), "neither key: refused");
    let (after, _) = instance.issue(&user()).expect("token");
    assert!(static_tokens(KEY_2).verify(&after).is_ok());

    // Past the grace period (here 0 s) the previous key is refused.
    let no_grace = Tokens::from_secrets_manager(
        &Config::for_tests(),
        SecretsManagerKeys::with_client(sm.clone(), &arn).grace_secs(0),
    )
    .await
    .expect("keys");
    assert!(no_grace.verify(&old_token).is_err(), "AWSPREVIOUS past its grace period");
    assert!(no_grace.verify(&new_token).is_ok());
}

#[tokio::test]
async fn a_missing_or_short_secret_fails_the_cold_start() {
    let sm = client().await;
    let missing =
        SecretsManagerKeys::with_client(sm.clone(), "arn:aws:secretsmanager:us-east-1:123456789012:secret:none-AbCdEf");
    assert!(Tokens::from_secrets_manager(&Config::for_tests(), missing).await.is_err());
    let short =
        sm.create_secret().name(unique_name("jwt-short")).secret_string("too short").send().await.expect("secret");
    let source = SecretsManagerKeys::with_client(sm.clone(), short.arn().expect("arn"));
    assert!(Tokens::from_secrets_manager(&Config::for_tests(), source).await.is_err());
}
