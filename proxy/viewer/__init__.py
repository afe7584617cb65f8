"""The card viewer: one self-contained HTML page for a bundle (issue 14)."""
