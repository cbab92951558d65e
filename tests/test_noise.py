"""The paper's noise input: a per-clip latent broadcast over space and given to every scale of the
multi-scale generator (model.multiscale.noise). Without it the network is the paper's, parameter for
parameter; with it, other latents give other futures, no latent is its mean, and files saved before
it existed still load. Latents are a function of their seed alone, a batch's rows those of the
whole batch."""
import pytest
import torch

from pyext.models import MultiScaleGenerator, draw_latents, generator_file, load_generator


def _x(seed: int = 0, b: int = 2) -> torch.Tensor:
    return torch.rand(b, 4, 3, 16, 16, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def test_without_noise_the_network_is_the_papers():
    torch.manual_seed(0)
    plain = MultiScaleGenerator(4, 1, scales=2, width=0.1)
    torch.manual_seed(0)
    zero = MultiScaleGenerator(4, 1, scales=2, width=0.1, noise=0)
    assert {k: v.shape for k, v in plain.state_dict().items()} == {k: v.shape for k, v in zero.state_dict().items()}
    assert all(torch.equal(a, b) for a, b in zip(plain.state_dict().values(), zero.state_dict().values()))
    x = _x()
    assert torch.equal(plain(x), zero(x, z=torch.ones(2, 3)))  # a latent is ignored where there is no noise


def test_latents_are_extra_input_channels_at_every_scale():
    torch.manual_seed(0)
    g = MultiScaleGenerator(4, 1, scales=3, width=0.1, noise=5)
    plain = MultiScaleGenerator(4, 1, scales=3, width=0.1)
    for net, reference in zip(g.nets, plain.nets):
        assert net[0].in_channels == reference[0].in_channels + 5
    assert g.config()["noise"] == 5


def test_other_latents_give_other_futures_and_none_is_the_mean():
    torch.manual_seed(0)
    g = MultiScaleGenerator(4, 1, scales=2, width=0.1, noise=4).eval()
    x = _x()
    z = draw_latents((0, 1, 0), 4, 2)
    assert not torch.allclose(g(x, z=z), g(x, z=-z))
    assert torch.equal(g(x), g(x, z=torch.zeros(2, 4)))
    # The same latent through every recursive step: predicting 2 steps at once is 2 single steps.
    two = g.predict(x, 2, z=z)
    first = g.predict(x, 1, z=z)
    second = g.predict(torch.cat([x[:, 1:], first], dim=1), 1, z=z)
    torch.testing.assert_close(two, torch.cat([first, second], dim=1))
    with pytest.raises(ValueError, match=r"z must be \(B, noise\) = \(2, 4\), got \(2, 3\)"):
        g(x, z=torch.zeros(2, 3))


def test_files_saved_before_noise_existed_load(tmp_path):
    g = MultiScaleGenerator(4, 1, scales=2, width=0.1)
    saved = generator_file(g, g.state_dict())
    del saved["config"]["noise"]
    torch.save(saved, tmp_path / "old.pt")
    loaded = load_generator(tmp_path / "old.pt")
    assert loaded.noise == 0 and torch.equal(loaded(_x()), g.eval()(_x()))


def test_latents_are_the_seeds_alone_and_rows_of_the_whole_batch():
    whole = draw_latents((3, 7, 0), 6, 8)
    assert whole.shape == (8, 6) and torch.equal(whole, draw_latents((3, 7, 0), 6, 8))
    torch.manual_seed(123)  # the global random state plays no part
    assert torch.equal(draw_latents((3, 7, 0), 6, 8, slice(4, 8)), whole[4:])
    assert not torch.equal(draw_latents((3, 8, 0), 6, 8), whole)
    assert abs(float(whole.mean())) < 0.5 and 0.6 < float(whole.std()) < 1.4  # standard normal draws


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_one_training_step_with_noise_on_cuda_matches_the_cpu():
    """One generator update with latents, on the GPU as on the CPU (bench/gpu_check.sh runs it)."""
    results = []
    for device in ("cpu", "cuda"):
        torch.manual_seed(0)
        g = MultiScaleGenerator(4, 1, scales=2, width=0.1, noise=4).to(device)
        optimizer = torch.optim.SGD(g.parameters(), lr=0.1)
        x, y = _x(1).to(device), _x(2)[:, :1].to(device)
        z = draw_latents((0, 0, 0), 4, 2, device=device)
        loss = (g(x, z=z) - y).square().mean()
        loss.backward()
        optimizer.step()
        results.append((float(loss), [p.detach().cpu() for p in g.parameters()]))
    (cpu_loss, cpu), (cuda_loss, cuda) = results
    assert cuda_loss == pytest.approx(cpu_loss, rel=1e-4)
    for a, b in zip(cpu, cuda):
        torch.testing.assert_close(b, a, rtol=1e-3, atol=1e-5)
