//! Protocol events → channel events (being written).
