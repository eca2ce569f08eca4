"""The sighting page's plate reads (in time order, with their evidence) and its class share."""

from __future__ import annotations

import pytest
from nicegui.testing import User
from sqlalchemy import delete
from sqlmodel import Session

from dashcam.db.models import PlateRead, Sighting
from tests.webui.test_pages import login

pytestmark = pytest.mark.anyio


async def test_reads_in_time_order_and_the_label_share(user: User, ids: dict[str, int]) -> None:
    from webui import state

    sid = ids["far"]
    with Session(state.get().engine) as session:
        s = session.get(Sighting, sid)
        assert s is not None
        s.label_scores = {"car": 0.82, "truck": 0.18}  # its label is car
        # most confident first would be 1.0, 2.0, 3.0; time order is 0.5, 1.0, ...
        for t, conf, ev in ((3.0, 0.61, 0.2), (0.5, 0.55, 0.1), (1.0, 0.97, 0.95), (2.0, 0.72, 0.7)):
            session.add(
                PlateRead(
                    sighting_id=sid, clip_id=s.clip_id, t=t, text_raw="XY1", text="XY1",
                    plate_key="XY1", confidence=conf, evidence=ev,
                )
            )  # fmt: skip
        session.commit()
    try:
        await login(user, f"/sighting/{sid}")
        await user.should_see(marker="reads")
        rows = user.find(marker="reads").elements.pop().rows  # type: ignore[attr-defined]
        assert [r["t"] for r in rows] == ["0.50", "1.00", "2.00", "3.00"]
        assert [r["evidence"] for r in rows] == ["0.10", "0.95", "0.70", "0.20"]
        await user.should_see("car 82 %")
    finally:
        with Session(state.get().engine) as session:
            session.execute(delete(PlateRead).where(PlateRead.sighting_id == sid))  # type: ignore[arg-type]
            s = session.get(Sighting, sid)
            assert s is not None
            s.label_scores = None
            session.commit()
