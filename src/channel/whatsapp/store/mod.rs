//! whatsapp-rust's storage traits on purr's database (being written).
