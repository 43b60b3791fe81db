//! Plugin stdout/stderr, turned into log records.
//!
//! A guest's `println!` (or `console.log`, `print`) becomes one `tracing`
//! record per line at `info` (stdout) or `warn` (stderr), tagged with the
//! session and plugin. Lines longer than `max_log_line_bytes` are split,
//! and the lines share the plugin's [`LogBudget`] (bytes per minute) with
//! its `log` import: past it they are dropped.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};

use crate::capability::log::LogBudget;

/// A guest output stream that writes into `tracing`.
#[derive(Clone)]
pub struct LogStream {
    session: Arc<str>,
    plugin: Arc<str>,
    stream: &'static str,
    budget: Arc<LogBudget>,
}

impl LogStream {
    pub fn new(session: &Arc<str>, plugin: &Arc<str>, stream: &'static str, budget: Arc<LogBudget>) -> Self {
        LogStream {
            session: session.clone(),
            plugin: plugin.clone(),
            stream,
            budget,
        }
    }
}

impl IsTerminal for LogStream {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for LogStream {
    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(LineWriter {
            target: self.clone(),
            line: Vec::new(),
        })
    }
}

/// Buffers bytes until a newline, then logs the line.
struct LineWriter {
    target: LogStream,
    line: Vec<u8>,
}

impl LineWriter {
    fn emit(&mut self) {
        let text = String::from_utf8_lossy(&self.line);
        let text = text.trim_end_matches(['\r', '\n']);
        let (session, plugin) = (&*self.target.session, &*self.target.plugin);
        if !self.target.budget.pass(session, plugin, "", text.len() as u64) {
            self.line.clear();
            return;
        }
        if self.target.stream == "stderr" {
            tracing::warn!(target: "purr::plugin::output", session, plugin, stream = "stderr", "{text}");
        } else {
            tracing::info!(target: "purr::plugin::output", session, plugin, stream = "stdout", "{text}");
        }
        self.line.clear();
    }
}

impl AsyncWrite for LineWriter {
    fn poll_write(mut self: Pin<&mut Self>, _cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        for &byte in buf {
            self.line.push(byte);
            if byte == b'\n' || self.line.len() as u64 >= self.target.budget.line_bytes() {
                self.emit();
            }
        }
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        if !self.line.is_empty() {
            self.emit();
        }
        Poll::Ready(Ok(()))
    }
}

impl Drop for LineWriter {
    fn drop(&mut self) {
        if !self.line.is_empty() {
            self.emit();
        }
    }
}
