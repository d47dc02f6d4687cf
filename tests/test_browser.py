"""The dashboards in a real browser: TensorBoard on 127.0.0.1 over a sweep made here, its Scalars, Images
and HParams pages, and optuna-dashboard over an Optuna search made here, its study's page, opened in headless
Chromium (Debian's chromium and chromium-driver, which .ci/run installs), each checked to show every job's run
and tags or every trial, and photographed under the test's directory."""

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import run_sweep

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
if not (CHROMIUM and CHROMEDRIVER) and os.environ.get("TRAINER_BROWSER_TESTS") != "required":
    pytest.skip(
        "needs Debian's chromium and chromium-driver (apt install chromium chromium-driver)", allow_module_level=True
    )

# Every text node of the page, shadow roots included: TensorBoard's dashboards are web components.
DEEP_TEXT = """
const texts = [];
const walk = (node) => {
  if (node.shadowRoot) walk(node.shadowRoot);
  for (const child of node.childNodes) {
    if (child.nodeType === Node.TEXT_NODE) texts.push(child.textContent.trim());
    else walk(child);
  }
};
walk(document.body);
return texts.filter(Boolean).join("\\n");
"""


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    """A 2 x 3 sweep on the scalar experiment, as users run it."""
    sweep_dir = tmp_path_factory.mktemp("sweep")
    run_sweep(sweep_dir, "optimizer=sgd,adam", "optimizer.learning_rate=0.01,0.03,0.1", "trainer.steps=200")
    return sweep_dir


@contextlib.contextmanager
def served(command: list[str], ready_path: str, ready, timeout: float = 120):
    """`command --host 127.0.0.1 --port <a free port>` in the background, its URL once `ready` holds for the
    body of its `ready_path`; terminated at the end."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [*command, "--host", "127.0.0.1", "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and server.poll() is None:
        try:
            if ready(urllib.request.urlopen(f"{url}{ready_path}", timeout=5).read()):
                break
        except OSError:  # not listening yet
            pass
        time.sleep(0.5)
    else:
        why = f"it exited with status {server.returncode}" if server.poll() is not None else f"not in {timeout} s"
        server.kill()
        pytest.fail(f"`{' '.join(command)}` did not answer {url}{ready_path} as awaited: {why}")
    try:
        yield url
    finally:  # also when the fixture using it fails before its test
        server.terminate()
        server.wait(timeout=30)


@pytest.fixture(scope="module")
def tensorboard(sweep):
    """`tensorboard --logdir <sweep>` on a free port of 127.0.0.1, once it has loaded every run."""
    command = [sys.executable, "-m", "tensorboard.main", "--logdir", str(sweep)]
    with served(command, "/data/runs", lambda runs: runs.count(b"_optimizer") == 6) as url:
        yield url


@pytest.fixture(scope="module")
def search(tmp_path_factory):
    """A 6-trial Optuna search on the scalar experiment, as users run it: its study is <sweep dir>/study.log,
    named after the sweep directory."""
    sweep_dir = tmp_path_factory.mktemp("search") / "scalar_search"
    run_sweep(sweep_dir, "hparams_search=scalar", "hydra.sweeper.n_trials=6")
    return sweep_dir


@pytest.fixture(scope="module")
def optuna_dashboard(search):
    """`optuna-dashboard <search>/study.log` on a free port of 127.0.0.1: the URL of its study's page."""
    command = [str(Path(sys.executable).with_name("optuna-dashboard")), str(search / "study.log")]
    with served(command, "/api/studies", lambda studies: search.name.encode() in studies) as url:
        studies = json.loads(urllib.request.urlopen(f"{url}/api/studies", timeout=5).read())["study_summaries"]
        (study_id,) = [study["study_id"] for study in studies if study["study_name"] == search.name]
        yield f"{url}/dashboard/studies/{study_id}"


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1400,900",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


def page_text(browser, url: str, expected: list[str], timeout: float = 60) -> str:
    """Open `url` and wait until its text shows every string of `expected`; the text."""
    browser.get(url)
    deadline, text = time.monotonic() + timeout, ""
    while time.monotonic() < deadline:
        text = browser.execute_script(DEEP_TEXT)
        if all(item in text for item in expected):
            time.sleep(1)  # charts and images finish drawing after their text
            return text
        time.sleep(0.5)
    missing = [item for item in expected if item not in text]
    pytest.fail(f"{url} did not show {missing} within {timeout} s")


def job_runs(sweep) -> list[str]:
    return sorted(path.name for path in sweep.iterdir() if (path / "metrics.json").is_file())


@pytest.mark.slow
def test_scalars_page_shows_every_job_and_tag(sweep, tensorboard, browser, tmp_path):
    runs = job_runs(sweep)
    assert len(runs) == 6
    page_text(browser, f"{tensorboard}/?darkMode=false#scalars", [*runs, "train", "variables", "final"])

    page_text(
        browser,
        f"{tensorboard}/?darkMode=false#scalars&tagFilter=train%2Floss%7Cvariables",
        ["train/loss", "variables/x"],
    )
    browser.save_screenshot(str(tmp_path / "scalars.png"))


@pytest.mark.slow
def test_images_page_shows_every_jobs_landscape(sweep, tensorboard, browser, tmp_path):
    runs = job_runs(sweep)
    page_text(browser, f"{tensorboard}/?darkMode=false#images", [*runs, "landscape"])
    browser.save_screenshot(str(tmp_path / "images.png"))


@pytest.mark.slow
def test_hparams_page_lists_six_sessions_with_the_swept_values(sweep, tensorboard, browser, tmp_path):
    runs = job_runs(sweep)
    # The trial IDs are the job directories: on this page only the session table shows them.
    page_text(
        browser,
        f"{tensorboard}/?darkMode=false#hparams",
        [*runs, "optimizer.learning_rate", "final/loss", "SGD", "Adam", "0.030000"],
    )
    browser.save_screenshot(str(tmp_path / "hparams.png"))


@pytest.mark.slow
def test_optuna_dashboard_shows_the_study_and_its_six_trials(search, optuna_dashboard, browser, tmp_path):
    # The History page: the study's name, its metric, its best trial and the parameter searched.
    page_text(browser, optuna_dashboard, [search.name, "distance_to_minimum", "Best Trial", "optimizer.learning_rate"])
    browser.save_screenshot(str(tmp_path / "optuna_dashboard.png"))

    # Trials (List): a line "Trial <number>" for each trial, in order (its count and the title are two nodes).
    text = page_text(browser, f"{optuna_dashboard}/trials", ["Trial 5"])
    assert [line for line in text.splitlines() if line.startswith("Trial ")] == [f"Trial {n}" for n in range(6)]
