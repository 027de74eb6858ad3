//! The dashboard in a real headless Chromium (Debian's chromium and chromium-driver) against
//! a real `flatnet up` cluster with real agents and pods: the page loads without console
//! errors, shows the nodes and pods, reflects a pod created through the API without a
//! reload, shows the server's validation error next to the name field, creates a service
//! through the form and shows its endpoints (table and topology arrows), shows a pod's log,
//! creates a crashing pod through the YAML editor and lists it under "Needs attention",
//! deletes it, creates a network policy through its form and shows the pods it isolates
//! and its denied count rising with denied probes (topology and table), and lays out at a
//! phone's width.
//!
//! Screenshots (PNG) are saved in `target/test-artifacts/dashboard/`.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::cluster::*;
use common::flatnet;
use common::webdriver::{self, Browser};
use common::workload::{http_hostname, ready_pod};
use serde_json::{json, Value};

/// Generous: the CI machine is slow and shared; nothing here measures time.
const WAIT: Duration = Duration::from_secs(60);

fn artifacts() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).parent().unwrap().join("test-artifacts/dashboard");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn browser_available() -> bool {
    if webdriver::available() {
        return true;
    }
    common::skip(
        "chromium and chromium-driver are not installed (scripts/deps.sh installs them): dashboard test SKIPPED",
    );
    false
}

fn pod(name: &str, node: &str, app: &str) -> Value {
    json!({
        "metadata": {"name": name, "labels": {"app": app}},
        "spec": {"nodeName": node, "containers": [{"name": "web", "command": [flatnet(), "netexec"],
            "ports": [{"name": "http", "containerPort": 8080}],
            "readinessProbe": {"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 1}}]}
    })
}

/// Console entries that are errors, except the network errors `allowed` says were expected.
fn console_errors(browser: &Browser, allowed: impl Fn(&Value) -> bool) -> Vec<Value> {
    browser.console().into_iter().filter(|e| e["level"] == "SEVERE" && !allowed(e)).collect()
}

#[test]
fn dashboard_shows_the_cluster_live_and_creates_services() {
    if !privileged() || !browser_available() {
        return;
    }
    let out = artifacts();
    let cluster = TestCluster::new();
    let up = cluster.up(2);
    assert_eq!(up.code, Some(0), "{up:?}");
    let api = format!("https://{}", cluster.listen);
    let token = std::fs::read_to_string(cluster.data_dir().join("apiserver/admin.token")).unwrap();
    // Unique per run: the label of this test's pods and the names it creates.
    let app = format!("dash{}", std::process::id());
    http_post_json(
        cluster.listen,
        cluster.data_dir(),
        "/api/v1/namespaces/default/pods",
        &pod("web-a", "node-1", &app),
    );

    let mut browser = Browser::start(1400, 1000);
    browser.failure_screenshot = Some(out.join("failure.png"));
    // Reading needs a token: the admin's, in this tab's session storage before the first
    // request (as the token dialog keeps it; the dialog itself is used further down).
    browser.goto(&format!("{api}/favicon.svg"));
    browser.js("sessionStorage.setItem('flatnet.adminToken', arguments[0]);", vec![json!(token.trim())]);
    // (The bare SVG made the browser look for /favicon.ico: not the dashboard's doing.)
    browser.console();
    browser.goto(&format!("{api}/"));

    // The nodes and the first pod, in the health bar, the topology and the tables.
    browser.wait("both nodes ready in the health bar", WAIT, |b| {
        b.find("#health-nodes").filter(|e| b.text(e).starts_with("2/2 nodes ready"))
    });
    for node in ["node-1", "node-2"] {
        browser.wait_find(&format!("svg.topo [data-node=\"{node}\"]"), WAIT);
    }
    browser.wait("pod web-a in the topology with its IP", WAIT, |b| {
        b.find("svg.topo a[href=\"#/pods/default/web-a\"]").filter(|e| b.text(e).contains("10.244."))
    });
    // The browser's own request for /favicon.ico after the bare SVG may be logged after the
    // drain above (it is asynchronous): that 404 is not the dashboard's either.
    let errors = console_errors(&browser, |e| {
        e["message"].as_str().is_some_and(|m| m.contains("/favicon.ico - Failed to load resource"))
    });
    assert!(errors.is_empty(), "console errors on load: {errors:#?}");
    browser.screenshot(&out.join("01-overview.png"));

    // Keyboard: the topology's boxes are links; Enter on a pod opens its detail view.
    browser.js("document.querySelector('svg.topo a[href=\"#/pods/default/web-a\"]').focus();", vec![]);
    browser.keys("\u{E007}");
    browser.wait_find(".detail[data-key=\"default/web-a\"]", WAIT);

    browser.goto(&format!("{api}/#/nodes"));
    for node in ["node-1", "node-2"] {
        browser.wait_find(&format!("table[data-kind=nodes] tr[data-key=\"/{node}\"]"), WAIT);
    }
    browser.screenshot(&out.join("02-nodes.png"));
    // A node's detail view shows its lease (watched while shown) and its pods.
    browser.goto(&format!("{api}/#/nodes/_/node-1"));
    browser.wait("node-1's lease and pod in its detail view", WAIT, |b| {
        b.find(".detail[data-key=\"/node-1\"]").filter(|e| {
            let text = b.text(e);
            // When it last renewed comes from its Lease in kube-node-lease.
            text.contains("Gateway") && text.contains("web-a") && text.contains(" ago")
        })
    });
    // Leases and events are watched while their view is open.
    browser.goto(&format!("{api}/#/nodeleases"));
    browser.wait_find("table[data-kind=nodeleases] tr[data-key=\"/node-1\"]", WAIT);
    browser.goto(&format!("{api}/#/leases"));
    browser.wait_find("table[data-kind=leases] tr[data-key=\"kube-node-lease/node-1\"]", WAIT);
    browser.goto(&format!("{api}/#/events"));
    browser.wait("the agent's Started event for web-a", WAIT, |b| {
        b.find_all("table[data-kind=events] tbody tr")
            .iter()
            .any(|row| {
                let text = b.text(row);
                text.contains("Started") && text.contains("Pod/web-a")
            })
            .then_some(())
    });

    // A pod created through the API appears without a reload: the marker set in this page
    // survives, and the row comes from the watch.
    browser.goto(&format!("{api}/#/pods"));
    browser.wait_find("table[data-kind=pods] tr[data-key=\"default/web-a\"]", WAIT);
    browser.js("window.__sameDocument = true;", vec![]);
    http_post_json(
        cluster.listen,
        cluster.data_dir(),
        "/api/v1/namespaces/default/pods",
        &pod("web-b", "node-2", &app),
    );
    browser.wait("pod web-b Running in the pods table", WAIT, |b| {
        b.find("table[data-kind=pods] tr[data-key=\"default/web-b\"]").filter(|e| b.text(e).contains("Running"))
    });
    assert_eq!(browser.js("return window.__sameDocument === true;", vec![]), json!(true), "the page reloaded");

    // Label filtering.
    browser.fill("#filter-labels", &format!("app={app},tier"));
    browser.wait("no pods match app=…,tier", WAIT, |b| b.find("table[data-kind=pods]").is_none().then_some(()));
    browser.fill("#filter-labels", &format!("app={app}"));
    browser.wait_find("table[data-kind=pods] tr[data-key=\"default/web-b\"]", WAIT);
    // Sorting: by name, then by name descending.
    browser.click_css("#sort-pods-0", WAIT);
    browser.click_css("#sort-pods-0", WAIT);
    browser.wait("pods sorted by name, descending", WAIT, |b| {
        let first = b.find("table[data-kind=pods] tbody tr")?;
        (b.attr(&first, "data-key").as_deref() == Some("default/web-b")).then_some(())
    });
    browser.screenshot(&out.join("03-pods.png"));

    // The admin token, pasted once.
    browser.click_css("#token-button", WAIT);
    browser.fill("#token-input", token.trim());
    browser.click_css("#token-save", WAIT);
    browser.wait("the token saved", WAIT, |b| b.find("#token-button").filter(|e| b.text(e).contains('✓')));

    // A bad name: the server's validation error next to the name field.
    let service = format!("web-{app}");
    browser.click_css("#create-service", WAIT);
    browser.fill("#create-form [name=\"metadata.name\"]", "Bad_Name!");
    browser.fill("#create-form [name=\"metadata.labels\"]", &format!("app={app}"));
    browser.fill("#create-form [name=\"spec.selector\"]", &format!("app={app}"));
    browser.fill("#create-form [name=\"spec.ports[0].targetPort\"]", "http");
    browser.click_css("#create-submit", WAIT);
    let message = browser.wait("the name's validation error", WAIT, |b| {
        b.find("[data-error-for=\"metadata.name\"]").map(|e| b.text(&e)).filter(|t| !t.is_empty())
    });
    assert!(message.to_lowercase().contains("lowercase") || message.contains("DNS"), "unexpected message {message:?}");
    let name_input = browser.find("#create-form [name=\"metadata.name\"]").unwrap();
    assert_eq!(browser.attr(&name_input, "aria-invalid").as_deref(), Some("true"));
    browser.screenshot(&out.join("04-validation-error.png"));

    // Fixed: the service is created, and its endpoints (both pods, once Ready) are shown.
    browser.fill("#create-form [name=\"metadata.name\"]", &service);
    browser.click_css("#create-submit", WAIT);
    browser.wait("the service's detail view with two endpoints", WAIT, |b| {
        b.find("#endpoints-of").filter(|e| b.attr(e, "data-count").as_deref() == Some("2"))
    });
    let endpoints = browser.text(&browser.find("#endpoints-of").unwrap());
    assert!(endpoints.contains("web-a") && endpoints.contains("web-b"), "{endpoints}");
    browser.screenshot(&out.join("05-service-endpoints.png"));

    // The topology draws an arrow from the service to each endpoint.
    browser.goto(&format!("{api}/#/"));
    browser.wait("two arrows from the service", WAIT, |b| {
        (b.find_all(&format!("svg.topo path.arrow[data-service=\"default/{service}\"]")).len() == 2).then_some(())
    });
    browser.screenshot(&out.join("06-topology.png"));

    // A network policy through its form: the app's pods isolated in ingress, nothing allowed.
    // The topology shields web-a and lists the policy; probes from web-b to web-a are denied,
    // and the policy's denied count rises, in the topology's list and in its table.
    let policy = format!("deny-{app}");
    browser.click_css("#create-networkpolicy", WAIT);
    browser.fill("#create-form [name=\"metadata.name\"]", &policy);
    browser.fill("#create-form [name=\"spec.podSelector\"]", &format!("app={app}"));
    browser.click_css("#create-submit", WAIT);
    browser.wait_find(&format!(".detail[data-key=\"default/{policy}\"]"), WAIT);
    browser.goto(&format!("{api}/#/"));
    browser.wait_find("svg.topo g.policy-badge[data-pod=\"default/web-a\"]", WAIT);
    let entry = format!(".topo-policies li[data-policy=\"NetworkPolicy/default/{policy}\"]");
    let listed = browser.wait_find(&entry, WAIT);
    let text = browser.text(&listed);
    assert!(text.contains("default/web-a") && text.contains("default/web-b"), "{text}");
    let denied = |b: &Browser| -> Option<u64> {
        b.find(&format!("{entry} [data-denied]")).and_then(|e| b.attr(&e, "data-denied")?.parse().ok())
    };
    let before = denied(&browser).unwrap();
    let (a, b) = (ready_pod(&cluster, "web-a"), ready_pod(&cluster, "web-b"));
    for _ in 0..3 {
        assert!(http_hostname(&b.ns, a.ip).is_err(), "web-b reached web-a through the policy");
    }
    browser.wait("the policy's denied count rising in the topology", WAIT, |b| denied(b).filter(|n| *n >= before + 3));
    browser.screenshot(&out.join("06b-policy-denied.png"));
    // (The policy has no labels: the label filter would hide it.)
    browser.fill("#filter-labels", "");
    browser.goto(&format!("{api}/#/networkpolicies"));
    let row = browser.wait_find(&format!("table[data-kind=networkpolicies] tr[data-key=\"default/{policy}\"]"), WAIT);
    let row_text = browser.text(&row);
    assert!(row_text.contains(&policy), "{row_text}");
    http_delete(
        cluster.listen,
        cluster.data_dir(),
        &format!("/apis/networking.k8s.io/v1/namespaces/default/networkpolicies/{policy}"),
    );

    // The pod's log, read through the API server from the node agent.
    browser.goto(&format!("{api}/#/pods/default/web-a"));
    browser.click_css("#detail-tab-logs", WAIT);
    browser.wait("netexec's start line in the log", WAIT, |b| {
        b.find("#logs-output").filter(|e| b.text(e).contains("flatnet netexec"))
    });
    browser.screenshot(&out.join("07-pod-logs.png"));

    // A crashing pod, created through the YAML editor, shows up as needing attention; then
    // it is deleted from its detail view.
    browser.fill("#filter-labels", "");
    let crash = format!("crash-{app}");
    browser.click_css("#create-pod", WAIT);
    browser.click_css("#create-tab-editor", WAIT);
    browser.fill(
        "#create-editor",
        &format!(
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {crash}\n  labels: {{app: crash}}\nspec:\n  \
             containers:\n  - name: main\n    command: [\"/bin/sh\", \"-c\", \"echo boom; exit 3\"]\n"
        ),
    );
    browser.click_css("#create-submit", WAIT);
    browser.wait_find(&format!(".detail[data-key=\"default/{crash}\"]"), WAIT);
    browser.goto(&format!("{api}/#/"));
    browser.wait("the crashing pod under Needs attention", WAIT, |b| {
        b.find(&format!(".problems a[href=\"#/pods/default/{crash}\"]"))
    });
    browser.wait("the health bar counting a failing pod", WAIT, |b| {
        b.find("#health-pods").filter(|e| b.text(e).contains("1 failing"))
    });
    browser.screenshot(&out.join("08-needs-attention.png"));
    browser.goto(&format!("{api}/#/pods/default/{crash}"));
    browser.click_css("#delete-object", WAIT);
    browser.click_css("#confirm-delete", WAIT);
    browser.wait("the crashing pod gone from the table", WAIT, |b| {
        (b.find("table[data-kind=pods]").is_some() && b.find(&format!("tr[data-key=\"default/{crash}\"]")).is_none())
            .then_some(())
    });

    // The editor's YAML reader and the label selectors, in the page's own modules.
    let checks = browser.js_async(
        r#"Promise.all([import("/js/yaml.js"), import("/js/selector.js")]).then(([y, s]) => {
          const doc = {metadata: {name: "a", labels: {"app.kubernetes.io/name": "x: y"}},
                       spec: {ports: [{port: 80, targetPort: "http"}], selector: {}, list: [], flag: true, none: null}};
          const sel = s.parseSelector("app in (a, b), !canary, tier!=db");
          done([
            JSON.stringify(y.parseYaml(y.toYaml(doc))) === JSON.stringify(doc),
            JSON.stringify(y.parseYaml("a:\n- 1\n- b: [x, 'y z']\n  c: \"q#\" # note\n")) === '{"a":[1,{"b":["x","y z"],"c":"q#"}]}',
            s.matches(sel, {app: "b"}) && !s.matches(sel, {app: "b", canary: ""}) && !s.matches(sel, {app: "c"}),
            (() => { try { y.parseYaml("a: 1\n   b: 2"); return false; } catch (e) { return /line 2/.test(e.message); } })(),
          ]);
        }, (e) => done(String(e)));"#,
    );
    assert_eq!(checks, json!([true, true, true, true]), "in-page checks of yaml.js and selector.js");

    // A phone's width: the page still lays out (no horizontal scroll of the whole page).
    browser.set_window_size(390, 844);
    browser.goto(&format!("{api}/#/pods"));
    browser.wait_find("table[data-kind=pods] tr[data-key=\"default/web-a\"]", WAIT);
    let overflow =
        browser.js("return document.documentElement.scrollWidth - document.documentElement.clientWidth;", vec![]);
    assert!(overflow.as_i64().unwrap_or(1) <= 0, "the page scrolls sideways at 390 px: {overflow}");
    browser.screenshot(&out.join("09-phone-pods.png"));
    browser.goto(&format!("{api}/#/"));
    browser.wait_find("svg.topo", WAIT);
    browser.screenshot(&out.join("10-phone-overview.png"));
    browser.set_window_size(1400, 1000);
    browser.color_scheme("dark");
    browser.goto(&format!("{api}/#/"));
    browser.wait_find("svg.topo", WAIT);
    browser.screenshot(&out.join("11-dark-overview.png"));

    // No console errors, except the expected 422 of the bad name.
    let errors = console_errors(&browser, |e| {
        e["source"] == "network" && e["message"].as_str().is_some_and(|m| m.contains("/services") && m.contains("422"))
    });
    assert!(errors.is_empty(), "console errors: {errors:#?}");

    // Without a token the server answers nothing: the token dialog opens by itself, and the
    // viewer token, given there, shows the cluster.
    browser.goto(&format!("{api}/#/nodes"));
    browser.js("sessionStorage.clear(); location.reload();", vec![]);
    browser.wait("the token dialog, opened by the 401", WAIT, |b| b.find("#token-dialog[open]"));
    browser.screenshot(&out.join("12-token-asked.png"));
    let viewer = std::fs::read_to_string(cluster.data_dir().join("apiserver/viewer.token")).unwrap();
    browser.fill("#token-input", viewer.trim());
    browser.click_css("#token-save", WAIT);
    browser.wait_find("table[data-kind=nodes] tr[data-key=\"/node-1\"]", WAIT);
    let errors = console_errors(&browser, |e| {
        e["source"] == "network" && e["message"].as_str().is_some_and(|m| m.contains("401"))
    });
    assert!(errors.is_empty(), "console errors: {errors:#?}");
    eprintln!("dashboard screenshots in {}", out.display());
}
