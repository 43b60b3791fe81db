//! `wasi:http` error codes as readable messages: the WIT case name with
//! spaces for dashes (`HTTP-request-denied` → `HTTP request denied`), and
//! the details the case carries.

use crate::bindings::wasi::http::types::{ErrorCode, FieldSizePayload};

/// `HTTP request denied`, `DNS error (rcode NXDOMAIN)`, ...
pub(crate) fn describe(code: &ErrorCode) -> String {
    let (name, details) = name_and_details(code);
    let name = name.replace('-', " ");
    let details: Vec<String> = details.into_iter().flatten().collect();
    if details.is_empty() {
        name
    } else {
        format!("{name} ({})", details.join(", "))
    }
}

fn field(field: Option<&FieldSizePayload>) -> Vec<Option<String>> {
    match field {
        Some(field) => vec![
            field.field_name.as_ref().map(|name| format!("field {name}")),
            field.field_size.map(|size| format!("size {size}")),
        ],
        None => vec![],
    }
}

fn size<T: std::fmt::Display>(size: &Option<T>) -> Vec<Option<String>> {
    vec![size.as_ref().map(|size| format!("size {size}"))]
}

/// The WIT name of `code` and what its payload says.
fn name_and_details(code: &ErrorCode) -> (&'static str, Vec<Option<String>>) {
    use ErrorCode as E;
    match code {
        E::DnsTimeout => ("DNS-timeout", vec![]),
        E::DnsError(payload) => (
            "DNS-error",
            vec![
                payload.rcode.as_ref().map(|rcode| format!("rcode {rcode}")),
                payload.info_code.map(|info| format!("info code {info}")),
            ],
        ),
        E::DestinationNotFound => ("destination-not-found", vec![]),
        E::DestinationUnavailable => ("destination-unavailable", vec![]),
        E::DestinationIpProhibited => ("destination-IP-prohibited", vec![]),
        E::DestinationIpUnroutable => ("destination-IP-unroutable", vec![]),
        E::ConnectionRefused => ("connection-refused", vec![]),
        E::ConnectionTerminated => ("connection-terminated", vec![]),
        E::ConnectionTimeout => ("connection-timeout", vec![]),
        E::ConnectionReadTimeout => ("connection-read-timeout", vec![]),
        E::ConnectionWriteTimeout => ("connection-write-timeout", vec![]),
        E::ConnectionLimitReached => ("connection-limit-reached", vec![]),
        E::TlsProtocolError => ("TLS-protocol-error", vec![]),
        E::TlsCertificateError => ("TLS-certificate-error", vec![]),
        E::TlsAlertReceived(payload) => (
            "TLS-alert-received",
            vec![
                payload.alert_id.map(|id| format!("alert {id}")),
                payload.alert_message.clone(),
            ],
        ),
        E::HttpRequestDenied => ("HTTP-request-denied", vec![]),
        E::HttpRequestLengthRequired => ("HTTP-request-length-required", vec![]),
        E::HttpRequestBodySize(bytes) => ("HTTP-request-body-size", size(bytes)),
        E::HttpRequestMethodInvalid => ("HTTP-request-method-invalid", vec![]),
        E::HttpRequestUriInvalid => ("HTTP-request-URI-invalid", vec![]),
        E::HttpRequestUriTooLong => ("HTTP-request-URI-too-long", vec![]),
        E::HttpRequestHeaderSectionSize(bytes) => ("HTTP-request-header-section-size", size(bytes)),
        E::HttpRequestHeaderSize(payload) => ("HTTP-request-header-size", field(payload.as_ref())),
        E::HttpRequestTrailerSectionSize(bytes) => ("HTTP-request-trailer-section-size", size(bytes)),
        E::HttpRequestTrailerSize(payload) => ("HTTP-request-trailer-size", field(Some(payload))),
        E::HttpResponseIncomplete => ("HTTP-response-incomplete", vec![]),
        E::HttpResponseHeaderSectionSize(bytes) => ("HTTP-response-header-section-size", size(bytes)),
        E::HttpResponseHeaderSize(payload) => ("HTTP-response-header-size", field(Some(payload))),
        E::HttpResponseBodySize(bytes) => ("HTTP-response-body-size", size(bytes)),
        E::HttpResponseTrailerSectionSize(bytes) => ("HTTP-response-trailer-section-size", size(bytes)),
        E::HttpResponseTrailerSize(payload) => ("HTTP-response-trailer-size", field(Some(payload))),
        E::HttpResponseTransferCoding(coding) => ("HTTP-response-transfer-coding", vec![coding.clone()]),
        E::HttpResponseContentCoding(coding) => ("HTTP-response-content-coding", vec![coding.clone()]),
        E::HttpResponseTimeout => ("HTTP-response-timeout", vec![]),
        E::HttpUpgradeFailed => ("HTTP-upgrade-failed", vec![]),
        E::HttpProtocolError => ("HTTP-protocol-error", vec![]),
        E::LoopDetected => ("loop-detected", vec![]),
        E::ConfigurationError => ("configuration-error", vec![]),
        E::InternalError(message) => ("internal-error", vec![message.clone()]),
    }
}
