//! A channel that never connects: a session's network kind and message
//! ids, for sandboxed runs (`purr replay`) that must give plugins the ids
//! the real channel would and must never reach the network.

use async_trait::async_trait;

use super::{Channel, Outbound, SendError, sim, whatsapp};
use crate::config::ChannelKind;

/// Stands in for `session`'s channel of kind `kind`.
pub struct Detached {
    kind: ChannelKind,
    session: String,
}

impl Detached {
    pub fn new(kind: ChannelKind, session: &str) -> Self {
        Detached {
            kind,
            session: session.to_string(),
        }
    }

    fn refuse(&self, action: &'static str) -> SendError {
        SendError::Unsupported {
            channel: "detached",
            action,
        }
    }
}

#[async_trait]
impl Channel for Detached {
    fn kind(&self) -> ChannelKind {
        self.kind
    }

    async fn connect(&self) -> anyhow::Result<()> {
        anyhow::bail!("a detached channel does not connect")
    }

    async fn disconnect(&self) -> anyhow::Result<()> {
        Ok(())
    }

    async fn logout(&self) -> anyhow::Result<()> {
        anyhow::bail!("a detached channel does not log out")
    }

    fn message_id(&self, key: &str) -> String {
        match self.kind {
            ChannelKind::Sim => sim::message_id(key),
            ChannelKind::Whatsapp => whatsapp::message_id(&self.session, key),
        }
    }

    async fn send(&self, _id: &str, action: Outbound) -> Result<(), SendError> {
        Err(self.refuse(action.kind()))
    }

    async fn download_media(&self, _handle: &str) -> Result<Vec<u8>, SendError> {
        Err(self.refuse("download-media"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_ids_are_the_real_channels() {
        assert_eq!(
            Detached::new(ChannelKind::Sim, "s").message_id("j4.0"),
            sim::message_id("j4.0")
        );
        assert_eq!(
            Detached::new(ChannelKind::Whatsapp, "s").message_id("j4.0"),
            whatsapp::message_id("s", "j4.0")
        );
        assert_ne!(
            Detached::new(ChannelKind::Whatsapp, "s").message_id("j4.0"),
            Detached::new(ChannelKind::Whatsapp, "t").message_id("j4.0"),
            "WhatsApp ids depend on the session"
        );
    }
}
