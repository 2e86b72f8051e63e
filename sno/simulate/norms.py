"""The SNO numbers the simulator shapes its events by, read from the norm catalogue (R5).

The simulator does not judge anything, but a capacity burst must exceed the limit that is in force, so
that limit comes from `sno/core/norms/*.toml` like every other SNO number (no SNO number in code).
"""

from __future__ import annotations

from sno.core.calendar import Month


def digid_capacity_limit(month: Month) -> int:
    """DigiD's authentications per minute (R15) in force in ``month``, from the norm catalogue; for a
    month before the first DigiD version, the first version's limit (the burst must still look real)."""
    from sno.core.catalogue import load_catalogue

    catalogue = load_catalogue()
    norms = catalogue.norms_for("digid", month.year, month.month) or catalogue.versions["digid"][0]
    if norms.performance is None:
        raise ValueError("the DigiD norm file has no [performance] section")
    return int(norms.performance.capacity_per_minute)
