"""Scaled dot-product attention: axioms (rows are distributions, permutation equivariance),
shapes, a hand-computed 3x3 case, and agreement with torch's own implementation."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from dl_assign.models.attention import AttentionClassifier, EmbeddingAttention, attention

finite = st.floats(-10, 10, allow_nan=False, allow_infinity=False, width=32)


@given(arrays(np.float32, st.tuples(st.integers(1, 6), st.integers(1, 5)), elements=finite))
def test_rows_sum_to_one_and_entries_nonnegative(x):
    out, w = attention(torch.from_numpy(x), torch.from_numpy(x), torch.from_numpy(x))
    assert w.shape == (len(x), len(x)) and out.shape == x.shape
    assert bool((w >= 0).all())
    torch.testing.assert_close(w.sum(-1), torch.ones(len(x)), atol=1e-5, rtol=0)


@given(arrays(np.float32, (5, 3), elements=finite), st.permutations(range(5)))
def test_permuting_inputs_permutes_the_matrix(x, perm):
    x = torch.from_numpy(x)
    perm = torch.tensor(perm)
    out, w = attention(x, x, x)
    out_p, w_p = attention(x[perm], x[perm], x[perm])
    torch.testing.assert_close(w_p, w[perm][:, perm], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(out_p, out[perm], atol=1e-4, rtol=1e-4)


def test_hand_computed_3x3():
    x = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    # scores = x x^T = [[1,0,1],[0,1,1],[1,1,2]]; with scale 1 the rows are softmaxes of those
    _, w = attention(x, x, x, scale=1.0)
    e = math.e
    expected = torch.tensor([[e, 1, e], [1, e, e], [e, e, e * e]])
    expected = expected / expected.sum(1, keepdim=True)  # row 1: e/(2e+1), 1/(2e+1), e/(2e+1)
    torch.testing.assert_close(w, expected)
    assert w[0, 0].item() == pytest.approx(0.4223188)
    assert w[2, 2].item() == pytest.approx(e * e / (2 * e + e * e))
    # the default scale is 1/sqrt(d): row 1 becomes softmax([1, 0, 1] / sqrt 2)
    _, w_default = attention(x, x, x)
    a = math.exp(1 / math.sqrt(2))
    assert w_default[0].tolist() == pytest.approx([a / (2 * a + 1), 1 / (2 * a + 1), a / (2 * a + 1)])


def test_agrees_with_torch_sdpa():
    gen = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 4, 7, 8, generator=gen) for _ in range(3))
    out, _ = attention(q, k, v)
    torch.testing.assert_close(out, torch.nn.functional.scaled_dot_product_attention(q, k, v), atol=1e-5, rtol=1e-5)


def test_embedding_attention_shapes_and_learned_projections_get_gradients():
    torch.manual_seed(0)
    queries, keys = torch.randn(4, 16), torch.randn(9, 16)
    out, w = EmbeddingAttention(16)(queries, keys)
    assert out.shape == (4, 16) and w.shape == (4, 9)
    learned = EmbeddingAttention(16, "learned", proj_dim=6)
    out, w = learned(queries, keys)
    assert out.shape == (4, 16) and w.shape == (4, 9)
    out.sum().backward()
    assert learned.q.weight.grad.abs().sum() > 0 and learned.k.weight.grad.abs().sum() > 0
    with pytest.raises(ValueError):
        EmbeddingAttention(16, "random")


def test_attention_classifier_outputs_log_distributions_and_votes_by_similarity():
    gallery = torch.tensor([[10.0, 0.0], [0.0, 10.0], [9.0, 1.0]])
    labels = torch.tensor([0, 1, 0])
    clf = AttentionClassifier(gallery, labels, n_classes=3)
    logp = clf(torch.tensor([[10.0, 0.5], [0.5, 10.0]]))
    assert logp.shape == (2, 3)
    torch.testing.assert_close(logp.exp().sum(1), torch.ones(2))
    assert logp.argmax(1).tolist() == [0, 1]
    assert logp.exp()[:, 2].max() < 1e-6  # no gallery item carries class 2


def test_attention_metrics_hand_computed():
    from dl_assign.experiments.fashion.attention import attention_metrics

    weights = torch.tensor([[0.7, 0.2, 0.1], [0.5, 0.5, 0.0]])  # 2 queries over 3 gallery items
    gallery_labels = torch.tensor([0, 1, 1])
    out = attention_metrics(weights, torch.tensor([0, 1]), gallery_labels, n_classes=2)
    # votes: q0 -> [0.7, 0.3] (class 0, right); q1 -> [0.5, 0.5] (tie -> class 0, wrong)
    assert out["accuracy"] == 0.5
    assert out["same_class_mass"] == pytest.approx((0.7 + 0.5) / 2)


def test_saved_fashion_cnn_is_found_and_loaded_else_none(tmp_path):
    from dl_assign import registry
    from dl_assign.engine.checkpoint import save_checkpoint
    from dl_assign.experiments.fashion.attention import saved_cnn
    from dl_assign.experiments.fashion.common import model_from
    from dl_assign.registry import RunContext

    ctx = RunContext("fashion.attention", "smoke", tmp_path, checkpoint_dir=tmp_path / "ckpt")
    assert saved_cnn(ctx, 0) is None  # nothing saved: the experiment falls back to training
    assert saved_cnn(RunContext("fashion.attention", "smoke", tmp_path), 0) is None  # no checkpoint folder
    torch.manual_seed(3)
    trained = model_from(registry.get("fashion.cnn").config("smoke"))
    path = tmp_path / "ckpt" / "fashion.cnn" / "smoke.seed0.pt"
    state = {"model": trained.state_dict(), "best_state": None, "history": [{}, {}], "stopped": False}
    save_checkpoint(state, path)
    assert saved_cnn(ctx, 0) is None  # an interrupted training run is not used
    save_checkpoint(state | {"stopped": True}, path)
    model, note = saved_cnn(ctx, 0)
    assert "smoke" in note and "2 epochs" in note
    for key, value in trained.state_dict().items():
        torch.testing.assert_close(model.state_dict()[key], value)
    assert saved_cnn(ctx, 1) is None  # another seed's network is not substituted
