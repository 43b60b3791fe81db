//! Tests of [`WhatsappStore`] on a real database (purr's `Store`, migrated:
//! SQLite, or PostgreSQL with `PURR_TEST_DB=postgres`, see
//! `crate::store::testing`): round trips per trait group, a differential run
//! against wacore's reference `InMemoryBackend`, isolation of two sessions
//! sharing one database, `wipe`, batches crossing the statement chunk size
//! and repeating keys, and corrupt rows surfacing as errors.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use whatsapp_rust::wacore::appstate::hash::HashState;
use whatsapp_rust::wacore::appstate::processor::AppStateMutationMAC;
use whatsapp_rust::wacore::store::device::DEVICE_PROPS;
use whatsapp_rust::wacore::store::error::StoreError;
use whatsapp_rust::wacore::store::traits::*;
use whatsapp_rust::wacore::store::{Device, InMemoryBackend};
use whatsapp_rust::wacore::time::now_secs;

use super::{TABLES, WhatsappStore};
use crate::store::tests::temp_store;
use crate::store::{Store, testing};
use crate::with_db;

/// Where a test's database lives, to open it again after closing it: a data
/// dir (kept by the temp dir guard) or a PostgreSQL database's URL.
enum Reopen {
    Sqlite { path: PathBuf, _dir: tempfile::TempDir },
    Postgres(String),
}

impl Reopen {
    async fn open(&self) -> Store {
        match self {
            Reopen::Sqlite { path, .. } => Store::open(path).await.unwrap(),
            Reopen::Postgres(url) => Store::open_url(url).await.unwrap(),
        }
    }
}

/// A fresh database, as [`temp_store`], that can be opened again.
async fn reopenable_db() -> (Store, Reopen) {
    let reopen = if testing::postgres_wanted() {
        Reopen::Postgres(testing::fresh_pg_database().await.unwrap())
    } else {
        let dir = tempfile::tempdir().unwrap();
        Reopen::Sqlite {
            path: dir.path().join("data"),
            _dir: dir,
        }
    };
    (reopen.open().await, reopen)
}

fn wa(store: &Store, session: &str) -> WhatsappStore {
    WhatsappStore::new(store, session)
}

fn mac(index: u8, value: u8) -> AppStateMutationMAC {
    AppStateMutationMAC {
        index_mac: vec![index; 32],
        value_mac: vec![value; 32],
    }
}

fn lid(lid: &str, pn: &str, updated_at: i64) -> LidPnMappingEntry {
    LidPnMappingEntry {
        lid: lid.into(),
        phone_number: pn.into(),
        created_at: 100,
        updated_at,
        learning_source: "usync".into(),
    }
}

fn secret(chat: &str, msg_id: &str, byte: u8, expires_at: i64, message_ts: i64) -> MsgSecretEntry {
    MsgSecretEntry {
        chat: chat.into(),
        sender: "9@lid".into(),
        msg_id: msg_id.into(),
        secret: [byte; 32],
        expires_at,
        message_ts,
    }
}

fn device_list(user: &str, devices: &[u32], timestamp: i64) -> DeviceListRecord {
    DeviceListRecord {
        user: user.into(),
        devices: devices
            .iter()
            .map(|&d| DeviceInfo::new(d, Some(d + 10)).with_hosting(d == 99))
            .collect(),
        timestamp,
        phash: Some(format!("2:{user}")),
        raw_id: Some(7),
    }
}

/// Rows of `session` in each `wa_` table, for the tables that have any.
async fn row_counts(ws: &WhatsappStore, session: &str) -> BTreeMap<&'static str, i64> {
    let mut counts = BTreeMap::new();
    for table in TABLES {
        let n: i64 = with_db!(&ws.db, |pool| sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT count(*) FROM {table} WHERE session = $1"
        )))
        .bind(session)
        .fetch_one(pool)
        .await)
        .unwrap();
        if n > 0 {
            counts.insert(*table, n);
        }
    }
    counts
}

// --- Round trips per trait group ---

#[tokio::test]
async fn signal_round_trips() {
    let (db, _dir) = temp_store().await;
    let s = wa(&db, "a");

    // Identities.
    assert_eq!(s.load_identity("1@s.whatsapp.net").await.unwrap(), None);
    s.put_identity("1@s.whatsapp.net", [1; 32]).await.unwrap();
    s.put_identity("1@s.whatsapp.net", [2; 32]).await.unwrap();
    s.put_identities_batch(&[("2:3@lid".into(), [3; 32]), ("4@lid".into(), [4; 32])])
        .await
        .unwrap();
    assert_eq!(s.load_identity("1@s.whatsapp.net").await.unwrap(), Some([2; 32]));
    assert_eq!(s.load_identity("2:3@lid").await.unwrap(), Some([3; 32]));
    s.delete_identity("1@s.whatsapp.net").await.unwrap();
    assert_eq!(s.load_identity("1@s.whatsapp.net").await.unwrap(), None);
    assert_eq!(s.load_identity("4@lid").await.unwrap(), Some([4; 32]));

    // Sessions.
    assert!(!s.has_session("5@lid").await.unwrap());
    s.put_session("5@lid", b"ratchet-1").await.unwrap();
    s.put_sessions_batch(&[
        ("5@lid".into(), Bytes::from_static(b"ratchet-2")),
        ("6:1@lid".into(), Bytes::from_static(b"other")),
    ])
    .await
    .unwrap();
    assert!(s.has_session("5@lid").await.unwrap());
    assert_eq!(
        s.get_session("5@lid").await.unwrap().as_deref(),
        Some(&b"ratchet-2"[..])
    );
    s.delete_session("5@lid").await.unwrap();
    assert!(!s.has_session("5@lid").await.unwrap());
    assert_eq!(s.get_session("5@lid").await.unwrap(), None);

    // Signal state per user: sessions `6:1@lid`, identities `2:3@lid`, `4@lid`.
    for (user, expected) in [
        ("6", true),
        ("2", true),
        ("4", true),
        ("5", false),
        ("", false),
        ("40", false),
    ] {
        assert_eq!(
            s.has_signal_state_for_user(user).await.unwrap(),
            expected,
            "user {user:?}"
        );
    }

    // Prekeys.
    assert_eq!(s.get_max_prekey_id().await.unwrap(), 0);
    s.store_prekey(7, b"pk7", false).await.unwrap();
    s.store_prekeys_batch(
        &[(9, Bytes::from_static(b"pk9")), (8, Bytes::from_static(b"pk8"))],
        false,
    )
    .await
    .unwrap();
    assert_eq!(s.get_max_prekey_id().await.unwrap(), 9);
    assert_eq!(s.load_prekey(8).await.unwrap().as_deref(), Some(&b"pk8"[..]));
    assert_eq!(s.load_prekey(1).await.unwrap(), None);
    let loaded = s.load_prekeys_batch(&[9, 1, 7]).await.unwrap();
    assert_eq!(
        loaded,
        vec![(9, Bytes::from_static(b"pk9")), (7, Bytes::from_static(b"pk7"))]
    );
    s.remove_prekey(9).await.unwrap();
    // Marking uploaded never resurrects a removed key.
    s.mark_prekeys_uploaded(&[7, 9]).await.unwrap();
    assert_eq!(s.load_prekey(9).await.unwrap(), None);
    assert_eq!(s.get_max_prekey_id().await.unwrap(), 8);
    let uploaded: Vec<(i64, bool)> = with_db!(&s.db, |pool| sqlx::query_as(
        "SELECT id, uploaded FROM wa_prekeys WHERE session = 'a' ORDER BY id"
    )
    .fetch_all(pool)
    .await)
    .unwrap();
    assert_eq!(uploaded, vec![(7, true), (8, false)]);
    s.store_prekey(u32::MAX, b"top", true).await.unwrap();
    assert_eq!(s.get_max_prekey_id().await.unwrap(), u32::MAX);

    // Signed prekeys.
    assert_eq!(s.load_signed_prekey(1).await.unwrap(), None);
    s.store_signed_prekey(2, b"spk2").await.unwrap();
    s.store_signed_prekey(1, b"spk1").await.unwrap();
    s.store_signed_prekey(2, b"spk2'").await.unwrap();
    assert_eq!(
        s.load_all_signed_prekeys().await.unwrap(),
        vec![(1, b"spk1".to_vec()), (2, b"spk2'".to_vec())]
    );
    s.remove_signed_prekey(1).await.unwrap();
    assert_eq!(s.load_signed_prekey(1).await.unwrap(), None);
    assert_eq!(s.load_signed_prekey(2).await.unwrap(), Some(b"spk2'".to_vec()));

    // Sender keys.
    s.put_sender_key("g@g.us::1@lid", b"sk1").await.unwrap();
    s.put_sender_keys_batch(&[
        ("g@g.us::1@lid".into(), Bytes::from_static(b"sk1'")),
        ("g@g.us::2@lid".into(), Bytes::from_static(b"sk2")),
    ])
    .await
    .unwrap();
    assert_eq!(s.get_sender_key("g@g.us::1@lid").await.unwrap(), Some(b"sk1'".to_vec()));
    s.delete_sender_key("g@g.us::1@lid").await.unwrap();
    assert_eq!(s.get_sender_key("g@g.us::1@lid").await.unwrap(), None);
    assert_eq!(s.get_sender_key("g@g.us::2@lid").await.unwrap(), Some(b"sk2".to_vec()));
}

#[tokio::test]
async fn app_sync_round_trips() {
    let (db, _dir) = temp_store().await;
    let s = wa(&db, "a");

    // Sync keys: the latest is the one set last, even if it existed before.
    assert_eq!(s.get_latest_sync_key_id().await.unwrap(), None);
    assert!(s.get_sync_key(b"k1").await.unwrap().is_none());
    let key = |b: u8| AppStateSyncKey {
        key_data: vec![b; 32],
        fingerprint: vec![b, b],
        timestamp: i64::from(b) * 1000,
    };
    s.set_sync_key(b"k1", key(1)).await.unwrap();
    s.set_sync_key(b"k2", key(2)).await.unwrap();
    assert_eq!(s.get_latest_sync_key_id().await.unwrap(), Some(b"k2".to_vec()));
    s.set_sync_key(b"k1", key(3)).await.unwrap();
    assert_eq!(s.get_latest_sync_key_id().await.unwrap(), Some(b"k1".to_vec()));
    let got = s.get_sync_key(b"k1").await.unwrap().unwrap();
    assert_eq!(
        (got.key_data, got.fingerprint, got.timestamp),
        (vec![3; 32], vec![3, 3], 3000)
    );

    // Versions: the default when absent, the whole state when set.
    let empty = s.get_version("regular").await.unwrap();
    assert_eq!(
        (empty.version, empty.hash, empty.index_value_map.len()),
        (0, [0; 128], 0)
    );
    let mut state = HashState {
        version: 42,
        hash: [7; 128],
        ..HashState::default()
    };
    state.index_value_map.insert("idx".into(), vec![1, 2, 3]);
    state.mac_mismatch_fatal = true;
    s.set_version("regular", state.clone()).await.unwrap();
    let got = s.get_version("regular").await.unwrap();
    assert_eq!(
        (got.version, got.hash, got.index_value_map, got.mac_mismatch_fatal),
        (42, [7; 128], state.index_value_map.clone(), true)
    );
    assert_eq!(s.get_version("critical_block").await.unwrap().version, 0);

    // Mutation MACs, per collection.
    s.put_mutation_macs("regular", 1, &[mac(1, 10), mac(2, 20)])
        .await
        .unwrap();
    s.put_mutation_macs("regular", 2, &[mac(2, 21)]).await.unwrap();
    s.put_mutation_macs("critical", 1, &[mac(1, 99)]).await.unwrap();
    assert_eq!(
        s.get_mutation_mac("regular", &[1; 32]).await.unwrap(),
        Some(vec![10; 32])
    );
    assert_eq!(
        s.get_mutation_mac("regular", &[2; 32]).await.unwrap(),
        Some(vec![21; 32])
    );
    assert_eq!(s.get_mutation_mac("regular", &[3; 32]).await.unwrap(), None);
    let version: i64 = with_db!(&s.db, |pool| {
        sqlx::query_scalar(
        "SELECT version FROM wa_app_state_mutation_macs WHERE session = 'a' AND name = 'regular' AND index_mac = $1",
    )
    .bind(vec![2u8; 32])
    .fetch_one(pool)
    .await
    })
    .unwrap();
    assert_eq!(version, 2);
    let batch = s
        .get_mutation_macs("regular", &[[1; 32], [2; 32], [3; 32]])
        .await
        .unwrap();
    assert_eq!(batch.len(), 2);
    assert_eq!(
        (batch[&[1; 32]].clone(), batch[&[2; 32]].clone()),
        (vec![10; 32], vec![21; 32])
    );
    s.delete_mutation_macs("regular", &[vec![1; 32], vec![5; 32]])
        .await
        .unwrap();
    assert_eq!(s.get_mutation_mac("regular", &[1; 32]).await.unwrap(), None);
    assert_eq!(
        s.get_mutation_mac("critical", &[1; 32]).await.unwrap(),
        Some(vec![99; 32])
    );
    s.clear_mutation_macs("regular").await.unwrap();
    assert_eq!(s.get_mutation_mac("regular", &[2; 32]).await.unwrap(), None);
    assert_eq!(
        s.get_mutation_mac("critical", &[1; 32]).await.unwrap(),
        Some(vec![99; 32])
    );
}

#[tokio::test]
async fn protocol_round_trips() {
    let (db, _dir) = temp_store().await;
    let s = wa(&db, "a");

    // Sender-key devices.
    s.set_sender_key_status("g1", &[("d1", true), ("d2", false)])
        .await
        .unwrap();
    s.set_sender_key_status("g1", &[("d2", true)]).await.unwrap();
    s.set_sender_key_status("g2", &[("d1", false), ("d3", true)])
        .await
        .unwrap();
    assert_eq!(
        s.get_sender_key_devices("g1").await.unwrap(),
        vec![("d1".into(), true), ("d2".into(), true)]
    );
    s.delete_sender_key_device_rows(&["d1"]).await.unwrap();
    assert_eq!(s.get_sender_key_devices("g1").await.unwrap(), vec![("d2".into(), true)]);
    assert_eq!(s.get_sender_key_devices("g2").await.unwrap(), vec![("d3".into(), true)]);
    s.clear_sender_key_devices("g1").await.unwrap();
    assert!(s.get_sender_key_devices("g1").await.unwrap().is_empty());
    assert_eq!(s.get_sender_key_devices("g2").await.unwrap().len(), 1);
    s.clear_all_sender_key_devices().await.unwrap();
    assert!(s.get_sender_key_devices("g2").await.unwrap().is_empty());

    // LID mappings, both directions.
    assert!(s.get_lid_mapping("100").await.unwrap().is_none());
    assert!(s.get_pn_mapping("555").await.unwrap().is_none());
    s.put_lid_mapping(&lid("100", "555", 1)).await.unwrap();
    assert_eq!(s.get_lid_mapping("100").await.unwrap().unwrap().phone_number, "555");
    assert_eq!(s.get_pn_mapping("555").await.unwrap().unwrap().lid, "100");
    // The LID moves to another number: the old number no longer maps to it.
    s.put_lid_mapping(&lid("100", "556", 2)).await.unwrap();
    assert!(s.get_pn_mapping("555").await.unwrap().is_none());
    assert_eq!(s.get_pn_mapping("556").await.unwrap().unwrap().lid, "100");
    // A number with two LIDs maps to the most recent one; equal times, the last written.
    s.put_lid_mappings(&[lid("200", "556", 5), lid("300", "777", 1)])
        .await
        .unwrap();
    assert_eq!(s.get_pn_mapping("556").await.unwrap().unwrap().lid, "200");
    s.put_lid_mapping(&lid("100", "556", 5)).await.unwrap();
    assert_eq!(s.get_pn_mapping("556").await.unwrap().unwrap().lid, "100");
    s.put_lid_mapping(&lid("200", "556", 5)).await.unwrap();
    assert_eq!(s.get_pn_mapping("556").await.unwrap().unwrap().lid, "200");
    let all = s.get_all_lid_mappings().await.unwrap();
    let all: Vec<_> = all.iter().map(|e| (e.lid.as_str(), e.phone_number.as_str())).collect();
    assert_eq!(all, vec![("100", "556"), ("200", "556"), ("300", "777")]);
    let e = s.get_lid_mapping("300").await.unwrap().unwrap();
    assert_eq!(
        (e.created_at, e.updated_at, e.learning_source.as_str()),
        (100, 1, "usync")
    );

    // Base keys.
    assert!(!s.has_same_base_key("a@lid", "m1", b"bk").await.unwrap());
    s.save_base_key("a@lid", "m1", b"bk").await.unwrap();
    assert!(s.has_same_base_key("a@lid", "m1", b"bk").await.unwrap());
    assert!(!s.has_same_base_key("a@lid", "m1", b"other").await.unwrap());
    assert!(!s.has_same_base_key("a@lid", "m2", b"bk").await.unwrap());
    s.delete_base_key("a@lid", "m1").await.unwrap();
    assert!(!s.has_same_base_key("a@lid", "m1", b"bk").await.unwrap());

    // Device lists.
    assert!(s.get_devices("u1").await.unwrap().is_none());
    s.update_device_list(device_list("u1", &[0, 1], 10)).await.unwrap();
    s.update_device_lists(vec![device_list("u1", &[0, 99], 11), device_list("u2", &[0], 12)])
        .await
        .unwrap();
    let got = s.get_devices("u1").await.unwrap().unwrap();
    assert_eq!(
        serde_json::to_value(&got).unwrap(),
        serde_json::to_value(device_list("u1", &[0, 99], 11)).unwrap()
    );
    assert!(got.devices[1].is_hosted);
    s.delete_devices("u1").await.unwrap();
    assert!(s.get_devices("u1").await.unwrap().is_none());
    assert_eq!(s.get_devices("u2").await.unwrap().unwrap().timestamp, 12);

    // Group metadata (persisted, unlike the trait's default).
    assert_eq!(s.get_group_metadata("g1").await.unwrap(), None);
    s.put_group_metadata("g1", b"v1").await.unwrap();
    s.put_group_metadata("g1", b"v2").await.unwrap();
    assert_eq!(s.get_group_metadata("g1").await.unwrap(), Some(b"v2".to_vec()));
    s.delete_group_metadata("g1").await.unwrap();
    assert_eq!(s.get_group_metadata("g1").await.unwrap(), None);

    // Sent messages: a take consumes.
    s.store_sent_message("c", "m1", b"payload").await.unwrap();
    assert_eq!(s.take_sent_message("c", "m1").await.unwrap(), Some(b"payload".to_vec()));
    assert_eq!(s.take_sent_message("c", "m1").await.unwrap(), None);
    s.store_sent_message("c", "m2", b"p2").await.unwrap();
    assert_eq!(s.delete_expired_sent_messages(now_secs() - 3600).await.unwrap(), 0);
    assert_eq!(s.delete_expired_sent_messages(now_secs() + 3600).await.unwrap(), 1);
    assert_eq!(s.take_sent_message("c", "m2").await.unwrap(), None);

    // Pending inbound (the trait's defaults refuse these).
    assert_eq!(s.get_pending_inbound("c", "s", "i1").await.unwrap(), None);
    s.store_pending_inbound("c", "s", "i1", b"m1").await.unwrap();
    let rows = [
        PendingInboundRow {
            chat: "c",
            sender: "s",
            id: "i1",
            message: b"m1'",
        },
        PendingInboundRow {
            chat: "c",
            sender: "s2",
            id: "i1",
            message: b"m2",
        },
        PendingInboundRow {
            chat: "c",
            sender: "s",
            id: "i3",
            message: b"m3",
        },
    ];
    s.store_pending_inbound_batch(&rows).await.unwrap();
    assert_eq!(
        s.get_pending_inbound("c", "s", "i1").await.unwrap(),
        Some(b"m1'".to_vec())
    );
    assert_eq!(
        s.get_pending_inbound("c", "s2", "i1").await.unwrap(),
        Some(b"m2".to_vec())
    );
    s.delete_pending_inbound("c", "s", "i1").await.unwrap();
    assert_eq!(s.get_pending_inbound("c", "s", "i1").await.unwrap(), None);
    s.delete_pending_inbound_batch(&[PendingInboundKey {
        chat: "c",
        sender: "s2",
        id: "i1",
    }])
    .await
    .unwrap();
    assert_eq!(s.get_pending_inbound("c", "s2", "i1").await.unwrap(), None);
    assert_eq!(s.delete_expired_pending_inbound(now_secs() - 3600).await.unwrap(), 0);
    assert_eq!(s.delete_expired_pending_inbound(now_secs() + 3600).await.unwrap(), 1);
    assert_eq!(s.get_pending_inbound("c", "s", "i3").await.unwrap(), None);
}

#[tokio::test]
async fn tc_tokens_merge_and_expire() {
    let (db, _dir) = temp_store().await;
    let s = wa(&db, "a");
    let get = |jid: &'static str| {
        let s = s.clone();
        async move {
            s.get_tc_token(jid)
                .await
                .unwrap()
                .map(|e| (e.token, e.token_timestamp, e.sender_timestamp))
        }
    };

    // A touch makes a byte-less placeholder, then only moves forward.
    s.touch_tc_token_sender_timestamp("u", 1000).await.unwrap();
    assert_eq!(get("u").await, Some((vec![], 1000, Some(1000))));
    s.touch_tc_token_sender_timestamp("u", 500).await.unwrap();
    assert_eq!(get("u").await, Some((vec![], 1000, Some(1000))));
    // The first real token replaces a placeholder whatever its time; the sender bucket stays.
    s.store_received_tc_token("u", b"t1", 800).await.unwrap();
    assert_eq!(get("u").await, Some((b"t1".to_vec(), 800, Some(1000))));
    // Newer wins; an older one is ignored.
    s.store_received_tc_token("u", b"old", 700).await.unwrap();
    assert_eq!(get("u").await, Some((b"t1".to_vec(), 800, Some(1000))));
    s.store_received_tc_token("u", b"t2", 800).await.unwrap();
    assert_eq!(get("u").await, Some((b"t2".to_vec(), 800, Some(1000))));
    // A touch keeps the token.
    s.touch_tc_token_sender_timestamp("u", 2000).await.unwrap();
    assert_eq!(get("u").await, Some((b"t2".to_vec(), 800, Some(2000))));
    // A touch on a row without sender bucket sets it.
    s.put_tc_token(
        "v",
        &TcTokenEntry {
            token: b"tv".to_vec(),
            token_timestamp: 5,
            sender_timestamp: None,
        },
    )
    .await
    .unwrap();
    s.store_received_tc_token("w", b"tw", 9).await.unwrap();
    assert_eq!(get("w").await, Some((b"tw".to_vec(), 9, None)));
    s.touch_tc_token_sender_timestamp("v", 3).await.unwrap();
    assert_eq!(get("v").await, Some((b"tv".to_vec(), 5, Some(3))));
    assert_eq!(s.get_all_tc_token_jids().await.unwrap(), vec!["u", "v", "w"]);

    // Expiry: a row goes only when neither its token nor its sender bucket is live.
    s.put_tc_token(
        "placeholder",
        &TcTokenEntry {
            token: vec![],
            token_timestamp: 5000,
            sender_timestamp: Some(1),
        },
    )
    .await
    .unwrap();
    // token cutoff 800, sender cutoff 2000: u (token 800 live) stays, v (token 5 dead,
    // sender 3 dead) goes, w (token 9 dead, no sender) goes, the placeholder (no token,
    // sender 1 dead) goes even though its token_timestamp is recent.
    assert_eq!(s.delete_expired_tc_tokens(800, 2000).await.unwrap(), 3);
    assert_eq!(s.get_all_tc_token_jids().await.unwrap(), vec!["u"]);
    // u's sender bucket (2000) keeps it alive past its token.
    assert_eq!(s.delete_expired_tc_tokens(900, 2000).await.unwrap(), 0);
    assert_eq!(s.delete_expired_tc_tokens(900, 2001).await.unwrap(), 1);
    s.delete_tc_token("u").await.unwrap();
    assert!(s.get_all_tc_token_jids().await.unwrap().is_empty());
}

#[tokio::test]
async fn msg_secrets_merge_and_expire() {
    let (db, _dir) = temp_store().await;
    let s = wa(&db, "a");
    let get = |id: &'static str| {
        let s = s.clone();
        async move { s.get_msg_secret_with_ts("c", "9@lid", id).await.unwrap() }
    };

    assert_eq!(get("m").await, None);
    s.put_msg_secret("c", "9@lid", "never", &[1; 32]).await.unwrap();
    assert_eq!(
        s.get_msg_secret("c", "9@lid", "never").await.unwrap(),
        Some(vec![1; 32])
    );
    // Other keys of the triple are other rows.
    assert_eq!(s.get_msg_secret("c", "8@lid", "never").await.unwrap(), None);
    assert_eq!(s.get_msg_secret("d", "9@lid", "never").await.unwrap(), None);

    let stored = s
        .put_msg_secrets(vec![
            secret("c", "m", 2, 100, 50),
            // Same key in one batch: later deadline, later parent time, new secret.
            secret("c", "m", 3, 200, 0),
            secret("c", "short", 4, 10, 0),
        ])
        .await
        .unwrap();
    assert_eq!(stored, 3);
    assert_eq!(get("m").await, Some((vec![3; 32], 50)));
    let expires: i64 = with_db!(&s.db, |pool| sqlx::query_scalar(
        "SELECT expires_at FROM wa_msg_secrets WHERE msg_id = 'm'"
    )
    .fetch_one(pool)
    .await)
    .unwrap();
    assert_eq!(expires, 200);
    // An earlier deadline never shortens the window; an unknown parent time never clobbers.
    s.put_msg_secrets(vec![secret("c", "m", 5, 150, 0)]).await.unwrap();
    assert_eq!(get("m").await, Some((vec![5; 32], 50)));
    s.put_msg_secrets(vec![secret("c", "m", 5, 150, 60)]).await.unwrap();
    assert_eq!(get("m").await, Some((vec![5; 32], 60)));
    // 0 ("never") wins over any deadline, from either side.
    s.put_msg_secrets(vec![secret("c", "short", 4, 0, 0), secret("c", "never", 1, 5, 0)])
        .await
        .unwrap();

    // Expiry: rows whose non-zero deadline is at or before the cutoff.
    assert_eq!(s.delete_expired_msg_secrets(199).await.unwrap(), 0);
    assert_eq!(s.delete_expired_msg_secrets(200).await.unwrap(), 1);
    assert_eq!(get("m").await, None);
    assert!(get("short").await.is_some());
    assert!(get("never").await.is_some());
    assert_eq!(s.delete_expired_msg_secrets(i64::MAX).await.unwrap(), 0);
    assert_eq!(s.put_msg_secrets(vec![]).await.unwrap(), 0);
}

#[tokio::test]
async fn device_survives_reopening_the_database() {
    let (db, reopen) = reopenable_db().await;
    let s = wa(&db, "a");

    // Before the first connect: no device; `create` materializes one, once.
    assert!(!s.exists().await.unwrap());
    assert!(s.load().await.unwrap().is_none());
    let id = s.create().await.unwrap();
    assert!(s.exists().await.unwrap());
    let created = s.load().await.unwrap().unwrap();
    assert_eq!(s.create().await.unwrap(), id);
    let again = s.load().await.unwrap().unwrap();
    assert_eq!(
        again.identity_key.public_key.serialize(),
        created.identity_key.public_key.serialize(),
        "a second create must not replace the device"
    );

    let mut device = Device::new();
    device.pn = Some("15550001111:7@s.whatsapp.net".parse().unwrap());
    device.lid = Some("100000012345678:7@lid".parse().unwrap());
    device.push_name = "purr".into();
    device.registration_id = 4242;
    device.next_pre_key_id = 812;
    device.login_counter = 3;
    device.edge_routing_info = Some(vec![1, 2, 3]);
    device.nct_salt = Some(vec![9; 16]);
    device.lid_migrated = true;
    s.save(&device).await.unwrap();
    db.close().await;

    let db = reopen.open().await;
    let s = wa(&db, "a");
    assert!(s.exists().await.unwrap());
    let loaded = s.load().await.unwrap().unwrap();
    assert_eq!(
        serde_json::to_value(&loaded).unwrap(),
        serde_json::to_value(&device).unwrap()
    );
    assert_eq!(loaded.push_name, "purr");
    assert_eq!(loaded.pn, device.pn);
    assert_eq!(
        loaded.identity_key.private_key.serialize(),
        device.identity_key.private_key.serialize()
    );
    assert_eq!(loaded.signed_pre_key_signature, device.signed_pre_key_signature);
    // The skipped runtime field comes back as wacore's defaults, not empty.
    assert_eq!(*loaded.device_props, *DEVICE_PROPS);
    assert_eq!(s.create().await.unwrap(), id);
}

// --- Against the reference implementation ---

/// Runs one sequence of calls touching every method, logging each result
/// (unordered results sorted) so two backends can be compared line by line.
async fn script(b: &dyn Backend, device: &Device) -> Vec<String> {
    let mut log = Vec::new();
    macro_rules! rec {
        ($call:expr) => {
            log.push(format!(
                "{} => {:?}",
                stringify!($call),
                $call.await.expect(stringify!($call))
            ))
        };
    }
    macro_rules! sorted {
        ($call:expr) => {{
            let mut v = $call.await.expect(stringify!($call));
            v.sort();
            log.push(format!("{} => {:?}", stringify!($call), v));
        }};
    }

    // Signal.
    rec!(b.put_identity("1@s.whatsapp.net", [1; 32]));
    rec!(b.put_identities_batch(&[("1@s.whatsapp.net".into(), [2; 32]), ("2:5@lid".into(), [3; 32])]));
    rec!(b.load_identity("1@s.whatsapp.net"));
    rec!(b.load_identity("3@lid"));
    rec!(b.has_signal_state_for_user("2"));
    rec!(b.has_signal_state_for_user("1"));
    rec!(b.has_signal_state_for_user("7"));
    rec!(b.delete_identity("2:5@lid"));
    rec!(b.has_signal_state_for_user("2"));
    rec!(b.put_session("7@lid", b"s7"));
    rec!(b.put_sessions_batch(&[
        ("7@lid".into(), Bytes::from_static(b"s7'")),
        ("8:1@lid".into(), Bytes::from_static(b"s8")),
    ]));
    rec!(b.get_session("7@lid"));
    rec!(b.has_session("8:1@lid"));
    rec!(b.has_signal_state_for_user("8"));
    rec!(b.delete_session("7@lid"));
    rec!(b.has_session("7@lid"));
    rec!(b.get_session("7@lid"));
    rec!(b.get_max_prekey_id());
    rec!(b.store_prekey(3, b"p3", false));
    rec!(b.store_prekeys_batch(&[(5, Bytes::from_static(b"p5")), (4, Bytes::from_static(b"p4"))], true));
    rec!(b.mark_prekeys_uploaded(&[3, 6]));
    rec!(b.load_prekey(6));
    rec!(b.load_prekeys_batch(&[5, 6, 3]));
    rec!(b.get_max_prekey_id());
    rec!(b.remove_prekey(5));
    rec!(b.get_max_prekey_id());
    rec!(b.store_signed_prekey(1, b"sp1"));
    rec!(b.store_signed_prekey(1, b"sp1'"));
    rec!(b.store_signed_prekey(2, b"sp2"));
    rec!(b.load_signed_prekey(1));
    sorted!(b.load_all_signed_prekeys());
    rec!(b.remove_signed_prekey(2));
    sorted!(b.load_all_signed_prekeys());
    rec!(b.put_sender_key("g::a", b"k"));
    rec!(b.put_sender_keys_batch(&[
        ("g::a".into(), Bytes::from_static(b"k'")),
        ("g::b".into(), Bytes::new())
    ]));
    rec!(b.get_sender_key("g::a"));
    rec!(b.get_sender_key("g::b"));
    rec!(b.delete_sender_key("g::a"));
    rec!(b.get_sender_key("g::a"));

    // App state.
    rec!(b.get_latest_sync_key_id());
    rec!(b.get_sync_key(b"k"));
    for (id, byte) in [(&b"k1"[..], 1u8), (b"k2", 2), (b"k1", 3)] {
        let key = AppStateSyncKey {
            key_data: vec![byte; 4],
            fingerprint: vec![byte],
            timestamp: i64::from(byte),
        };
        rec!(b.set_sync_key(id, key));
        rec!(b.get_latest_sync_key_id());
    }
    rec!(b.get_sync_key(b"k1"));
    rec!(b.get_version("regular"));
    let mut state = HashState {
        version: 9,
        hash: [4; 128],
        ..HashState::default()
    };
    state.index_value_map.insert("i".into(), vec![1]);
    rec!(b.set_version("regular", state));
    rec!(b.get_version("regular"));
    rec!(b.put_mutation_macs("regular", 1, &[mac(1, 1), mac(2, 2), mac(3, 3)]));
    rec!(b.put_mutation_macs("regular", 2, &[mac(1, 11)]));
    rec!(b.put_mutation_macs("other", 1, &[mac(1, 7)]));
    rec!(b.get_mutation_mac("regular", &[1; 32]));
    rec!(b.get_mutation_mac("regular", &[9; 32]));
    log.push(format!(
        "get_mutation_macs => {:?}",
        b.get_mutation_macs("regular", &[[1; 32], [3; 32], [9; 32]])
            .await
            .unwrap()
            .into_iter()
            .collect::<BTreeMap<_, _>>()
    ));
    rec!(b.delete_mutation_macs("regular", &[vec![3; 32]]));
    rec!(b.get_mutation_mac("regular", &[3; 32]));
    rec!(b.clear_mutation_macs("regular"));
    rec!(b.get_mutation_mac("regular", &[1; 32]));
    rec!(b.get_mutation_mac("other", &[1; 32]));

    // Protocol.
    rec!(b.set_sender_key_status("g1", &[("d1", true), ("d2", false)]));
    rec!(b.set_sender_key_status("g2", &[("d1", false), ("d3", true)]));
    rec!(b.set_sender_key_status("g1", &[("d2", true)]));
    sorted!(b.get_sender_key_devices("g1"));
    rec!(b.delete_sender_key_device_rows(&["d1"]));
    sorted!(b.get_sender_key_devices("g1"));
    sorted!(b.get_sender_key_devices("g2"));
    rec!(b.clear_sender_key_devices("g2"));
    sorted!(b.get_sender_key_devices("g2"));
    sorted!(b.get_sender_key_devices("g1"));
    rec!(b.clear_all_sender_key_devices());
    sorted!(b.get_sender_key_devices("g1"));
    rec!(b.get_lid_mapping("100"));
    rec!(b.get_pn_mapping("555"));
    rec!(b.put_lid_mapping(&lid("100", "555", 1)));
    rec!(b.put_lid_mappings(&[lid("200", "666", 2), lid("100", "556", 3)]));
    rec!(b.get_lid_mapping("100"));
    rec!(b.get_pn_mapping("555"));
    rec!(b.get_pn_mapping("556"));
    rec!(b.put_lid_mapping(&lid("300", "556", 4)));
    rec!(b.get_pn_mapping("556"));
    log.push(format!("get_all_lid_mappings => {:?}", {
        let mut all = b.get_all_lid_mappings().await.unwrap();
        all.sort_by(|x, y| x.lid.cmp(&y.lid));
        all
    }));
    rec!(b.save_base_key("a", "m", b"bk"));
    rec!(b.has_same_base_key("a", "m", b"bk"));
    rec!(b.has_same_base_key("a", "m", b"xx"));
    rec!(b.delete_base_key("a", "m"));
    rec!(b.has_same_base_key("a", "m", b"bk"));
    rec!(b.update_device_list(device_list("u1", &[0, 1], 1)));
    rec!(b.update_device_lists(vec![device_list("u1", &[0, 99], 2), device_list("u2", &[3], 3)]));
    rec!(b.get_devices("u1"));
    rec!(b.get_devices("u2"));
    rec!(b.delete_devices("u2"));
    rec!(b.get_devices("u2"));
    rec!(b.put_group_metadata("g", b"meta"));
    rec!(b.get_group_metadata("g"));
    rec!(b.delete_group_metadata("g"));
    rec!(b.get_group_metadata("g"));
    rec!(b.touch_tc_token_sender_timestamp("t1", 100));
    rec!(b.touch_tc_token_sender_timestamp("t1", 50));
    rec!(b.get_tc_token("t1"));
    rec!(b.store_received_tc_token("t1", b"tok", 20));
    rec!(b.store_received_tc_token("t1", b"stale", 10));
    rec!(b.get_tc_token("t1"));
    rec!(b.store_received_tc_token("t2", b"tok2", 300));
    rec!(b.put_tc_token(
        "t3",
        &TcTokenEntry {
            token: b"x".to_vec(),
            token_timestamp: 1,
            sender_timestamp: Some(2),
        }
    ));
    sorted!(b.get_all_tc_token_jids());
    rec!(b.delete_expired_tc_tokens(25, 60));
    sorted!(b.get_all_tc_token_jids());
    rec!(b.delete_tc_token("t1"));
    sorted!(b.get_all_tc_token_jids());
    rec!(b.store_sent_message("c", "m1", b"p1"));
    rec!(b.store_sent_message("c", "m2", b"p2"));
    rec!(b.take_sent_message("c", "m1"));
    rec!(b.take_sent_message("c", "m1"));
    rec!(b.delete_expired_sent_messages(now_secs() - 60));
    rec!(b.delete_expired_sent_messages(now_secs() + 60));
    rec!(b.take_sent_message("c", "m2"));
    rec!(b.store_pending_inbound("c", "s", "1", b"one"));
    rec!(b.store_pending_inbound_batch(&[
        PendingInboundRow {
            chat: "c",
            sender: "s",
            id: "2",
            message: b"two",
        },
        PendingInboundRow {
            chat: "c",
            sender: "t",
            id: "1",
            message: b"other sender",
        },
    ]));
    rec!(b.get_pending_inbound("c", "s", "1"));
    rec!(b.get_pending_inbound("c", "t", "1"));
    rec!(b.delete_pending_inbound("c", "s", "1"));
    rec!(b.get_pending_inbound("c", "s", "1"));
    rec!(b.delete_pending_inbound_batch(&[PendingInboundKey {
        chat: "c",
        sender: "t",
        id: "1",
    }]));
    rec!(b.get_pending_inbound("c", "t", "1"));
    rec!(b.delete_expired_pending_inbound(now_secs() - 60));
    rec!(b.delete_expired_pending_inbound(now_secs() + 60));
    rec!(b.get_pending_inbound("c", "s", "2"));

    // Message secrets.
    rec!(b.put_msg_secret("c", "9@lid", "a", &[1; 32]));
    rec!(b.put_msg_secrets(vec![
        secret("c", "b", 2, 100, 5),
        secret("c", "b", 3, 50, 0),
        secret("c", "a", 4, 70, 8),
        secret("c", "d", 6, 300, 1),
    ]));
    rec!(b.get_msg_secret_with_ts("c", "9@lid", "a"));
    rec!(b.get_msg_secret_with_ts("c", "9@lid", "b"));
    rec!(b.get_msg_secret("c", "9@lid", "d"));
    rec!(b.delete_expired_msg_secrets(100));
    rec!(b.get_msg_secret("c", "9@lid", "a"));
    rec!(b.get_msg_secret("c", "9@lid", "b"));
    rec!(b.get_msg_secret("c", "9@lid", "d"));
    rec!(b.delete_expired_msg_secrets(300));
    rec!(b.get_msg_secret("c", "9@lid", "d"));

    // Device: `create` makes random keys, so compare what can be compared.
    rec!(b.exists());
    log.push(format!("load before create => {}", b.load().await.unwrap().is_some()));
    b.create().await.unwrap();
    rec!(b.exists());
    log.push(format!("load after create => {}", b.load().await.unwrap().is_some()));
    // The same device for both backends (`Device::new` draws random keys).
    rec!(b.save(device));
    log.push(format!(
        "load => {}",
        serde_json::to_string(&b.load().await.unwrap().unwrap()).unwrap()
    ));
    log
}

#[tokio::test]
async fn behaves_like_the_in_memory_backend() {
    let (db, _dir) = temp_store().await;
    let mut device = Device::new();
    device.push_name = "same".into();
    device.pn = Some("1555:2@s.whatsapp.net".parse().unwrap());
    let ours = script(&wa(&db, "a"), &device).await;
    let reference = script(&InMemoryBackend::new(), &device).await;
    assert!(ours.len() > 140, "the script ran: {} calls", ours.len());
    for (i, (o, r)) in ours.iter().zip(&reference).enumerate() {
        assert_eq!(o, r, "call {i} differs");
    }
    assert_eq!(ours.len(), reference.len());
}

/// Batches that carry one key more than once, then every read of those keys:
/// a batch must end as writing its items one by one would (PostgreSQL
/// refuses a key twice in one upsert statement, so ours dedupes them).
async fn repeated_keys_script(b: &dyn Backend) -> Vec<String> {
    let mut log = Vec::new();
    macro_rules! rec {
        ($call:expr) => {
            log.push(format!(
                "{} => {:?}",
                stringify!($call),
                $call.await.expect(stringify!($call))
            ))
        };
    }
    rec!(b.put_identities_batch(&[
        ("1@lid".into(), [1; 32]),
        ("2@lid".into(), [2; 32]),
        ("1@lid".into(), [3; 32])
    ]));
    rec!(b.load_identity("1@lid"));
    rec!(b.load_identity("2@lid"));
    rec!(b.put_sessions_batch(&[
        ("1@lid".into(), Bytes::from_static(b"a")),
        ("1@lid".into(), Bytes::from_static(b"b")),
    ]));
    rec!(b.get_session("1@lid"));
    rec!(b.put_sender_keys_batch(&[
        ("g::1".into(), Bytes::from_static(b"a")),
        ("g::2".into(), Bytes::from_static(b"x")),
        ("g::1".into(), Bytes::from_static(b"b")),
    ]));
    rec!(b.get_sender_key("g::1"));
    rec!(b.store_prekeys_batch(
        &[
            (1, Bytes::from_static(b"a")),
            (2, Bytes::from_static(b"x")),
            (1, Bytes::from_static(b"b"))
        ],
        false
    ));
    rec!(b.load_prekeys_batch(&[1, 2]));
    rec!(b.put_mutation_macs("regular", 1, &[mac(1, 1), mac(2, 2), mac(1, 3)]));
    rec!(b.get_mutation_mac("regular", &[1; 32]));
    rec!(b.get_mutation_mac("regular", &[2; 32]));
    rec!(b.set_sender_key_status("g", &[("d1", true), ("d2", true), ("d1", false)]));
    log.push(format!("get_sender_key_devices => {:?}", {
        let mut v = b.get_sender_key_devices("g").await.unwrap();
        v.sort();
        v
    }));
    // Equal update times: the last write of a number wins, within a batch too.
    rec!(b.put_lid_mappings(&[
        lid("100", "555", 5),
        lid("200", "555", 5),
        lid("100", "555", 5),
        lid("300", "777", 1),
        lid("300", "778", 2),
    ]));
    rec!(b.get_pn_mapping("555"));
    rec!(b.get_pn_mapping("777"));
    rec!(b.get_pn_mapping("778"));
    rec!(b.get_lid_mapping("300"));
    rec!(b.update_device_lists(vec![
        device_list("u1", &[0], 1),
        device_list("u2", &[0], 1),
        device_list("u1", &[0, 1], 2)
    ]));
    rec!(b.get_devices("u1"));
    rec!(b.store_pending_inbound_batch(&[
        PendingInboundRow {
            chat: "c",
            sender: "s",
            id: "1",
            message: b"a",
        },
        PendingInboundRow {
            chat: "c",
            sender: "s",
            id: "1",
            message: b"b",
        },
    ]));
    rec!(b.get_pending_inbound("c", "s", "1"));
    rec!(b.put_msg_secrets(vec![
        secret("c", "m", 1, 100, 5),
        secret("c", "n", 7, 0, 0),
        secret("c", "m", 2, 50, 0),
        secret("c", "m", 3, 300, 9),
        secret("c", "n", 8, 40, 0),
        secret("c", "o", 4, 10, 0),
        secret("c", "o", 5, 20, 3),
    ]));
    rec!(b.get_msg_secret_with_ts("c", "9@lid", "m"));
    rec!(b.get_msg_secret_with_ts("c", "9@lid", "n"));
    rec!(b.get_msg_secret_with_ts("c", "9@lid", "o"));
    // Deadlines: m 300, n never, o 20.
    rec!(b.delete_expired_msg_secrets(299));
    rec!(b.get_msg_secret("c", "9@lid", "o"));
    rec!(b.delete_expired_msg_secrets(300));
    rec!(b.get_msg_secret("c", "9@lid", "m"));
    rec!(b.get_msg_secret("c", "9@lid", "n"));
    log
}

#[tokio::test]
async fn batches_repeating_a_key_behave_like_the_in_memory_backend() {
    let (db, _dir) = temp_store().await;
    let ours = repeated_keys_script(&wa(&db, "a")).await;
    let reference = repeated_keys_script(&InMemoryBackend::new()).await;
    for (i, (o, r)) in ours.iter().zip(&reference).enumerate() {
        assert_eq!(o, r, "call {i} differs");
    }
    assert_eq!(ours.len(), reference.len());
    // One row per key (of the message secrets, only n's is left).
    let counts = row_counts(&wa(&db, "a"), "a").await;
    assert_eq!(
        (
            counts["wa_identities"],
            counts["wa_prekeys"],
            counts["wa_lid_mappings"],
            counts["wa_device_lists"],
            counts["wa_msg_secrets"]
        ),
        (2, 2, 3, 2, 1)
    );
}

// --- Several sessions in one database ---

/// Writes one row (or more) into every table of `s`, values tagged with `tag`;
/// the keys are the same for every session.
async fn fill(s: &WhatsappStore, tag: u8) {
    let t = Bytes::from(vec![tag]);
    s.put_identity("1@lid", [tag; 32]).await.unwrap();
    s.put_session("1@lid", &t).await.unwrap();
    s.store_prekeys_batch(&[(1, t.clone()), (2, t.clone())], false)
        .await
        .unwrap();
    s.store_signed_prekey(1, &t).await.unwrap();
    s.put_sender_key("g::1@lid", &t).await.unwrap();
    s.set_sync_key(
        b"k",
        AppStateSyncKey {
            key_data: t.to_vec(),
            fingerprint: t.to_vec(),
            timestamp: 1,
        },
    )
    .await
    .unwrap();
    s.set_version(
        "regular",
        HashState {
            version: u64::from(tag),
            ..HashState::default()
        },
    )
    .await
    .unwrap();
    s.put_mutation_macs("regular", 1, &[mac(1, tag)]).await.unwrap();
    s.set_sender_key_status("g", &[("d", tag.is_multiple_of(2))])
        .await
        .unwrap();
    s.put_lid_mapping(&lid("100", &format!("55{tag}"), 1)).await.unwrap();
    s.save_base_key("1@lid", "m", &t).await.unwrap();
    s.update_device_list(device_list("u", &[u32::from(tag)], 1))
        .await
        .unwrap();
    s.put_group_metadata("g", &t).await.unwrap();
    s.store_received_tc_token("1@lid", &t, 1).await.unwrap();
    s.store_sent_message("c", "m", &t).await.unwrap();
    s.store_pending_inbound("c", "1@lid", "m", &t).await.unwrap();
    s.put_msg_secrets(vec![secret("c", "m", tag, 10, 1)]).await.unwrap();
    let mut device = Device::new();
    device.push_name = format!("device {tag}");
    s.save(&device).await.unwrap();
}

/// Everything `fill` wrote, read back through the traits (`take_sent_message`
/// excepted: it consumes).
async fn read_all(s: &WhatsappStore) -> Vec<String> {
    vec![
        format!("{:?}", s.load_identity("1@lid").await.unwrap()),
        format!("{:?}", s.get_session("1@lid").await.unwrap()),
        format!("{:?}", s.load_prekeys_batch(&[1, 2]).await.unwrap()),
        format!("{:?}", s.get_max_prekey_id().await.unwrap()),
        format!("{:?}", s.has_signal_state_for_user("1").await.unwrap()),
        format!("{:?}", s.load_all_signed_prekeys().await.unwrap()),
        format!("{:?}", s.get_sender_key("g::1@lid").await.unwrap()),
        format!("{:?}", s.get_sync_key(b"k").await.unwrap()),
        format!("{:?}", s.get_latest_sync_key_id().await.unwrap()),
        format!("{:?}", s.get_version("regular").await.unwrap().version),
        format!("{:?}", s.get_mutation_mac("regular", &[1; 32]).await.unwrap()),
        format!("{:?}", s.get_sender_key_devices("g").await.unwrap()),
        format!("{:?}", s.get_all_lid_mappings().await.unwrap()),
        format!("{:?}", s.get_pn_mapping("551").await.unwrap()),
        format!("{:?}", s.get_pn_mapping("552").await.unwrap()),
        format!("{:?}", s.has_same_base_key("1@lid", "m", &[1]).await.unwrap()),
        format!("{:?}", s.get_devices("u").await.unwrap()),
        format!("{:?}", s.get_group_metadata("g").await.unwrap()),
        format!("{:?}", s.get_tc_token("1@lid").await.unwrap()),
        format!("{:?}", s.get_all_tc_token_jids().await.unwrap()),
        format!("{:?}", s.get_pending_inbound("c", "1@lid", "m").await.unwrap()),
        format!("{:?}", s.get_msg_secret_with_ts("c", "9@lid", "m").await.unwrap()),
        format!("{:?}", s.load().await.unwrap().map(|d| d.push_name)),
    ]
}

#[tokio::test]
async fn sessions_sharing_a_database_never_see_each_others_rows() {
    let (db, _dir) = temp_store().await;
    let a = wa(&db, "a");
    let b = wa(&db, "b");
    // Nothing before anything is written, for either.
    assert!(!a.exists().await.unwrap());
    assert!(a.get_all_lid_mappings().await.unwrap().is_empty());

    fill(&a, 1).await;
    assert!(!b.exists().await.unwrap(), "a's device is not b's");
    assert!(row_counts(&b, "b").await.is_empty(), "nothing of a is written as b");
    fill(&b, 2).await;
    let a_rows = row_counts(&a, "a").await;
    assert_eq!(a_rows.len(), TABLES.len(), "fill writes every table: {a_rows:?}");
    assert_eq!(row_counts(&b, "b").await, a_rows);

    // Same keys, each session reads its own values.
    let a_view = read_all(&a).await;
    let b_view = read_all(&b).await;
    for (i, (x, y)) in a_view.iter().zip(&b_view).enumerate() {
        // The only reads that agree: ones whose answer is a constant of `fill`.
        let same = matches!(i, 3 | 4 | 8 | 19);
        assert_eq!(x == y, same, "read {i}: a {x} / b {y}");
    }
    assert_eq!(a.get_pn_mapping("552").await.unwrap().map(|e| e.lid), None);
    assert_eq!(
        b.get_pn_mapping("552").await.unwrap().map(|e| e.lid),
        Some("100".into())
    );

    // Every delete, clear and expiry of a, with arguments that match b's rows too.
    a.delete_identity("1@lid").await.unwrap();
    a.delete_session("1@lid").await.unwrap();
    a.remove_prekey(1).await.unwrap();
    a.mark_prekeys_uploaded(&[2]).await.unwrap();
    a.remove_signed_prekey(1).await.unwrap();
    a.delete_sender_key("g::1@lid").await.unwrap();
    a.delete_mutation_macs("regular", &[vec![1; 32]]).await.unwrap();
    a.clear_mutation_macs("regular").await.unwrap();
    a.delete_sender_key_device_rows(&["d"]).await.unwrap();
    a.clear_sender_key_devices("g").await.unwrap();
    a.clear_all_sender_key_devices().await.unwrap();
    a.delete_base_key("1@lid", "m").await.unwrap();
    a.delete_devices("u").await.unwrap();
    a.delete_group_metadata("g").await.unwrap();
    assert_eq!(a.delete_expired_tc_tokens(i64::MAX, i64::MAX).await.unwrap(), 1);
    assert_eq!(a.delete_expired_sent_messages(i64::MAX).await.unwrap(), 1);
    assert_eq!(a.delete_expired_pending_inbound(i64::MAX).await.unwrap(), 1);
    assert_eq!(a.delete_expired_msg_secrets(i64::MAX).await.unwrap(), 1);
    // Writes that replace by key.
    a.put_lid_mapping(&lid("100", "999", 9)).await.unwrap();
    a.set_sync_key(b"other", AppStateSyncKey::default()).await.unwrap();
    assert_eq!(a.take_sent_message("c", "m").await.unwrap(), None);
    assert_eq!(read_all(&b).await, b_view, "b is untouched by a's deletes");
    let uploaded: bool = with_db!(&b.db, |pool| sqlx::query_scalar(
        "SELECT uploaded FROM wa_prekeys WHERE session = 'b' AND id = 2"
    )
    .fetch_one(pool)
    .await)
    .unwrap();
    assert!(!uploaded, "a's mark_prekeys_uploaded left b's prekeys alone");

    // Deleting one by one in b leaves a's remaining rows alone too.
    let a_left = read_all(&a).await;
    b.delete_pending_inbound_batch(&[PendingInboundKey {
        chat: "c",
        sender: "1@lid",
        id: "m",
    }])
    .await
    .unwrap();
    b.delete_tc_token("1@lid").await.unwrap();
    assert_eq!(b.take_sent_message("c", "m").await.unwrap(), Some(vec![2]));
    assert_eq!(read_all(&a).await, a_left);

    // Wipe removes all of a and nothing of b.
    let b_rows = row_counts(&b, "b").await;
    a.wipe().await.unwrap();
    assert!(row_counts(&a, "a").await.is_empty());
    assert!(!a.exists().await.unwrap());
    assert_eq!(row_counts(&b, "b").await, b_rows);
    assert_eq!(b.load().await.unwrap().unwrap().push_name, "device 2");
}

#[tokio::test]
async fn wipe_empties_every_wa_table_of_the_session() {
    let (db, _dir) = temp_store().await;
    let a = wa(&db, "a");
    let b = wa(&db, "b");
    // The wipe list is every wa_ table of the schema.
    let catalog = if a.db.is_postgres() {
        "SELECT tablename::text FROM pg_tables WHERE schemaname = current_schema() AND tablename LIKE 'wa\\_%' ESCAPE '\\'"
    } else {
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'wa\\_%' ESCAPE '\\'"
    };
    let mut tables: Vec<String> = with_db!(&a.db, |pool| sqlx::query_scalar(catalog).fetch_all(pool).await).unwrap();
    tables.sort();
    let mut listed: Vec<&str> = TABLES.to_vec();
    listed.sort();
    assert_eq!(tables, listed);

    fill(&a, 1).await;
    fill(&b, 2).await;
    let b_before = read_all(&b).await;
    a.wipe().await.unwrap();
    assert!(row_counts(&a, "a").await.is_empty());
    assert_eq!(row_counts(&b, "b").await.len(), TABLES.len());
    assert_eq!(read_all(&b).await, b_before);
    // A wiped session starts over like a new one, and can be wiped again.
    assert!(a.load().await.unwrap().is_none());
    assert_eq!(a.get_max_prekey_id().await.unwrap(), 0);
    a.wipe().await.unwrap();
    b.wipe().await.unwrap();
    assert!(row_counts(&b, "b").await.is_empty());
}

// --- Batches and bad rows ---

#[tokio::test]
async fn batches_larger_than_one_statement() {
    let (db, _dir) = temp_store().await;
    let s = wa(&db, "a");
    let n = 2500u32;
    let keys: Vec<(u32, Bytes)> = (1..=n).map(|i| (i, Bytes::from(i.to_be_bytes().to_vec()))).collect();
    s.store_prekeys_batch(&keys, false).await.unwrap();
    assert_eq!(s.get_max_prekey_id().await.unwrap(), n);
    let ids: Vec<u32> = (0..=n + 1).rev().collect();
    let loaded = s.load_prekeys_batch(&ids).await.unwrap();
    assert_eq!(loaded.len(), n as usize);
    assert_eq!(loaded[0], (n, Bytes::from(n.to_be_bytes().to_vec())));
    assert_eq!(loaded.last().unwrap().0, 1);
    s.mark_prekeys_uploaded(&ids).await.unwrap();
    let uploaded: i64 = with_db!(&s.db, |pool| sqlx::query_scalar(
        "SELECT count(*) FROM wa_prekeys WHERE session = 'a' AND uploaded"
    )
    .fetch_one(pool)
    .await)
    .unwrap();
    assert_eq!(uploaded, i64::from(n));

    let macs: Vec<AppStateMutationMAC> = (0..1500u32)
        .map(|i| AppStateMutationMAC {
            index_mac: [i.to_be_bytes().to_vec(), vec![0; 28]].concat(),
            value_mac: i.to_le_bytes().to_vec(),
        })
        .collect();
    s.put_mutation_macs("regular", 3, &macs).await.unwrap();
    let wanted: Vec<[u8; 32]> = macs.iter().map(|m| m.index_mac.clone().try_into().unwrap()).collect();
    let found = s.get_mutation_macs("regular", &wanted).await.unwrap();
    assert_eq!(found.len(), 1500);
    assert_eq!(found[&wanted[1234]], 1234u32.to_le_bytes().to_vec());
    let index_macs: Vec<Vec<u8>> = macs.iter().map(|m| m.index_mac.clone()).collect();
    s.delete_mutation_macs("regular", &index_macs[..1400]).await.unwrap();
    assert_eq!(s.get_mutation_macs("regular", &wanted).await.unwrap().len(), 100);

    let sessions: Vec<(Arc<str>, Bytes)> = (0..1200)
        .map(|i| (format!("{i}@lid").into(), Bytes::from(vec![1])))
        .collect();
    s.put_sessions_batch(&sessions).await.unwrap();
    assert!(s.has_session("1199@lid").await.unwrap());
    let secrets: Vec<MsgSecretEntry> = (0..1000).map(|i| secret("c", &i.to_string(), 1, 5, 0)).collect();
    assert_eq!(s.put_msg_secrets(secrets).await.unwrap(), 1000);
    assert_eq!(s.delete_expired_msg_secrets(5).await.unwrap(), 1000);
    let jids: Vec<String> = (0..1500).map(|i| format!("{i}@lid")).collect();
    let entries: Vec<(&str, bool)> = jids.iter().map(|j| (j.as_str(), true)).collect();
    s.set_sender_key_status("g", &entries).await.unwrap();
    let refs: Vec<&str> = jids.iter().map(String::as_str).collect();
    s.delete_sender_key_device_rows(&refs[..1499]).await.unwrap();
    assert_eq!(
        s.get_sender_key_devices("g").await.unwrap(),
        vec![("1499@lid".into(), true)]
    );

    // Empty batches are no-ops.
    s.store_prekeys_batch(&[], true).await.unwrap();
    assert!(s.load_prekeys_batch(&[]).await.unwrap().is_empty());
    s.mark_prekeys_uploaded(&[]).await.unwrap();
    s.put_sessions_batch(&[]).await.unwrap();
    s.put_mutation_macs("regular", 1, &[]).await.unwrap();
    assert!(s.get_mutation_macs("regular", &[]).await.unwrap().is_empty());
    s.delete_mutation_macs("regular", &[]).await.unwrap();
    s.set_sender_key_status("g", &[]).await.unwrap();
    s.delete_sender_key_device_rows(&[]).await.unwrap();
    s.put_lid_mappings(&[]).await.unwrap();
    s.update_device_lists(vec![]).await.unwrap();
    s.store_pending_inbound_batch(&[]).await.unwrap();
    s.delete_pending_inbound_batch(&[]).await.unwrap();
}

/// Two batches upserting the same keys in opposite orders, at the same time:
/// on PostgreSQL each transaction locks its rows one by one, so rows taken in
/// batch order would deadlock (and one batch fail); taken in key order, one
/// waits for the other.
#[tokio::test]
async fn concurrent_batches_sharing_keys_do_not_deadlock() {
    let (db, _dir) = temp_store().await;
    let s = wa(&db, "a");
    let forward: Vec<(Arc<str>, Bytes)> = (0..200)
        .map(|i| (format!("{i}@lid").into(), Bytes::from(vec![1])))
        .collect();
    let backward: Vec<(Arc<str>, Bytes)> = forward.iter().rev().cloned().collect();
    let tasks = [forward, backward].map(|batch| {
        let s = s.clone();
        tokio::spawn(async move {
            for _ in 0..10 {
                s.put_sessions_batch(&batch).await.unwrap();
            }
        })
    });
    for task in tasks {
        task.await.unwrap();
    }
    assert!(s.has_session("199@lid").await.unwrap());
}

#[tokio::test]
async fn corrupt_rows_are_errors_not_panics() {
    let (db, _dir) = temp_store().await;
    let s = wa(&db, "a");
    for (sql, value) in [
        (
            "INSERT INTO wa_identities (session, address, key) VALUES ('a', 'x@lid', $1)",
            &b"\x01\x02"[..],
        ),
        ("INSERT INTO wa_device (session, device) VALUES ('a', $1)", b"not json"),
        (
            "INSERT INTO wa_app_state_versions (session, name, state) VALUES ('a', 'regular', $1)",
            b"{}",
        ),
        (
            "INSERT INTO wa_device_lists (session, \"user\", record) VALUES ('a', 'u', $1)",
            b"[1]",
        ),
        (
            "INSERT INTO wa_prekeys (session, id, record, uploaded) VALUES ('a', -1, $1, FALSE)",
            b"\x00",
        ),
    ] {
        with_db!(&s.db, |pool| sqlx::query(sql)
            .bind(value)
            .execute(pool)
            .await
            .map(|done| done.rows_affected()))
        .unwrap();
    }
    let err = s.load_identity("x@lid").await.unwrap_err();
    assert!(
        matches!(err, StoreError::Validation(ref m) if m.contains("2 bytes")),
        "{err:?}"
    );
    let Err(err) = s.load().await else {
        panic!("a corrupt device loaded")
    };
    assert!(matches!(err, StoreError::Serialization(_)), "{err:?}");
    // The context names the session and the operation.
    let source = std::error::Error::source(&err).unwrap().to_string();
    assert!(source.contains("\"a\"") && source.contains("load device"), "{source}");
    assert!(matches!(
        s.get_version("regular").await,
        Err(StoreError::Serialization(_))
    ));
    assert!(matches!(s.get_devices("u").await, Err(StoreError::Serialization(_))));
    assert!(matches!(s.load_prekeys_batch(&[1]).await, Ok(v) if v.is_empty()));
    // A negative id cannot be a u32 prekey id.
    assert!(matches!(s.get_max_prekey_id().await, Err(StoreError::Validation(_))));
    // A database failure is a Database error with the operation's context.
    with_db!(&s.db, |pool| sqlx::query("DROP TABLE wa_base_keys")
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))
    .unwrap();
    let err = s.save_base_key("a", "m", b"k").await.unwrap_err();
    assert!(matches!(err, StoreError::Database(_)), "{err:?}");
    let source = std::error::Error::source(&err).unwrap();
    assert!(source.to_string().contains("save_base_key"), "{source}");
    assert!(source.source().unwrap().to_string().contains("wa_base_keys"));
    // A closed pool is a connection error.
    db.close().await;
    assert!(matches!(s.exists().await, Err(StoreError::Connection(_))));
}
