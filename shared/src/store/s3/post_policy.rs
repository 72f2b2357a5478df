//! The S3 POST policy of a single-request direct upload: a browser-based upload form (the Rust
//! SDK has no presigned POST), signed with SigV4's own primitives from `aws-sigv4` (the signing
//! key derivation and the signature), never a hand-rolled HMAC chain.
//!
//! The policy fixes the object's key, its `Content-Type` and `content-length-range [1, max]`,
//! and expires when the form does. S3 enforces it; the server still checks what arrived
//! (size, type by the first bytes) before it counts as uploaded, since S3-compatible stores
//! (moto among them) may not enforce policies.

use aws_sigv4::sign::v4::{calculate_signature, generate_signing_key};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

/// What a form is signed with.
#[derive(Debug, Clone)]
pub struct Signer<'a> {
    /// Access key id.
    pub access_key_id: &'a str,
    /// Secret access key.
    pub secret_access_key: &'a str,
    /// Session token of temporary credentials (a Lambda function's).
    pub session_token: Option<&'a str>,
    /// The bucket's region.
    pub region: &'a str,
}

/// What the form allows.
#[derive(Debug, Clone)]
pub struct Policy<'a> {
    /// The bucket.
    pub bucket: &'a str,
    /// The object's key, exactly.
    pub key: &'a str,
    /// Its content type, exactly.
    pub content_type: &'a str,
    /// Most bytes it may have (and at least 1).
    pub max_bytes: u64,
    /// When the form stops working.
    pub expires: DateTime<Utc>,
}

/// The form's fields, in order (the file goes after them), signed at `now`.
pub fn fields(
    signer: &Signer<'_>,
    policy: &Policy<'_>,
    now: DateTime<Utc>,
) -> Vec<(String, String)> {
    let date = now.format("%Y%m%d").to_string();
    let amz_date = now.format("%Y%m%dT%H%M%SZ").to_string();
    let credential = format!(
        "{}/{date}/{}/s3/aws4_request",
        signer.access_key_id, signer.region
    );
    let mut conditions = vec![
        json!({ "bucket": policy.bucket }),
        json!(["eq", "$key", policy.key]),
        json!(["eq", "$Content-Type", policy.content_type]),
        json!(["content-length-range", 1, policy.max_bytes]),
        json!({ "x-amz-algorithm": "AWS4-HMAC-SHA256" }),
        json!({ "x-amz-credential": credential }),
        json!({ "x-amz-date": amz_date }),
    ];
    if let Some(token) = signer.session_token {
        conditions.push(json!({ "x-amz-security-token": token }));
    }
    let document = json!({
        "expiration": policy.expires.to_rfc3339_opts(SecondsFormat::Millis, true),
        "conditions": conditions,
    });
    let encoded = STANDARD.encode(document.to_string());
    let key = generate_signing_key(signer.secret_access_key, now.into(), signer.region, "s3");
    let signature = calculate_signature(key, encoded.as_bytes());
    let mut fields = vec![
        ("key".to_owned(), policy.key.to_owned()),
        ("Content-Type".to_owned(), policy.content_type.to_owned()),
        ("x-amz-algorithm".to_owned(), "AWS4-HMAC-SHA256".to_owned()),
        ("x-amz-credential".to_owned(), credential),
        ("x-amz-date".to_owned(), amz_date),
    ];
    if let Some(token) = signer.session_token {
        fields.push(("x-amz-security-token".to_owned(), token.to_owned()));
    }
    fields.push(("policy".to_owned(), encoded));
    fields.push(("x-amz-signature".to_owned(), signature));
    fields
}

/// The policy document a form's `policy` field holds (for tests and diagnostics).
pub fn decode(policy: &str) -> Option<Value> {
    serde_json::from_slice(&STANDARD.decode(policy).ok()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("date")
            .with_timezone(&Utc)
    }

    #[test]
    fn the_policy_fixes_key_type_and_size_and_is_signed_as_aws_documents() {
        // The credentials, date and region of AWS's browser-based upload example.
        let signer = Signer {
            access_key_id: "AKIAIOSFODNN7EXAMPLE",
            secret_access_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            session_token: None,
            region: "us-east-1",
        };
        let policy = Policy {
            bucket: "sigv4examplebucket",
            key: "videos/vi1/source",
            content_type: "video/mp4",
            max_bytes: 2_147_483_648,
            expires: at("2015-12-30T12:00:00Z"),
        };
        let fields = fields(&signer, &policy, at("2015-12-29T00:00:00Z"));
        let names: Vec<_> = fields.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            names,
            [
                "key",
                "Content-Type",
                "x-amz-algorithm",
                "x-amz-credential",
                "x-amz-date",
                "policy",
                "x-amz-signature"
            ]
        );
        let get = |name: &str| &fields.iter().find(|(k, _)| k == name).expect(name).1;
        assert_eq!(
            get("x-amz-credential"),
            "AKIAIOSFODNN7EXAMPLE/20151229/us-east-1/s3/aws4_request"
        );
        assert_eq!(get("x-amz-date"), "20151229T000000Z");
        let document = decode(get("policy")).expect("a policy document");
        assert_eq!(document["expiration"], "2015-12-30T12:00:00.000Z");
        let conditions = document["conditions"].as_array().expect("conditions");
        assert!(conditions.contains(&json!(["eq", "$key", "videos/vi1/source"])));
        assert!(conditions.contains(&json!(["eq", "$Content-Type", "video/mp4"])));
        assert!(conditions.contains(&json!(["content-length-range", 1, 2_147_483_648u64])));
        assert!(conditions.contains(&json!({ "bucket": "sigv4examplebucket" })));
        // The signature is SigV4's: HMAC-SHA256 of the encoded policy with the key derived
        // from the secret, the date, the region and "s3", computed here independently.
        use hmac::{Hmac, Mac};
        let hmac = |key: &[u8], data: &[u8]| {
            let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key).expect("any key");
            mac.update(data);
            mac.finalize().into_bytes().to_vec()
        };
        let k = hmac(
            format!("AWS4{}", signer.secret_access_key).as_bytes(),
            b"20151229",
        );
        let k = hmac(&hmac(&hmac(&k, b"us-east-1"), b"s3"), b"aws4_request");
        let expected: String = hmac(&k, get("policy").as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(get("x-amz-signature"), &expected);
        assert_eq!(get("x-amz-signature").len(), 64);
    }

    #[test]
    fn the_signing_key_is_derived_as_aws_documents() {
        // AWS's published example of deriving a signing key (IAM, 2012-02-15).
        let key = generate_signing_key(
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            at("2012-02-15T00:00:00Z").into(),
            "us-east-1",
            "iam",
        );
        let hex: String = key.as_ref().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"
        );
    }

    #[test]
    fn temporary_credentials_carry_their_token_in_the_policy_and_the_form() {
        let signer = Signer {
            access_key_id: "ASIA",
            secret_access_key: "secret",
            session_token: Some("session-token"),
            region: "eu-west-1",
        };
        let policy = Policy {
            bucket: "b",
            key: "k",
            content_type: "video/webm",
            max_bytes: 10,
            expires: at("2030-01-01T00:00:00Z"),
        };
        let fields = fields(&signer, &policy, at("2029-12-31T23:00:00Z"));
        assert!(fields.contains(&("x-amz-security-token".into(), "session-token".into())));
        let document = decode(
            &fields
                .iter()
                .find(|(k, _)| k == "policy")
                .expect("policy")
                .1,
        )
        .expect("doc");
        assert!(
            document["conditions"]
                .as_array()
                .expect("conditions")
                .contains(&json!({ "x-amz-security-token": "session-token" }))
        );
    }
}
