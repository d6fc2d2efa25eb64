//! Logs as Terraform reads them: one JSON object per line on stderr in hclog's format
//! (`@level`, `@message`, `@module`, `@timestamp`, then the event's fields). Terraform shows
//! them under `TF_LOG`/`TF_LOG_PROVIDER`, whose level this plugin honours too.

use serde_json::{Map, Value as Json};
use std::io::Write;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

/// The module name Terraform prints beside each line.
pub const MODULE: &str = "provider.terraform-provider-engram";

/// The level from `TF_LOG_PROVIDER`, else `TF_LOG`; `OFF` (or unset) logs warnings and errors
/// only, which Terraform discards unless logging is on.
pub fn level_from_env(provider: Option<&str>, global: Option<&str>) -> LevelFilter {
    let text = provider
        .or(global)
        .unwrap_or("warn")
        .trim()
        .to_ascii_lowercase();
    match text.as_str() {
        "trace" | "json" => LevelFilter::TRACE,
        "debug" => LevelFilter::DEBUG,
        "info" => LevelFilter::INFO,
        "error" => LevelFilter::ERROR,
        _ => LevelFilter::WARN,
    }
}

/// Installs the hclog JSON writer as the global tracing subscriber (once per process).
pub fn init() {
    let level = level_from_env(
        std::env::var("TF_LOG_PROVIDER").ok().as_deref(),
        std::env::var("TF_LOG").ok().as_deref(),
    );
    let subscriber = tracing_subscriber::registry().with(HclogLayer.with_filter(level));
    let _ = tracing::subscriber::set_global_default(subscriber);
}

/// Writes each event as one hclog JSON line on stderr.
pub struct HclogLayer;

impl<S: Subscriber> Layer<S> for HclogLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let line = format_event(event);
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "{line}");
    }
}

/// The hclog JSON object for one event.
pub fn format_event(event: &Event<'_>) -> Json {
    let mut fields = Fields(Map::new());
    event.record(&mut fields);
    let mut out = Map::new();
    out.insert(
        "@level".into(),
        Json::from(level_name(*event.metadata().level())),
    );
    out.insert(
        "@message".into(),
        fields.0.remove("message").unwrap_or(Json::from("")),
    );
    out.insert("@module".into(), Json::from(MODULE));
    out.insert("@timestamp".into(), Json::from(timestamp()));
    out.extend(fields.0);
    Json::Object(out)
}

fn level_name(level: Level) -> &'static str {
    match level {
        Level::TRACE => "trace",
        Level::DEBUG => "debug",
        Level::INFO => "info",
        Level::WARN => "warn",
        Level::ERROR => "error",
    }
}

fn timestamp() -> String {
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z"
    );
    time::OffsetDateTime::now_utc()
        .format(&format)
        .unwrap_or_default()
}

struct Fields(Map<String, Json>);

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), Json::from(value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().into(), Json::from(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().into(), Json::from(value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().into(), Json::from(value));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0
            .insert(field.name().into(), Json::from(format!("{value:?}")));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    struct Capture(Arc<Mutex<Vec<Json>>>);

    impl<S: Subscriber> Layer<S> for Capture {
        fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
            self.0.lock().unwrap().push(format_event(event));
        }
    }

    #[test]
    fn events_become_hclog_lines() {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let subscriber = tracing_subscriber::registry().with(Capture(lines.clone()));
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(workload = "history", ready = 2u64, "waiting for rollout");
        });
        let line = lines.lock().unwrap()[0].clone();
        assert_eq!(line["@level"], "info");
        assert_eq!(line["@message"], "waiting for rollout");
        assert_eq!(line["@module"], MODULE);
        assert_eq!(line["workload"], "history");
        assert_eq!(line["ready"], 2);
        assert!(line["@timestamp"].as_str().unwrap().ends_with('Z'));
    }

    #[test]
    fn level_follows_terraform_variables() {
        assert_eq!(
            level_from_env(Some("DEBUG"), Some("TRACE")),
            LevelFilter::DEBUG
        );
        assert_eq!(level_from_env(None, Some("trace")), LevelFilter::TRACE);
        assert_eq!(level_from_env(None, None), LevelFilter::WARN);
    }
}
