"""The web screenshots in results/ (issue 28): taken of the page as it is now, from standard models only; the
face shot (a ``faces.*`` model's card with its face box note and thumbnail) in a real browser.

The first tests need no browser and no data: they read the committed ``results/web.page.json`` and the page's
static files. The browser test drives Debian's Chromium through Playwright (``dl_assign.web.shots``); without
it the test skips with the reason (under ``CI=true`` it fails).
"""

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from dl_assign import store
from dl_assign.web import shots

ROOT = Path(__file__).resolve().parents[1]
RECORD = ROOT / "results" / "web.page.json"
PREP = {"size": 32, "resize": 36, "interpolation": "bilinear", "crop": "center", "mean": [0.485, 0.456, 0.406],
        "std": [0.229, 0.224, 0.225]}


def _record() -> dict:
    assert RECORD.is_file(), f"{RECORD} is missing: run `{shots.REGENERATE}`"
    return json.loads(RECORD.read_text())


def _regenerate(rec: dict) -> str:
    return f"python -m dl_assign.web.shots --store {rec['config'].get('store', '<store>')} --out results"


def test_the_committed_screenshots_show_the_page_as_it_is_now():
    rec = _record()
    recorded, now = rec["config"].get("page_assets_sha256"), shots.page_assets_sha256()
    assert recorded == now, (
        f"results/web.page.* were taken of another page (dl_assign/web/static hashed {recorded}, now {now}): "
        f"take them again with `{_regenerate(rec)}` (a store of standard-budget models) and commit "
        f"results/web.page.* and the figures it lists")
    for name in rec["figures"]:
        assert (ROOT / "results" / name).is_file(), f"results/{name} is missing: run `{_regenerate(rec)}`"


def test_the_committed_screenshots_show_only_models_of_the_records_budget():
    rec = _record()
    versions = rec["config"]["versions"]
    shown = [c["option"] for c in rec["artifacts"][0]["checks"]]
    assert [v["option"] for v in versions] == shown  # the record names every version it showed
    wrong = [f"{v['option']} ({v['budget']})" for v in versions if v["budget"] != rec["budget"]]
    assert not wrong, (f"the {rec['budget']} screenshots show models of another budget: {', '.join(wrong)}; "
                       f"take them again from a store of {rec['budget']} models with `{_regenerate(rec)}`")
    assert rec["metrics"]["compared_side_by_side"]["mean"] == 2
    assert len(set(rec["artifacts"][0]["compared"])) == 2


def test_the_assets_hash_changes_with_any_byte_or_name(tmp_path):
    a = tmp_path / "a"
    shutil.copytree(shots.STATIC, a)
    assert shots.page_assets_sha256(a) == shots.page_assets_sha256()  # names and bytes, not where the folder is
    js = a / "app.js"
    js.write_bytes(js.read_bytes() + b"\n")
    changed = shots.page_assets_sha256(a)
    assert changed != shots.page_assets_sha256()
    js.rename(a / "app2.js")
    assert shots.page_assets_sha256(a) not in (changed, shots.page_assets_sha256())
    (a / "app2.js").rename(js)
    assert shots.page_assets_sha256(a) == changed
    (a / "new.css").write_text("")  # an empty new file counts too
    assert shots.page_assets_sha256(a) != changed


def test_the_page_shot_compares_two_models_else_two_versions():
    opts = ["faces.gender/cnn@1", "pests14/custom_cnn@1", "pests14/mobilenet_v2@1", "pests14/mobilenet_v2@2"]
    assert shots._pair(opts) == ["pests14/mobilenet_v2@2", "pests14/custom_cnn@1"]
    assert shots._pair(["faces.gender/cnn@1", "pests14/mobilenet_v2@1", "pests14/mobilenet_v2@2"]) == [
        "pests14/mobilenet_v2@2", "pests14/mobilenet_v2@1"]
    assert shots._pair(["faces.gender/a@1", "faces.gender/b@1"]) == ["faces.gender/b@1", "faces.gender/a@1"]
    assert shots._pair(["pests14/custom_cnn@1"]) == ["pests14/custom_cnn@1"]


def _save(root, task, name, seed, classes):
    torch.manual_seed(seed)
    kwargs = {"n_classes": len(classes), "widths": [8, 16], "dropout": 0.0}
    net = store._BUILDERS["small_cnn"](**kwargs).eval()
    store.save(net, task=task, name=name, builder="small_cnn", builder_kwargs=kwargs, classes=list(classes),
               preprocessing=PREP, metrics={"val_accuracy": 0.5}, experiment="test", budget="smoke", seed=seed,
               root=root)


def test_a_faces_model_gets_a_face_shot_with_the_box_and_thumbnail(tmp_path):
    pytest.importorskip("fastapi", reason="the web extra is not installed (pip install -e '.[web]')")
    from skimage import data as skdata

    from dl_assign import face
    from dl_assign.web.server import running

    why = shots.browser_missing()
    if why:
        if os.environ.get("CI") == "true":
            pytest.fail(why + "; under CI this is a failure, never a skip")
        pytest.skip(why)
    try:
        face.detect(np.zeros((64, 64, 3), np.uint8))
    except face.DetectorUnavailable as exc:
        pytest.skip(f"the default face detector cannot run here ({exc}); make setup installs the faces extra")
    root = tmp_path / "store"
    _save(root, "faces.gender", "cnn", 0, ("male", "female"))  # random weights: the task sends it to the front end
    _save(root, "bugs", "cnn_a", 1, ("ant", "bee", "fly"))
    _save(root, "bugs", "cnn_b", 2, ("ant", "bee", "fly"))
    image = tmp_path / "chelsea.jpg"
    Image.fromarray(skdata.chelsea()).save(image, quality=92)
    out_dir = tmp_path / "out"
    with running(root) as url:
        out = shots.check_page(url, image, out_dir)
    m, a = out["metrics"], out["artifacts"]
    assert out["figures"] == ["web.page.png", "web.face.png"]
    assert m["face_shown"] == 1.0 and m["screenshots_ok"] == 1.0 and m["class_agreement"] == 1.0
    assert a["compared"] == ["bugs/cnn_b@1", "bugs/cnn_a@1"] and m["compared_side_by_side"] == 2
    f = a["face_shot"]
    assert f["option"] == "faces.gender/cnn@1" and f["page_class"] in ("male", "female")
    assert "face found" in f["note"] and "of the 512 × 512 px image" in f["note"], f  # the astronaut is 512 px
    assert f["thumbnail_px"] == 64
    with Image.open(out_dir / "web.face.png") as im:
        assert min(im.size) >= 300
        shot = np.asarray(im.convert("L"), dtype=float)
    with Image.open(out_dir / "web.page.png") as im:
        page = np.asarray(im.convert("L"), dtype=float)
    assert shot.shape != page.shape or np.abs(shot - page).mean() > 1  # the face shot is its own picture
