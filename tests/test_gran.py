"""GRAN (pyext.models.gran, pyext.training.steps.gran): the canvas is the sum of its steps' writes,
each step's code is the encoder of the step before's write, the noise per step (fresh or shared),
the canvases picture, a run resumed bit for bit, a distributed CPU run with batch norm refused.
(Its one-line params refusals: tests/test_config.py; trained and evaluated through the stage
scripts: tests/test_generation_eval.py; one step per device: tests/test_dcgan.py.)"""
from __future__ import annotations

import pytest
import torch
from cases import TINY_GENERATORS, assert_resumes_exactly, family_params

from pyext.config import ParamsError
from pyext.models.gran import GRAN
from pyext.training import make_step

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _gran(noise: str = "each", steps: int = 3) -> GRAN:
    torch.manual_seed(0)
    return GRAN(32, noise_size=4, steps=steps, noise=noise, width=0.0625).eval()


def test_the_image_is_tanh_of_the_sum_of_the_steps_writes_each_step_coded_from_the_last():
    G = _gran()
    z = torch.randn(2, 12)
    # By hand: h_1 = 0, Delta C_t = f([tanh(BN(W z_t)), h_t]), h_{t+1} = g(Delta C_t), C = sum Delta C_t.
    h, canvas, writes = torch.zeros(2, 4), torch.zeros(2, 3, 32, 32), []
    for z_t in z.split(4, dim=1):
        write = G.decoder(torch.cat([G.project(z_t), h], dim=1)[:, :, None, None])
        writes.append(write)
        canvas = canvas + write
        h = G.encoder(write)
    torch.testing.assert_close(G(z), torch.tanh(canvas))
    torch.testing.assert_close(torch.stack(G.drawing(z)), torch.stack(writes))
    steps = G.canvases(z)
    assert steps.shape == (3, 2, 3, 32, 32)
    torch.testing.assert_close(steps[0], torch.tanh(writes[0]))
    torch.testing.assert_close(steps[-1], G(z))
    # The later steps matter: the image is not the first write's alone.
    assert not torch.allclose(steps[0], steps[-1])


def test_each_step_draws_its_own_noise_or_all_share_one():
    each, once = _gran("each"), _gran("once")
    assert (each.latent, once.latent) == (12, 4)
    z = torch.randn(2, 12)
    assert [c.tolist() for c in each.step_noise(z)] == [c.tolist() for c in z.split(4, dim=1)]
    shared = torch.randn(2, 4)
    assert all(torch.equal(c, shared) for c in once.step_noise(shared)) and len(once.step_noise(shared)) == 3
    # Changing the last step's noise changes the image of `each`, through its last write alone.
    later = z.clone()
    later[:, 8:] += 1
    a, b = torch.stack(each.drawing(z)), torch.stack(each.drawing(later))
    assert torch.equal(a[:2], b[:2]) and not torch.equal(a[2], b[2])
    with pytest.raises(ValueError, match=r"z must be \(B, 12\)"):
        each(torch.randn(2, 4))
    with pytest.raises(ValueError, match="noise must be one of each, once"):
        GRAN(32, 4, 3, "twice")


@pytest.mark.parametrize("kind", ["bce", "lsgan"])
def test_resumed_gran_run_equals_uninterrupted(data_dir, tmp_path, kind):
    assert_resumes_exactly(family_params("gran", TINY_GENERATORS["gran"], kind), data_dir, tmp_path)


def test_a_distributed_cpu_run_with_batch_norm_is_refused_in_one_line():
    params = family_params("gran", TINY_GENERATORS["gran"])
    with pytest.raises(ParamsError) as info:
        make_step(params, torch.device("cpu"), distributed=True, rank=0, world=2)
    assert str(info.value) == ("params.yaml: model.gran.batch_norm: expected false in a distributed run on CPUs "
                               "(PyTorch synchronises batch norm over processes on GPUs only), got True")
