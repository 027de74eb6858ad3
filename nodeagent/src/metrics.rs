//! The agent's Prometheus series, served at `/metrics` on the daemon endpoint
//! (`--daemon-listen`). The service proxy's use kube-proxy's names and meanings, so the
//! dashboards and alerts written for kube-proxy read them:
//!
//! - `kubeproxy_sync_proxy_rules_duration_seconds` (histogram): how long one apply of the
//!   service rules took (a full sync or a set of changes), successful or not.
//! - `kubeproxy_network_programming_duration_seconds` (histogram): from a Service or
//!   Endpoints change reaching the agent (its watch event) to the rules holding it. Kubernetes
//!   measures from the `endpoints.kubernetes.io/last-change-trigger-time` annotation, which
//!   flatnet's Endpoints do not carry; the API server's part is in its own write → event
//!   latency (see BENCHMARKS.md).
//! - `kubeproxy_sync_proxy_rules_last_timestamp_seconds` (gauge): Unix time of the last
//!   successful apply.
//! - `kubeproxy_sync_proxy_rules_nftables_sync_failures_total` (counter): failed applies.
//!
//! One agent runs per process, so the series are process-wide.

use std::fmt::Write;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// kube-proxy's buckets for both histograms (exponential from 1 ms), in seconds.
const BUCKETS: [f64; 14] =
    [0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256, 0.512, 1.024, 2.048, 4.096, 8.192];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        for (i, bound) in BUCKETS.iter().enumerate() {
            if seconds <= *bound {
                self.counts[i] += 1;
            }
        }
        self.count += 1;
        self.sum += seconds;
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        for (bound, n) in BUCKETS.iter().zip(self.counts.iter()) {
            let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {n}");
        }
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {}", self.count);
        let _ = writeln!(out, "{name}_sum {}\n{name}_count {}", self.sum, self.count);
    }
}

#[derive(Default)]
struct Proxy {
    sync: Histogram,
    programming: Histogram,
    last_sync: f64,
    failures: u64,
}

static PROXY: Mutex<Option<Proxy>> = Mutex::new(None);

fn with<R>(f: impl FnOnce(&mut Proxy) -> R) -> R {
    f(PROXY.lock().expect("metrics poisoned").get_or_insert_with(Proxy::default))
}

/// One apply of the service rules took `took`; `programmed` are the waits of the changes it
/// carried (from their event's arrival), empty for a failed apply.
pub fn proxy_synced(took: Duration, ok: bool, programmed: &[Duration]) {
    with(|p| {
        p.sync.observe(took.as_secs_f64());
        if ok {
            p.last_sync = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs_f64();
            for d in programmed {
                p.programming.observe(d.as_secs_f64());
            }
        } else {
            p.failures += 1;
        }
    })
}

/// The policy counters of this node, as last read from its table (`crate::policy`).
static POLICY: Mutex<Vec<openapi::PolicyCounter>> = Mutex::new(Vec::new());

/// The node's policy counters were read: `items` replace the ones before.
pub fn policy_counters(items: &[openapi::PolicyCounter]) {
    *POLICY.lock().expect("metrics poisoned") = items.to_vec();
}

/// Every series in the text exposition format.
pub fn render() -> String {
    let mut out = String::new();
    render_policy(&mut out);
    with(|p| {
        p.sync.render(
            &mut out,
            "kubeproxy_sync_proxy_rules_duration_seconds",
            "One apply of the service rules (full sync or changes), in seconds.",
        );
        p.programming.render(
            &mut out,
            "kubeproxy_network_programming_duration_seconds",
            "From a Service or Endpoints change reaching the agent to the rules holding it, in seconds.",
        );
        let _ = writeln!(
            out,
            "# HELP kubeproxy_sync_proxy_rules_last_timestamp_seconds Unix time of the last successful apply.\n\
             # TYPE kubeproxy_sync_proxy_rules_last_timestamp_seconds gauge\n\
             kubeproxy_sync_proxy_rules_last_timestamp_seconds {}\n\
             # HELP kubeproxy_sync_proxy_rules_nftables_sync_failures_total Failed applies of the service rules.\n\
             # TYPE kubeproxy_sync_proxy_rules_nftables_sync_failures_total counter\n\
             kubeproxy_sync_proxy_rules_nftables_sync_failures_total {}",
            p.last_sync, p.failures
        );
    });
    out
}

/// This node's share of `flatnet_policy_packets_total` (the API server's `/metrics` sums
/// every node's), with the same labels, and the bytes beside it.
fn render_policy(out: &mut String) {
    let counters = POLICY.lock().expect("metrics poisoned").clone();
    for (series, help) in [
        (
            "flatnet_policy_packets_total",
            "Packets counted on this node by a network policy rule (Allow and Pass: connections judged; \
             Deny: packets dropped); rule=\"isolation\" is a NetworkPolicy's default deny.",
        ),
        ("flatnet_policy_bytes_total", "Bytes of the packets in flatnet_policy_packets_total."),
    ] {
        let _ = writeln!(out, "# HELP {series} {help}\n# TYPE {series} counter");
        for c in &counters {
            let value = if series.ends_with("packets_total") { c.packets } else { c.bytes };
            let _ = writeln!(out, "{series}{{{}}} {value}", c.metric_labels());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_counters_are_served_with_the_api_servers_labels() {
        policy_counters(&[openapi::PolicyCounter {
            kind: "NetworkPolicy".into(),
            namespace: Some("x".into()),
            name: "deny".into(),
            direction: "Ingress".into(),
            rule: None,
            action: "Deny".into(),
            packets: 3,
            bytes: 180,
        }]);
        let text = render();
        assert!(text.contains(
            "flatnet_policy_packets_total{kind=\"NetworkPolicy\",namespace=\"x\",name=\"deny\",direction=\"Ingress\",rule=\"isolation\",action=\"Deny\"} 3"
        ), "{text}");
        assert!(text.contains("flatnet_policy_bytes_total{kind=\"NetworkPolicy\",namespace=\"x\",name=\"deny\",direction=\"Ingress\",rule=\"isolation\",action=\"Deny\"} 180"), "{text}");
        policy_counters(&[]);
        assert!(!render().contains("name=\"deny\""));
    }

    #[test]
    fn applies_are_counted_with_kube_proxy_names() {
        proxy_synced(Duration::from_millis(3), true, &[Duration::from_millis(5), Duration::from_millis(70)]);
        proxy_synced(Duration::from_millis(1), false, &[]);
        let text = render();
        assert!(text.contains("kubeproxy_sync_proxy_rules_duration_seconds_count 2"), "{text}");
        assert!(text.contains("kubeproxy_network_programming_duration_seconds_bucket{le=\"0.008\"} 1"), "{text}");
        assert!(text.contains("kubeproxy_network_programming_duration_seconds_count 2"), "{text}");
        assert!(text.contains("kubeproxy_sync_proxy_rules_nftables_sync_failures_total 1"), "{text}");
        assert!(!text.contains("kubeproxy_sync_proxy_rules_last_timestamp_seconds 0\n"), "{text}");
    }
}
