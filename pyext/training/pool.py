"""CycleGAN's pool of generated images (Zhu et al. 2017, section 4, after Shrivastava et al. 2017):
the discriminators are updated on a history of generated images rather than only on those of the
latest generator, which the paper found reduces model oscillation. Its contents and its random
state belong to a run's checkpoint, so that a resumed run continues bit for bit.
"""
from __future__ import annotations

import torch


class ImagePool:
    """The last ``size`` generated images, mixed into what D is shown (the authors'
    ``util/image_pool.py``, with its randomness drawn from a generator of its own).

    :meth:`query` takes each image of a batch in turn: while the pool holds fewer than ``size``,
    it stores the image and returns it; once full, with probability 0.5 it returns a stored image
    drawn uniformly and stores the new one in its place, else it returns the new image. ``size``
    0 is no pool: :meth:`query` returns its input.

    Args:
        size: how many images it holds (the paper's 50).
        seed: seeds the ``torch.Generator`` of its draws, apart from torch's global one, so that
            neither disturbs the other.

    Example:
        >>> pool = ImagePool(2)
        >>> x = torch.zeros(2, 3, 4, 4)
        >>> torch.equal(pool.query(x), x)  # not yet full: its input, stored
        True
    """

    def __init__(self, size: int = 50, seed: int = 0):
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise ValueError(f"size must be an int >= 0, got {size!r}")
        self.size = size
        self.images: list[torch.Tensor] = []  # each (3, S, S), detached
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return len(self.images)

    def query(self, images: torch.Tensor) -> torch.Tensor:
        """Generated images ``(B, 3, S, S)`` -> what D sees of them ``(B, 3, S, S)``, of their
        dtype and device, detached: the pool's images are history, and no gradient reaches G
        through D's update (without a pool, ``size`` 0, the input itself)."""
        if not isinstance(images, torch.Tensor) or images.dim() < 2:
            raise ValueError(f"images must be a batch (B, 3, S, S), got {getattr(images, 'shape', type(images))}")
        if self.size == 0:
            return images
        if self.images and images.shape[1:] != self.images[0].shape:
            raise ValueError(f"the pool holds images {tuple(self.images[0].shape)}, got a batch {tuple(images.shape)}")
        returned = []
        for image in images.detach():
            if len(self.images) < self.size:
                self.images.append(image.clone())
                returned.append(image)
            elif float(torch.rand((), generator=self.generator)) > 0.5:
                slot = int(torch.randint(self.size, (), generator=self.generator))
                returned.append(self.images[slot].to(image))
                self.images[slot] = image.clone()
            else:
                returned.append(image)
        return torch.stack(returned)

    def state_dict(self) -> dict[str, torch.Tensor]:
        """What a resumed run needs (copies, on the CPU): the stored images ``(n, 3, S, S)``, n up to
        ``size``, and the generator's state."""
        stored = torch.stack(self.images).cpu() if self.images else torch.empty(0)
        return {"images": stored, "generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        """Restores :meth:`state_dict`'s images and random state (the images to the CPU; each moves
        to the device of the batch that takes its place's turn)."""
        if set(state) != {"images", "generator"}:
            raise ValueError(f"an image pool's state holds images and generator, got {sorted(state)}")
        if len(state["images"]) > self.size:
            raise ValueError(f"a pool of {self.size} images cannot hold the {len(state['images'])} of this state")
        self.images = [image.clone() for image in state["images"]]
        self.generator.set_state(state["generator"])


__all__ = ["ImagePool"]
