//! Prometheus metrics in the text exposition format, kept by hand (a few counters and a
//! histogram do not need a metrics framework): requests by method, route and status;
//! request latency by route; watch clients; objects by kind (counted at scrape time); the
//! network policies' counters as the node agents last reported them, summed per rule.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;

/// Upper bounds of the latency histogram, in seconds.
const BUCKETS: [f64; 10] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 2.5];

/// A latency histogram with [`BUCKETS`].
#[derive(Default)]
pub struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Histogram {
    pub fn observe(&mut self, seconds: f64) {
        for (i, bound) in BUCKETS.iter().enumerate() {
            if seconds <= *bound {
                self.counts[i] += 1;
            }
        }
        self.count += 1;
        self.sum += seconds;
    }

    /// Append `name`'s series; `labels` are `k="v",…` or empty.
    pub fn render(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        for (bound, n) in BUCKETS.iter().zip(self.counts.iter()) {
            let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{bound}\"}} {n}");
        }
        let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {}", self.count);
        let braced = if labels.is_empty() { String::new() } else { format!("{{{labels}}}") };
        let _ = writeln!(out, "{name}_sum{braced} {}", self.sum);
        let _ = writeln!(out, "{name}_count{braced} {}", self.count);
    }
}

#[derive(Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, String, u16), u64>>,
    latency: Mutex<BTreeMap<(String, String), Histogram>>,
    watch_clients: AtomicI64,
    /// Each node's last policy counters report (kept in memory: they are the kernel's
    /// counts, which the agents report again after a restart of the server).
    policy_counters: Mutex<BTreeMap<String, Vec<openapi::PolicyCounter>>>,
}

/// Counts a watch client while it lives.
pub struct WatchClient(Arc<Metrics>);

impl Drop for WatchClient {
    fn drop(&mut self) {
        self.0.watch_clients.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Metrics {
    /// Replace `node`'s policy counters.
    pub fn set_policy_counters(&self, node: &str, items: Vec<openapi::PolicyCounter>) {
        self.policy_counters.lock().expect("metrics poisoned").insert(node.to_string(), items);
    }

    /// Forget `node`'s policy counters (the node was deleted).
    pub fn forget_policy_counters(&self, node: &str) {
        self.policy_counters.lock().expect("metrics poisoned").remove(node);
    }

    /// The policy counters of every node, summed per rule, in the order of their keys.
    pub fn policy_counters(&self) -> Vec<openapi::PolicyCounter> {
        let mut sum: BTreeMap<openapi::policy::PolicyCounterKey, openapi::PolicyCounter> = BTreeMap::new();
        for items in self.policy_counters.lock().expect("metrics poisoned").values() {
            for c in items {
                sum.entry(c.key())
                    .and_modify(|s| {
                        s.packets = s.packets.saturating_add(c.packets);
                        s.bytes = s.bytes.saturating_add(c.bytes);
                    })
                    .or_insert_with(|| c.clone());
            }
        }
        sum.into_values().collect()
    }

    pub fn watch_client(self: &Arc<Self>) -> WatchClient {
        self.watch_clients.fetch_add(1, Ordering::Relaxed);
        WatchClient(self.clone())
    }

    pub fn watch_clients(&self) -> i64 {
        self.watch_clients.load(Ordering::Relaxed)
    }

    fn observe(&self, method: &str, route: &str, status: u16, seconds: f64) {
        *self
            .requests
            .lock()
            .expect("metrics poisoned")
            .entry((method.to_string(), route.to_string(), status))
            .or_default() += 1;
        let mut latency = self.latency.lock().expect("metrics poisoned");
        latency.entry((method.to_string(), route.to_string())).or_default().observe(seconds);
    }

    /// Render everything; `objects` are the counts by kind.
    pub fn render(&self, objects: &[(String, i64)]) -> String {
        let mut out = String::new();
        out.push_str("# HELP flatnet_apiserver_requests_total HTTP requests by method, route and status code.\n");
        out.push_str("# TYPE flatnet_apiserver_requests_total counter\n");
        for ((method, route, code), n) in self.requests.lock().expect("metrics poisoned").iter() {
            let _ = writeln!(
                out,
                "flatnet_apiserver_requests_total{{method=\"{method}\",route=\"{route}\",code=\"{code}\"}} {n}"
            );
        }
        out.push_str(
            "# HELP flatnet_apiserver_request_duration_seconds Time to the response headers, by method and route.\n",
        );
        out.push_str("# TYPE flatnet_apiserver_request_duration_seconds histogram\n");
        for ((method, route), h) in self.latency.lock().expect("metrics poisoned").iter() {
            let labels = format!("method=\"{method}\",route=\"{route}\"");
            h.render(&mut out, "flatnet_apiserver_request_duration_seconds", &labels);
        }
        out.push_str("# HELP flatnet_apiserver_watch_clients Open watch streams.\n");
        out.push_str("# TYPE flatnet_apiserver_watch_clients gauge\n");
        let _ = writeln!(out, "flatnet_apiserver_watch_clients {}", self.watch_clients());
        out.push_str("# HELP flatnet_apiserver_objects Stored objects by kind.\n");
        out.push_str("# TYPE flatnet_apiserver_objects gauge\n");
        for (kind, n) in objects {
            let _ = writeln!(out, "flatnet_apiserver_objects{{kind=\"{kind}\"}} {n}");
        }
        out.push_str(
            "# HELP flatnet_policy_packets_total Packets counted by a network policy rule on every node (Allow and \
             Pass: connections judged; Deny: packets dropped); rule=\"isolation\" is a NetworkPolicy's default deny.\n",
        );
        out.push_str("# TYPE flatnet_policy_packets_total counter\n");
        let counters = self.policy_counters();
        for c in &counters {
            let _ = writeln!(out, "flatnet_policy_packets_total{{{}}} {}", c.metric_labels(), c.packets);
        }
        out
    }
}

/// Middleware: count and time every request by its route template (never the raw path,
/// which would make a label per object).
pub async fn track(State(metrics): State<Arc<Metrics>>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().to_string();
    let route =
        req.extensions().get::<MatchedPath>().map(|p| p.as_str().to_string()).unwrap_or_else(|| "unmatched".into());
    let response = next.run(req).await;
    metrics.observe(&method, &route, response.status().as_u16(), start.elapsed().as_secs_f64());
    response
}
