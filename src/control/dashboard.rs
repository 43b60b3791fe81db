//! The dashboard: one page (`GET /`) and its assets (`GET /assets/app.js`,
//! `GET /assets/style.css`), the files of `src/control/dashboard/`
//! embedded in the binary. Plain HTML, CSS and JavaScript: no build step,
//! nothing loaded from elsewhere (the Content-Security-Policy says so).
//!
//! These routes need no token; the page asks for one, keeps it in the
//! browser's local storage and sends it as a bearer header on every API
//! call, including the event stream it reads with `fetch`.

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

const INDEX_HTML: &str = include_str!("dashboard/index.html");
const APP_JS: &str = include_str!("dashboard/app.js");
const STYLE_CSS: &str = include_str!("dashboard/style.css");

/// Everything from this origin only; images also from `blob:` (the QR,
/// fetched with the token) and `data:` (the empty favicon).
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; img-src 'self' blob: data:; object-src 'none'; \
     base-uri 'none'; frame-ancestors 'none'; form-action 'none'";

/// The dashboard's routes, for the control API's router.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/", get(async || file("text/html; charset=utf-8", INDEX_HTML)))
        .route(
            "/assets/app.js",
            get(async || file("text/javascript; charset=utf-8", APP_JS)),
        )
        .route(
            "/assets/style.css",
            get(async || file("text/css; charset=utf-8", STYLE_CSS)),
        )
}

/// An embedded file; browsers revalidate it (`no-cache`) so a new binary's
/// page is used at once.
fn file(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
            (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        body,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The page loads its assets from the routes above and nothing from
    /// another origin.
    #[test]
    fn the_page_uses_only_its_own_assets() {
        assert!(INDEX_HTML.contains(r#"href="/assets/style.css""#));
        assert!(INDEX_HTML.contains(r#"src="/assets/app.js""#));
        for (name, text) in [("index.html", INDEX_HTML), ("app.js", APP_JS), ("style.css", STYLE_CSS)] {
            for scheme in ["http://", "https://", "//cdn", "@import"] {
                assert!(!text.contains(scheme), "{name} mentions {scheme}");
            }
        }
    }

    /// The token goes in a header, never in a URL.
    #[test]
    fn the_token_travels_only_in_the_authorization_header() {
        assert!(APP_JS.contains("Authorization: `Bearer ${state.token}`"));
        assert!(!APP_JS.contains("new EventSource"));
        assert!(!APP_JS.contains("token="));
    }
}
