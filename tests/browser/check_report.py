#!/usr/bin/env python3
"""Check that a self-contained HTML report renders in headless Chromium.

Usage: check_report.py REPORT.html [--min-images N]

Drives Debian's chromium through chromedriver's W3C WebDriver HTTP API using
only the standard library, so the check runs in CI without pip packages.

Exit status: 0 the report renders cleanly; 1 one or more checks failed (one
line per problem); 2 chromium/chromedriver are missing or would not start.
"""
import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")
PACKAGES_HINT = "install the Debian packages chromium and chromium-driver"
# blob: URLs are in-memory objects the page made itself, so still offline.
OFFLINE_SCHEMES = ("file:", "data:", "blob:")


class SetupError(Exception):
    """The browser tooling is unusable; maps to exit status 2."""


class WebDriver:
    """Just enough of the W3C WebDriver protocol for this check."""

    def __init__(self, port):
        self.base = "http://127.0.0.1:%d" % port
        self.session = None

    def call(self, method, path, body=None, timeout=8):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            self.base + path, data=data, method=method,
            headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                return json.load(resp).get("value")
        except urllib.error.HTTPError as err:
            # WebDriver errors come back as JSON bodies with non-2xx codes.
            try:
                value = json.load(err).get("value", {})
                # chromedriver's message already starts with the error code.
                msg = value.get("message") or value.get("error") or str(err)
            except ValueError:
                msg = str(err)
            raise RuntimeError(msg.splitlines()[0]) from None
        except TimeoutError:
            # Usually a page whose script never yields, so say so plainly.
            where = path.replace("/session/%s" % self.session, "") or path
            raise RuntimeError("%s %s: no answer within %d s (page hung?)"
                               % (method, where, timeout)) from None

    def s(self, method, path, body=None, timeout=8):
        return self.call(method, "/session/%s%s" % (self.session, path),
                         body, timeout)

    def js(self, script, *args):
        return self.s("POST", "/execute/sync",
                      {"script": script, "args": list(args)})

    def read_log(self, kind):
        """Return log entries; chromedriver only offers non-W3C endpoints."""
        # W3C-mode chromedriver serves the legacy log at POST /se/log (used
        # by Selenium 4); POST /log still works too but is the older alias
        # and may go away, so it is only the fallback. GET /log does not
        # exist in chromedriver.
        errors = []
        for path in ("/se/log", "/log"):
            try:
                return self.s("POST", path, {"type": kind})
            except (RuntimeError, OSError) as err:
                errors.append("%s: %s" % (path, err))
        raise RuntimeError("cannot read %s log (%s)"
                           % (kind, "; ".join(errors)))


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def kill_group(proc):
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def start_driver(port, log_path, timeout=10.0):
    for binary in (CHROMIUM, CHROMEDRIVER):
        if not shutil.which(binary):
            raise SetupError("%s not found; %s" % (binary, PACKAGES_HINT))
    proc = subprocess.Popen(
        [CHROMEDRIVER, "--port=%d" % port, "--log-path=%s" % log_path],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        # Own process group: chromium stays in it, so a hung browser that
        # ignores DELETE /session can still be killed along with the driver.
        start_new_session=True)
    driver = WebDriver(port)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SetupError("chromedriver exited with status %d; %s"
                             % (proc.returncode, PACKAGES_HINT))
        try:
            if (driver.call("GET", "/status", timeout=1) or {}).get("ready"):
                return proc, driver
        except (OSError, RuntimeError):
            pass  # not listening yet
        time.sleep(0.1)
    kill_group(proc)
    raise SetupError("chromedriver did not answer /status within %.0f s"
                     % timeout)


def open_session(driver, profile_dir):
    caps = {
        "browserName": "chrome",
        "pageLoadStrategy": "normal",
        "timeouts": {"pageLoad": 10000, "script": 5000},
        "goog:chromeOptions": {
            "binary": CHROMIUM,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                     "--disable-dev-shm-usage", "--window-size=1280,1000",
                     "--user-data-dir=" + profile_dir],
            # The performance log records every network request, including
            # failed ones that never reach the Resource Timing buffer.
            "perfLoggingPrefs": {"enableNetwork": True, "enablePage": False},
        },
        "goog:loggingPrefs": {"browser": "ALL", "performance": "ALL"},
    }
    try:
        value = driver.call("POST", "/session",
                            {"capabilities": {"alwaysMatch": caps}},
                            timeout=25)
    except (OSError, RuntimeError) as err:
        raise SetupError("cannot start chromium: %s; %s"
                         % (err, PACKAGES_HINT))
    driver.session = value["sessionId"]


def external_requests(driver):
    """URLs the page fetched (or tried to) outside file: and data:."""
    urls = set(driver.js(
        "return performance.getEntriesByType('resource').map(e => e.name);"))
    for entry in driver.read_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message.get("method") != "Network.requestWillBeSent":
            continue
        params = message["params"]
        # Headless Chromium also loads its chrome:// new-tab page into the
        # tab; only requests made on behalf of the report's documents count.
        if params.get("documentURL", "").startswith(OFFLINE_SCHEMES):
            urls.add(params["request"]["url"])
    return sorted(u for u in urls if not u.startswith(OFFLINE_SCHEMES))


def check(driver, report, min_images):
    """Run every check and return (problems, number of images loaded)."""
    problems = []
    driver.read_log("performance")  # reading clears it: drop start-up noise
    try:
        # pageLoad (10 s) expires first, so chromedriver reports the hang.
        driver.s("POST", "/url", {"url": report.as_uri()}, timeout=12)
    except RuntimeError as err:
        problems.append("navigation failed: %s" % err)
    deadline = time.monotonic() + 10
    while driver.js("return document.readyState;") != "complete":
        if time.monotonic() > deadline:
            problems.append("document.readyState never became 'complete'")
            break
        time.sleep(0.1)

    page = driver.js("""return {
        title: document.title.trim(),
        text: document.body ? document.body.innerText.trim().length : 0,
        summary: document.getElementById('summary') !== null,
        images: Array.from(document.images, im => ({
            ok: im.complete && im.naturalWidth > 0,
            label: im.getAttribute('src') || im.alt || '(no src)'})),
    };""")
    if not page["title"]:
        problems.append("page has no <title> (or it is empty)")
    if not page["text"]:
        problems.append("document body has no visible text")
    if not page["summary"]:
        problems.append('no element with id="summary"')
    loaded = sum(1 for im in page["images"] if im["ok"])
    for im in page["images"]:
        if not im["ok"]:
            problems.append("image did not load: %s" % im["label"][:80])
    if len(page["images"]) < min_images:
        problems.append("only %d image(s), expected at least %d"
                        % (len(page["images"]), min_images))

    for entry in driver.read_log("browser"):
        if entry.get("level") == "SEVERE":
            problems.append("console error: %s" % entry.get("message"))
    for url in external_requests(driver):
        problems.append("request outside file:/data: (report must work "
                        "offline): %s" % url[:120])
    return problems, loaded


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", type=Path)
    parser.add_argument("--min-images", type=int, default=1)
    args = parser.parse_args()
    report = args.report.resolve()
    if not report.is_file():
        print("FAIL: report not found: %s" % report)
        return 1

    with tempfile.TemporaryDirectory(prefix="check_report_") as tmp:
        proc = driver = None
        log_path = os.path.join(tmp, "chromedriver.log")
        try:
            proc, driver = start_driver(free_port(), log_path)
            open_session(driver, os.path.join(tmp, "profile"))
            problems, loaded = check(driver, report, args.min_images)
        except SetupError as err:
            print("ERROR: %s" % err)
            # The temp dir goes away on exit, so show the driver's last words.
            if os.path.exists(log_path):
                with open(log_path, errors="replace") as log:
                    # Entries start with "[time]"; skip JSON continuations.
                    lines = [ln for ln in log if ln.startswith("[")]
                    for line in lines[-3:]:
                        print("  chromedriver: %s" % line.rstrip()[:300])
            return 2
        except (OSError, RuntimeError) as err:
            # The browser started, so a WebDriver failure now (renderer
            # crash, script timeout) is most likely the report's fault.
            print("FAIL: webdriver error while checking the report: %s" % err)
            if driver is not None:
                driver.session = None  # hung: DELETE would only stall
            return 1
        finally:
            # Always release the browser; a leaked chromium would outlive CI.
            # Killing the group also covers the cases that skip DELETE.
            if driver is not None and driver.session:
                try:
                    driver.s("DELETE", "", timeout=5)
                except (OSError, RuntimeError):
                    pass
            if proc is not None:
                kill_group(proc)

    if problems:
        for problem in problems:
            print("FAIL: %s" % problem)
        return 1
    print("report renders: %d images loaded, no console error" % loaded)
    return 0


if __name__ == "__main__":
    sys.exit(main())
