//! SigV4 verification of `@connections` calls, as API Gateway does it: an unsigned call, a call
//! signed with other credentials, or one whose signature does not match what was sent is
//! refused with 403. The accepted credentials are the gateway's own (the environment's, or the
//! local defaults), so the function code's SDK client signs as it would on AWS. The signature is
//! recomputed with the SDK's own signer (`aws-sigv4`) over the headers the caller signed.

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use axum::http::{HeaderMap, Method, Uri};

/// AWS refuses a signature dated more than this far from its clock.
const MAX_SKEW: Duration = Duration::from_secs(15 * 60);

/// The parts of `Authorization: AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…`.
struct Authorization<'a> {
    access_key: &'a str,
    date: &'a str,
    region: &'a str,
    service: &'a str,
    signed_headers: Vec<&'a str>,
    signature: &'a str,
}

fn parse(header: &str) -> Option<Authorization<'_>> {
    let rest = header.strip_prefix("AWS4-HMAC-SHA256 ")?;
    let field = |name: &str| rest.split(',').map(str::trim).find_map(|p| p.strip_prefix(name));
    let mut scope = field("Credential=")?.split('/');
    let (access_key, date, region, service) = (scope.next()?, scope.next()?, scope.next()?, scope.next()?);
    (scope.next()? == "aws4_request").then_some(())?;
    let signed_headers = field("SignedHeaders=")?.split(';').collect();
    Some(Authorization { access_key, date, region, service, signed_headers, signature: field("Signature=")? })
}

/// `20261129T150000Z`.
fn parse_amz_date(s: &str) -> Option<SystemTime> {
    let format = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    let t = time::PrimitiveDateTime::parse(s, &format).ok()?.assume_utc();
    Some(SystemTime::UNIX_EPOCH + Duration::from_secs(u64::try_from(t.unix_timestamp()).ok()?))
}

/// Whether the request carries a valid signature by `credentials` for `execute-api`.
pub fn verify(credentials: &Credentials, method: &Method, uri: &Uri, headers: &HeaderMap, body: &[u8]) -> bool {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let Some(auth) = header("authorization").and_then(parse) else { return false };
    let Some(time) = header("x-amz-date").and_then(parse_amz_date) else { return false };
    let skew = SystemTime::now().duration_since(time).or_else(|e| Ok::<_, ()>(e.duration())).unwrap_or(MAX_SKEW);
    if auth.access_key != credentials.access_key_id()
        || auth.service != "execute-api"
        || skew >= MAX_SKEW
        || !header("x-amz-date").is_some_and(|d| d.starts_with(auth.date))
    {
        return false;
    }
    // The headers the caller signed, as sent; the signer adds `x-amz-date` itself.
    let signed: Vec<(&str, &str)> = auth
        .signed_headers
        .iter()
        .filter(|name| **name != "x-amz-date")
        .filter_map(|name| Some((*name, header(name)?)))
        .collect();
    if signed.len() + 1 != auth.signed_headers.len() {
        return false;
    }
    let identity: Identity = credentials.clone().into();
    let Ok(params) = v4::SigningParams::builder()
        .identity(&identity)
        .region(auth.region)
        .name(auth.service)
        .time(time)
        .settings(SigningSettings::default())
        .build()
    else {
        return false;
    };
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let Ok(request) = SignableRequest::new(method.as_str(), path, signed.into_iter(), SignableBody::Bytes(body)) else {
        return false;
    };
    sign(request, &params.into()).is_ok_and(|out| constant_time_eq(out.signature(), auth.signature))
}

fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_authorization_header_is_read_into_its_parts() {
        let a = parse("AWS4-HMAC-SHA256 Credential=AKID/20261129/us-east-1/execute-api/aws4_request, SignedHeaders=host;x-amz-date, Signature=abcd")
            .expect("parses");
        assert_eq!((a.access_key, a.date, a.region, a.service), ("AKID", "20261129", "us-east-1", "execute-api"));
        assert_eq!((a.signed_headers, a.signature), (vec!["host", "x-amz-date"], "abcd"));
        assert!(parse("Bearer x").is_none());
        assert!(parse("AWS4-HMAC-SHA256 Credential=AKID/20261129/us-east-1/execute-api/other").is_none());
    }
}
