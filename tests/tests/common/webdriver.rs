//! A small WebDriver client for browser tests: Debian's `chromedriver` driving headless
//! `chromium`, spoken to as plain HTTP/JSON (the W3C protocol) through reqwest. Each
//! [`Browser`] has its own chromedriver (on a free loopback port, in its own process group)
//! and its own profile directory; dropping it ends the session and kills what it started.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// The key of an element reference in WebDriver answers.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// Whether Debian's chromium and chromium-driver are installed.
pub fn available() -> bool {
    Path::new(CHROMIUM).is_file() && Path::new(CHROMEDRIVER).is_file()
}

pub struct Browser {
    driver: Child,
    rt: tokio::runtime::Runtime,
    http: reqwest::Client,
    session: String,
    base: String,
    profile: tempfile::TempDir,
    /// Where a timed-out wait saves a screenshot before failing.
    pub failure_screenshot: Option<PathBuf>,
}

#[derive(Debug)]
pub struct WdError(pub String);

impl std::fmt::Display for WdError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Browser {
    /// Start chromedriver and a headless Chromium session of `width`×`height`.
    pub fn start(width: u32, height: u32) -> Browser {
        use std::os::unix::process::CommandExt;
        let port = super::free_tcp_port().port();
        let profile = tempfile::tempdir().unwrap();
        let log = std::fs::File::create(profile.path().join("chromedriver.log")).unwrap();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            // Its own process group, so that the browser it starts can be killed with it.
            .process_group(0)
            .spawn()
            .expect("start chromedriver");
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let http = reqwest::Client::builder().timeout(Duration::from_secs(60)).build().unwrap();
        let mut browser = Browser {
            driver,
            rt,
            http,
            session: String::new(),
            base: format!("http://127.0.0.1:{port}"),
            profile,
            failure_screenshot: None,
        };
        browser.wait("chromedriver ready", Duration::from_secs(30), |b| {
            b.raw("GET", "/status", None).ok().filter(|v| v["value"]["ready"] == true)
        });
        let data_dir = browser.profile.path().join("profile");
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--disable-dev-shm-usage", format!("--window-size={width},{height}"),
                    // The API server's certificate is signed by the cluster's own CA.
                    "--ignore-certificate-errors",
                    format!("--user-data-dir={}", data_dir.display())],
            },
            "goog:loggingPrefs": {"browser": "ALL"},
        }}});
        let answer = browser.raw("POST", "/session", Some(caps)).unwrap_or_else(|e| {
            panic!(
                "new session: {e}\n{}",
                std::fs::read_to_string(browser.profile.path().join("chromedriver.log")).unwrap_or_default()
            )
        });
        browser.session = answer["value"]["sessionId"].as_str().expect("sessionId").to_string();
        browser
    }

    fn raw(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, WdError> {
        let url = format!("{}{path}", self.base);
        let req = match method {
            "GET" => self.http.get(&url),
            "DELETE" => self.http.delete(&url),
            _ => self.http.post(&url).json(&body.unwrap_or_else(|| json!({}))),
        };
        self.rt.block_on(async {
            let res = req.send().await.map_err(|e| WdError(format!("{method} {path}: {e}")))?;
            let status = res.status();
            let value: Value = res.json().await.map_err(|e| WdError(format!("{method} {path}: {e}")))?;
            if !status.is_success() {
                return Err(WdError(format!("{method} {path}: {status}: {}", value["value"])));
            }
            Ok(value)
        })
    }

    /// A command of this session; answers its `value`.
    pub fn cmd(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, WdError> {
        self.raw(method, &format!("/session/{}{path}", self.session), body).map(|mut v| v["value"].take())
    }

    pub fn goto(&self, url: &str) {
        self.cmd("POST", "/url", Some(json!({"url": url}))).unwrap();
    }

    /// Run JavaScript in the page (`arguments[0]` … are `args`); answers its return value.
    pub fn js(&self, script: &str, args: Vec<Value>) -> Value {
        self.cmd("POST", "/execute/sync", Some(json!({"script": script, "args": args}))).unwrap()
    }

    /// Run asynchronous JavaScript: the script calls `done(value)` (the last argument).
    pub fn js_async(&self, script: &str) -> Value {
        let script = format!("const done = arguments[arguments.length - 1];\n{script}");
        self.cmd("POST", "/execute/async", Some(json!({"script": script, "args": []}))).unwrap()
    }

    pub fn find(&self, css: &str) -> Option<Element> {
        let v = self.cmd("POST", "/element", Some(json!({"using": "css selector", "value": css}))).ok()?;
        Some(Element(v[ELEMENT].as_str()?.to_string()))
    }

    pub fn find_all(&self, css: &str) -> Vec<Element> {
        let v = self.cmd("POST", "/elements", Some(json!({"using": "css selector", "value": css}))).unwrap();
        v.as_array().unwrap().iter().map(|e| Element(e[ELEMENT].as_str().unwrap().to_string())).collect()
    }

    /// Wait up to `timeout` for `css` to match, then answer it.
    pub fn wait_find(&self, css: &str, timeout: Duration) -> Element {
        self.wait(&format!("element {css}"), timeout, |b| b.find(css))
    }

    pub fn click(&self, el: &Element) {
        self.cmd("POST", &format!("/element/{}/click", el.0), None).unwrap();
    }

    /// Click what `css` matches, finding it again if a re-render replaced it meanwhile.
    pub fn click_css(&self, css: &str, timeout: Duration) {
        self.wait(&format!("a click on {css}"), timeout, |b| {
            let el = b.find(css)?;
            b.cmd("POST", &format!("/element/{}/click", el.0), None).ok()
        });
    }

    pub fn clear(&self, el: &Element) {
        self.cmd("POST", &format!("/element/{}/clear", el.0), None).unwrap();
    }

    pub fn type_text(&self, el: &Element, text: &str) {
        self.cmd("POST", &format!("/element/{}/value", el.0), Some(json!({"text": text}))).unwrap();
    }

    /// Clear an input and type `text` into it.
    pub fn fill(&self, css: &str, text: &str) {
        let el = self.wait_find(css, Duration::from_secs(10));
        self.clear(&el);
        self.type_text(&el, text);
    }

    pub fn text(&self, el: &Element) -> String {
        self.cmd("GET", &format!("/element/{}/text", el.0), None)
            .map(|v| v.as_str().unwrap_or("").to_string())
            .unwrap_or_default()
    }

    pub fn attr(&self, el: &Element, name: &str) -> Option<String> {
        self.cmd("GET", &format!("/element/{}/attribute/{name}", el.0), None).ok()?.as_str().map(str::to_string)
    }

    /// Press keys in the focused element (WebDriver key codes, e.g. "\u{E004}" for Tab).
    pub fn keys(&self, keys: &str) {
        let actions: Vec<Value> = keys
            .chars()
            .flat_map(|c| {
                [json!({"type": "keyDown", "value": c.to_string()}), json!({"type": "keyUp", "value": c.to_string()})]
            })
            .collect();
        self.cmd("POST", "/actions", Some(json!({"actions": [{"type": "key", "id": "keyboard", "actions": actions}]})))
            .unwrap();
    }

    /// Emulate `prefers-color-scheme: dark` (or light), through chromedriver's CDP bridge.
    pub fn color_scheme(&self, scheme: &str) {
        let params = json!({"features": [{"name": "prefers-color-scheme", "value": scheme}]});
        self.cmd("POST", "/goog/cdp/execute", Some(json!({"cmd": "Emulation.setEmulatedMedia", "params": params})))
            .unwrap();
    }

    pub fn set_window_size(&self, width: u32, height: u32) {
        self.cmd("POST", "/window/rect", Some(json!({"width": width, "height": height}))).unwrap();
    }

    /// Save a PNG of the viewport.
    pub fn screenshot(&self, path: &Path) {
        let v = self.cmd("GET", "/screenshot", None).unwrap();
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, base64_decode(v.as_str().unwrap())).unwrap();
    }

    /// The browser's console log since the last call (chromedriver's `goog:loggingPrefs`).
    pub fn console(&self) -> Vec<Value> {
        self.cmd("POST", "/se/log", Some(json!({"type": "browser"}))).unwrap().as_array().cloned().unwrap_or_default()
    }

    /// Poll `f` (every 100 ms) until it answers Some, for at most `timeout`.
    pub fn wait<T>(&self, what: &str, timeout: Duration, mut f: impl FnMut(&Browser) -> Option<T>) -> T {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(v) = f(self) {
                return v;
            }
            if Instant::now() > deadline {
                if let Some(path) = self.failure_screenshot.as_deref().filter(|_| !self.session.is_empty()) {
                    self.screenshot(path);
                }
                panic!("timed out after {timeout:?} waiting for {what}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The chromedriver log (for failure messages).
    pub fn driver_log(&self) -> PathBuf {
        self.profile.path().join("chromedriver.log")
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = self.raw("DELETE", &format!("/session/{}", self.session), None);
        }
        // chromedriver and the browser it started share the driver's process group; anything
        // that left the group still names our profile directory on its command line.
        let pgid = nix::unistd::Pid::from_raw(self.driver.id() as i32);
        let _ = nix::sys::signal::killpg(pgid, nix::sys::signal::Signal::SIGKILL);
        let _ = self.driver.wait();
        let profile = self.profile.path().to_string_lossy().into_owned();
        for pid in pids_with_arg(&profile) {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
        }
    }
}

/// Processes whose command line contains `needle`.
fn pids_with_arg(needle: &str) -> Vec<i32> {
    let Ok(dir) = std::fs::read_dir("/proc") else { return Vec::new() };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| String::from_utf8_lossy(&c).contains(needle))
        })
        .collect()
}

#[derive(Clone, Debug)]
pub struct Element(pub String);

/// Standard base64 (the screenshot's encoding), without a dependency for one call.
fn base64_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| -> u32 {
        match c {
            b'A'..=b'Z' => (c - b'A') as u32,
            b'a'..=b'z' => (c - b'a' + 26) as u32,
            b'0'..=b'9' => (c - b'0' + 52) as u32,
            b'+' => 62,
            b'/' => 63,
            _ => panic!("not base64: {c}"),
        }
    };
    let bytes: Vec<u8> = text.bytes().filter(|c| !c.is_ascii_whitespace() && *c != b'=').collect();
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for chunk in bytes.chunks(4) {
        let n = chunk.iter().enumerate().fold(0u32, |acc, (i, c)| acc | (value(*c) << (18 - 6 * i)));
        out.push((n >> 16) as u8);
        if chunk.len() > 2 {
            out.push((n >> 8) as u8);
        }
        if chunk.len() > 3 {
            out.push(n as u8);
        }
    }
    out
}
