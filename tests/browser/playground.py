#!/usr/bin/env python3
"""Drive the playground page in headless Chromium against a running ragd.

usage: playground.py [--first N] RAGD_URL OUT_DIR

ragd (started by tests/t/t1360-playground.sh) serves a kb source, a slow web
source ("slow"), a failing one ("broken") and a streaming LLM.  Each check is
printed as a TAP line numbered from N (default 1), without a plan: the
caller prints that; screenshots go to OUT_DIR.  Every wait is for a
condition in the page (WebDriverWait), never for a fixed time.

Selenium and chromedriver come from Debian (python3-selenium,
chromium-driver): a real browser with no download at test time.  With
KEYS_URL (a second ragd with API keys), READ_KEY (scope search) and
WRITE_KEY (search and write) set, the key prompt is checked too.  axe-core
(tests/browser/vendor, MPL-2.0) is injected into the page by the test only.
"""
import os
import sys
import tempfile
import traceback

from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

HERE = os.path.dirname(os.path.abspath(__file__))
WAIT_S = 20
XSS_TITLE = "<img src=x onerror=alert(1)>"
XSS_TEXT = ("<script>window.__xss = 1</script> <img src=x onerror=\"window.__xss = 1\"> "
            "zebrafish marmalade")

# Records, in the page, each lane's change of state and every text the
# answer showed, so the order and the streaming are checked after the fact.
RECORDER = """
window.__lanes = []; window.__answers = [];
new MutationObserver((ms) => { for (const m of ms) {
    const li = m.target;
    if (m.attributeName === 'data-state' && li.dataset.state !== 'pending')
        window.__lanes.push([li.dataset.source, li.dataset.state]);
} }).observe(document.getElementById('lanes'), {subtree: true, attributes: true, attributeFilter: ['data-state']});
new MutationObserver(() => {
    window.__answers.push(document.getElementById('answer').textContent);
}).observe(document.getElementById('answer'), {subtree: true, childList: true, characterData: true});
"""

AXE_RUN = """
const done = arguments[arguments.length - 1];
axe.run(document, {resultTypes: ['violations']}).then(
    (r) => done(r.violations.map((v) => [v.id, v.impact, v.help, v.nodes.map((n) => n.target.join(' '))])),
    (e) => done([['axe-error', 'critical', String(e), []]]));
"""


class Check:
    """TAP output: one line per check, failures with their reason."""

    def __init__(self, first):
        self.n = first - 1
        self.failed = 0

    def run(self, name, fn):
        self.n += 1
        try:
            fn()
            print(f"ok {self.n} - {name}", flush=True)
            return True
        except Exception:
            self.failed += 1
            print(f"not ok {self.n} - {name}", flush=True)
            for line in traceback.format_exc().splitlines()[-12:]:
                print("#   " + line, flush=True)
            return False


def browser():
    opts = webdriver.ChromeOptions()
    opts.binary_location = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1100,1400", "--disable-extensions", "--no-first-run"):
        opts.add_argument(arg)
    service = Service(os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver"))
    return webdriver.Chrome(service=service, options=opts)


class Playground:
    def __init__(self, url, out):
        self.url = url.rstrip("/")
        self.out = out
        self.d = browser()
        self.wait = WebDriverWait(self.d, WAIT_S, poll_frequency=0.05)

    def js(self, script, *args):
        return self.d.execute_script(script, *args)

    def q(self, css):
        return self.d.find_element(By.CSS_SELECTOR, css)

    def until(self, script, what):
        """Wait until the JavaScript expression script is truthy."""
        return self.wait.until(lambda d: d.execute_script("return " + script), what)

    def lane(self, name):
        return self.js("const l = document.querySelector(`#lanes [data-source='${arguments[0]}']`);"
                       "return l && l.dataset.state;", name)

    def shot(self, name):
        self.d.save_screenshot(os.path.join(self.out, name))

    def open(self, query=""):
        self.d.get(self.url + "/" + query)
        self.until("document.querySelectorAll('#sources input').length > 0", "the source toggles")

    def axe_clean(self):
        with open(os.path.join(HERE, "vendor", "axe.min.js")) as f:
            self.js(f.read())
        self.d.set_script_timeout(WAIT_S)
        bad = [v for v in self.d.execute_async_script(AXE_RUN) if v[1] in ("serious", "critical")]
        assert not bad, f"accessibility violations: {bad}"

    # ---------------------------------------------------------- checks --

    def stream(self):
        """Lanes settle in the order the sources answer; the answer streams."""
        self.open()
        self.js(RECORDER)
        self.q("#q").send_keys("what causes ocean tides")
        assert "q=what+causes+ocean+tides" in self.js("return location.search"), \
            "the address does not follow the form"
        self.q("#go").click()
        self.wait.until(lambda d: self.lane("kb") == "ok" and self.lane("slow") == "pending",
                        "kb settled while the slow source is still pending")
        self.wait.until(lambda d: self.lane("broken") == "error", "the broken source shown as failed")
        self.until("document.querySelector(\"#lanes [data-source='slow']\").dataset.late",
                   "the slow source marked late")
        assert "late" in self.q("#lanes [data-source='slow'] .lane-status").text
        self.shot("playground-midstream.png")
        self.until("document.querySelector('#answer-note').textContent.startsWith('ok')",
                   "the generation to finish")
        self.shot("playground-finished.png")
        lanes = self.js("return window.__lanes")
        order = [name for name, _ in lanes]
        assert order.index("kb") < order.index("slow"), f"lane order {lanes}"
        assert order.index("broken") < order.index("slow"), f"lane order {lanes}"
        assert dict(lanes) == {"kb": "ok", "slow": "ok", "broken": "error"}, f"lane states {lanes}"
        assert "HTTP 503" in self.q("#lanes [data-source='broken']").text
        assert self.q("#lanes [data-source='slow'] .lane-status").text.endswith("· late")
        assert not self.js("return document.querySelector(\"#lanes [data-source='kb']\").dataset.late")
        final = self.q("#answer").text
        seen = self.js("return window.__answers")
        partial = [a for a in seen if a and a != final and final.startswith(a)]
        assert final.startswith("Fake answer about"), f"answer {final!r}"
        assert len(partial) >= 3, f"no partial answers before the final one: {seen}"

    def cite(self):
        """A citation scrolls to and highlights its context."""
        assert not self.js("return document.querySelector('#ctx-1').classList.contains('highlight')")
        self.q("#answer a.cite[data-cite='1']").click()
        self.until("document.querySelector('#ctx-1').classList.contains('highlight')",
                   "context 1 highlighted")
        assert self.js("return document.activeElement.id") == "ctx-1"
        rank = self.q("#ctx-1 .rank").text
        assert rank == "[1]", rank

    def accessible(self):
        self.axe_clean()

    def narrow(self):
        """At 360 px wide nothing scrolls sideways."""
        self.d.set_window_size(360, 900)
        self.until("window.innerWidth <= 400", "a narrow window")
        wide = self.js("return document.documentElement.scrollWidth - window.innerWidth")
        self.js("window.scrollTo(0, 0)")
        self.shot("playground-360.png")
        self.d.set_window_size(1100, 1400)
        assert wide <= 0, f"the page is {wide} px wider than a 360 px window"

    def upload(self):
        """Pasted and dropped documents become jobs that reach done."""
        self.open()
        tab = self.q("#tab-docs")
        assert tab.is_displayed(), "no Documents tab although writes are allowed"
        tab.click()
        self.q("#doc-id").send_keys("xss-doc")
        self.q("#doc-title").send_keys(XSS_TITLE)
        self.q("#doc-text").send_keys(XSS_TEXT)
        self.q("#paste-form button").click()
        self.until("document.querySelector('#jobs li[data-status=done]')", "the pasted job done")
        with tempfile.NamedTemporaryFile("w", suffix=".md", prefix="quokka-", delete=False) as f:
            f.write("# Quokkas\n\nThe quokka is a small wallaby of Rottnest Island.\n")
        try:
            self.q("#files").send_keys(f.name)
            self.until("document.querySelectorAll('#jobs li[data-status=done]').length == 2",
                       "the file's job done")
        finally:
            os.unlink(f.name)
        self.until("document.querySelectorAll('#added li').length == 2", "both listed as added")
        self.axe_clean()

    def found(self):
        """A shared link runs its search; the new document is found."""
        self.open("?q=quokka+wallaby&sources=kb&generate=false")
        self.until("document.querySelector('#ctx-1')", "a context for the uploaded file")
        assert self.q("#q").get_attribute("value") == "quokka wallaby"
        assert self.js("return [...document.querySelectorAll('#lanes li')].map(l => l.dataset.source)") == ["kb"]
        text = self.q("#ctx-1 .ctx-text").text
        assert "Rottnest" in text, f"context 1 is {text!r}"

    def escaped(self):
        """The hostile document is shown literally and runs nothing."""
        self.open("?q=zebrafish+marmalade&sources=kb")
        self.until("document.querySelector('#answer-note').textContent.length > 0", "the answer")
        try:
            self.d.switch_to.alert
            raise AssertionError("an alert is open")
        except NoAlertPresentException:
            pass
        assert self.js("return window.__xss") is None, "the payload ran"
        assert self.q("#ctx-1 .ctx-title").text == XSS_TITLE
        text = self.q("#ctx-1 .ctx-text").text
        assert "<script>window.__xss = 1</script>" in text, f"context 1 is {text!r}"
        assert not self.js("return document.querySelector('main img, main script')"), \
            "markup from a document reached the DOM"

    def filter_errors(self):
        """A bad filter is refused in place: by the page, then by the server."""
        self.open()
        self.q("#q").send_keys("tides")
        self.q("#filter").send_keys("{year")
        self.q("#go").click()
        self.until("!document.querySelector('#filter-error').hidden", "the page's filter error")
        assert self.q("#filter-error").text.startswith("filter: not JSON"), self.q("#filter-error").text
        assert self.q("#filter").get_attribute("aria-invalid") == "true"
        self.q("#filter").clear()
        self.q("#filter").send_keys('{"year": {"$foo": 1}}')
        self.q("#go").click()
        self.until("document.querySelector('#filter-error').textContent.includes('unknown operator')",
                   "the server's filter error")
        assert self.q("#filter-error").text.startswith("filter.year.$foo: "), self.q("#filter-error").text

    def keys(self, url, read, write):
        """With keys the page asks for one, keeps it for the tab, and shows
        the Documents tab only to a key that may write."""
        self.d.get(url + "/")
        self.until("!document.querySelector('#key-form').hidden", "the page asking for a key")
        assert not self.q("#tab-docs").is_displayed()
        self.q("#key").send_keys("not-a-key")
        self.q("#key-form button").click()
        self.until("document.querySelector('#key-why').textContent.includes('not known')",
                   "an unknown key refused")
        self.q("#key").send_keys(read)
        self.q("#key-form button").click()
        self.until("document.querySelectorAll('#sources input').length > 0", "sources with the key")
        assert self.q("#key-form").get_attribute("hidden") is not None
        assert not self.q("#tab-docs").is_displayed(), "Documents shown to a search-only key"
        self.d.get(url + "/?q=volcano&generate=false")
        self.until("document.querySelector('#ctx-1')", "a search with the kept key")
        assert self.js("return sessionStorage.getItem('ragd-key')") == read
        self.js("sessionStorage.clear()")
        self.d.get(url + "/")
        self.until("!document.querySelector('#key-form').hidden", "the page asking again")
        self.q("#key").send_keys(write)
        self.q("#key-form button").click()
        self.until("document.querySelectorAll('#sources input').length > 0", "sources with the key")
        assert self.q("#tab-docs").is_displayed(), "no Documents tab for a key that may write"

    def delete(self):
        """A document can be deleted from the Documents tab."""
        self.q("#tab-docs").click()
        self.q("#del-id").send_keys("xss-doc")
        self.q("#delete-form button[type=submit]").click()
        self.until("document.querySelector('#docs-status').textContent == 'Deleted xss-doc.'",
                   "the delete confirmed")


def main():
    args = sys.argv[1:]
    first = 1
    if args[:1] == ["--first"] and len(args) > 1:
        first = int(args[1])
        args = args[2:]
    if len(args) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    os.makedirs(args[1], exist_ok=True)
    t = Check(first)
    p = Playground(args[0], args[1])
    try:
        if t.run("the lanes settle in order, the slow one late, the broken one failed, "
                 "and the answer streams in", p.stream):
            t.run("clicking a citation highlights its context", p.cite)
        t.run("no serious or critical accessibility violations (axe-core)", p.accessible)
        t.run("usable at 360 px wide", p.narrow)
        if t.run("uploads from the Documents tab reach done", p.upload):
            t.run("a shared link fills the form and finds the new document", p.found)
            t.run("a document with markup is shown literally and runs nothing", p.escaped)
            t.run("a document can be deleted", p.delete)
        t.run("a bad filter is shown in place, the page's and the server's", p.filter_errors)
        if os.environ.get("KEYS_URL"):
            t.run("with keys: asked for, kept for the tab, Documents only for writers",
                  lambda: p.keys(os.environ["KEYS_URL"], os.environ["READ_KEY"], os.environ["WRITE_KEY"]))
    finally:
        p.d.quit()
    return 0


if __name__ == "__main__":
    sys.exit(main())
