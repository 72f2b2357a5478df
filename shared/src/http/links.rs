//! The base URL of the links the server builds (`assets.mp4` of the embedded store): a
//! configured public URL, else the forwarded scheme and host when a trusted proxy says so, else
//! the address the server listens on. Never a scheme other than http(s), never a host that is
//! not a plain host name or IP address, whatever the client sends.

use super::{MediaSettings, Request};
use http::HeaderMap;

/// Checks a configured public base URL: `http(s)://host[:port][/path]`, no user info, query
/// or fragment. Returns it without a trailing `/`.
pub fn parse_public_url(text: &str) -> Result<String, String> {
    let bad = |why: &str| Err(format!("{text:?} is not a usable public URL: {why}"));
    let (scheme, rest) = match text.split_once("://") {
        Some((scheme, rest)) => (scheme, rest),
        None => return bad("it needs http:// or https://"),
    };
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return bad("only http and https");
    }
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    if !valid_authority(authority) {
        return bad("the host must be a host name or IP address, with an optional port");
    }
    if !path
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"/-._~%!$&'()*+,;=:@".contains(&b))
    {
        return bad("the path has characters a URL cannot hold (or a query or fragment)");
    }
    Ok(format!(
        "{}://{authority}{}",
        scheme.to_ascii_lowercase(),
        path.trim_end_matches('/')
    ))
}

/// `host[:port]`: a DNS-style name or IPv4 address, or a bracketed IPv6 address.
pub(super) fn valid_authority(authority: &str) -> bool {
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let Some((v6, after)) = rest.split_once(']') else {
            return false;
        };
        if v6.parse::<std::net::Ipv6Addr>().is_err() {
            return false;
        }
        match after {
            "" => return true,
            _ => match after.strip_prefix(':') {
                Some(port) => ("x", Some(port)),
                None => return false,
            },
        }
    } else {
        match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    let host_ok = !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        });
    let port_ok = port.is_none_or(|p| {
        !p.is_empty()
            && p.len() <= 5
            && p.bytes().all(|b| b.is_ascii_digit())
            && p.parse::<u16>().is_ok()
    });
    host_ok && port_ok
}

/// The forwarded `scheme://host`, when both headers (or the forwarded proto and `Host`) are
/// present and valid.
fn forwarded(headers: &HeaderMap) -> Option<String> {
    let first = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(',').next().unwrap_or("").trim())
    };
    let scheme = match first("x-forwarded-proto")? {
        p if p.eq_ignore_ascii_case("http") => "http",
        p if p.eq_ignore_ascii_case("https") => "https",
        _ => return None,
    };
    let host = first("x-forwarded-host").or_else(|| first("host"))?;
    valid_authority(host).then(|| format!("{scheme}://{host}"))
}

/// `scheme://host[/path]` links start with.
pub(super) fn base_url(settings: &MediaSettings, req: &Request) -> String {
    if let Some(public) = &settings.public_url {
        return public.clone();
    }
    if settings.trust_proxy
        && let Some(base) = forwarded(req.headers())
    {
        return base;
    }
    settings
        .listen_url
        .clone()
        .unwrap_or_else(|| "http://127.0.0.1".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(headers: &[(&str, &str)]) -> Request {
        let mut builder = http::Request::builder().uri("/videos/vi1");
        for (k, v) in headers {
            builder = builder.header(*k, *v);
        }
        builder
            .body(super::super::Body::default())
            .expect("request")
    }

    fn settings(public: Option<&str>, trust_proxy: bool) -> MediaSettings {
        MediaSettings {
            public_url: public.map(|p| parse_public_url(p).expect("valid")),
            trust_proxy,
            listen_url: Some("http://127.0.0.1:8080".into()),
            ..MediaSettings::default()
        }
    }

    const HOSTILE: &[(&str, &str)] = &[
        ("host", "javascript:alert(1)//"),
        ("x-forwarded-proto", "javascript"),
        ("x-forwarded-host", "evil.example\"><script>"),
    ];

    #[test]
    fn public_urls_are_http_or_https_with_a_plain_host() {
        for good in [
            "http://127.0.0.1:8080",
            "https://videos.example.com/",
            "HTTPS://videos.example.com/api/v1",
            "http://[::1]:9000",
        ] {
            assert!(parse_public_url(good).is_ok(), "{good}");
        }
        assert_eq!(
            parse_public_url("https://v.example.com/api/").as_deref(),
            Ok("https://v.example.com/api")
        );
        for bad in [
            "javascript:alert(1)",
            "javascript://x.example/",
            "ftp://x.example",
            "x.example",
            "http://user@x.example",
            "http://x.example:99999",
            "http://x.example/?q=1",
            "http://x.example/#f",
            "http://",
            "http://x .example",
            "data://x",
        ] {
            assert!(parse_public_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_client_cannot_choose_the_links_without_trust_proxy() {
        let req = request(HOSTILE);
        assert_eq!(
            base_url(&settings(None, false), &req),
            "http://127.0.0.1:8080"
        );
        let req = request(&[("host", "a.example"), ("x-forwarded-proto", "https")]);
        assert_eq!(
            base_url(&settings(None, false), &req),
            "http://127.0.0.1:8080"
        );
    }

    #[test]
    fn a_public_url_wins_over_everything() {
        let req = request(&[
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "b.example"),
        ]);
        assert_eq!(
            base_url(&settings(Some("https://v.example.com/"), true), &req),
            "https://v.example.com"
        );
    }

    #[test]
    fn trust_proxy_takes_only_valid_forwarded_values() {
        let s = settings(None, true);
        let req = request(&[
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "v.example:8443"),
        ]);
        assert_eq!(base_url(&s, &req), "https://v.example:8443");
        let req = request(&[("x-forwarded-proto", "HTTP, https"), ("host", "v.example")]);
        assert_eq!(base_url(&s, &req), "http://v.example");
        for hostile in [
            HOSTILE.to_vec(),
            vec![
                ("x-forwarded-proto", "javascript"),
                ("x-forwarded-host", "v.example"),
            ],
            vec![
                ("x-forwarded-proto", "https"),
                ("x-forwarded-host", "javascript:alert(1)"),
            ],
            vec![("x-forwarded-proto", "https"), ("host", "a@b.example")],
            vec![("host", "v.example")],
        ] {
            let base = base_url(&s, &request(&hostile));
            assert_eq!(base, "http://127.0.0.1:8080", "{hostile:?}");
        }
    }
}
