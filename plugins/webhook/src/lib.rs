//! `webhook`: forwards a session's events to an HTTP endpoint as JSON —
//! purr's counterpart of the webhooks of WhatsApp session servers, as a
//! plugin configured in TOML only. `docs/webhook.md` documents the settings
//! and the JSON; in short:
//!
//! ```toml
//! [plugins.webhook]
//! path = "plugins/dist/webhook.wasm"
//! allowed_hosts = ["https://crm.example.com"]
//! config = { url = "https://crm.example.com/purr", events = ["message", "receipt"], secret = "${WEBHOOK_SECRET}" }
//! ```
//!
//! Each selected event is one `POST` (`content-type: application/json`,
//! `x-purr-event`, `x-purr-event-id`, `x-purr-session`, and with a secret
//! `x-purr-signature-256: sha256=<hex HMAC-SHA256 of the body>`). A POST
//! that fails or answers other than 2xx fails the event, so the host's
//! `event_attempts` and dead letters apply. The plugin always passes the
//! event on (`next`).

mod payload;
mod settings;

use hmac::{Hmac, Mac};
use purr_sdk::prelude::*;
use purr_sdk::{http, serde_json};
use sha2::Sha256;

use settings::Settings;

purr_sdk::plugin!(setup);

fn setup(bot: &mut Bot) {
    // Every event, the account's own messages included; the settings select.
    bot.on("*", forward).own();
}

fn forward(ctx: &mut Ctx) -> Result<()> {
    let settings = Settings::read(&ctx.config)?;
    let kind = payload::kind(&ctx.event);
    if !settings.wants(kind) {
        return Ok(());
    }
    let body = serde_json::to_vec(&payload::body(ctx, kind)).map_err(Error::new)?;
    let mut request = http::Request::post(&settings.url)
        .header("content-type", "application/json")
        .header("x-purr-event", kind)
        .header("x-purr-event-id", &ctx.event_id)
        .header("x-purr-session", &ctx.session);
    if let Some(secret) = &settings.secret {
        request = request.header("x-purr-signature-256", signature(secret, &body));
    }
    for (name, value) in &settings.headers {
        request = request.header(name, value);
    }
    let response = request
        .body(body)
        .send()
        .map_err(|error| Error::new(format!("webhook {}: {error}", settings.url)))?;
    if !(200..300).contains(&response.status) {
        return Err(Error::new(format!(
            "webhook {} answered {}",
            settings.url, response.status
        )));
    }
    Ok(())
}

/// `sha256=<hex>` of the HMAC-SHA256 of `body` under `secret`.
fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_signature_is_hmac_sha256_in_hex() {
        // RFC 4231, test case 2.
        assert_eq!(
            super::signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
