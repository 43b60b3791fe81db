//! `DeviceStore`: the account of one session (`wa_device`) — wacore's
//! `Device`: registration id, noise/identity/signed-prekey key pairs, ADV
//! account signature, push name, prekey counters, cached server certificate
//! chain, ...
//!
//! Encoding: `Device` derives serde, so it is stored as one serde_json blob
//! (why JSON rather than a positional binary format: see the parent module).
//! Three fields are `#[serde(skip)]` because they are runtime settings, not
//! account state: `client_profile` and `nct_salt_sync_seen` come back as
//! their defaults (the web profile, `false`), and `device_props` is reset to
//! wacore's `DEVICE_PROPS` — serde's default would be an empty `DeviceProps`;
//! the bot builder applies the embedder's overrides after loading.

use std::sync::Arc;

use async_trait::async_trait;
use whatsapp_rust::wacore::store::Device;
use whatsapp_rust::wacore::store::device::DEVICE_PROPS;
use whatsapp_rust::wacore::store::error::Result;
use whatsapp_rust::wacore::store::traits::DeviceStore;

use crate::with_db;

use super::{Ctx, WhatsappStore};

impl WhatsappStore {
    fn encode_device(&self, op: &'static str, device: &Device) -> Result<Vec<u8>> {
        serde_json::to_vec(device).map_err(|e| self.serde_error(op, e))
    }
}

#[async_trait]
impl DeviceStore for WhatsappStore {
    async fn save(&self, device: &Device) -> Result<()> {
        const OP: &str = "save device";
        let blob = self.encode_device(OP, device)?;
        write_one!(
            self,
            OP,
            sqlx::query(
                "INSERT INTO wa_device (session, device) VALUES ($1, $2)
                 ON CONFLICT (session) DO UPDATE SET device = excluded.device",
            )
            .bind(&self.session)
            .bind(blob)
        );
        Ok(())
    }

    async fn load(&self) -> Result<Option<Device>> {
        const OP: &str = "load device";
        let blob: Option<Vec<u8>> = with_db!(&self.db, |pool| sqlx::query_scalar(
            "SELECT device FROM wa_device WHERE session = $1"
        )
        .bind(&self.session)
        .fetch_optional(pool)
        .await)
        .ctx(self, OP)?;
        let Some(blob) = blob else { return Ok(None) };
        let mut device: Device = serde_json::from_slice(&blob).map_err(|e| self.serde_error(OP, e))?;
        device.device_props = Arc::new(DEVICE_PROPS.clone());
        Ok(Some(device))
    }

    async fn exists(&self) -> Result<bool> {
        with_db!(&self.db, |pool| sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM wa_device WHERE session = $1)"
        )
        .bind(&self.session)
        .fetch_one(pool)
        .await)
        .ctx(self, "device exists")
    }

    /// Materializes a fresh `Device` (new keys) unless the session has one,
    /// like the reference store, so `exists()` is true afterwards; returns the
    /// row's id.
    async fn create(&self) -> Result<i32> {
        const OP: &str = "create device";
        let blob = self.encode_device(OP, &Device::new())?;
        let id: i64 = with_db!(&self.db, |pool| {
            let mut tx = self.begin(OP, pool).await?;
            sqlx::query("INSERT INTO wa_device (session, device) VALUES ($1, $2) ON CONFLICT (session) DO NOTHING")
                .bind(&self.session)
                .bind(blob)
                .execute(&mut *tx)
                .await
                .ctx(self, OP)?;
            let id: i64 = sqlx::query_scalar("SELECT rowid FROM wa_device WHERE session = $1")
                .bind(&self.session)
                .fetch_one(&mut *tx)
                .await
                .ctx(self, OP)?;
            tx.commit().await.ctx(self, OP)?;
            id
        });
        i32::try_from(id).map_err(|_| self.invalid(OP, format_args!("device row id {id} out of range")))
    }
}
