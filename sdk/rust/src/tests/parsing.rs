//! Command tokens, the trimming rule, arguments, URLs, HTTP error names,
//! config values.

use crate::bindings::wasi::http::types::{DnsErrorPayload, ErrorCode};
use crate::command::{same_name, split_args, token};
use crate::config::parse;
use crate::http::error::describe as describe_code;
use crate::http::url::Target;

#[test]
fn a_command_token_is_the_name_and_the_rest_after_one_space() {
    assert_eq!(token("!ping"), Some(("ping", "")));
    assert_eq!(token("/ping"), Some(("ping", "")));
    assert_eq!(token("!echo hello world"), Some(("echo", "hello world")));
    // Trimmed first; then exactly one space after the name is dropped.
    assert_eq!(token("  !ping \t"), Some(("ping", "")));
    assert_eq!(token("!echo  two spaces  "), Some(("echo", " two spaces")));
    assert_eq!(token("!echo\ttab"), Some(("echo", "tab")));
    assert_eq!(token("!echo ünïcödé 🐱 "), Some(("echo", "ünïcödé 🐱")));
    // The name ends at a space or the end, never inside a word.
    assert_eq!(token("!pingpong"), Some(("pingpong", "")));
    for not_a_command in ["plain text", "", "!", "/", "! ping", "ping!", "x !ping"] {
        assert_eq!(token(not_a_command), None, "{not_a_command:?}");
    }
}

#[test]
fn trimming_is_unicode_white_space_exactly() {
    // U+0085 (NEXT LINE), U+00A0, U+3000, U+2029 are White_Space: trimmed.
    assert_eq!(token("\u{85}\u{a0}!ping\u{3000}\u{2029}"), Some(("ping", "")));
    assert_eq!(token("!echo\u{3000}wide"), Some(("echo", "wide")));
    // U+001C..U+001F are not (Python's strip() would remove them).
    assert_eq!(token("\u{1c}!ping"), None);
    assert_eq!(token("!ping\u{1f}"), Some(("ping\u{1f}", "")));
    // U+FEFF is not either (JS trim() would remove it).
    assert_eq!(token("\u{feff}!ping"), None);
}

#[test]
fn names_compare_in_any_case() {
    assert!(same_name("Ping", "ping"));
    assert!(same_name("PING", "ping"));
    assert!(same_name("ПРИВЕТ", "привет"));
    assert!(!same_name("pong", "ping"));
    assert!(!same_name("pin", "ping"));
}

#[test]
fn arguments_split_on_spaces_and_quotes_group_words() {
    let args = |text: &str| split_args(text);
    assert_eq!(args(r#"one "two words"  three"#), ["one", "two words", "three"]);
    assert_eq!(args("  a\tb\u{3000}c  "), ["a", "b", "c"]);
    assert_eq!(args("'single quoted' x"), ["single quoted", "x"]);
    assert_eq!(args(r#""it's" 'say "hi"'"#), ["it's", r#"say "hi""#]);
    // A backslash escapes the quote that opened the group, nothing else.
    assert_eq!(args(r#""a \"quoted\" word""#), [r#"a "quoted" word"#]);
    assert_eq!(args(r#""back\slash""#), [r"back\slash"]);
    // Quotes inside a word join it with the group; an empty group is an argument.
    assert_eq!(args(r#"a"b c"d"#), ["ab cd"]);
    assert_eq!(args(r#"x "" y"#), ["x", "", "y"]);
    // An unterminated quote runs to the end, spaces kept.
    assert_eq!(args(r#"a "b  c"#), ["a", "b  c"]);
    assert!(args("").is_empty());
    assert!(args(" \t ").is_empty());
}

#[test]
fn urls_split_into_scheme_authority_and_path() {
    let target = Target::parse("https://Example.org").unwrap();
    assert_eq!(
        (
            target.scheme.as_str(),
            target.authority.as_str(),
            target.path_with_query.as_str()
        ),
        ("https", "Example.org", "/")
    );
    let target = Target::parse("HTTP://127.0.0.1:8080/a/b?x=1&y=2#top").unwrap();
    assert_eq!(
        (
            target.scheme.as_str(),
            target.authority.as_str(),
            target.path_with_query.as_str()
        ),
        ("http", "127.0.0.1:8080", "/a/b?x=1&y=2")
    );
    assert_eq!(Target::parse("http://h?q").unwrap().path_with_query, "/?q");
    for bad in ["example.org/x", "http:///x", "://h/", "1http://h/"] {
        let error = Target::parse(bad).unwrap_err().to_string();
        assert!(error.contains("invalid URL") && error.contains(bad), "{bad}: {error}");
    }
}

#[test]
fn http_errors_are_named_after_the_wit_error_code() {
    assert_eq!(describe_code(&ErrorCode::HttpRequestDenied), "HTTP request denied");
    assert_eq!(describe_code(&ErrorCode::ConnectionRefused), "connection refused");
    assert_eq!(
        describe_code(&ErrorCode::DestinationIpProhibited),
        "destination IP prohibited"
    );
    assert_eq!(
        describe_code(&ErrorCode::HttpResponseBodySize(Some(1024))),
        "HTTP response body size (size 1024)"
    );
    assert_eq!(
        describe_code(&ErrorCode::DnsError(DnsErrorPayload {
            rcode: Some("NXDOMAIN".into()),
            info_code: None,
        })),
        "DNS error (rcode NXDOMAIN)"
    );
    assert_eq!(
        describe_code(&ErrorCode::InternalError(Some("boom".into()))),
        "internal error (boom)"
    );
}

#[test]
fn config_values_parse_or_name_the_key() {
    assert_eq!(parse::<i64>("n", Some("42".into()), "an integer"), Ok(Some(42)));
    assert_eq!(parse::<i64>("n", None, "an integer"), Ok(None));
    assert_eq!(parse::<f64>("x", Some("1.5".into()), "a number"), Ok(Some(1.5)));
    assert_eq!(parse::<f64>("x", Some("7".into()), "a number"), Ok(Some(7.0)));
    assert_eq!(parse::<bool>("b", Some("true".into()), "a boolean"), Ok(Some(true)));
    let error = parse::<i64>("limit", Some("ten".into()), "an integer").unwrap_err();
    assert_eq!(error.to_string(), r#"config key "limit" is not an integer"#);
    let error = parse::<bool>("on", Some("yes".into()), "a boolean").unwrap_err();
    assert_eq!(error.to_string(), r#"config key "on" is not a boolean"#);
}
