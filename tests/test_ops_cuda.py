"""The CUDA kernels' launch paths against the float64 reference: grid-stride loops, images beyond
gridDim.y, images over several blocks, vector and scalar loads, several column tiles, every pyramid
kind and axis length, several distance tiles, empty tensors, a non-default stream, and
bit-identical results run to run."""
import itertools

import pytest
import torch

import pyext
from pyext import reference
from cases import HAS_CUDA, PYRAMID_AXES, PYRAMID_KINDS, assert_close, pyramid_op, pyramid_output_sizes

pytestmark = [pytest.mark.cuda, pytest.mark.skipif(not HAS_CUDA, reason="needs a CUDA GPU")]
ops = torch.ops.beyondmse


def _rand(*shape, seed, dtype=torch.float32):
    gen = torch.Generator().manual_seed(seed)
    return torch.rand(shape, generator=gen, dtype=torch.float64).mul(2).sub(1).to("cuda", dtype)


def _gdl_against_reference(pred, target, alpha=1.0, scale=1.0):
    """Per-image GDL and pred's gradient (grad of the weighted sum) against the float64 reference."""
    weights = _rand(*pred.shape[:-2], seed=7, dtype=torch.float64)
    p = pred.detach().requires_grad_()
    out = pyext.gdl_loss(p, target, alpha, "none")
    (out.double() * weights).sum().backward()
    ref_p = pred.detach().double().requires_grad_()
    ref = reference.gdl_loss(ref_p, target.double(), alpha, "none")
    (ref * weights).sum().backward()
    assert_close(out, ref, pred.dtype, scale)
    assert_close(p.grad, ref_p.grad, pred.dtype)


# ---------------------------------------------------------------- gdl_loss


@pytest.mark.parametrize("shape", [
    (3, 1024, 1024),    # 16-byte loads, strips of 2 rows, 512 blocks per image
    (2, 40, 41),        # a width off the vector: one column per thread
    (70000, 2, 3),      # more images than gridDim.y: the blocks loop over images
    (4096, 128, 320),   # one block per image and strips of 32 rows: 320 items for 256 threads
])
def test_gdl_launch_shapes(shape):
    pred, target = _rand(*shape, seed=1), _rand(*shape, seed=2)
    _gdl_against_reference(pred, target, 1.0, scale=shape[-1] * shape[-2] / 10)
    _gdl_against_reference(pred, target, 2.0, scale=shape[-1] * shape[-2] / 10)


def test_gdl_inputs_off_the_vector_alignment_take_the_scalar_path():
    # Width 64 takes 16-byte loads; a contiguous view one element into its storage cannot.
    storage_p, storage_t = _rand(2 * 40 * 64 + 1, seed=12), _rand(2 * 40 * 64 + 1, seed=13)
    pred, target = storage_p[1:].view(2, 40, 64), storage_t[1:].view(2, 40, 64)
    assert pred.is_contiguous() and pred.data_ptr() % 16 != 0
    _gdl_against_reference(pred, target, 1.0, scale=40 * 64 / 10)
    _gdl_against_reference(pred.clone(), target.clone(), 1.0, scale=40 * 64 / 10)


def test_gdl_is_bit_identical_run_to_run():
    # Many blocks per image write parts that a fixed-order reduction adds: no atomics.
    pred, target = _rand(3, 1024, 1024, seed=3), _rand(3, 1024, 1024, seed=4)
    first = ops.gdl_loss(pred, target, 1.0)
    for _ in range(3):
        assert torch.equal(ops.gdl_loss(pred, target, 1.0), first)
    before = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    try:
        assert torch.equal(ops.gdl_loss(pred, target, 1.0), first)
        p = pred.clone().requires_grad_()
        pyext.gdl_loss(p, target).backward()
        grad = p.grad.clone()
        p.grad = None
        pyext.gdl_loss(p, target).backward()
        assert torch.equal(p.grad, grad)
    finally:
        torch.use_deterministic_algorithms(before)
    assert_close(first, reference.gdl_loss(pred.double(), target.double(), 1.0, "none"), torch.float32, 1e5)


@pytest.mark.parametrize("shape", [(0, 3, 4, 4), (2, 0, 5), (2, 5, 0)])
def test_gdl_empty_tensors(shape):
    pred = torch.zeros(shape, device="cuda", requires_grad=True)
    target = torch.zeros(shape, device="cuda")
    out = pyext.gdl_loss(pred, target, reduction="none")
    assert out.shape == shape[:-2] and bool((out == 0).all())
    out.sum().backward()
    assert pred.grad.shape == shape


def test_gdl_on_a_non_default_stream():
    pred, target = _rand(4, 3, 130, 70, seed=5), _rand(4, 3, 130, 70, seed=6)
    expected = ops.gdl_loss(pred, target, 1.0)
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        got = ops.gdl_loss(pred, target, 1.0)
        grads = ops.gdl_loss_backward(torch.ones_like(got), pred, target, 1.0, [True, True])
    torch.cuda.current_stream().wait_stream(stream)
    assert torch.equal(got, expected)
    expected_grads = ops.gdl_loss_backward(torch.ones_like(got), pred, target, 1.0, [True, True])
    for a, b in zip(grads, expected_grads):
        assert torch.equal(a, b)


# ---------------------------------------------------------------- pyramid


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
@pytest.mark.parametrize("shape", [
    (2, 9, 150),      # pyr_down: 75 columns (3 tiles of 32); pyr_up: 300 (10 tiles)
    (3, 70, 33),      # several row tiles and 2 column tiles down, 3 up
    (70000, 2, 2),    # more (image, row tile) pairs than gridDim.y
])
def test_pyramid_launch_shapes(shape, dtype):
    x = _rand(*shape, seed=8, dtype=dtype)
    assert_close(pyext.pyr_down(x), reference.pyr_down(x.double()), dtype)
    h, w = shape[-2:]
    for size in [(2 * h, 2 * w), (2 * h - 1, 2 * w - 1)]:
        assert_close(pyext.pyr_up(x, size), reference.pyr_up(x.double(), size), dtype, 4.0)
    # The adjoints: gradients through pyr_down and pyr_up.
    leaf = x.detach().requires_grad_()
    ref_leaf = x.detach().double().requires_grad_()
    (pyext.pyr_down(leaf).sum() + pyext.pyr_up(leaf).sum()).backward()
    (reference.pyr_down(ref_leaf).sum() + reference.pyr_up(ref_leaf).sum()).backward()
    assert_close(leaf.grad, ref_leaf.grad, dtype, 4.0)


@pytest.mark.parametrize("op", list(PYRAMID_KINDS))
def test_pyramid_every_kind_and_axis_length_matches_the_cpu_kernel(op):
    # The tile kernel's border and interior tiles, staged spans and closed forms on the GPU (the
    # same sweep as its CPU emulation in test_ops.py).
    for h, w in itertools.product(PYRAMID_AXES, PYRAMID_AXES):
        x = _rand(2, h, w, seed=h * 1000 + w, dtype=torch.float64)
        for out_h, out_w in itertools.product(pyramid_output_sizes(op, h), pyramid_output_sizes(op, w)):
            torch.testing.assert_close(pyramid_op(op, x, out_h, out_w).cpu(), pyramid_op(op, x.cpu(), out_h, out_w),
                                       rtol=0, atol=1e-12)


def test_pyramid_empty_and_non_default_stream():
    assert pyext.pyr_down(torch.zeros(0, 3, 8, 8, device="cuda")).shape == (0, 3, 4, 4)
    x = _rand(2, 3, 64, 96, seed=9)
    expected = pyext.laplacian_pyramid(x, 3)
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        got = pyext.laplacian_pyramid(x, 3)
    torch.cuda.current_stream().wait_stream(stream)
    for a, b in zip(got, expected):
        assert torch.equal(a, b)


# ---------------------------------------------------------------- structure_loss


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
@pytest.mark.parametrize("n,d", [(100, 70), (97, 1100)])  # 4 tiles of 32; and a split feature axis
def test_structure_beyond_two_tiles(n, d, dtype):
    x, z = _rand(n, d, seed=10, dtype=dtype), _rand(n, 6, seed=11, dtype=dtype)
    assert_close(ops.pairwise_sqdist(x), reference.pairwise_sqdist(x.double()), dtype, 10.0)
    leaves = [t.detach().requires_grad_() for t in (x, z)]
    ref_leaves = [t.detach().double().requires_grad_() for t in (x, z)]
    pyext.structure_loss(*leaves).backward()
    reference.structure_loss(*ref_leaves).backward()
    for g, rg in zip((t.grad for t in leaves), (t.grad for t in ref_leaves)):
        assert_close(g, rg, dtype, 10.0)


def test_structure_difference_kernels_under_tf32():
    # With TF32 matmuls enabled the GEMM form is off: the difference kernels run, to full float32.
    x = _rand(100, 70, seed=12) + 20
    before = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = True
    try:
        d = ops.pairwise_sqdist(x)
        grad = ops.pairwise_sqdist_backward(torch.ones_like(d), x)
    finally:
        torch.backends.cuda.matmul.allow_tf32 = before
    assert_close(d, reference.pairwise_sqdist(x.double()), torch.float32, 10.0)
    ref = x.detach().double().requires_grad_()
    reference.pairwise_sqdist(ref).sum().backward()
    assert_close(grad, ref.grad, torch.float32, 10.0)
