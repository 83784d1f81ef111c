"""Inter-coded training pairs: clips with real camera motion made from stills, coded RA /
LDP by our codec (verified), one labelled pair per picture, cached."""
import numpy as np

from cnn_filter.data import builtin_frame_sources
from cnn_filter.inter_data import LAYER, camera_clip, make_inter_pairs
from hm_bridge.cascade import slice_qps


def test_a_camera_clip_moves_by_sub_pixel_steps_and_is_reproducible():
    still = builtin_frame_sources()[0].load()
    a, b = camera_clip(still, 5, seed=7), camera_clip(still, 5, seed=7)
    assert a.md5() == b.md5() and (a.width, a.height, len(a)) == (256, 192, 5)
    assert camera_clip(still, 5, seed=8).md5() != a.md5()
    y = a.y.astype(float)
    assert all(np.abs(y[t + 1] - y[t]).mean() > 1.0 for t in range(4))  # it moves
    # not a whole-sample shift of the first picture: no integer translation matches it
    best = min(np.abs(y[1][8:-8, 8:-8] - y[0][8 + dy:y.shape[1] - 8 + dy, 8 + dx:y.shape[2] - 8 + dx]).mean()
               for dy in range(-3, 4) for dx in range(-3, 4))
    assert best > 0.5


def test_inter_pairs_are_labelled_cached_and_come_from_verified_encodes(tmp_path):
    sources = builtin_frame_sources()[:2]
    pairs = make_inter_pairs(sources, 37, "ra", tmp_path, frames=9, preset="ultrafast")
    assert len(pairs) == 18 and pairs.names[0] == f"{sources[0].name}@0"
    assert pairs.slice_types[:9] == ["I", "b", "b", "b", "B", "b", "b", "b", "P"]
    assert pairs.layers[:9] == [LAYER[t] for t in pairs.slice_types[:9]] and set(pairs.layers) == {0, 1, 2}
    assert pairs.picture_qps[:9] == slice_qps("ra", "hm16.20", 37, 9, 30.0)  # HM's cascade, as coded
    assert pairs.inputs[0].shape == (192, 256) and pairs.inputs_uv[0].shape == (2, 96, 128)
    assert all(not np.array_equal(i, t) for i, t in zip(pairs.inputs, pairs.targets))
    ldp = make_inter_pairs(sources[:1], 32, "ldp", tmp_path, frames=5, preset="ultrafast")
    assert ldp.slice_types == ["I", "P", "P", "P", "P"] and len(set(ldp.picture_qps)) > 1
    again = make_inter_pairs(sources, 37, "ra", tmp_path, frames=9, preset="ultrafast")  # from the cache
    assert again.slice_types == pairs.slice_types and all(np.array_equal(a, b) for a, b in zip(again.inputs,
                                                                                             pairs.inputs))
    manifest = (tmp_path / "manifest.json").read_text()
    assert '"by_slice_type"' in manifest and '"recipe"' in manifest


def test_the_training_command_makes_inter_pairs_ahead_of_training(tmp_path):
    import subprocess
    import sys

    from conftest import REPO

    r = subprocess.run([sys.executable, "-m", "hmcnn", "train", "--quick", "--pairs-only", "--qps", "37", "--inter",
                        "ra", "ldp", "--inter-frames", "5", "--out", str(tmp_path)], capture_output=True, text=True,
                       cwd=REPO)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "inter-coded, RA QP 37:" in r.stdout and "inter-coded, LDP QP 37:" in r.stdout
    assert len(list((tmp_path / "pairs").glob("pairs_inter_*.npz"))) == 4  # train + validation, RA + LDP
    bad = subprocess.run([sys.executable, "-m", "hmcnn", "train", "--quick", "--inter", "ra", "--out", str(tmp_path)],
                         capture_output=True, text=True, cwd=REPO)
    assert bad.returncode == 2 and "start from a trained model directory (--init)" in bad.stderr


def test_in_loop_pairs_hold_what_the_hook_receives(tmp_path):
    """With a model set in the loop, a pair's input is the picture as the hook gets it: the
    I picture's equals the plain encode's (nothing was filtered before it), a later picture's
    does not (its references were filtered), and the hook's own output is what the pictures
    after it are predicted from."""
    from conftest import REPO

    sources = builtin_frame_sources()[:1]
    plain = make_inter_pairs(sources, 32, "ra", tmp_path, frames=9, preset="ultrafast")
    looped = make_inter_pairs(sources, 32, "ra", tmp_path, frames=9, preset="ultrafast", loop=str(REPO / "models" / "vrcnn"))
    assert looped.slice_types == plain.slice_types and looped.picture_qps == plain.picture_qps
    assert np.array_equal(looped.inputs[0], plain.inputs[0]) and np.array_equal(looped.inputs_uv[0], plain.inputs_uv[0])
    assert any(not np.array_equal(a, b) for a, b in zip(looped.inputs[1:], plain.inputs[1:]))
    assert all(np.array_equal(a, b) for a, b in zip(looped.targets, plain.targets))
    assert len(list(tmp_path.glob("pairs_inter_loop_ra_qp32_*.npz"))) == 1  # its own cache entry


def test_a_slice_type_plane_model_starts_as_its_intra_model_and_learns_the_planes():
    """experiments.slice_type_plane's third arm: VRCNN with the slice type and the temporal
    layer as two input planes, their weights at zero at the start."""
    import torch

    from cnn_filter.models import VRCNN
    from experiments.slice_type_plane import KINDS, SliceTypeVRCNN, _planes

    torch.manual_seed(0)
    intra = VRCNN().eval()
    model = SliceTypeVRCNN(2, intra.state_dict()).eval()
    x = torch.rand(4, 1, 24, 24)
    kinds = torch.tensor([KINDS.index(k) for k in KINDS])
    planes = _planes(kinds, x.shape[2:])
    assert planes.shape == (4, 2, 24, 24)
    assert planes[:, 0, 0, 0].tolist() == [0, 1, 1, 1] and planes[:, 1, 0, 0].tolist() == [0, 0, 0.5, 1]
    with torch.no_grad():
        assert torch.allclose(model(x, planes), intra(x), atol=1e-6)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    target = x + 0.05 * (kinds > 0).float()[:, None, None, None]  # inter pictures want a brighter output
    for _ in range(60):
        opt.zero_grad()
        torch.nn.functional.mse_loss(model.train()(x, planes), target).backward()
        opt.step()
    with torch.no_grad():
        same = x[:1].expand(4, -1, -1, -1)
        out = model.eval()(same, planes).mean(dim=(1, 2, 3))
    assert out[1:].min() > out[0] + 0.01  # the same picture, told it is inter, comes out brighter
