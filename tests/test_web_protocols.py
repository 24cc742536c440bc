"""Issue 27 item 2 (part): the Open Inference Protocol (KServe v2) tested with a client someone else wrote,
NVIDIA's ``tritonclient.http``, against a real server over a tiny random-weight store."""

import warnings

import numpy as np
import pytest
import torch

pytest.importorskip("fastapi", reason="the web extra is not installed (pip install -e '.[web]')")
httpclient = pytest.importorskip("tritonclient.http", reason="tritonclient[http] is not installed")
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from test_web import CLASSES, PREP, _jpeg, _png, _save_cnn  # noqa: E402

from tritonclient.utils import InferenceServerException  # noqa: E402

from dl_assign import store  # noqa: E402
from dl_assign.models.backbones import preprocess  # noqa: E402
from dl_assign.web.images import decode  # noqa: E402
from dl_assign.web.server import running  # noqa: E402


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    root = tmp_path_factory.mktemp("web-v2") / "store"
    _save_cnn(root, "cnn_a", 0, 0.25)
    _save_cnn(root, "cnn_a", 1, 0.5)
    with running(root) as url:
        yield root, httpclient.InferenceServerClient(url.split("//")[1])


def _direct(root, version, images) -> np.ndarray:
    net, meta = store.load("bugs", "cnn_a", version, root=root)
    with torch.no_grad():
        x = torch.cat([preprocess(decode(d), meta["preprocessing"]) for d in images])
        return torch.softmax(net(x), 1).numpy()


def test_health_and_metadata(served):
    _, c = served
    assert c.is_server_live() and c.is_server_ready() and c.is_model_ready("bugs/cnn_a")
    assert {"binary_tensor_data", "classification"} <= set(c.get_server_metadata()["extensions"])
    meta = c.get_model_metadata("bugs/cnn_a", "1")
    assert [(i["name"], i["datatype"], i["shape"]) for i in meta["inputs"]] == [
        ("image", "BYTES", [-1]), ("input", "FP32", [-1, 3, PREP["size"], PREP["size"]])]
    assert meta["outputs"] == [{"name": "probabilities", "datatype": "FP32", "shape": [-1, len(CLASSES)]}]


@pytest.mark.parametrize("version", ["1", "2"])
def test_infer_bytes_and_fp32_equal_the_stored_model(served, version):
    root, c = served
    images = [_png(seed=1), _jpeg(57, 41, seed=2), _png(33, 60, seed=3)]
    want = _direct(root, int(version), images)
    inp = httpclient.InferInput("image", [3], "BYTES")
    inp.set_data_from_numpy(np.array(images, dtype=object), binary_data=True)
    got = c.infer("bugs/cnn_a", [inp], model_version=version).as_numpy("probabilities")
    np.testing.assert_allclose(got, want, atol=1e-5)
    x = torch.cat([preprocess(decode(d), PREP) for d in images]).numpy()
    for binary in (True, False):
        t = httpclient.InferInput("input", list(x.shape), "FP32")
        t.set_data_from_numpy(x, binary_data=binary)
        out = c.infer("bugs/cnn_a", [t], model_version=version).as_numpy("probabilities")
        np.testing.assert_allclose(out, want, atol=1e-5)


def test_classification_extension_and_errors(served):
    root, c = served
    data = _png(seed=4)
    want = _direct(root, 2, [data])[0]
    inp = httpclient.InferInput("image", [1], "BYTES")
    inp.set_data_from_numpy(np.array([data], dtype=object))
    out = c.infer("bugs/cnn_a", [inp], outputs=[httpclient.InferRequestedOutput("probabilities", class_count=2)])
    rows = [s.decode().split(":") for s in out.as_numpy("probabilities").ravel()]
    assert [int(i) for _, i, _ in rows] == list(np.argsort(-want)[:2])
    assert [lab for _, _, lab in rows] == [CLASSES[i] for i in np.argsort(-want)[:2]]
    np.testing.assert_allclose([float(p) for p, _, _ in rows], np.sort(want)[::-1][:2], atol=1e-5)
    with pytest.raises(InferenceServerException, match="no model"):
        c.get_model_metadata("bugs/nope")
