"""The page with a faces model in a real browser (issue 29): a scene (a UTKFace test face pasted into a
Tiny-ImageNet background, ``dl_assign.data.scenes``) is uploaded, the card says which face the front end
classified (its box on the pasted face) and shows it; a background without a face gets the API's
"no face found" words, never a class.

Debian's Chromium through Playwright; without it the test skips with the reason (under ``CI=true`` it fails).
The model is a random-weight CNN of task ``faces.gender``: the task, not the weights, sends it through the front end.
"""

import io
import re

import numpy as np
import pytest
import torch
from PIL import Image

pytest.importorskip("fastapi", reason="the web extra is not installed (pip install -e '.[web]')")

from dl_assign import face, store  # noqa: E402

PREP = {"size": 32, "resize": 36, "interpolation": "bilinear", "crop": "center", "mean": [0.485, 0.456, 0.406],
        "std": [0.229, 0.224, 0.225]}




@pytest.fixture(scope="module")
def url(tmp_path_factory):
    from dl_assign.web.server import running

    try:
        face.detect(np.zeros((64, 64, 3), np.uint8))
    except face.DetectorUnavailable as exc:
        pytest.skip(f"the default face detector cannot run here ({exc}); make setup installs the faces extra")
    root = tmp_path_factory.mktemp("web-scene") / "store"
    torch.manual_seed(0)
    kwargs = {"n_classes": 2, "widths": [8, 16], "dropout": 0.0}
    net = store._BUILDERS["small_cnn"](**kwargs).eval()
    store.save(net, task="faces.gender", name="cnn", builder="small_cnn", builder_kwargs=kwargs,
               classes=["male", "female"], preprocessing=PREP, metrics={"val_accuracy": 0.5}, experiment="test",
               budget="smoke", seed=0, root=root)
    with running(root) as u:
        yield u


def _upload(browser, url, path):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(url)
    page.wait_for_selector("#models option")
    page.set_input_files("#file", str(path))
    page.wait_for_function("document.getElementById('preview').naturalWidth > 0")
    page.click("#predict")
    page.wait_for_selector(".card.done, .card.failed", timeout=60_000)
    return page


def test_a_scene_is_classified_by_its_face(need_data, browser, url, tmp_path):
    need_data("utkface", "tiny-imagenet")
    from dl_assign.data import scenes

    scene = next(s for s in scenes.build(6, seed=3) if s.face_fraction >= 0.2)  # a face a detector must find
    path = tmp_path / "scene.jpg"
    Image.fromarray(scene.image).save(path, quality=92)
    page = _upload(browser, url, path)
    try:
        assert page.locator(".card.done").count() == 1, page.locator(".card").inner_text()
        assert page.locator(".card .pred").inner_text() in ("male", "female")
        note = page.locator(".card .face").inner_text()
        m = re.search(r"box (\d+),(\d+) to (\d+),(\d+) of the (\d+) × (\d+) px image", note)
        assert m, note
        box, size = tuple(map(int, m.groups()[:4])), tuple(map(int, m.groups()[4:]))
        assert size == scene.image.shape[1::-1]
        assert face.iou(box, scene.box) >= 0.3, (box, scene.box)  # the pasted face, not something in the background
        crop = page.locator(".card .face canvas.face-crop")
        assert crop.count() == 1 and crop.bounding_box()["width"] == 64
        pixels = np.asarray(Image.open(io.BytesIO(crop.screenshot())).convert("L"), dtype=float)
        assert pixels.std() > 5  # the face drawn, not an empty canvas
    finally:
        page.close()


def test_a_background_without_a_face_gets_no_class(need_data, browser, url, tmp_path):
    need_data("tiny-imagenet")
    from dl_assign.data import tinyimagenet as tin

    tiny = tin.locate()
    back = next(b.file for b in tin.read_val_boxes(tiny) if not face.detect(
        np.array(Image.fromarray(tin.load_image(tiny, b.file)).resize((512, 512), Image.BICUBIC))))
    path = tmp_path / "background.jpg"
    Image.fromarray(tin.load_image(tiny, back)).resize((512, 512), Image.BICUBIC).save(path, quality=92)
    page = _upload(browser, url, path)
    try:
        assert page.locator(".card.failed").count() == 1
        assert "no face found" in page.locator(".card .pred").inner_text()
        assert page.locator(".card .face").count() == 0
    finally:
        page.close()
