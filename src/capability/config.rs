//! `purr:bot/config`: the plugin's settings for this session.
//!
//! The table is the plugin's `config` from the host config with the
//! session's `[sessions.<name>.config.<plugin>]` overrides merged over it
//! (top-level keys replaced), fixed when the instance is made.

use std::sync::Arc;

use wasmtime::component::{HasSelf, Linker};

use crate::plugin::PluginState;
use crate::plugin::bindings::purr::bot::config::{self as wit, Host};

/// The settings one instance sees.
pub struct Settings {
    table: Arc<toml::Table>,
}

impl Settings {
    pub fn new(table: Arc<toml::Table>) -> Self {
        Settings { table }
    }
}

/// `base` with `overrides` replacing its top-level keys.
pub fn merge(base: &toml::Table, overrides: Option<&toml::Table>) -> toml::Table {
    let mut merged = base.clone();
    if let Some(overrides) = overrides {
        merged.extend(overrides.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    merged
}

/// A value as the guest reads it: strings raw, scalars in TOML spelling,
/// arrays and tables as JSON.
fn render(value: &toml::Value) -> String {
    match value {
        toml::Value::String(s) => s.clone(),
        toml::Value::Integer(i) => i.to_string(),
        toml::Value::Float(f) => f.to_string(),
        toml::Value::Boolean(b) => b.to_string(),
        toml::Value::Datetime(d) => d.to_string(),
        toml::Value::Array(_) | toml::Value::Table(_) => to_json(value).to_string(),
    }
}

fn to_json(value: &toml::Value) -> serde_json::Value {
    match value {
        toml::Value::String(s) => s.clone().into(),
        toml::Value::Integer(i) => (*i).into(),
        toml::Value::Float(f) => serde_json::Number::from_f64(*f).map_or(serde_json::Value::Null, Into::into),
        toml::Value::Boolean(b) => (*b).into(),
        toml::Value::Datetime(d) => d.to_string().into(),
        toml::Value::Array(items) => items.iter().map(to_json).collect(),
        toml::Value::Table(table) => table_to_json(table),
    }
}

fn table_to_json(table: &toml::Table) -> serde_json::Value {
    table
        .iter()
        .map(|(k, v)| (k.clone(), to_json(v)))
        .collect::<serde_json::Map<_, _>>()
        .into()
}

impl Host for Settings {
    async fn get(&mut self, key: String) -> wasmtime::Result<Option<String>> {
        Ok(self.table.get(&key).map(render))
    }

    async fn get_list(&mut self, key: String) -> wasmtime::Result<Option<Vec<String>>> {
        Ok(match self.table.get(&key) {
            Some(toml::Value::Array(items)) => Some(items.iter().map(render).collect()),
            _ => None,
        })
    }

    async fn keys(&mut self) -> wasmtime::Result<Vec<String>> {
        Ok(self.table.keys().cloned().collect())
    }

    async fn all_json(&mut self) -> wasmtime::Result<String> {
        Ok(table_to_json(&self.table).to_string())
    }
}

pub fn add_to_linker(linker: &mut Linker<PluginState>) -> anyhow::Result<()> {
    wit::add_to_linker::<PluginState, HasSelf<Settings>>(linker, |state| &mut state.config)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(text: &str) -> toml::Table {
        text.parse().unwrap()
    }

    #[test]
    fn overrides_replace_top_level_keys_only() {
        let base = table("greeting = 'hi'\nbanned = ['a']");
        let merged = merge(&base, Some(&table("greeting = 'yo'")));
        assert_eq!(merged, table("greeting = 'yo'\nbanned = ['a']"));
        assert_eq!(merge(&base, None), base);
    }

    #[test]
    fn values_render_as_documented() {
        let t = table("s = 'x'\ni = 3\nb = true\na = [1, 'two']\nt = { k = 'v' }");
        assert_eq!(render(&t["s"]), "x");
        assert_eq!(render(&t["i"]), "3");
        assert_eq!(render(&t["b"]), "true");
        assert_eq!(render(&t["a"]), r#"[1,"two"]"#);
        assert_eq!(render(&t["t"]), r#"{"k":"v"}"#);
    }
}
