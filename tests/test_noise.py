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


def test_best_of_many_takes_each_clips_best_sample_by_hand():
    from pyext.config import load_params
    from pyext.losses.generator import best_of_many, generator_loss
    from pyext.ops import reference
    from cases import TEST_PARAMS

    loss = load_params(TEST_PARAMS).loss
    g = torch.Generator().manual_seed(0)
    targets = [torch.rand(2, 1, 3, s, s, generator=g) for s in (4, 8)]  # 2 clips, 2 scales
    noise = [torch.rand(2, 1, 3, s, s, generator=g) for s in (4, 8)]
    # Sample 0 is clip 0's truth and noise for clip 1; sample 1 the other way round.
    preds = [torch.cat([torch.stack([t[0], n[1]]), torch.stack([n[0], t[1]])]) for t, n in zip(targets, noise)]
    lp, gdl, chosen = best_of_many(loss, preds, targets)
    assert chosen.tolist() == [0, 1] and all(float(v) == 0 for v in lp + gdl)
    # Where each clip's best sample is imperfect: the mean over clips of that sample's terms, by hand.
    half = [0.5 * t + 0.5 * n for t, n in zip(targets, noise)]  # clip i's sample 1 is halfway to the truth
    preds = [torch.cat([n, h]) for n, h in zip(noise, half)]
    lp, gdl, chosen = best_of_many(loss, preds, targets)
    assert chosen.tolist() == [1, 1]
    for k, (h, t) in enumerate(zip(half, targets)):
        assert float(lp[k]) == pytest.approx(float((h - t).abs().pow(loss.p).mean()), rel=1e-5)
        assert float(gdl[k]) == pytest.approx(float(reference.gdl_loss(h, t, loss.alpha)), rel=1e-5)
    # generator_loss takes the samples' rows as best-of-many, one sample a clip as the paper's loss.
    assert float(generator_loss(loss, preds, targets).total) == pytest.approx(
        float(generator_loss(loss, half, targets).total), rel=1e-5)


def test_best_of_needs_noise_and_no_feature_term(tmp_path):
    import yaml
    from cases import TEST_PARAMS

    from pyext.config import ParamsError, load_params

    raw = yaml.safe_load(TEST_PARAMS.read_text())
    raw["loss"]["best_of"] = 4
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw))
    with pytest.raises(ParamsError, match=r"loss.best_of: expected 1 unless model.family is multiscale with "
                                          r"model.multiscale.noise > 0 .*got 4"):
        load_params(tmp_path / "params.yaml")
    raw["model"]["multiscale"]["noise"] = 2
    raw["loss"]["feature"] = 0.5
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw))
    with pytest.raises(ParamsError, match=r"loss.best_of: expected 1 with loss.feature > 0 or a model.condition"):
        load_params(tmp_path / "params.yaml")
