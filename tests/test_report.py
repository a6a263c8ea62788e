"""The bench's report.html: self-contained, every metric, the plot and the samples embedded, provenance and
links to the runs; opened in a real headless Chromium with the network off, it shows them without errors.
Also the bench's smaller outputs: the plot's PNG provenance and results.md's extractor hash."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from html.parser import HTMLParser

import pytest
from PIL import Image

from ganzoo.bench import BenchConfig, run_benchmark

TINY = ["generator_width=8", "discriminator_width=8", "batch_size=16"]
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    config = BenchConfig(models=["vanilla", "dcgan"], steps=4, eval_every=2, n_eval=200, out=out, overrides=TINY,
                         progress=False)
    return run_benchmark(config), out


class Page(HTMLParser):
    """The parts of the page the tests look at: table cells, images, links."""

    def __init__(self) -> None:
        super().__init__()
        self.cells, self.images, self.links, self.scripts = [], [], [], 0
        self._in_cell = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in ("td", "th"):
            self._in_cell = True
            self.cells.append("")
        elif tag == "img":
            self.images.append(attrs)
        elif tag == "a":
            self.links.append(attrs["href"])
        elif tag in ("script", "link", "iframe"):
            self.scripts += 1

    def handle_endtag(self, tag):
        if tag in ("td", "th"):
            self._in_cell = False

    def handle_data(self, data):
        if self._in_cell:
            self.cells[-1] += data


def test_the_report_holds_every_metric_the_plot_the_samples_and_links_to_the_runs(bench):
    results, out = bench
    page = Page()
    page.feed((out / "report.html").read_text())
    from ganzoo.bench_results import TABLE_COLUMNS, table_rows

    for cell in [*TABLE_COLUMNS, *(value for row in table_rows(results) for value in row)]:
        assert cell in page.cells, cell
    assert page.scripts == 0
    sources = [image["src"] for image in page.images]
    assert all(src.startswith("data:image/png;base64,") for src in sources)  # nothing fetched
    assert len(sources) == 1 + len(results["models"])  # the plot and one grid per model
    for model in results["models"]:
        for seed in model["seeds"]:
            for evaluation in seed["evaluations"]:
                assert f"{evaluation['fid']:.3f}" in page.cells
    for link in page.links:
        assert (out / link).is_dir() and (out / link / "config.json").exists()
    assert len(set(page.links)) == sum(len(m["seeds"]) for m in results["models"])
    text = (out / "report.html").read_text()
    for provenance in (results["feature_extractor"]["sha256"], results["dataset"]["train_fingerprint"],
                       results["versions"]["torch"], results["machine"]["cpu"]):
        assert provenance in text


def test_the_plot_carries_provenance_and_results_md_names_the_hash_once(bench):
    results, out = bench
    text = Image.open(out / "fid_vs_time.png").text
    assert text["Software"].startswith("ganzoo ")
    assert text["ganzoo:models"] == "vanilla, dcgan" or set(text["ganzoo:models"].split(", ")) == {"vanilla", "dcgan"}
    generators = json.loads(text["ganzoo:checkpoint-sha256"])
    assert set(generators) == {"vanilla seed 0", "dcgan seed 0"}
    assert all(re.fullmatch("[0-9a-f]{64}", digest) for digest in generators.values())
    assert results["feature_extractor"]["sha256"] in text["ganzoo:feature-extractor"]
    markdown = (out / "results.md").read_text()
    digest = results["feature_extractor"]["sha256"].split(":")[-1]
    assert f"(sha256 {digest[:12]}...)" in markdown and "sha256 sha256" not in markdown


def browser() -> str:
    for name in BROWSERS:
        if path := shutil.which(name):
            return path
    pytest.skip("no Chromium or Chrome on this machine (apt-get install chromium)")


# Records, before anything else runs, every error event (a script error, an image that fails to load) and
# console.error call, and once the page has loaded, whether each image decoded and the table's size.
PROBE = """<script>
window.__errors = [];
addEventListener("error", e => __errors.push(String(e.message || (e.target && e.target.src || "").slice(0, 60))), true);
const __consoleError = console.error;
console.error = (...args) => { __errors.push(args.join(" ")); __consoleError(...args); };
addEventListener("load", () => {
  const images = [...document.images].map(i => ({complete: i.complete, width: i.naturalWidth, shown: i.width}));
  const rows = document.querySelectorAll("table")[0].rows.length;
  const pre = document.createElement("pre");
  pre.id = "probe";
  pre.textContent = JSON.stringify({errors: __errors, images, rows});
  document.body.appendChild(pre);
});
</script>"""

OFFLINE = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
           "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>",
           "--host-resolver-rules=MAP * ~NOTFOUND", "--enable-logging=stderr", "--v=0"]


def test_chromium_shows_the_table_and_images_offline_without_console_errors(bench, tmp_path):
    results, out = bench
    chromium = browser()
    page = tmp_path / "probed.html"
    page.write_text((out / "report.html").read_text().replace("<head>", "<head>" + PROBE, 1))
    shown = subprocess.run(
        [chromium, *OFFLINE, f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=5000",
         "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=120,
    )
    probe = re.search(r'<pre id="probe">(.*?)</pre>', shown.stdout, re.S)
    assert probe, shown.stderr[-2000:]
    state = json.loads(probe.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    assert state["errors"] == []
    assert len(state["images"]) == 1 + len(results["models"])
    assert all(image["complete"] and image["width"] > 0 and image["shown"] > 0 for image in state["images"])
    assert state["rows"] == 1 + len(results["models"]) + 1  # header, models, the floor
    assert not re.search(r":CONSOLE[^\n]*", shown.stderr), shown.stderr  # the report's own console is silent


def test_chromium_screenshots_the_report(bench, tmp_path):
    _, out = bench
    chromium = browser()
    shot = tmp_path / "report.png"
    subprocess.run(
        [chromium, *OFFLINE, f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1200,1800",
         f"--screenshot={shot}", (out / "report.html").as_uri()],
        capture_output=True, text=True, timeout=120,
    )
    image = Image.open(shot).convert("L")
    assert image.size == (1200, 1800)
    assert len(image.getcolors(maxcolors=256) or range(257)) > 16  # text, lines and images, not blank
