"""What a worker loaded before serving (modules, mappings, templates, the crisis lexicon and
encoder) is kept out of the garbage collector's full passes while the app runs, and handed
back when it stops (forum.app's lifespan: ``gc.freeze``, ``gc.unfreeze``)."""

from __future__ import annotations

import gc
import threading

from litestar import Litestar
from litestar.testing import AsyncTestClient


async def test_a_running_app_keeps_what_it_loaded_out_of_the_collectors_way(
    app: Litestar,
) -> None:
    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as client:
        assert gc.get_freeze_count() > 50_000  # the forum's modules and the app alone
        for thread in threading.enumerate():
            if thread.name == "crisis-screen-warm":
                thread.join(timeout=60)  # the encoder loaded, then frozen as well
        frozen = gc.get_freeze_count()
        assert (await client.get("/")).status_code == 200
        assert gc.get_freeze_count() <= frozen  # what requests make is collected as before
    # Stopped: nothing stays out of the collector's reach (tests make and stop many apps).
    assert gc.get_freeze_count() == 0
