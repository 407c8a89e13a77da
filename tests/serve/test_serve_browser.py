"""The studio page in a real browser: headless Chromium (Selenium) on a real uvicorn server.

Uploads the bundled example, waits for the stems, plays them, mutes one in the mixer, and
downloads a stem and the remix: the stem equals what `cunet separate` writes, the remix the
sum of the stems left audible. With CUNET_SCREENSHOT=path it saves the page with the stems.
"""

import os
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from cunet.audio.reading import probe_audio
from cunet.cli import main
from cunet.errors import CunetError
from serve_fixtures import EXAMPLE, running_server

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"

pytestmark = pytest.mark.browser


def _browser(downloads: Path):
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
    for tool in (CHROMIUM, CHROMEDRIVER):
        if not (os.path.exists(tool) or shutil.which(Path(tool).name)):
            pytest.skip(f"{tool} is missing (apt-get install chromium chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM if os.path.exists(CHROMIUM) else shutil.which("chromium")
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--window-size=1240,1640",
        "--autoplay-policy=no-user-gesture-required",
        "--force-device-scale-factor=1",
    ):
        options.add_argument(flag)
    options.add_experimental_option(
        "prefs", {"download.default_directory": str(downloads), "download.prompt_for_download": False}
    )
    service = webdriver.ChromeService(
        executable_path=CHROMEDRIVER if os.path.exists(CHROMEDRIVER) else shutil.which("chromedriver")
    )
    driver = webdriver.Chrome(options=options, service=service)
    driver.execute_cdp_cmd("Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    return driver


def _wait(condition, timeout: float, what: str):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def _downloaded(folder: Path, name: str) -> Path:
    path = folder / name
    _wait(lambda: path.exists() and not any(folder.glob("*.crdownload")), 20, f"the download {name}")
    return path


def test_page_separates_plays_mixes_and_downloads(tmp_path, separator):
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    driver = _browser(downloads)
    try:
        with running_server(separator, tmp_path / "data") as url:
            driver.get(url)
            _wait(
                lambda: (
                    "litert" in driver.find_element("id", "model-name").text
                    or "tensorflow" in driver.find_element("id", "model-name").text
                ),
                10,
                "the model line",
            )
            driver.find_element("id", "file").send_keys(str(EXAMPLE))
            driver.find_element("id", "separate").click()
            _wait(lambda: driver.execute_script("return window.studio.ready === true"), 60, "the stems")
            _check_page(driver, separator)
            _check_downloads(driver, downloads, tmp_path, separator)
            if os.environ.get("CUNET_SCREENSHOT"):
                _screenshot(driver, os.environ["CUNET_SCREENSHOT"])
            assert driver.find_element("id", "error").get_attribute("hidden") is not None
            _check_custom_condition(driver)
            _check_bad_upload(driver, tmp_path)
    finally:
        driver.quit()


def _check_custom_condition(driver):
    """Custom mode: the sliders make the CLI's spec, and its one stem comes back."""
    driver.find_element("css selector", 'input[name="mode"][value="custom"]').click()
    driver.execute_script(
        "const s = document.getElementById('w-drums'); s.value = 0.5; s.dispatchEvent(new Event('input', {bubbles: true}))"
    )
    assert driver.find_element("id", "spec-text").text == "drums=0.5+vocals=1"
    driver.find_element("id", "separate").click()
    names = _wait(
        lambda: driver.execute_script("return window.studio.stems.length === 1 && window.studio.stems[0].name"),
        60,
        "the custom stem",
    )
    assert names == "drums=0.5+vocals=1"
    assert (
        driver.find_elements("css selector", ".stem .download")[0]
        .get_attribute("href")
        .endswith("/stems/drums%3D0.5%2Bvocals%3D1.wav")
    )


def _check_bad_upload(driver, tmp_path):
    """An empty file: the page shows the CLI's one-line message for it."""
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    with pytest.raises(CunetError) as caught:
        probe_audio(empty)
    driver.find_element("id", "file").send_keys(str(empty))
    driver.find_element("id", "separate").click()
    shown = _wait(lambda: driver.find_element("id", "error").text, 10, "the error message")
    assert shown == str(caught.value).replace(str(empty), "empty.wav")


def _screenshot(driver, path: str) -> None:
    """The whole page, the playhead mid-song, vocals muted (docs/serve-page.png)."""
    from selenium.webdriver import ActionChains  # selenium is optional: imported once the test runs

    driver.execute_script("window.studio.seek(4.5); document.activeElement.blur()")
    ActionChains(driver).move_to_element(driver.find_element("tag name", "h1")).perform()  # no hover
    chrome = driver.execute_script("return window.outerHeight - window.innerHeight")
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1240, height + chrome)
    time.sleep(0.5)
    driver.save_screenshot(path)


def _check_page(driver, separator):
    names = driver.execute_script("return window.studio.stems.map(s => s.name)")
    assert names == separator.instruments
    duration = driver.execute_script("return window.studio.duration")
    assert abs(duration - sf.info(str(EXAMPLE)).duration) < 0.01
    # the players: all stems start together and the transport advances
    driver.find_element("id", "play").click()
    _wait(
        lambda: driver.execute_script("return window.studio.playing && window.studio.sources.length") == 4,
        5,
        "playback of the four stems",
    )
    # mute vocals: its gain node goes to 0, the others stay at 1
    row = driver.find_elements("css selector", ".stem")[names.index("vocals")]
    row.find_element("css selector", ".mute").click()
    assert row.find_element("css selector", ".mute").get_attribute("aria-pressed") == "true"
    gains = _wait(lambda: _gains_if_settled(driver), 5, "the mixer's gain nodes to settle")
    assert gains == {name: (0.0 if name == "vocals" else 1.0) for name in names}
    driver.find_element("id", "play").click()
    assert driver.execute_script("return window.studio.playing") is False
    assert driver.execute_script("return window.studio.offset") > 0


def _gains_if_settled(driver):
    gains = driver.execute_script(
        "return Object.fromEntries(window.studio.stems.map(s => [s.name, s.gain.gain.value]))"
    )
    rounded = {name: round(value, 3) for name, value in gains.items()}
    return rounded if set(rounded.values()) <= {0.0, 1.0} else None


def _check_downloads(driver, downloads, tmp_path, separator):
    names = driver.execute_script("return window.studio.stems.map(s => s.name)")
    row = driver.find_elements("css selector", ".stem")[names.index("drums")]
    row.find_element("css selector", ".download").click()
    stem, rate = sf.read(str(_downloaded(downloads, f"{EXAMPLE.stem}-drums.wav")), dtype="float32")
    assert main(["separate", str(EXAMPLE), "--out-dir", str(tmp_path / "cli")]) == 0
    expected = {name: tmp_path / "cli" / EXAMPLE.stem / f"{name}.wav" for name in names}
    reference, reference_rate = sf.read(str(expected["drums"]), dtype="float32")
    assert rate == reference_rate and np.array_equal(stem, reference)
    # the remix with vocals muted: the other stems summed
    driver.find_element("id", "remix").click()
    remix, _ = sf.read(str(_downloaded(downloads, f"{EXAMPLE.stem}-remix.wav")), dtype="float32")
    audible = sum(sf.read(str(expected[n]), dtype="float64")[0] for n in names if n != "vocals")
    assert remix.shape == audible.shape
    np.testing.assert_allclose(remix, audible, atol=1e-6)
