import gc
import weakref
from collections.abc import Iterator

import pytest

from gateway import heap


@pytest.fixture
def restored_collector() -> Iterator[None]:
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


def test_settling_freezes_what_start_up_made_and_makes_young_collections_rare(
    restored_collector: None,
) -> None:
    made_at_start_up = [[index] for index in range(1000)]  # containers the collector tracks
    _, middle, old = gc.get_threshold()

    heap.settle_after_start()

    assert gc.get_freeze_count() >= len(made_at_start_up)
    assert gc.get_threshold() == (heap.YOUNG_GENERATION_THRESHOLD, middle, old)


class Node:
    def __init__(self) -> None:
        self.self = self


def test_cycles_made_after_settling_are_still_collected(restored_collector: None) -> None:
    heap.settle_after_start()
    cycle = Node()
    alive = weakref.ref(cycle)
    del cycle
    assert alive() is not None  # a cycle: reference counting alone does not free it

    gc.collect()

    assert alive() is None
