"""The SNO rules (R6–R21): each module turns additive inputs and snapshots into KPIs.

Every rule takes a :class:`~sno.core.rules.common.Context` (one service, environment and month, with the
SNO version that judges it) and returns ``{kpi_id: Kpi}``. They read only :class:`MonthInputs` rows and
:class:`Snapshots`, so the same function judges a month from rollups or from a running stream.
"""
