"""The SNO numbers the simulator shapes its events by, read from the norm catalogue (R5).

The simulator does not judge anything, but a capacity burst must exceed the limit that is in force and
incident clocks must look like the targets they are judged against, so those numbers come from
`sno/core/norms/*.toml` like every other SNO number (no SNO number in code). A month before a service's
first version uses that first version: the simulated month must still look real.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sno.core.calendar import Month

if TYPE_CHECKING:  # the catalogue (pydantic) is loaded on first use, not when the simulator is imported
    from sno.core.catalogue import VersionNorms


def _in_force(service: str, month: Month) -> VersionNorms:
    from sno.core.catalogue import load_catalogue

    catalogue = load_catalogue()
    return catalogue.norms_for(service, month.year, month.month) or catalogue.versions[service][0]


def digid_capacity_limit(month: Month) -> int:
    """DigiD's authentications per minute (R15) in force in ``month``, from the norm catalogue; for a
    month before the first DigiD version, the first version's limit (the burst must still look real)."""
    norms = _in_force("digid", month)
    if norms.performance is None:
        raise ValueError("the DigiD norm file has no [performance] section")
    return int(norms.performance.capacity_per_minute)


def resolution_hours(service: str, month: Month) -> dict[int, float]:
    """The production resolution targets (R11) of ``service`` in ``month``, hours per priority (P1 clock
    hours, P2/P3 office hours): the simulator draws resolution times as a fraction of them."""
    targets = _in_force(service, month).incidents.production
    out: dict[int, float] = {}
    for priority, target in ((1, targets.p1), (2, targets.p2), (3, targets.p3)):
        if target is None:
            raise ValueError(f"the {service} norm file has no production P{priority} resolution target")
        out[priority] = target.hours
    return out
