//! A channel that reports what it sends: wraps a session's [`Channel`] so
//! every outbound action the network accepts is counted and published
//! (`sent`), whoever made it (the outbox sender, the control API).

use std::sync::Arc;

use async_trait::async_trait;

use super::SessionObserver;
use crate::channel::{Channel, Outbound, SendError};
use crate::config::ChannelKind;

/// `inner`, reporting its accepted sends to `observer`.
pub struct ObservedChannel {
    inner: Arc<dyn Channel>,
    observer: SessionObserver,
}

impl ObservedChannel {
    pub fn wrap(inner: Arc<dyn Channel>, observer: SessionObserver) -> Arc<dyn Channel> {
        Arc::new(ObservedChannel { inner, observer })
    }
}

#[async_trait]
impl Channel for ObservedChannel {
    fn kind(&self) -> ChannelKind {
        self.inner.kind()
    }

    async fn connect(&self) -> anyhow::Result<()> {
        self.inner.connect().await
    }

    async fn disconnect(&self) -> anyhow::Result<()> {
        self.inner.disconnect().await
    }

    async fn logout(&self) -> anyhow::Result<()> {
        self.inner.logout().await
    }

    fn message_id(&self, key: &str) -> String {
        self.inner.message_id(key)
    }

    async fn send(&self, id: &str, action: Outbound) -> Result<(), SendError> {
        // The action is moved into the network; keep a copy only if somebody will see it.
        let report = self.observer.bus.listening().then(|| action.clone());
        self.inner.send(id, action).await?;
        match report {
            Some(action) => self.observer.sent(id, &action),
            None => {
                self.observer.metrics.events_out.inc();
            }
        }
        Ok(())
    }

    async fn download_media(&self, handle: &str) -> Result<Vec<u8>, SendError> {
        self.inner.download_media(handle).await
    }
}
