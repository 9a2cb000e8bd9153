"""``ssrdepth serve`` in a real browser (Playwright driving the system Chromium), as a person uses it:
open the page, upload a real photo, wait for the result, read the numbers off the page and compare
them with ``ssrdepth predict`` on the same file; a corrupt upload shows a message in the page; a
webcam picture (Chromium's synthetic camera) is predicted like an upload; a video with "Steady video"
ticked shows the maps filtered as the stabiliser's rule, written out by hand, says.

Skipped, with the reason, where Playwright, Chromium or the real samples are missing; with
``$SSRDEPTH_STRICT_TESTS`` set (``.ci/run``, which installs Chromium: Playwright cannot download its own
browsers here) they fail instead (tests/conftest.py's ``skip_or_fail``)."""

from __future__ import annotations

import io
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ssrdepth.inference.predict import load_model, predict
from ssrdepth.serve.service import map_stats

from ..conftest import require_module, skip_or_fail
from .conftest import ARTIFACTS, Server

pytestmark = [
    pytest.mark.xdist_group("serve"),
    pytest.mark.slow,
    pytest.mark.shared_data,
    pytest.mark.filterwarnings("ignore:.*no_silent_downcasting", "ignore:The copy keyword is deprecated"),
]

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    # A synthetic camera (Chromium's test pattern), allowed without a prompt: the webcam test.
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
]
#: Generous: the first request loads the model and exports it to ONNX in memory on a busy 2-core machine.
TIMEOUT_MS = 60_000


def _chromium() -> str | None:
    for candidate in ("/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser")):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_api = require_module("playwright.sync_api", "the browser test needs Playwright (the [dev] extra)")
    executable = _chromium()
    if executable is None:
        skip_or_fail("no Chromium found for the browser test (Debian: apt-get install chromium)")
    # Every web-first assertion waits as long as a page action may: the default 5 s is shorter than
    # one prediction on a busy 2-core machine (the first one also exports the model).
    sync_api.expect.set_options(timeout=TIMEOUT_MS)
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=executable, args=CHROMIUM_ARGS, headless=True, timeout=TIMEOUT_MS
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def kitti_image(shared_data: Path) -> Path:
    images = sorted((shared_data / "kitti_object" / "training" / "image_2").glob("*.png"))
    if not images:
        skip_or_fail(f"no KITTI images under {shared_data}/kitti_object/training/image_2")
    return images[0]


def _open(browser: Any, server: Server) -> Any:
    page = browser.new_page(viewport={"width": 1400, "height": 1300})
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(server.url)
    page.locator("#ssrdepth-upload input[type=file]").wait_for(state="attached")
    return page


def test_upload_a_photo_and_read_the_numbers(browser: Any, server: Server, kitti_image: Path) -> None:
    from playwright.sync_api import expect

    page = _open(browser, server)
    page.locator("#ssrdepth-upload input[type=file]").set_input_files(str(kitti_image))
    numbers = page.locator("#ssrdepth-numbers textarea")
    expect(numbers).to_have_value(re.compile(r"^disparity \[px\]"), timeout=TIMEOUT_MS)
    # Both sides of the slider are decoded pictures with pixels.
    images = page.locator("#ssrdepth-comparison img")
    expect(images).to_have_count(2)
    for i in range(2):
        images.nth(i).wait_for(state="visible")
        # A visible <img> may still be decoding on a loaded machine: wait for it to finish.
        images.nth(i).element_handle().wait_for_element_state("stable", timeout=TIMEOUT_MS)
        page.wait_for_function("im => im.complete", arg=images.nth(i).element_handle(), timeout=TIMEOUT_MS)
        size = images.nth(i).evaluate("im => [im.complete, im.naturalWidth, im.naturalHeight]")
        assert size[0] and size[1] > 0 and size[2] > 0, size
    expect(page.locator("#ssrdepth-colorbar img")).to_be_visible()
    # The numbers shown equal predict's for the same file.
    text = numbers.input_value()
    shown = {k: float(v) for k, v in (line.split(": ") for line in text.splitlines()[1:])}
    expected = predict(load_model(server.checkpoint), kitti_image)
    assert text.splitlines()[0].endswith(f"{expected.shape[1]}×{expected.shape[0]} px")
    for key, value in map_stats(expected).items():
        assert shown[key] == pytest.approx(value, rel=1e-6), key
    assert "total" in page.locator("#ssrdepth-timing textarea").input_value()
    # The .npy download behind the page's link holds predict's map.
    links = page.locator("#ssrdepth-downloads a").evaluate_all("links => links.map(a => a.href)")
    npy = next(h for h in links if h.endswith(f"{kitti_image.stem}_disparity.npy"))
    served = np.load(io.BytesIO(page.request.get(npy, timeout=TIMEOUT_MS).body()), allow_pickle=False)
    np.testing.assert_allclose(served, expected, rtol=1e-6, atol=1e-6)
    page.wait_for_timeout(1500)  # let the 3D view draw before the picture
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "serve_browser.png"
    page.screenshot(path=str(shot), full_page=True)
    print(f"screenshot: {shot}")
    assert shot.stat().st_size > 10_000
    page.close()


def test_the_camera_fields(browser: Any, server: Server, kitti_image: Path) -> None:
    """The camera accordion: EXIF ticked by default; a field of view typed in gives the depth of that
    camera (90° across the frame: fx = W/2), noted in the page."""
    from playwright.sync_api import expect

    page = _open(browser, server)
    page.get_by_text("Camera (first given wins").click()
    expect(page.locator("#ssrdepth-exif input[type=checkbox]")).to_be_checked()
    page.locator("#ssrdepth-fov input").fill("90")
    page.locator("#ssrdepth-quantity").get_by_text("depth", exact=True).click()
    page.locator("#ssrdepth-upload input[type=file]").set_input_files(str(kitti_image))
    numbers = page.locator("#ssrdepth-numbers textarea")
    expect(numbers).to_have_value(re.compile(r"^depth \[m\]"), timeout=TIMEOUT_MS)
    expect(page.locator("#ssrdepth-notes")).to_contain_text("from --fov 90°")
    shown = {k: float(v) for k, v in (line.split(": ") for line in numbers.input_value().splitlines()[1:])}
    width = predict(load_model(server.checkpoint), kitti_image).shape[1]
    expected = predict(load_model(server.checkpoint), kitti_image, "depth", focal=width / 2)
    assert shown["median"] == pytest.approx(float(np.median(expected)), rel=1e-6)
    page.close()


def test_uncertainty_map_is_shown_when_ticked(browser: Any, server: Server, kitti_image: Path) -> None:
    from playwright.sync_api import expect

    page = _open(browser, server)
    page.locator("#ssrdepth-uncertainty-on input[type=checkbox]").check()
    expect(page.locator("#ssrdepth-stabilise input[type=checkbox]")).not_to_be_checked()
    page.locator("#ssrdepth-upload input[type=file]").set_input_files(str(kitti_image))
    picture = page.locator("#ssrdepth-uncertainty img")
    expect(picture).to_be_visible(timeout=TIMEOUT_MS)
    page.wait_for_function("im => im.complete && im.naturalWidth > 0", arg=picture.element_handle())
    # The picture is the map's size, and its values are a download next to the maps.
    expected = predict(load_model(server.checkpoint), kitti_image)
    size = picture.evaluate("im => [im.naturalWidth, im.naturalHeight]")
    assert size == [expected.shape[1], expected.shape[0]]
    links = page.locator("#ssrdepth-downloads a").evaluate_all("links => links.map(a => a.href)")
    assert any(h.endswith(f"{kitti_image.stem}_uncertainty.npy") for h in links), links
    page.close()


def test_corrupt_upload_shows_a_message(browser: Any, server: Server, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    corrupt = tmp_path / "holiday.jpg"
    corrupt.write_bytes(b"\xff\xd8\xff\xe0" + b"definitely not a JPEG" * 50)
    page = _open(browser, server)
    page.locator("#ssrdepth-upload input[type=file]").set_input_files(str(corrupt))
    message = page.get_by_text("holiday.jpg: not an image that can be decoded")
    expect(message.first).to_be_visible(timeout=TIMEOUT_MS)
    page.screenshot(path=str(tmp_path / "corrupt.png"))
    page.close()


def test_webcam_picture(browser: Any, server: Server) -> None:
    from playwright.sync_api import expect

    context = browser.new_context(permissions=["camera"], viewport={"width": 1400, "height": 1300})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(server.url)
    page.get_by_role("tab", name="Webcam").click()
    webcam = page.locator("#ssrdepth-webcam")
    webcam.get_by_text("Click to Access Webcam").click()
    # Capture only once the stream plays (a busy machine can take seconds to start it).
    webcam.locator("video").wait_for(state="visible")
    page.wait_for_function(
        "() => { const v = document.querySelector('#ssrdepth-webcam video');"
        " return v && v.readyState >= 2 && v.videoWidth > 0; }"
    )
    webcam.locator("button[aria-label='capture photo']").click()
    # The picture runs by itself once it arrives; the button makes the test independent of that timing.
    webcam.locator("img").first.wait_for(state="visible")
    page.locator("#ssrdepth-run").click()
    expect(page.locator("#ssrdepth-numbers textarea")).to_have_value(
        re.compile(r"^disparity \[px\], \d+×\d+ px")
    )
    expect(page.locator("#ssrdepth-comparison img")).to_have_count(2)
    context.close()


def _steady_by_hand(maps: list[np.ndarray]) -> list[np.ndarray]:
    """The stabiliser's defaults written out (docs/metrics.md): per frame in log space, the scale step
    (β = 0.8 of the median log change over the pixels that changed by less than τ = 0.35, when at
    least a fifth did), then each pixel pulled towards its previous output with 0.95·exp(−(d/τ)²)."""
    out, previous = [], None
    for m in maps:
        log_p = np.log(np.maximum(m.astype(np.float64), 1e-4))
        if previous is not None:
            d = log_p - previous
            reliable = np.abs(d) < 0.35
            if reliable.mean() >= 0.2:
                log_p = log_p - 0.8 * np.median(d[reliable])
            d = log_p - previous
            log_p = log_p - 0.95 * np.exp(-((d / 0.35) ** 2)) * d
        previous = log_p
        out.append(np.where(m > 1e-4, np.exp(log_p), m).astype(np.float32))
    return out


def test_steady_video_is_the_filtered_maps(browser: Any, server: Server, tmp_path: Path) -> None:
    """Tick "Steady video", upload a short clip: the page's side-by-side video shows, frame by frame, the
    maps filtered as the rule says (within the VP8 codec's error), not the plain ones."""
    from playwright.sync_api import expect

    from ssrdepth.inference.maps import colour_map_name, convert, predict_normalised
    from ssrdepth.inference.outputs import colorize, value_range

    from ..inference.conftest import VP8, read_video, write_video

    clip = tmp_path / "clip.mp4"
    write_video(clip, 8, h=48, w=96, fade=12)  # a bar moving over a brightening background
    page = _open(browser, server)
    page.locator("#ssrdepth-stabilise input[type=checkbox]").check()
    page.locator("#ssrdepth-upload input[type=file]").set_input_files(str(clip))
    player = page.locator("#ssrdepth-video video")
    expect(player).to_be_visible(timeout=TIMEOUT_MS)
    src = player.get_attribute("src")
    assert src
    shown = tmp_path / "shown.webm"
    shown.write_bytes(page.request.get(src, timeout=TIMEOUT_MS).body())
    page.close()
    frames = read_video(shown)
    inputs = read_video(clip)
    assert len(frames) == len(inputs) == 8
    # The same maps by hand: predict's, filtered, coloured over the first frame's range (the page's rule).
    model = load_model(server.checkpoint)
    normalised = [predict_normalised(model, [rgb])[0] for rgb in inputs]
    plain = [convert(model, n, "disparity") for n in normalised]
    steady = [convert(model, n, "disparity") for n in _steady_by_hand(normalised)]
    lo, hi = value_range(plain[0])
    cmap = colour_map_name("magma", "disparity")

    def mean_abs(a: np.ndarray, b: np.ndarray) -> float:
        return float(np.abs(a.astype(np.float64) - b.astype(np.float64)).mean())

    moved = 0
    for i, frame in enumerate(frames):
        want, unfiltered = colorize(steady[i], cmap, lo, hi), colorize(plain[i], cmap, lo, hi)
        assert mean_abs(frame[:, 96:], want) < VP8, i
        moved += mean_abs(want, unfiltered) > 2 * VP8
    assert moved >= 3  # on most frames the filter moved the picture by more than the codec's error
