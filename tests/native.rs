//! Native handlers (`purr::plugin::native`): Rust code in the host takes a
//! plugin's place in a chain, gets the session's events in order, and
//! reaches the same capabilities (kv, messaging) as a wasm plugin.

mod common;

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use common::{ECHO_ALONE, Host, TestConfig};
use purr::plugin::Source;
use purr::plugin::bindings::purr::bot::kv::Host as _;
use purr::plugin::bindings::purr::bot::messaging::Host as _;
use purr::plugin::bindings::purr::bot::types::Content;
use purr::plugin::native::{Capabilities, Context, Event, Flow, NativeHandler, NativePlugin};
use purr::session::State;
use purr::supervisor::NewSession;

/// Records every event it sees; answers `!echo <n>` with `native <n> #<count>`
/// (its message count, kept in kv) and lets the event on to the next
/// plugin, except `!echo halt`, which it stops.
struct Recorder {
    seen: Arc<Mutex<Vec<String>>>,
}

#[async_trait]
impl NativeHandler for Recorder {
    async fn handle(
        &mut self,
        caps: &mut Capabilities,
        ctx: &Context,
        event: &Event,
    ) -> wasmtime::Result<Result<Flow, String>> {
        let Event::Message(message) = event else {
            let kind = match event {
                Event::Started => Some("started"),
                Event::Connected(_) => Some("connected"),
                _ => None, // the QR of a new sim account, ...
            };
            if let Some(kind) = kind {
                self.seen.lock().unwrap().push(format!("{}: {kind}", ctx.session));
            }
            return Ok(Ok(Flow::Next));
        };
        let Content::Text(text) = &message.content else {
            return Ok(Ok(Flow::Next));
        };
        self.seen.lock().unwrap().push(format!("{}: {text}", ctx.session));
        let count = match caps.kv.get("count".into()).await? {
            Ok(Some(bytes)) => String::from_utf8_lossy(&bytes).parse::<u64>().unwrap_or(0),
            Ok(None) => 0,
            Err(error) => return Ok(Err(error)),
        } + 1;
        if let Err(error) = caps.kv.set("count".into(), count.to_string().into_bytes()).await? {
            return Ok(Err(error));
        }
        if text == "!echo halt" {
            return Ok(Ok(Flow::Stop));
        }
        let n = text.strip_prefix("!echo ").unwrap_or(text);
        if let Err(error) = caps
            .messaging
            .send_text(message.chat.clone(), format!("native {n} #{count}"))
            .await?
        {
            return Ok(Err(error));
        }
        Ok(Ok(Flow::Next))
    }
}

fn recorder(seen: &Arc<Mutex<Vec<String>>>) -> NativePlugin {
    let seen = seen.clone();
    NativePlugin::new("recorder", move || Recorder { seen: seen.clone() })
}

#[tokio::test]
async fn a_native_handler_in_a_chain_gets_events_in_order_and_sends() {
    let config = TestConfig::new(ECHO_ALONE);
    let mut loaded = config.load();
    // purr.toml cannot name a native handler: an embedder builds the chain in code.
    loaded
        .sessions
        .get_mut("s")
        .unwrap()
        .plugins
        .insert(0, "recorder".into());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let host = Host {
        supervisor: purr::supervisor::Supervisor::new(loaded).await.unwrap(),
    };
    host.supervisor.add_native(recorder(&seen)).await.unwrap();
    let twice = host.supervisor.add_native(recorder(&seen)).await;
    assert!(twice.is_err(), "a second handler of the same name is refused");
    host.supervisor.start("s").await.unwrap();
    host.wait_state("s", State::Connected).await;

    // Queued at once: the chain sees them one at a time, in order, and the
    // native handler's send comes before the wasm echo's for each event.
    for n in 0..20 {
        host.supervisor
            .sim()
            .inject_text("s", "user", &format!("!echo {n}"))
            .await
            .unwrap();
    }
    host.supervisor.flush("s").await.unwrap();
    assert_eq!(
        host.say("s", "!echo halt").await,
        Vec::<String>::new(),
        "stop ends the chain"
    );

    let sent: Vec<String> = host
        .supervisor
        .sim()
        .outbound("s")
        .iter()
        .filter_map(|o| o.action.text().map(str::to_string))
        .collect();
    let expected: Vec<String> = (0..20)
        .flat_map(|n| [format!("native {n} #{}", n + 1), n.to_string()])
        .collect();
    assert_eq!(sent, expected);
    let mut events = vec!["s: started".to_string(), "s: connected".to_string()];
    events.extend((0..20).map(|n| format!("s: !echo {n}")));
    events.push("s: !echo halt".into());
    assert_eq!(*seen.lock().unwrap(), events);

    let status = host.plugin("recorder");
    assert_eq!(status.source, Source::Native);
    assert!(
        !host.supervisor.reload_plugin("recorder").await.unwrap(),
        "nothing to reload"
    );

    // A session created at run time may name it too.
    host.supervisor
        .create(NewSession {
            name: "api".into(),
            channel: "sim".into(),
            plugins: vec!["recorder".into()],
            autostart: true,
        })
        .await
        .unwrap();
    host.wait_state("api", State::Connected).await;
    assert_eq!(host.say("api", "!echo 7").await, ["native 7 #1"], "kv is per session");
    host.stop().await;
}
