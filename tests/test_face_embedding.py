"""Face embeddings (dl_assign.face.embedding): the content-hashed cache, the descriptor on real photos, the
read-out, and the two experiments built on them (faces.gender_embedding, faces.scenes) at the smoke budget."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from skimage import data as skimage_data

from dl_assign.face import NoFaceError
from dl_assign.face import embedding as E


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    return skimage_data.astronaut()


def test_descriptor_of_a_real_face_is_finite_and_repeatable(astronaut):
    e, how = E.embed_image(astronaut)
    assert e.shape == (E.DIM,) and e.dtype == np.float32 and np.isfinite(e).all()
    assert E.HOW[how] in ("dlib_hog", "mtcnn")
    assert np.array_equal(e, E.embed_image(astronaut)[0])
    mirrored = E.embed_image(np.ascontiguousarray(astronaut[:, ::-1]))[0]
    coffee = E.embed(skimage_data.coffee(), (200, 100, 400, 300))  # a cup, boxed as if it were a face
    # the same person mirrored is far closer than a cup (dlib's own same-person threshold is 0.6)
    assert np.linalg.norm(e - mirrored) < 0.6 < np.linalg.norm(e - coffee)


def test_no_face_is_an_error_not_a_guess():
    with pytest.raises(NoFaceError, match="no face found"):
        E.face_box(skimage_data.coffee())
    box, how = E.face_box(np.zeros((200, 200, 3), np.uint8), utk_chip=True)  # a chip: the fixed box, recorded
    assert (box, E.HOW[how]) == (E.UTK_FALLBACK_BOX, "fallback")


def test_cache_is_keyed_by_content_not_name(tmp_path, astronaut):
    from PIL import Image

    a, b, c = tmp_path / "a.png", tmp_path / "renamed.png", tmp_path / "edited.png"
    Image.fromarray(astronaut).save(a)
    shutil.copy(a, b)
    edited = astronaut.copy()
    edited[:40] = 0
    Image.fromarray(edited).save(c)
    cache = E.EmbeddingCache(tmp_path / "cache")
    emb, how, info = E.embed_many([str(a)], cache, workers=1)
    assert info["computed"] == 1 and cache.path.is_file()
    again = E.EmbeddingCache(tmp_path / "cache")  # from disk
    emb2, _, info2 = E.embed_many([str(b), str(c)], again, workers=1)
    assert info2 == {**info2, "hits": 1, "computed": 1}  # the renamed copy hit, the edited image did not
    assert np.array_equal(emb2[0], emb[0])
    arrays, _, info3 = E.embed_many([astronaut, np.zeros((64, 64, 3), np.uint8)], again, workers=1)
    assert info3["computed"] == 2 and np.allclose(arrays[0], emb[0]) and np.isnan(arrays[1]).all()


def test_readout_chooses_c_on_validation_and_scores_missing_faces_half():
    rng = np.random.default_rng(0)
    w = rng.normal(size=E.DIM)
    x = rng.normal(size=(600, E.DIM)).astype(np.float32)
    y = (x @ w + rng.normal(scale=2.0, size=600) > 0).astype(int)
    model, c, aucs = E.fit_readout(x[:400], y[:400], x[400:], y[400:], cs=(1e-4, 1.0))
    assert c == max(aucs, key=aucs.get) and aucs[c] > 0.9
    xv = x[400:].copy()
    xv[:5] = np.nan
    p = E.readout_scores(model, xv)
    assert np.all(p[:5] == 0.5) and ((p[5:] >= 0.5) == y[405:]).mean() > 0.8
    bad = x[:400].copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        E.fit_readout(bad, y[:400], x[400:], y[400:])


@pytest.fixture(scope="module")
def smoke_results(tmp_path_factory):
    return tmp_path_factory.mktemp("results")


def test_embedding_experiment_at_smoke(need_data, smoke_results, monkeypatch):
    need_data("utkface", "fairface")
    from dl_assign import registry

    registry.get("faces.gender_embedding").run("smoke", results_dir=smoke_results, progress=False)
    rec = json.loads((smoke_results / "faces.gender_embedding.json").read_text())
    m = {k: v["mean"] for k, v in rec["metrics"].items()}
    assert rec["dataset"]["name"].startswith("utkface+fairface") and rec["dataset"]["stands_in_for"]
    assert 0 < m["threshold"] < 1 and 0.5 < m["test_auc"] <= 1 and m["train_faces"] == 96
    assert m["fairface_adult_n"] + m["fairface_under20_n"] == rec["dataset"]["sizes"]["fairface"]
    for split in ("train", "val", "test", "fairface"):  # every face boxed some way or counted as missing
        total = sum(m[f"box_{h}/{split}"] for h in E.HOW) + m[f"no_face/{split}"] / rec["dataset"]["sizes"][split]
        assert total == pytest.approx(1.0)
    r = rec["artifacts"][0]["readout"]
    assert len(r["coef"]) == E.DIM and r["C"] in rec["config"]["cs"]
    assert any(k.startswith("fairness_race/") for k in m)
    md = (smoke_results / "faces.gender_embedding.md").read_text()
    assert "Against the goals" in md and "under 20" in md and "no paired test ran" in md


def test_scenes_experiment_at_smoke(need_data, smoke_results):
    need_data("utkface", "fairface", "tiny-imagenet")
    from dl_assign import registry

    registry.get("faces.scenes").run("smoke", results_dir=smoke_results, progress=False)
    rec = json.loads((smoke_results / "faces.scenes.json").read_text())
    m = {k: v["mean"] for k, v in rec["metrics"].items()}
    assert rec["artifacts"][0]["models"] == ["embedding"]  # the test store is empty: the read-out only
    for col in ("crops", "front_end", "no_front_end"):
        assert 0 <= m[f"embedding/{col}_accuracy"] <= 1
    assert m["embedding/front_end_gap"] == pytest.approx(m["embedding/crops_accuracy"]
                                                         - m["embedding/front_end_accuracy"])
    assert "within 2 points" in (smoke_results / "faces.scenes.md").read_text()
    # FairFace's padded originals: two more columns, over all photos and over adults
    ff = rec["artifacts"][0]["fairface"]
    assert ff["images"] == rec["config"]["fairface_limit"] and 0 <= ff["adults"] <= ff["images"]
    assert m["fairface/front_end_detection_rate"] >= 0.75  # real photos with one face each (8 of 8 measured)
    for col in ("fairface/crop", "fairface/front_end", "fairface/no_front_end"):
        assert 0 <= m[f"embedding/{col}_accuracy"] <= 1 and 0 <= m[f"embedding/{col}_adult_accuracy"] <= 1
    assert "FairFace's padded originals" in rec["notes"]
