"""Open a local HTML page in headless Chromium: check that it renders cleanly, or take a PNG screenshot of it.

    python tools/headless.py check PAGE.html [PAGE2.html ...]      exit 1 on any problem, listing each
    python tools/headless.py shot PAGE.html OUT.png [--width 1200] [--height 900]

"Renders cleanly" means: the page loads (no navigation error), no uncaught JavaScript exception, no console
error (console.error/assert, and the browser's own error entries such as a resource that failed to load), and
every <img> decoded (a broken data: URI or a missing file logs nothing, so it is checked in the DOM).

It speaks the Chrome DevTools Protocol over --remote-debugging-pipe (NUL-separated JSON on file descriptors 3
and 4 of the browser process): only the standard library, no websocket client, no browser download (Playwright
would fetch its own build; this uses the system's Debian `chromium`, or $EDGEPORT_CHROMIUM).
"""

from __future__ import annotations

import argparse
import base64
import fcntl
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
SETTLE_S = 0.5  # after the load event: late errors (timers, image decoding) still get reported


def find_browser() -> str:
    named = os.environ.get("EDGEPORT_CHROMIUM")
    found = named or next((b for b in map(shutil.which, BROWSERS) if b), None)
    if not found:
        sys.exit("no Chromium found: install Debian's `chromium` (apt-get install chromium) or set EDGEPORT_CHROMIUM")
    return found


class Browser:
    """One headless Chromium with one page; ``call`` sends a command and returns its result, collecting the
    page's events on the way."""

    def __init__(self, width: int = 1200, height: int = 900, timeout: float = 30.0):
        self.timeout, self.events, self._next_id, self._buf = timeout, [], 0, b""
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()
        self._profile = tempfile.TemporaryDirectory(prefix="edgeport-chromium-", ignore_cleanup_errors=True)
        self._log = tempfile.TemporaryFile()  # the browser's own stderr: a file, so a chatty browser never blocks

        def child_fds():  # the pipe protocol's fixed descriptors: the browser reads fd 3, writes fd 4
            high = [fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in (to_browser_r, from_browser_w)]  # never 3 or 4
            os.dup2(high[0], 3)  # dup2 leaves 3 and 4 inheritable; every other fd Python opened closes on exec
            os.dup2(high[1], 4)

        self._proc = subprocess.Popen(
            [find_browser(), "--headless", "--remote-debugging-pipe", "--no-sandbox", "--disable-gpu",
             "--no-first-run", "--no-default-browser-check", "--disable-extensions", "--hide-scrollbars",
             f"--user-data-dir={self._profile.name}", f"--window-size={width},{height}", "about:blank"],
            preexec_fn=child_fds, close_fds=False, start_new_session=True, stdout=subprocess.DEVNULL, stderr=self._log)
        os.close(to_browser_r)
        os.close(from_browser_w)
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            self.call(f"{domain}.enable", session=True)
        self.call("Emulation.setDeviceMetricsOverride", session=True, width=width, height=height,
                  deviceScaleFactor=1, mobile=False)

    def call(self, method: str, session: bool = False, **params) -> dict:
        self._next_id += 1
        msg = {"id": self._next_id, "method": method, "params": params}
        if session:
            msg["sessionId"] = self.session
        os.write(self._to_browser, json.dumps(msg).encode() + b"\0")
        while True:
            reply = self._read()
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error'].get('message')}")
                return reply["result"]

    def wait_for(self, method: str) -> None:
        while not any(e["method"] == method for e in self.events):
            self._read()

    def drain(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self._read(until=end)

    def _read(self, until: float | None = None) -> dict:
        deadline = until or time.monotonic() + self.timeout
        while b"\0" not in self._buf:
            ready, _, _ = select.select([self._from_browser], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                if until:
                    return {}
                raise TimeoutError(f"Chromium did not answer within {self.timeout:.0f} s")
            chunk = os.read(self._from_browser, 1 << 20)
            if not chunk:
                self._log.seek(0)
                err = self._log.read().decode(errors="replace")[-2000:]
                raise RuntimeError(f"Chromium exited (code {self._proc.poll()}): {err}")
            self._buf += chunk
        raw, _, self._buf = self._buf.partition(b"\0")
        msg = json.loads(raw)
        if "method" in msg:
            self.events.append(msg)
        return msg

    def open(self, page: Path) -> str | None:
        """Navigate to a local file and wait for its load event; the navigation error, if any."""
        self.events.clear()
        nav = self.call("Page.navigate", session=True, url=page.resolve().as_uri())
        if nav.get("errorText"):
            return nav["errorText"]
        self.wait_for("Page.loadEventFired")
        self.drain(SETTLE_S)
        return None

    def close(self) -> None:
        try:  # a clean exit lets the renderer and zygote processes go before the profile is removed
            self.call("Browser.close")
        except (RuntimeError, TimeoutError, OSError):
            pass
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self._proc.pid, signal.SIGKILL)  # its own process group (start_new_session): only its children
            self._proc.wait()
        for fd in (self._to_browser, self._from_browser):
            os.close(fd)
        self._profile.cleanup()
        self._log.close()


def problems(browser: Browser, page: Path) -> list[str]:
    error = browser.open(page)
    if error:
        return [f"did not load: {error}"]
    found = []
    for e in browser.events:
        p = e.get("params", {})
        if e["method"] == "Runtime.exceptionThrown":
            d = p["exceptionDetails"]
            text = d.get("exception", {}).get("description") or d.get("text")
            found.append(f"uncaught exception (line {d.get('lineNumber', 0) + 1}): {text}")
        elif e["method"] == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            found.append("console.error: " + " ".join(str(a.get("value", a.get("description", ""))) for a in p["args"]))
        elif e["method"] == "Log.entryAdded" and p["entry"]["level"] == "error":
            entry = p["entry"]
            found.append(f"console error ({entry['source']}): {entry['text']} {entry.get('url', '')}".rstrip())
    broken = browser.call("Runtime.evaluate", session=True, returnByValue=True, expression=(
        "[...document.images].filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src.slice(0, 80))"))
    found += [f"image did not decode: {src}" for src in broken["result"]["value"]]
    body = browser.call("Runtime.evaluate", session=True, returnByValue=True,
                        expression="document.body ? document.body.innerText.trim().length : 0")
    if not body["result"]["value"]:
        found.append("the page shows no text")
    return found


def screenshot(browser: Browser, page: Path, out: Path) -> None:
    error = browser.open(page)
    if error:
        sys.exit(f"{page}: did not load: {error}")
    png = base64.b64decode(browser.call("Page.captureScreenshot", session=True, format="png")["data"])
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(png)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    check = sub.add_parser("check", help="exit 1 if a page fails to load, logs a console error or has a broken image")
    check.add_argument("pages", nargs="+", type=Path)
    shot = sub.add_parser("shot", help="PNG screenshot of the page's first screen")
    shot.add_argument("page", type=Path)
    shot.add_argument("out", type=Path)
    shot.add_argument("--width", type=int, default=1200)
    shot.add_argument("--height", type=int, default=900)
    args = ap.parse_args(argv)

    browser = Browser(*((args.width, args.height) if args.cmd == "shot" else ()))
    try:
        if args.cmd == "shot":
            screenshot(browser, args.page, args.out)
            return 0
        failed = 0
        for page in args.pages:
            found = problems(browser, page)
            print(f"{page}: " + ("renders, no console errors" if not found else f"{len(found)} problem(s)"))
            for p in found:
                print(f"  - {p}")
            failed += bool(found)
        return 1 if failed else 0
    finally:
        browser.close()


if __name__ == "__main__":
    sys.exit(main())
