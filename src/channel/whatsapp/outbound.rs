//! Outbound actions → client calls (being written).
