"""What one demo section returns: its part of the report."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Section:
    """One module's part of the demo report.

    Attributes
    ----------
    title : str
        Heading of the section.
    markdown : str
        Its text, tables and figure links (relative to the section's folder).
    command : str
        The module's own command for this analysis at full size.
    numbers : dict of str to float
        Every number the section computed, also written to ``numbers.json``.
    """

    title: str
    markdown: str
    command: str
    numbers: dict[str, float] = field(default_factory=dict)
